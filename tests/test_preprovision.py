"""One event's timeline against the simulator: ahead, just in time, exactly once, failures, no leaks."""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pendulum
import pytest
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from airflow_live_provider.events import parse_calendar
from airflow_live_provider.exceptions import LiveApiInputError
from airflow_live_provider.preprovision import due_credentials, issue_just_in_time, provision_ahead
from airflow_live_provider.run_sheets import event_folder, sheet_secrets
from airflow_live_provider.simulator import SimulatorServer
from airflow_live_provider.simulator import isdp as isdp_sim
from airflow_live_provider.simulator import polyv as polyv_sim
from airflow_live_provider.simulator import volcengine as volc_sim
from airflow_live_provider.vendors.isdp import GET_TOKEN_BATCH_PATH
from airflow_live_provider.vendors.polyv import WATCH_TOKEN_PATH
from tests.helpers import assert_no_secret_in

BATCH_CREATE = "/live/v3/channel/transmit/batch-create"
HOUR = timedelta(hours=1)


def demo_event(start: datetime, name: str = "Launch", **changes: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "name": name,
        "start": start.isoformat(),
        "timezone": "Asia/Shanghai",
        "volcengine": {
            "vhost": volc_sim.DEMO_VHOST,
            "app": volc_sim.DEMO_APP,
            "stream": "launch",
            "domain": volc_sim.DEMO_PUSH_DOMAIN,
        },
        "polyv": {
            "channel_id": polyv_sim.DEMO_TRANSMIT_CHANNEL_ID,
            "receive_channel_names": ["launch-cn", "launch-en"],
            "viewers": ["v-1", {"viewerId": "v-2", "nickname": "Two"}],
        },
        "isdp": {"channel_ids": list(isdp_sim.DEMO_CHANNEL_IDS), "user_account": isdp_sim.DEMO_USER_ACCOUNT},
    }
    for section, change in changes.items():
        raw[section] = {**raw[section], **change} if isinstance(change, dict) else change
    [event] = parse_calendar([raw])
    return event


def soon(seconds: float) -> pendulum.DateTime:
    return pendulum.now("UTC").add(seconds=seconds)


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def read(uri: str) -> dict[str, Any]:
    return json.loads(Path(uri.removeprefix("file://")).read_text())


def calls(sim: SimulatorServer, path: str) -> int:
    return len(sim.requests_to(path, "POST"))


# -- ahead -------------------------------------------------------------------------------------------
def test_ahead_provisions_and_lists_just_in_time_credentials_as_pending(
    sim_connections: SimulatorServer, tmp_path: Path, all_logs: pytest.LogCaptureFixture
) -> None:
    start = soon(3 * 3600)
    event = demo_event(start)
    summary = provision_ahead(event, output_dir=str(tmp_path), run_id="scheduled__2026-12-01T10:00:00+00:00")

    folder = tmp_path / "launch"
    assert summary["run_sheet"] == f"file://{folder}/scheduled__2026-12-01T10_00_00_00_00.json"
    sheet = read(summary["run_sheet"])
    assert read(summary["latest_sheet"]) == sheet
    # Nothing short-lived is issued three hours ahead: no watch-token or join-token call at all.
    assert calls(sim_connections, WATCH_TOKEN_PATH) == 0 and calls(sim_connections, GET_TOKEN_BATCH_PATH) == 0
    assert sheet["polyv"]["watchTokens"] == [] and sheet["isdp"]["tokens"] == []
    assert sheet["polyv"]["justInTime"] == {
        "status": "pending",
        "issueAt": _z(start - timedelta(seconds=600)),
    }
    assert sheet["isdp"]["justInTime"] == {"status": "pending", "issueAt": _z(start - timedelta(seconds=90))}
    # Push URLs last through the event's end (+1 h), whatever the vendor's default would be.
    assert at(sheet["volcengine"]["validUntil"]) == start.add(hours=2).replace(microsecond=0)
    assert at(sheet["volcengine"]["validFrom"]) <= datetime.now(UTC)
    assert [c["name"] for c in sheet["polyv"]["receiveChannels"]] == ["launch-cn", "launch-en"]
    assert summary["polyv"]["created"] == 2 and summary["volcengine"]["push_url_count"] == 1
    assert summary["isdp"]["join_tokens"]["status"] == "pending"

    page = (folder / "latest.html").read_text()
    assert "width=device-width" in page and "will be issued just in time" in page
    assert start.in_timezone("Asia/Shanghai").strftime("%H:%M:%S (Asia/Shanghai)") in page
    for name in ("latest.html", "latest.json"):
        assert stat.S_IMODE(os.stat(folder / name).st_mode) == 0o600
    secrets = sheet_secrets(sheet)
    assert secrets
    assert_no_secret_in(json.dumps(summary) + all_logs.text, *secrets, volc_sim.DEMO_SECRET_ACCESS_KEY)


def _z(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def test_rerun_creates_no_channels(sim_connections: SimulatorServer, tmp_path: Path) -> None:
    event = demo_event(soon(3 * 3600))
    first = provision_ahead(event, output_dir=str(tmp_path), run_id="one")
    second = provision_ahead(event, output_dir=str(tmp_path), run_id="two")
    assert calls(sim_connections, BATCH_CREATE) == 1
    assert len(sim_connections.polyv.receivers(polyv_sim.DEMO_TRANSMIT_CHANNEL_ID)) == 2
    assert [c["created"] for c in second["polyv"]["receive_channels"]] == [False, False]
    assert [c["channelId"] for c in second["polyv"]["receive_channels"]] == [
        c["channelId"] for c in first["polyv"]["receive_channels"]
    ]
    assert (tmp_path / "launch" / "one.json").exists() and (tmp_path / "launch" / "two.json").exists()


# -- just in time -------------------------------------------------------------------------------------
def test_just_in_time_tokens_are_valid_at_the_start(
    sim_connections: SimulatorServer, tmp_path: Path, all_logs: pytest.LogCaptureFixture
) -> None:
    start = soon(60)
    event = demo_event(start)
    provision_ahead(event, output_dir=str(tmp_path), run_id="r1")
    due = due_credentials(event, output_dir=str(tmp_path), run_time=pendulum.now("UTC"), run_window=HOUR)
    assert list(due) == ["polyv", "isdp"]  # both moments passed: issued at once, soonest first
    summary = issue_just_in_time(event, list(due), output_dir=str(tmp_path), run_id="r1")

    sheet = read(summary["latest_sheet"])
    assert read(summary["run_sheet"]) == sheet
    for token in sheet["isdp"]["tokens"] + sheet["polyv"]["watchTokens"]:
        assert at(token["validFrom"]) <= start <= at(token["validUntil"]), token
    issued = sim_connections.polyv.watch_tokens
    assert [issued[t["token"]]["viewerId"] for t in sheet["polyv"]["watchTokens"]] == ["v-1", "v-2"]
    assert (
        sheet["polyv"]["justInTime"]["status"] == "issued" and sheet["isdp"]["justInTime"]["issuedBy"] == "r1"
    )
    assert summary["issued"]["isdp"]["count"] == 1 and summary["issued"]["polyv"]["count"] == 2
    # Issued once: the next run finds them in latest.json.
    assert (
        due_credentials(event, output_dir=str(tmp_path), run_time=pendulum.now("UTC"), run_window=HOUR) == {}
    )
    page = (tmp_path / "launch" / "latest.html").read_text()
    assert all(t["token"] in page for t in sheet["isdp"]["tokens"]) and "will be issued" not in page
    secrets = sheet_secrets(sheet)
    assert_no_secret_in(json.dumps(summary) + all_logs.text, *secrets, isdp_sim.DEMO_APP_TOKEN)


@pytest.mark.parametrize(
    ("grid_offset", "waits"),
    [
        # Runs at start-20 min (+k h): both moments (start-10 min, start-90 s) fall in that one run.
        (timedelta(minutes=20), {"polyv": 24, "isdp": 24}),
        # Runs at start-5 min: Polyv's moment falls in the run before, ISDP's in that run.
        (timedelta(minutes=5), {"polyv": 23, "isdp": 24}),
    ],
)
def test_a_day_of_hourly_runs_waits_once_and_issues_once(
    sim_connections: SimulatorServer, tmp_path: Path, grid_offset: timedelta, waits: dict[str, int]
) -> None:
    """Simulated runs from a day before the start to during the event, as the operator drives them.

    Run k has time ``start - 24 h - grid_offset + k h``. A due moment after the run's time is a
    wait (the operator defers, then issues at the moment); one before it is issued at once. The
    issuing happens now (real time, ~60 s before the start), like a resume at the moment would.
    """
    start = soon(60)
    event = demo_event(start)
    waited: dict[str, list[int]] = {"polyv": [], "isdp": []}
    for k in range(26):
        run_time = start - timedelta(hours=24) - grid_offset + k * HOUR
        provision_ahead(event, output_dir=str(tmp_path), run_id=f"run{k}")
        due = due_credentials(
            event, output_dir=str(tmp_path), run_time=run_time, run_window=HOUR, now=run_time
        )
        for vendor, moment in due.items():
            assert moment >= run_time, "a simulated run on time never finds a moment already past"
            waited[vendor].append(k)
        if due:
            issue_just_in_time(event, list(due), output_dir=str(tmp_path), run_id=f"run{k}")
    assert waited == {vendor: [k] for vendor, k in waits.items()}
    assert calls(sim_connections, GET_TOKEN_BATCH_PATH) == 1
    assert calls(sim_connections, WATCH_TOKEN_PATH) == 2  # one per viewer, once
    assert calls(sim_connections, BATCH_CREATE) == 1
    latest = read(f"file://{tmp_path}/launch/latest.json")
    assert latest["runId"] == "run25" and latest["isdp"]["justInTime"]["issuedBy"] == f"run{waits['isdp']}"
    assert all(at(t["validUntil"]) >= start for t in latest["isdp"]["tokens"])


def test_late_run_issues_at_once_even_after_the_start(
    sim_connections: SimulatorServer, tmp_path: Path
) -> None:
    """The owning run never happened (scheduler down): a run during the event issues at once."""
    start = soon(-120)  # started two minutes ago, runs for an hour
    event = demo_event(start)
    provision_ahead(event, output_dir=str(tmp_path), run_id="late")
    now = pendulum.now("UTC")
    due = due_credentials(event, output_dir=str(tmp_path), run_time=now, run_window=HOUR)
    assert set(due) == {"polyv", "isdp"} and all(moment < now for moment in due.values())
    summary = issue_just_in_time(event, list(due), output_dir=str(tmp_path), run_id="late")
    sheet = read(summary["latest_sheet"])
    assert all(at(t["validFrom"]) >= start.replace(microsecond=0) for t in sheet["isdp"]["tokens"])
    # After the event's end nothing is due any more.
    over = now.add(hours=2)
    assert due_credentials(event, output_dir=str(tmp_path), run_time=over, run_window=HOUR, now=over) == {}


def test_changed_viewers_are_issued_again(sim_connections: SimulatorServer, tmp_path: Path) -> None:
    start = soon(60)
    event = demo_event(start)
    issue_just_in_time(event, ["polyv"], output_dir=str(tmp_path), run_id="one")
    now = pendulum.now("UTC")
    assert "polyv" not in due_credentials(event, output_dir=str(tmp_path), run_time=now, run_window=HOUR)
    changed = demo_event(start, polyv={"viewers": ["v-1", "v-2", "v-3"]})
    assert "polyv" in due_credentials(changed, output_dir=str(tmp_path), run_time=now, run_window=HOUR)


def test_a_failing_token_call_fails_the_task_before_the_start(
    sim_connections: SimulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Retries are bounded by the start: the crew hears of it while there is still time.

    The connection allows 20 attempts (the most it may) over 120 s; only the start can stop them
    within 4 s.
    """
    conn = json.loads(os.environ["AIRFLOW_CONN_ISDP_DEFAULT"])
    conn["extra"] = {**conn.get("extra", {}), "max_attempts": 20}
    monkeypatch.setenv("AIRFLOW_CONN_ISDP_DEFAULT", json.dumps(conn))
    start = soon(4)
    event = demo_event(start)
    provision_ahead(event, output_dir=str(tmp_path), run_id="r")
    sim_connections.faults.add("503", path=GET_TOKEN_BATCH_PATH, times=1000)
    with pytest.raises(
        AirflowException, match="ISDP join tokens could not be issued before the start"
    ) as info:
        issue_just_in_time(event, ["polyv", "isdp"], output_dir=str(tmp_path), run_id="r")
    failed_at = datetime.now(UTC)
    assert failed_at < start, "retried past the start"
    assert calls(sim_connections, GET_TOKEN_BATCH_PATH) > 1  # it did retry
    assert not isinstance(info.value, AirflowFailException)  # transient: a task retry may help
    # What was issued is kept; the ISDP part stays pending.
    sheet = read(f"file://{tmp_path}/launch/latest.json")
    assert len(sheet["polyv"]["watchTokens"]) == 2 and sheet["polyv"]["justInTime"]["status"] == "issued"
    assert sheet["isdp"]["tokens"] == [] and sheet["isdp"]["justInTime"]["status"] != "issued"


def test_a_token_the_vendor_says_dies_before_the_start_is_not_written(
    sim_connections: SimulatorServer, tmp_path: Path
) -> None:
    sim_connections.isdp.join_token_seconds = 60  # shorter than the 90 s lead
    event = demo_event(soon(90))
    with pytest.raises(AirflowFailException, match=r"lifetime of 60 s.*token_lead_seconds \(now 90\)"):
        issue_just_in_time(event, ["isdp"], output_dir=str(tmp_path), run_id="r")
    sheet = read(f"file://{tmp_path}/launch/latest.json")
    assert not sheet.get("isdp", {}).get("tokens")


# -- refused before any request ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("turn_off", "message"),
    [
        (lambda sim: sim.volcengine.set_auth(volc_sim.DEMO_VHOST, "push", enabled=False), "is OFF"),
        (lambda sim: sim.volcengine.clear_auth(volc_sim.DEMO_VHOST, "push"), "push auth is not configured"),
    ],
)
def test_push_auth_off_fails_before_anything_is_created(
    sim_connections: SimulatorServer,
    tmp_path: Path,
    turn_off: Callable[[SimulatorServer], None],
    message: str,
) -> None:
    turn_off(sim_connections)
    with pytest.raises(AirflowFailException, match=message) as info:
        provision_ahead(demo_event(soon(3600)), output_dir=str(tmp_path), run_id="r")
    assert "Launch" in str(info.value) and volc_sim.DEMO_VHOST in str(info.value)
    assert not [r for r in sim_connections.requests if r.path.startswith(("/live/", "/openapi/"))]
    assert not (tmp_path / "launch").exists()


def test_bad_output_location_fails_before_any_request(sim_connections: SimulatorServer) -> None:
    sim_connections.clear_requests()
    with pytest.raises(LiveApiInputError, match="output_dir"):
        provision_ahead(demo_event(soon(3600)), output_dir="relative/sheets", run_id="r")
    assert list(sim_connections.requests) == []


def test_push_url_validity_shorter_than_the_event_is_refused(
    sim_connections: SimulatorServer, tmp_path: Path
) -> None:
    sim_connections.clear_requests()
    event = demo_event(soon(3 * 3600), volcengine={"valid_duration": 3600})
    with pytest.raises(LiveApiInputError, match=r"volcengine.valid_duration.*before the event ends"):
        provision_ahead(event, output_dir=str(tmp_path), run_id="r")
    assert list(sim_connections.requests) == []


@pytest.mark.parametrize(
    ("section", "change", "field"),
    [
        ("isdp", {"role": -1}, "isdp.role"),
        ("polyv", {"channel_id": "abc"}, "polyv.channel_id"),
        ("volcengine", {"app": "my app"}, "volcengine.app"),
        ("polyv", {"viewers": ["v1", {"viewerId": "v2", "nickname": 12345}]}, "polyv.viewers[1].nickname"),
        ("isdp", {"token_lead_seconds": 600}, "isdp.token_lead_seconds"),
    ],
)
def test_a_later_sections_bad_input_fails_before_the_first_request(
    sim_connections: SimulatorServer, tmp_path: Path, section: str, change: dict[str, Any], field: str
) -> None:
    """A direct caller's event is validated whole: no receive channel or token before the error."""
    event = demo_event(soon(3600))
    event[section] = {**event[section], **change}
    sim_connections.clear_requests()
    for step in (
        lambda: provision_ahead(event, output_dir=str(tmp_path), run_id="r"),
        lambda: issue_just_in_time(event, ["polyv", "isdp"], output_dir=str(tmp_path), run_id="r"),
    ):
        with pytest.raises(LiveApiInputError, match=re.escape(field)):
            step()
    assert list(sim_connections.requests) == []
    assert sim_connections.polyv.receivers(polyv_sim.DEMO_TRANSMIT_CHANNEL_ID) == []
    assert not (tmp_path / "launch").exists()


def test_event_folder_defaults_under_airflow_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    event = {"name": "Big Launch!", "start": "2026-12-01T19:30:00+08:00"}
    assert event_folder("", event) == f"file://{tmp_path}/live_provider/run_sheets/big-launch"
    assert event_folder("s3://bucket/sheets/", event) == "s3://bucket/sheets/big-launch"
    assert event_folder(None, {**event, "occurrence": "2026-12-01"}).endswith("/big-launch-2026-12-01")


def test_an_event_name_too_long_for_a_file_system_fails_before_any_request(
    sim_connections: SimulatorServer, tmp_path: Path
) -> None:
    """90 Chinese characters pass the calendar but make a 270-byte folder name: refused first."""
    event = demo_event(soon(3600), name="发" * 90)
    sim_connections.clear_requests()
    for step in (
        lambda: provision_ahead(event, output_dir=str(tmp_path), run_id="r"),
        lambda: issue_just_in_time(event, ["polyv", "isdp"], output_dir=str(tmp_path), run_id="r"),
    ):
        with pytest.raises(LiveApiInputError, match="output_dir.*file systems allow 255"):
            step()
    assert list(sim_connections.requests) == []
