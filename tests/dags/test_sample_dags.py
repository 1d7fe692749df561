"""The sample DAGs: parse cleanly and offline, and run end to end with ``airflow dags test``.

The end-to-end runs are real: a subprocess per ``airflow dags test`` against SQLite in a
throwaway ``AIRFLOW_HOME`` (migrated once per module), talking HTTP to the simulator running in
this pytest process. Afterwards every file under ``AIRFLOW_HOME`` (logs, the SQLite DB, outputs)
and the command output are searched for every credential and every secret the simulator issued
or holds; only the event run sheets may carry the returned push URLs and tokens.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pendulum
import pytest

from airflow_live_provider.events.run_sheets import sheet_secrets
from airflow_live_provider.redaction import SECRET_KEYS
from airflow_live_provider.simulator import SimulatorServer
from airflow_live_provider.simulator import isdp as isdp_sim
from airflow_live_provider.simulator import polyv as polyv_sim
from airflow_live_provider.simulator import volcengine as volc_sim
from tests.helpers import assert_no_secret_in

ROOT = Path(__file__).resolve().parents[2]
DAGS_DIR = ROOT / "dags"
AIRFLOW = str(Path(sys.executable).with_name("airflow"))
BATCH_CREATE = "/live/v3/channel/transmit/batch-create"


def clean_env(home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """A subprocess environment: isolated home, our DAGs, no inherited connections/variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_CONN_", "AIRFLOW_VAR_"))}
    env.pop("AIRFLOW__CORE__UNIT_TEST_MODE", None)
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        }
    )
    env.update(extra or {})
    return env


# -- parse time ---------------------------------------------------------------------------------
PARSE_SCRIPT = textwrap.dedent(
    """
    import json, socket, sys
    events = []
    def refuse(kind):
        def _refuse(*args, **kwargs):
            events.append(kind)
            raise RuntimeError(f"{kind} at parse time")
        return _refuse
    socket.socket.connect = refuse("socket connect")
    socket.socket.connect_ex = refuse("socket connect")
    socket.create_connection = refuse("socket connect")
    from airflow.sdk import BaseHook, Connection, Variable
    BaseHook.get_connection = classmethod(refuse("connection lookup"))
    Connection.get = classmethod(refuse("connection lookup"))
    Variable.get = staticmethod(refuse("variable lookup"))
    from airflow.models import DagBag
    bag = DagBag(dag_folder=sys.argv[1])
    dags = {}
    for dag_id, dag in bag.dags.items():
        dags[dag_id] = {
            "tasks": sorted(dag.task_ids),
            "catchup": dag.catchup,
            "schedule": str(dag.schedule),
            "timetable": type(dag.timetable).__name__,
            "params": sorted(dag.params.keys()),
            "max_active_runs": dag.max_active_runs,
            "outlets": {t.task_id: [o.uri for o in t.outlets] for t in dag.tasks if t.outlets},
            "inlet_watchers": {t.task_id: [[w.trigger.serialize() for w in getattr(a, "watchers", [])]
                                           for a in t.inlets] for t in dag.tasks if t.inlets},
            "schedule_watchers": [[w.trigger.serialize() for w in a.watchers]
                                  for a in getattr(getattr(dag.timetable, "asset_condition", None),
                                                   "objects", [])],
            "schedule_assets": [a.uri for a in getattr(cond, "objects", [cond])]
            if (cond := getattr(dag.timetable, "asset_condition", None)) is not None else [],
            "param_titles": {k: (dag.params.get_param(k).schema or {}).get("title") for k in dag.params},
            "param_drafts": {k: (dag.params.get_param(k).schema or {}).get("$schema") for k in dag.params},
        }
    from airflow.sdk.definitions.param import ParamValidationError
    refused = []
    for key, value in (("top_n", 0), ("top_n", 2.5), ("alert_mode", "loud"), ("min_remaining_minutes", -1)):
        try:
            bag.dags["polyv_subaccount_snapshot"].params.get_param(key).resolve(value)
        except ParamValidationError:
            refused.append(key)
    accepted = bag.dags["polyv_subaccount_snapshot"].params.get_param("min_remaining_minutes").resolve(None)
    dags["polyv_subaccount_snapshot"]["refused"] = refused
    dags["polyv_subaccount_snapshot"]["accepted_none"] = accepted is None
    print("RESULT" + json.dumps({"errors": {k: str(v) for k, v in bag.import_errors.items()},
                                 "dags": dags, "events": events}))
    """
)


def test_dags_import_without_connections_variables_or_network(tmp_path: Path) -> None:
    """DagBag in a fresh process with no AIRFLOW_CONN_*, sockets refused and lookups trapped."""
    result = subprocess.run(
        [sys.executable, "-c", PARSE_SCRIPT, str(DAGS_DIR)],
        env=clean_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    line = next(x for x in result.stdout.splitlines() if x.startswith("RESULT"))
    report = json.loads(line[len("RESULT") :])
    assert report["errors"] == {}
    assert report["events"] == [], "the DAG files touched the network or looked up a connection/variable"
    snapshot = report["dags"]["polyv_subaccount_snapshot"]
    assert snapshot["tasks"] == ["alert", "report", "snapshot"]
    assert snapshot["catchup"] is False and "@daily" in snapshot["schedule"]
    assert {"output_dir", "alert_mode", "expiring_within_days", "min_remaining_minutes"} <= set(
        snapshot["params"]
    )
    pre = report["dags"]["live_event_preprovision"]
    assert pre["tasks"] == ["plan", "publish_watch_list", "start_event_runs"]
    # Hourly, or at once when the calendar watcher sees an edit.
    assert pre["catchup"] is False and pre["timetable"] == "AssetOrTimeSchedule"
    assert pre["schedule_assets"] == ["livecalendar://planner/"] and "0 * * * *" in pre["schedule"]
    assert {"calendar_path", "lead_hours", "output_dir"} <= set(pre["params"])
    event = report["dags"]["live_event"]
    assert event["tasks"] == [
        "go_live",
        "isdp_tokens",
        "polyv_channels",
        "polyv_tokens",
        "summary",
        "volcengine",
    ]
    assert event["schedule"] == "None" and event["max_active_runs"] == 256
    # The trend DAG runs on the asset the snapshot task updates.
    trend = report["dags"]["polyv_resource_trend"]
    assert trend["tasks"] == ["trend"] and trend["timetable"] == "AssetTriggeredTimetable"
    assert trend["schedule_assets"] == snapshot["outlets"]["snapshot"]
    assert trend["schedule_assets"] == ["polyv://polyv_group_default/sub-account-snapshots"]
    # The session DAG: scheduled on one asset per vendor connection, whose watcher polls the watch
    # list the planner publishes (nothing read at parse: the lookups above are trapped).
    sessions = report["dags"]["live_stream_sessions"]
    assert sessions["tasks"] == ["record"] and sessions["timetable"] == "AssetTriggeredTimetable"
    assert sessions["schedule"].startswith("AssetAny(") and sessions["max_active_runs"] == 1
    assert sessions["schedule_assets"] == [
        "stream-sessions/volcengine/volcengine_live_default",
        "stream-sessions/polyv/polyv_default",
    ]
    # The planner writes their watch lists: its inlets are the very same assets, watchers included
    # (another copy would make each parse of one file replace the other's watchers).
    assert pre["inlet_watchers"] == {"publish_watch_list": sessions["schedule_watchers"]}
    assert [len(w) for w in sessions["schedule_watchers"]] == [1, 1]
    for dag in (snapshot, pre, trend, event, sessions):  # every param has a title in the trigger form
        assert all(dag["param_titles"].values()), dag["param_titles"]
        # Draft-07, whose metaschema check at every parse costs half of 2020-12's (the default).
        assert set(dag["param_drafts"].values()) <= {"http://json-schema.org/draft-07/schema#"}
    # ... with the same meaning: a bad value is refused, an empty threshold accepted.
    assert snapshot["refused"] == ["top_n", "top_n", "alert_mode", "min_remaining_minutes"]
    assert snapshot["accepted_none"] is True


# -- end to end -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server() -> Iterator[SimulatorServer]:
    with SimulatorServer() as sim:
        yield sim


@pytest.fixture(scope="module")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("dag-airflow-home")
    done = subprocess.run(
        [AIRFLOW, "db", "migrate"], env=clean_env(home), capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return home


def dags_test(home: Path, server: SimulatorServer, dag_id: str, *args: str, **env: str) -> str:
    """``airflow dags test`` in a subprocess; returns its combined output (asserting success)."""
    done = subprocess.run(
        [AIRFLOW, "dags", "test", dag_id, *args],
        env=clean_env(home, {**server.connection_env(), **env}),
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0 and "state=success" in output, output[-5000:]
    return output


def run_sheets(home: Path) -> list[Path]:
    """Every run-sheet file: per-run JSON, latest.json, latest.html and the steps' records (they
    carry credentials)."""
    return sorted(p for p in (home / "live_provider" / "run_sheets").rglob("*") if p.is_file())


def known_secrets(server: SimulatorServer, home: Path) -> list[str]:
    """Every credential and secret in play: what the simulator holds or issued, and every secret
    value the run sheets carry (tokens, signed push URLs and their signatures)."""
    found = set(server.secrets())
    for sheet in (p for p in run_sheets(home) if p.suffix == ".json"):
        found.update(sheet_secrets(json.loads(sheet.read_text())))
    return sorted(s for s in found if len(s) >= 6)


def assert_no_secret_outside_run_sheets(home: Path, server: SimulatorServer, *outputs: str) -> int:
    """Search every file under AIRFLOW_HOME (but the run sheets) and the command outputs."""
    secrets = known_secrets(server, home)
    allowed = set(run_sheets(home))
    files = [p for p in home.rglob("*") if p.is_file() and p not in allowed]
    assert any(p.name == "airflow.db" for p in files), "the metadata DB must be among the files searched"
    for path in files:
        text = path.read_bytes().decode("utf-8", errors="replace")
        for index, secret in enumerate(secrets):
            assert secret not in text, f"secret #{index} leaked into {path.relative_to(home)}"
    for output in outputs:
        assert_no_secret_in(output, *secrets)
    return len(secrets)


def asset_events(home: Path) -> list[dict[str, Any]]:
    """The asset events in the metadata DB (SQLite), oldest first."""
    import sqlite3

    with sqlite3.connect(home / "airflow.db") as db:
        rows = db.execute(
            "SELECT a.uri, e.source_task_id, e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id "
            "ORDER BY e.id"
        ).fetchall()
    return [{"uri": uri, "task": task, "extra": json.loads(extra)} for uri, task, extra in rows]


def xcom_values(home: Path, dag_id: str, task_id: str) -> list[Any]:
    """Every XCom row a task pushed (any key), oldest first: a dict split by Airflow into one row
    per key would show up as several."""
    import sqlite3

    with sqlite3.connect(home / "airflow.db") as db:
        rows = db.execute(
            "SELECT value FROM xcom WHERE dag_id = ? AND task_id = ? ORDER BY timestamp",
            (dag_id, task_id),
        ).fetchall()
    return [json.loads(value) for (value,) in rows]


def test_snapshot_dag_twice_then_the_trend_dag(airflow_home: Path, server: SimulatorServer) -> None:
    """Two snapshot runs (sub-account 20 uses 500 live minutes in between) make two asset events;
    then the trend DAG, scheduled on that asset, writes its page from both snapshots."""
    output = dags_test(airflow_home, server, "polyv_subaccount_snapshot")
    folder = airflow_home / "live_provider" / "snapshots"
    [snapshot] = sorted(folder.glob("polyv_subaccounts_*.jsonl"))
    rows = [json.loads(line) for line in snapshot.read_text().splitlines()]
    assert len(rows) == polyv_sim.DEMO_SUB_ACCOUNT_COUNT
    assert all(row["snapshotTime"] and not (SECRET_KEYS & row.keys()) for row in rows)
    report = snapshot.with_suffix(".html").read_text()
    assert report.count("<svg") == 4 and "Expired or frozen (2)" in report
    assert "Expiring within 7 days (2)" in report and "No previous snapshot" in report
    assert "3 Polyv sub-account(s) below the resource thresholds" in output  # alert_mode=warn
    assert "Live minutes" in output and "remainMinutes" not in output.split("below the resource")[1][:400]
    # The DAG's thresholds reach the operator: its XCom count is the report's and the alert's.
    assert [
        x["below_threshold_count"] for x in xcom_values(airflow_home, "polyv_subaccount_snapshot", "snapshot")
    ] == [3]
    assert (
        len(xcom_values(airflow_home, "polyv_subaccount_snapshot", "report")) == 1
    )  # one row, not one per key
    assert oct(snapshot.with_suffix(".html").stat().st_mode & 0o777) == "0o600"

    server.polyv.use_resources(20, remainMinutes=500)  # 1,740 -> 1,240: above 1,000
    second = dags_test(airflow_home, server, "polyv_subaccount_snapshot")
    snapshots = sorted(folder.glob("polyv_subaccounts_*.jsonl"))
    assert len(snapshots) == 2
    events = asset_events(airflow_home)
    assert [(e["uri"], e["task"]) for e in events] == [
        ("polyv://polyv_group_default/sub-account-snapshots", "snapshot")
    ] * 2
    assert [e["extra"]["snapshot_uri"] for e in events] == [f"file://{p}" for p in snapshots]
    assert {e["extra"]["count"] for e in events} == {polyv_sim.DEMO_SUB_ACCOUNT_COUNT}
    minutes = [e["extra"]["totals"]["remainMinutes"] for e in events]
    assert minutes[0] - minutes[1] == 500 and events[1]["extra"]["below_threshold_count"] == 3
    assert "Previous snapshot taken" in snapshots[1].with_suffix(".html").read_text()

    third = dags_test(airflow_home, server, "polyv_resource_trend")
    [page] = sorted(folder.glob("polyv_resource_trend_*.html"))
    assert page.name == "polyv_resource_trend_" + snapshots[1].name[len("polyv_subaccounts_") : -6] + ".html"
    text = page.read_text()
    assert '<meta name="viewport"' in text and text.count("<polyline") == 4
    assert "2 snapshots over" in text and "Running out within 30 days (1)" in text
    assert sub_account_email_of(20) in text
    assert oct(page.stat().st_mode & 0o777) == "0o600"
    [summary] = xcom_values(airflow_home, "polyv_resource_trend", "trend")
    assert summary["snapshots"] == 2 and summary["running_out_count"] == 1
    assert summary["worst_runways"][0]["email"] == sub_account_email_of(20)
    assert summary["page"] == f"file://{page}"
    assert_no_secret_outside_run_sheets(airflow_home, server, output, second, third)


def sub_account_email_of(index: int) -> str:
    return polyv_sim.sub_account_email(index)


def write_calendar(path: Path, now: pendulum.DateTime) -> pendulum.DateTime:
    """Three events: one close enough that its ISDP moment comes during the run, one three hours
    ahead (provisioned now, tokens later), one a week away (outside the window). Returns the
    close one's start."""

    def event(
        name: str, start: pendulum.DateTime, stream: str, zone: str, isdp_lead: int = 90
    ) -> dict[str, Any]:
        return {
            "name": name,
            "start": start.in_timezone(zone).strftime("%Y-%m-%dT%H:%M:%S"),
            "timezone": zone,
            "volcengine": {"vhost": volc_sim.DEMO_VHOST, "app": volc_sim.DEMO_APP, "stream": stream},
            "polyv": {
                "channel_id": polyv_sim.DEMO_TRANSMIT_CHANNEL_ID,
                "receive_channel_names": [f"{stream}-a", f"{stream}-b", f"{stream}-c"],
                "viewers": ["viewer-1", {"viewerId": "viewer-2", "nickname": "Two"}],
            },
            "isdp": {
                "channel_ids": list(isdp_sim.DEMO_CHANNEL_IDS),
                "user_account": isdp_sim.DEMO_USER_ACCOUNT,
                "token_lead_seconds": isdp_lead,
            },
        }

    close = now.add(seconds=110).replace(microsecond=0)
    calendar = [
        # Its ISDP moment (start - 30 s) comes ~80 s from now: well after the run has reached
        # its just-in-time step, even on a loaded machine.
        event("Starting now", close, "now", "Europe/Berlin", isdp_lead=30),
        event("Soon in Shanghai", now.add(hours=3), "soon", "Asia/Shanghai"),
        event("Next week in New York", now.add(days=7), "later", "America/New_York"),
    ]
    path.write_text(json.dumps({"events": calendar}))
    return close


def watch_lists_stored(home: Path) -> dict[str, Any]:
    """Asset name -> the ``watch_list`` in its asset state (read in a fresh process, as below)."""
    script = (
        "import json, sqlite3, sys\n"
        "db = sqlite3.connect(sys.argv[1])\n"
        'rows = db.execute("SELECT a.name, s.value FROM asset_state_store s '
        "JOIN asset a ON a.id = s.asset_id WHERE s.key = 'watch_list'\").fetchall()\n"
        "print(json.dumps({n: json.loads(v) for n, v in rows}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(home / "airflow.db")], capture_output=True, text=True, check=True
    )
    return dict(json.loads(done.stdout))


def sheet_of(home: Path, folder: str, name: str = "latest.json") -> dict[str, Any]:
    return json.loads((home / "live_provider" / "run_sheets" / folder / name).read_text())


def event_runs(home: Path) -> dict[str, dict[str, Any]]:
    """The ``live_event`` runs in the metadata DB: run id -> conf (read in a fresh process: this
    one has had the file open since earlier tests, and once saw it as "malformed" afterwards)."""
    script = (
        "import json, sqlite3, sys\n"
        "db = sqlite3.connect(sys.argv[1])\n"
        "rows = db.execute(\"SELECT run_id, conf FROM dag_run WHERE dag_id = 'live_event'\").fetchall()\n"
        "print(json.dumps({r: json.loads(c) if isinstance(c, str) else c for r, c in rows}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(home / "airflow.db")], capture_output=True, text=True, check=True
    )
    return dict(json.loads(done.stdout))


def test_planner_makes_one_run_per_instance_and_each_run_issues_on_its_own_clock(
    airflow_home: Path, server: SimulatorServer, tmp_path: Path
) -> None:
    calendar = tmp_path / "events.json"
    close_start = write_calendar(calendar, pendulum.now("UTC"))
    # The close event's stream goes live 5 s from now: its go-live watch (window already open)
    # succeeds whether `dags test` runs it before or after the token steps.
    server.volcengine.set_stream(volc_sim.DEMO_VHOST, volc_sim.DEMO_APP, "now", online_in=5)
    transmit = polyv_sim.DEMO_TRANSMIT_CHANNEL_ID

    before = len(server.requests)
    # The planner (calendar through the Variable, as an AIRFLOW_VAR_ env var): one live_event run
    # per instance in the window, named after it; no vendor call at all.
    first = dags_test(
        airflow_home, server, "live_event_preprovision", AIRFLOW_VAR_LIVE_EVENTS_CALENDAR=str(calendar)
    )
    runs = event_runs(airflow_home)
    assert sorted(runs) == sorted(
        [r for r in runs if r.startswith(("event__starting-now__", "event__soon-in-shanghai__"))]
    )
    assert len(runs) == 2, runs  # the event a week away is outside the 24 h window
    assert len(server.requests) == before, "the planner must not call a vendor"
    # The session watchers' watch lists: the streams and channels of the calendar in the Variable
    # (the whole calendar, not only the window), in the state of their assets.
    lists = watch_lists_stored(airflow_home)
    assert lists["stream-sessions/volcengine/volcengine_live_default"]["targets"] == [
        {"vhost": volc_sim.DEMO_VHOST, "app": volc_sim.DEMO_APP, "stream": s}
        for s in ("now", "soon", "later")
    ]
    assert lists["stream-sessions/polyv/polyv_default"]["targets"] == [{"channel_id": transmit}]
    assert lists["stream-sessions/polyv/polyv_default"]["calendar"] == str(calendar)
    # Planned again (calendar as a param this time): the same run ids exist, nothing new.
    second = dags_test(
        airflow_home, server, "live_event_preprovision", "-c", json.dumps({"calendar_path": str(calendar)})
    )
    assert sorted(event_runs(airflow_home)) == sorted(runs)
    assert "2 of them with a live_event run already; new runs: []" in second

    # Each instance's run, with the conf the planner gave it.
    [now_conf] = [c for r, c in runs.items() if r.startswith("event__starting-now__")]
    [soon_conf] = [c for r, c in runs.items() if r.startswith("event__soon-in-shanghai__")]
    # The first planner run read the Variable: its runs ask the calendar where the planner reads it.
    assert now_conf["calendar"] == "@planner"
    now_out = dags_test(
        airflow_home,
        server,
        "live_event",
        "-c",
        json.dumps(now_conf),
        AIRFLOW_VAR_LIVE_EVENTS_CALENDAR=str(calendar),
    )
    assert "waiting in the triggerer until" in now_out
    assert "stream live/now on vhost 'live.demo.example.com' is live" in now_out
    now_sheet = sheet_of(airflow_home, "starting-now")
    assert now_sheet["event"] == "Starting now"
    assert [t["viewerId"] for t in now_sheet["polyv"]["watchTokens"]] == ["viewer-1", "viewer-2"]
    assert all(t["token"] in server.polyv.watch_tokens for t in now_sheet["polyv"]["watchTokens"])
    assert now_sheet["isdp"]["tokens"]
    for token in now_sheet["isdp"]["tokens"] + now_sheet["polyv"]["watchTokens"]:
        valid_from, valid_until = pendulum.parse(token["validFrom"]), pendulum.parse(token["validUntil"])
        assert valid_from <= close_start <= valid_until, token
    assert len(server.requests_to("/openapi/v1/SaasLive/getTokenBatch", "POST")) == 1
    assert {k: v["status"] for k, v in now_sheet["steps"].items()} == dict.fromkeys(
        ["volcengine", "polyv_channels", "polyv_tokens", "isdp_tokens", "go_live", "outcome"], "done"
    )

    # The event three hours ahead: its run provisions, then waits for its moments (dags test runs
    # the deferral inline, so only the provisioning is checked here, through its records).
    receivers = {r["name"]: str(r["channelId"]) for r in server.polyv.receivers(transmit)}
    assert sorted(receivers) == ["now-a", "now-b", "now-c"]
    assert len(server.requests_to(BATCH_CREATE, "POST")) == 1
    assert soon_conf["event"]["name"] == "Soon in Shanghai"
    count = assert_no_secret_outside_run_sheets(airflow_home, server, first, second, now_out)
    assert count > 20  # the search really had secrets to look for


# -- a user's DAG with the go-live sensor, deferred -------------------------------------------------
SENSOR_DAGS = Path(__file__).resolve().parent / "sensor_dags"


def test_a_stream_session_as_two_runs_of_the_sessions_dag(
    airflow_home: Path, server: SimulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A watched stream starts and stops pushing; its watcher's two events are handed to
    ``live_stream_sessions`` (as a replay: ``dags test`` runs no triggerer; the cluster test proves
    the asset path). The session lands once in the JSON Lines and on its event's run sheet,
    however often the events are replayed."""
    import asyncio
    from contextlib import aclosing

    from airflow_live_provider.triggers.volcengine import VolcengineStreamSessionTrigger

    # An event on the sample's daily-demo stream, started ten minutes ago (the calendar the
    # planner reads: the Variable); the session starts now, within its window.
    calendar = tmp_path / "calendar.json"
    start = pendulum.now("UTC").subtract(minutes=10).replace(microsecond=0)
    stream = {"vhost": volc_sim.DEMO_VHOST, "app": volc_sim.DEMO_APP, "stream": "daily-demo"}
    calendar.write_text(
        json.dumps({"events": [{"name": "Session check", "start": start.isoformat(), "volcengine": stream}]})
    )
    env = {"AIRFLOW_VAR_LIVE_EVENTS_CALENDAR": str(calendar)}
    for name, value in server.connection_env().items():  # the watcher runs in this process
        monkeypatch.setenv(name, value)
    trigger = VolcengineStreamSessionTrigger(**stream, poll_interval=0.2, offline_grace_seconds=0)
    server.volcengine.start_session(volc_sim.DEMO_VHOST, volc_sim.DEMO_APP, "daily-demo")

    async def two_events() -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        async with aclosing(trigger.run()) as watched:
            async for event in watched:
                events.append(event.payload)
                if len(events) == 2:
                    break
                server.volcengine.stop_session(volc_sim.DEMO_VHOST, volc_sim.DEMO_APP, "daily-demo")
        return events

    started, ended = asyncio.run(asyncio.wait_for(two_events(), timeout=60))
    assert (started["kind"], ended["kind"]) == ("started", "ended")
    runs = [[started], [ended], [started, ended]]  # the third: a replay of both, nothing new
    outputs = [
        dags_test(airflow_home, server, "live_stream_sessions", "-c", json.dumps({"events": e}), **env)
        for e in runs
    ]
    folder = airflow_home / "live_provider" / "run_sheets"
    lines = [
        json.loads(x) for f in sorted(folder.glob("sessions/*.jsonl")) for x in f.read_text().splitlines()
    ]
    session = started["session_id"]
    assert [(r["kind"], r["sessionId"]) for r in lines] == [("started", session), ("ended", session)]
    assert lines[1]["stream"] == "volclive://live.demo.example.com/live/daily-demo"
    assert lines[1]["durationSeconds"] > 0
    sheet = json.loads((folder / "session-check" / "latest.json").read_text())
    keys = ("stream", "sessionId", "started", "ended", "durationSeconds")
    assert sheet["sessions"] == [{k: lines[1][k] for k in keys}]
    assert "Stream sessions" in (folder / "session-check" / "latest.html").read_text()
    assert_no_secret_outside_run_sheets(airflow_home, server, *outputs)


@pytest.fixture(scope="module")
def sensor_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("sensor-airflow-home")
    env = {**clean_env(home), "AIRFLOW__CORE__DAGS_FOLDER": str(SENSOR_DAGS)}
    done = subprocess.run([AIRFLOW, "db", "migrate"], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return home


def sensor_dag_test(home: Path, server: SimulatorServer, stream: str) -> tuple[int, str]:
    env = {**clean_env(home, server.connection_env()), "AIRFLOW__CORE__DAGS_FOLDER": str(SENSOR_DAGS)}
    done = subprocess.run(
        [AIRFLOW, "dags", "test", "stream_live_check", "-c", json.dumps({"stream": stream})],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return done.returncode, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("stream", "plan", "outcome"),
    [
        ("goes-live", {"online_in": 25}, "is live"),
        ("never-live", {}, "is not live after 20 s; its last state was 'offline'"),
        ("banned", {"state": "forbidden"}, "is forbidden"),
    ],
)
def test_a_users_dag_with_the_deferrable_sensor(
    sensor_home: Path, server: SimulatorServer, stream: str, plan: dict[str, Any], outcome: str
) -> None:
    """Deferred to the (inline) triggerer: live after ~25 s succeeds; never live fails at the
    20 s timeout, naming the stream and its last state; forbidden fails at once."""
    server.volcengine.set_stream(volc_sim.DEMO_VHOST, volc_sim.DEMO_APP, stream, **plan)
    code, output = sensor_dag_test(sensor_home, server, stream)
    # Deferred to the triggerer, except a forbidden stream: its first poke ends it at once.
    assert ("running trigger in line" in output) == (stream != "banned")
    assert f"stream live/{stream} on vhost '{volc_sim.DEMO_VHOST}' {outcome}" in output, output[-4000:]
    assert (code == 0) == (outcome == "is live"), output[-4000:]


# End to end (a real Airflow process, server or browser): `make test-e2e`.
pytestmark = pytest.mark.e2e
