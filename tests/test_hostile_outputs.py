"""Hostile output locations, round three: one check (``outputs.check_output_location``) for every
place that takes an output location from a user, before any vendor call or write.

Places: the operators' ``output_uri`` (Polyv watch tokens, Volcengine push URLs, ISDP tokens, the
Polyv sub-account snapshot), an event run's conf ``output_dir``, the planner's ``output_dir``,
``[live_provider] output_root``, the snapshot and trend DAGs' folders, and the session records'
``output_dir``. Each case used to pass or crash: a ``?query`` or ``#fragment`` was kept in the file
name, ``{{ ds }}`` was written literally, ``output_uri=0`` silently meant the default, a folder of
the wrong type raised ``AttributeError``, ``/dev/shm/...`` was written (as root), a ``/proc`` path
raised a raw ``FileNotFoundError``, and the session records reported a bad location as a
retryable "cannot be read". Now each is a ``LiveApiInputError`` naming the field, with zero
requests to the vendor simulator and nothing written.
"""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pendulum
import pytest

from airflow_live_provider.events.calendar import parse_calendar
from airflow_live_provider.events.planner import definition_hash
from airflow_live_provider.events.session_records import record_sessions, session_events
from airflow_live_provider.exceptions import LiveApiError, LiveApiInputError
from airflow_live_provider.outputs import OUTPUT_ROOT_FIELD
from airflow_live_provider.simulator import SimulatorServer
from airflow_live_provider.simulator import isdp as isdp_sim
from airflow_live_provider.simulator import polyv as polyv_sim
from airflow_live_provider.simulator import volcengine as volc_sim

ROOT = Path(__file__).resolve().parents[1]

#: (case, a file and a folder given the test's folder and a fresh /dev/shm folder, what is said)
Where = Callable[[Path, str], str]
LOCATIONS: list[tuple[str, Where, Where, str]] = [
    (
        "query",
        lambda t, shm: f"file://{t}/out/file.json?version=2",
        lambda t, shm: f"file://{t}/out?version=2",
        "starts a URI query",
    ),
    (
        "query mid-path",
        lambda t, shm: f"{t}/out?x=1/file.json",
        lambda t, shm: f"{t}/out?x=1/",
        "'?' (at position",
    ),
    (
        "fragment",
        lambda t, shm: f"{t}/out/file.json#latest",
        lambda t, shm: f"{t}/out#latest",
        "URI fragment",
    ),
    (
        "jinja {{ }}",
        lambda t, shm: f"{t}/{{{{ ds }}}}/file.json",
        lambda t, shm: f"{t}/{{{{ ds }}}}",
        "'{{ ds }}",
    ),
    (
        "jinja {% %}",
        lambda t, shm: f"{t}/{{% if x %}}a{{% endif %}}/file.json",
        lambda t, shm: f"{t}/{{% if x %}}a{{% endif %}}",
        "unrendered Jinja template",
    ),
    # tmpfs, writable as root: the code before wrote there
    ("/dev", lambda t, shm: f"{shm}/file.json", lambda t, shm: shm, "is in /dev, the kernel's virtual"),
    ("/proc", lambda t, shm: "/proc/self/file.json", lambda t, shm: "/proc/self", "is in /proc"),
    ("/sys", lambda t, shm: "/sys/kernel/file.json", lambda t, shm: "/sys/kernel", "is in /sys"),
]
IDS = [case[0] for case in LOCATIONS]


@pytest.fixture
def shm() -> Iterator[str]:
    """A folder under /dev/shm that must never be created (the code before wrote there)."""
    folder = f"/dev/shm/live-provider-hostile-{secrets.token_hex(4)}"
    yield folder
    created = os.path.exists(folder)
    shutil.rmtree(folder, ignore_errors=True)
    assert not created, f"{folder} was created"


def snapshot_of(tmp: Path) -> list[tuple[str, list[str]]]:
    return sorted((str(Path(d).relative_to(tmp)), sorted(f)) for d, _, f in os.walk(tmp))


# -- the operators' output_uri --------------------------------------------------------------------
def polyv_tokens(uri: Any) -> Any:
    from airflow_live_provider.operators.polyv import PolyvWatchTokenOperator

    return PolyvWatchTokenOperator(
        task_id="tokens", channel_id=polyv_sim.DEMO_CHANNEL_ID, viewer_ids=["v1"], output_uri=uri
    ).execute({})


def volc_push_urls(uri: Any) -> Any:
    from airflow_live_provider.operators.volcengine import VolcengineGeneratePushUrlOperator

    return VolcengineGeneratePushUrlOperator(
        task_id="push", vhost=volc_sim.DEMO_VHOST, app=volc_sim.DEMO_APP, stream="main", output_uri=uri
    ).execute({})


def isdp_tokens(uri: Any) -> Any:
    from airflow_live_provider.operators.isdp import IsdpTokenBatchOperator

    return IsdpTokenBatchOperator(
        task_id="join",
        channel_ids=list(isdp_sim.DEMO_CHANNEL_IDS),
        user_account=isdp_sim.DEMO_USER_ACCOUNT,
        output_uri=uri,
    ).execute({})


def polyv_snapshot(uri: Any) -> Any:
    from airflow_live_provider.operators.polyv_snapshot import PolyvSubAccountSnapshotOperator

    return PolyvSubAccountSnapshotOperator(task_id="snapshot", output_uri=uri).execute({})


OPERATORS = [polyv_tokens, volc_push_urls, isdp_tokens, polyv_snapshot]
OPERATOR_IDS = ["polyv", "volcengine", "isdp", "snapshot"]


@pytest.mark.parametrize("operator", OPERATORS, ids=OPERATOR_IDS)
@pytest.mark.parametrize(("case", "where", "_folder", "says"), LOCATIONS, ids=IDS)
def test_an_operator_refuses_the_location_before_any_vendor_request(
    sim_connections: SimulatorServer,
    tmp_path: Path,
    shm: str,
    operator: Callable[[Any], Any],
    case: str,
    where: Where,
    _folder: Where,
    says: str,
) -> None:
    sim_connections.clear_requests()
    before = snapshot_of(tmp_path)
    with pytest.raises(LiveApiInputError) as raised:
        operator(where(tmp_path, shm))
    assert raised.value.field == "output_uri" and says in raised.value.message, raised.value.message
    assert list(sim_connections.requests) == [], f"{case}: a vendor request was sent"
    assert snapshot_of(tmp_path) == before


@pytest.mark.parametrize("operator", OPERATORS, ids=OPERATOR_IDS)
def test_an_operator_says_its_template_field_was_not_rendered(
    sim_connections: SimulatorServer, tmp_path: Path, operator: Callable[[Any], Any]
) -> None:
    """``output_uri`` is a template field: a template still in it came from a param or an XCom."""
    with pytest.raises(LiveApiInputError, match="output_uri is a template field, but this value was never"):
        operator(f"{tmp_path}/{{{{ params.folder }}}}/file.json")
    assert list(sim_connections.requests) == []


@pytest.mark.parametrize("operator", OPERATORS, ids=OPERATOR_IDS)
@pytest.mark.parametrize(
    ("value", "says"), [(0, "'0' is an int, not text"), ([], "'[]' is a list, not text")]
)
def test_an_operator_names_a_falsy_wrong_type_instead_of_using_the_default(
    sim_connections: SimulatorServer, operator: Callable[[Any], Any], value: Any, says: str
) -> None:
    """``output_uri=0`` or ``[]`` used to mean "the default location" (``value or default``)."""
    with pytest.raises(LiveApiInputError) as raised:
        operator(value)
    assert raised.value.field == "output_uri" and says in raised.value.message, raised.value.message
    assert list(sim_connections.requests) == []


# -- [live_provider] output_root ------------------------------------------------------------------
@pytest.mark.parametrize(("case", "_file", "folder", "says"), LOCATIONS, ids=IDS)
def test_output_root_is_checked_and_named_as_the_setting(
    sim_connections: SimulatorServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    shm: str,
    case: str,
    _file: Where,
    folder: Where,
    says: str,
) -> None:
    """An operator without ``output_uri`` writes under the root: a bad root names the setting."""
    monkeypatch.setenv("AIRFLOW__LIVE_PROVIDER__OUTPUT_ROOT", folder(tmp_path, shm))
    sim_connections.clear_requests()
    before = snapshot_of(tmp_path)
    with pytest.raises(LiveApiInputError) as raised:
        polyv_tokens(None)
    assert raised.value.field == OUTPUT_ROOT_FIELD and says in raised.value.message, raised.value.message
    assert list(sim_connections.requests) == [], f"{case}: a vendor request was sent"
    assert snapshot_of(tmp_path) == before


def test_a_root_the_probe_cannot_write_names_the_setting(
    sim_connections: SimulatorServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "plain-file").write_text("x")
    monkeypatch.setenv("AIRFLOW__LIVE_PROVIDER__OUTPUT_ROOT", f"{tmp_path}/plain-file")
    with pytest.raises(LiveApiInputError) as raised:
        polyv_tokens(None)
    assert raised.value.field == OUTPUT_ROOT_FIELD, raised.value
    assert "is a file where a folder should be" in raised.value.message
    assert list(sim_connections.requests) == []


def test_a_bad_root_does_not_fail_a_task_that_writes_elsewhere(
    sim_connections: SimulatorServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Writes tighten the root's own folders: a bad root is skipped there, not raised after the
    vendor issued the tokens of a task given its own ``output_uri``."""
    monkeypatch.setenv("AIRFLOW__LIVE_PROVIDER__OUTPUT_ROOT", f"{tmp_path}/root?x=1")
    result = polyv_tokens(f"{tmp_path}/mine/tokens.json")
    assert result["count"] == 1 and (tmp_path / "mine" / "tokens.json").is_file()


# -- an event run's conf output_dir, and the planner's --------------------------------------------
def volc_event_context(output_dir: Any) -> dict[str, Any]:
    [event] = parse_calendar(
        [
            {
                "name": "Keynote",
                "start": pendulum.now("UTC").add(hours=2).isoformat(),
                "volcengine": {"vhost": volc_sim.DEMO_VHOST, "app": volc_sim.DEMO_APP, "stream": "keynote"},
            }
        ]
    )
    conf = {"event": event, "definition": definition_hash(event), "output_dir": output_dir}
    return {"dag_run": SimpleNamespace(conf=conf, run_after=pendulum.now("UTC")), "run_id": "event__r"}


@pytest.mark.parametrize(("case", "_file", "folder", "says"), LOCATIONS, ids=IDS)
def test_an_event_run_refuses_its_conf_output_dir_before_provisioning(
    sim_connections: SimulatorServer,
    tmp_path: Path,
    shm: str,
    case: str,
    _file: Where,
    folder: Where,
    says: str,
) -> None:
    from airflow_live_provider.operators.events import EventProvisionOperator

    sim_connections.clear_requests()
    before = snapshot_of(tmp_path)
    step = EventProvisionOperator(task_id="volcengine", step="volcengine")
    with pytest.raises(LiveApiInputError) as raised:
        step.execute(volc_event_context(folder(tmp_path, shm)))
    assert raised.value.field == "dag_run.conf.output_dir", raised.value
    assert says in raised.value.message, raised.value.message
    if "jinja" in case:
        assert "dag_run.conf.output_dir is not a template field" in raised.value.message
    assert list(sim_connections.requests) == [], f"{case}: a vendor request was sent"
    assert snapshot_of(tmp_path) == before


@pytest.mark.parametrize(("case", "_file", "folder", "says"), LOCATIONS, ids=IDS)
def test_the_planner_refuses_its_output_dir_before_any_run_is_planned(
    tmp_path: Path, shm: str, case: str, _file: Where, folder: Where, says: str
) -> None:
    """The planner writes ``output_dir`` into every run's conf: refused there, once, not in each run."""
    from airflow_live_provider.operators.event_runs import plan_new_runs

    calendar = tmp_path / "calendar.json"
    isdp = {"channel_ids": ["1"], "user_account": "u"}
    calendar.write_text(
        json.dumps({"events": [{"name": "Later", "start": "2030-01-01T10:00:00Z", "isdp": isdp}]})
    )
    params = {"calendar_path": str(calendar), "output_dir": folder(tmp_path, shm)}
    with pytest.raises(LiveApiInputError) as raised:
        plan_new_runs(params, None, None)
    assert raised.value.field == "output_dir" and says in raised.value.message, raised.value.message


# -- the snapshot and trend DAGs' folders ----------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "says"),
    [
        (7, "'7' is an int, not text"),
        (["/a"], "is a list, not text"),
        ("/srv/{{ ds }}", "output_dir is not a template field"),
        ("/srv/snapshots?versioned=1", "starts a URI query"),
        ("/srv/snapshots#x", "starts a URI fragment"),
        ("/dev/shm", "is in /dev"),
    ],
)
def test_the_snapshot_folder_macro_checks_its_param(value: Any, says: str) -> None:
    """``snapshot_folder(params.output_dir)`` renders the snapshot's ``output_uri``: a param is
    never rendered itself, and a number used to raise ``AttributeError``."""
    from airflow_live_provider.assets import snapshot_folder

    with pytest.raises(LiveApiInputError) as raised:
        snapshot_folder(value)
    assert raised.value.field == "output_dir" and says in raised.value.message, raised.value.message


def trend_task() -> Callable[..., Any]:
    """The ``trend`` task's function of the sample DAG ``polyv_resource_trend``."""
    spec = importlib.util.spec_from_file_location(
        "hostile_outputs_trend", ROOT / "dags" / "polyv_resource_trend.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.dag.task_dict["trend"].python_callable  # type: ignore[no-any-return]


def write_snapshots(folder: Path) -> None:
    folder.mkdir(parents=True)
    for day in (1, 2):
        row = {"userId": "u1", "email": "u1@example.com", "remainMinutes": 1000 - day, "remainConcurrent": 5}
        row["snapshotTime"] = f"2026-11-0{day}T00:00:00+00:00"
        (folder / f"polyv_subaccounts_2026110{day}T000000.jsonl").write_text(json.dumps(row) + "\n")


@pytest.mark.parametrize(
    ("folder", "says"),
    [
        ("snaps?x=1", "starts a URI query"),
        ("snaps#x", "starts a URI fragment"),
        ("{{ ds }}", "snapshot_dir is not a template field"),
    ],
)
def test_the_trend_refuses_a_snapshot_dir_before_reading_or_writing(
    tmp_path: Path, folder: str, says: str
) -> None:
    """The folder exists and holds snapshots: the page used to be written beside them."""
    write_snapshots(tmp_path / folder)
    before = snapshot_of(tmp_path)
    with pytest.raises(LiveApiInputError) as raised:
        trend_task()(params={"snapshot_dir": str(tmp_path / folder), "snapshots": 30, "runway_days": 30})
    assert raised.value.field == "snapshot_dir" and says in raised.value.message, raised.value.message
    assert snapshot_of(tmp_path) == before


@pytest.mark.parametrize(("where", "says"), [("/proc", "is in /proc"), ("/sys/kernel", "is in /sys")])
def test_the_trend_names_a_kernel_folder_not_a_raw_file_not_found(where: str, says: str) -> None:
    """``/proc`` exists (and lists processes): it used to end in a raw ``FileNotFoundError``."""
    with pytest.raises(LiveApiInputError) as raised:
        trend_task()(params={"snapshot_dir": where, "snapshots": 30, "runway_days": 30})
    assert raised.value.field == "snapshot_dir" and says in raised.value.message, raised.value.message


# -- the session records -------------------------------------------------------------------------
def replayed() -> list[dict[str, Any]]:
    started = {
        "kind": "started",
        "vendor": "volcengine",
        "asset_uri": f"volclive://{volc_sim.DEMO_VHOST}/live/keynote",
        "target": {"vhost": volc_sim.DEMO_VHOST, "app": "live", "stream": "keynote"},
        "session_id": "7@1",
        "started_at": "2026-12-01T12:00:00Z",
    }
    return session_events({}, {"events": [started]})


def assert_input_error(raised: pytest.ExceptionInfo[LiveApiError], field: str, says: str) -> None:
    """A clear, non-retryable input error: never a raw OSError, never "cannot be read, retry"."""
    error = raised.value
    assert isinstance(error, LiveApiInputError) and not isinstance(error, OSError), repr(error)
    assert error.field == field and says in error.message, error.message
    assert error.retryable is False


@pytest.mark.parametrize(("case", "_file", "folder", "says"), LOCATIONS, ids=IDS)
def test_session_records_refuse_the_location_before_anything_is_read_or_written(
    tmp_path: Path, shm: str, case: str, _file: Where, folder: Where, says: str
) -> None:
    before = snapshot_of(tmp_path)
    with pytest.raises(LiveApiError) as raised:
        record_sessions(replayed(), output_dir=folder(tmp_path, shm), calendar=None, run_id="r")
    assert_input_error(raised, "output_dir", says)
    assert snapshot_of(tmp_path) == before


@pytest.mark.parametrize(
    ("value", "says"),
    [
        (7, "'7' is an int, not text"),
        (["/a"], "is a list, not text"),
        ("/proc", "is in /proc"),  # used to raise a raw FileNotFoundError
        ("relative/records", "neither an absolute path nor a URI"),  # used to be a retryable "cannot be read"
    ],
)
def test_session_records_name_wrong_types_and_kernel_folders(value: Any, says: str) -> None:
    with pytest.raises(LiveApiError) as raised:
        record_sessions(replayed(), output_dir=value, calendar=None, run_id="r")
    assert_input_error(raised, "output_dir", says)


def test_session_records_run_the_pre_flight_probe_of_an_event_run(tmp_path: Path) -> None:
    """A file where the folder should be: the probe refuses it as an input error, as an event
    run's does; it used to surface as a retryable ``RunSheetUnreadable`` (NotADirectoryError)."""
    (tmp_path / "plain-file").write_text("x")
    with pytest.raises(LiveApiError) as raised:
        record_sessions(replayed(), output_dir=f"{tmp_path}/plain-file", calendar=None, run_id="r")
    assert_input_error(raised, "output_dir", "is a file where a folder should be")
    assert (tmp_path / "plain-file").read_text() == "x"


def test_a_good_location_is_still_written(tmp_path: Path) -> None:
    """The check refuses the cases above only: a folder with spaces, dashes and dots is written."""
    folder = tmp_path / "run sheets.v2-final"
    summary = record_sessions(replayed(), output_dir=f"{folder}/", calendar=None, run_id="r")
    assert summary["added"] == 1
    assert (folder / "sessions" / "2026-12.jsonl").is_file()


def test_a_symbolic_link_into_proc_is_followed_and_refused(
    sim_connections: SimulatorServer, tmp_path: Path
) -> None:
    """``<tmp>/link -> /proc/self``: an operator's file and the session records' folder behind it
    are in /proc (the records used to raise a raw FileNotFoundError there)."""
    (tmp_path / "link").symlink_to("/proc/self")
    with pytest.raises(LiveApiInputError, match=r"output_uri: .* is in /proc \(through symbolic links"):
        polyv_tokens(f"{tmp_path}/link/tokens.json")
    assert list(sim_connections.requests) == []
    with pytest.raises(LiveApiError) as raised:
        record_sessions(replayed(), output_dir=f"{tmp_path}/link", calendar=None, run_id="r")
    assert_input_error(raised, "output_dir", "is in /proc (through symbolic links")
