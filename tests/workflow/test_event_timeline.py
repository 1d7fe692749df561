"""One event run's steps against the simulator: ahead, just in time, once, independent, superseded,
unreadable records, time edges, no leaks."""

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
from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSkipException

from airflow_live_provider.events.calendar import parse_calendar
from airflow_live_provider.events.planner import definition_hash
from airflow_live_provider.events.run_records import RunSheetUnreadable, event_folder, step_uri
from airflow_live_provider.events.run_sheets import sheet_secrets
from airflow_live_provider.exceptions import LiveApiInputError
from airflow_live_provider.simulator import SimulatorServer
from airflow_live_provider.simulator import isdp as isdp_sim
from airflow_live_provider.simulator import polyv as polyv_sim
from airflow_live_provider.simulator import volcengine as volc_sim
from airflow_live_provider.vendors.isdp import GET_TOKEN_BATCH_PATH
from airflow_live_provider.vendors.polyv import WATCH_TOKEN_PATH
from airflow_live_provider.workflow.event_timeline import (
    EventRun,
    event_run,
    issue_credentials,
    provision_push,
    provision_receivers,
    summarize,
)
from tests.helpers import assert_no_secret_in

BATCH_CREATE = "/live/v3/channel/transmit/batch-create"


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


def make_run(
    event: dict[str, Any], tmp_path: Path, run_id: str = "r", calendar: Path | None = None
) -> EventRun:
    """The run the planner would start for ``event`` (its conf), sheets under ``tmp_path``."""
    conf = {"event": event, "definition": definition_hash(event), "output_dir": str(tmp_path)}
    if calendar is not None:
        conf["calendar"] = str(calendar)
    return event_run(conf, run_id)


def provision_ahead(run: EventRun) -> None:
    provision_push(run)
    provision_receivers(run)


def latest(tmp_path: Path, folder: str = "launch") -> dict[str, Any]:
    return read(f"file://{tmp_path}/{folder}/latest.json")


# -- ahead -------------------------------------------------------------------------------------------
def test_ahead_provisions_and_lists_just_in_time_credentials_as_pending(
    sim_connections: SimulatorServer, tmp_path: Path, all_logs: pytest.LogCaptureFixture
) -> None:
    start = soon(3 * 3600)
    run = make_run(demo_event(start), tmp_path, run_id="event__launch__x__1")
    push = provision_push(run)
    receivers = provision_receivers(run)

    folder = tmp_path / "launch"
    assert receivers["run_sheet"] == f"file://{folder}/event__launch__x__1.json"
    sheet = read(receivers["run_sheet"])
    assert read(receivers["latest_sheet"]) == sheet
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
    assert receivers["created"] == 2 and push["push_url_count"] == 1
    assert sheet["steps"]["volcengine"]["status"] == "done" and sheet["steps"]["isdp_tokens"] == {
        "status": "waiting"
    }

    page = (folder / "latest.html").read_text()
    assert "width=device-width" in page and "will be issued just in time" in page
    assert start.in_timezone("Asia/Shanghai").strftime("%H:%M:%S (Asia/Shanghai)") in page
    for name in ("latest.html", "latest.json"):
        assert stat.S_IMODE(os.stat(folder / name).st_mode) == 0o600
    secrets = sheet_secrets(sheet)
    assert secrets
    assert_no_secret_in(
        json.dumps([push, receivers]) + all_logs.text, *secrets, volc_sim.DEMO_SECRET_ACCESS_KEY
    )


def _z(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def test_rerun_creates_no_channels(sim_connections: SimulatorServer, tmp_path: Path) -> None:
    event = demo_event(soon(3 * 3600))
    first = provision_receivers(make_run(event, tmp_path, "one"))
    second = provision_receivers(make_run(event, tmp_path, "two"))
    assert calls(sim_connections, BATCH_CREATE) == 1
    assert len(sim_connections.polyv.receivers(polyv_sim.DEMO_TRANSMIT_CHANNEL_ID)) == 2
    assert [c["created"] for c in second["receive_channels"]] == [False, False]
    assert [c["channelId"] for c in second["receive_channels"]] == [
        c["channelId"] for c in first["receive_channels"]
    ]
    assert (tmp_path / "launch" / "one.json").exists() and (tmp_path / "launch" / "two.json").exists()


# -- just in time -------------------------------------------------------------------------------------
def test_just_in_time_tokens_are_valid_at_the_start_and_issued_once(
    sim_connections: SimulatorServer, tmp_path: Path, all_logs: pytest.LogCaptureFixture
) -> None:
    start = soon(60)
    run = make_run(demo_event(start), tmp_path, run_id="r1")
    provision_ahead(run)
    polyv = issue_credentials(run, "polyv")
    isdp = issue_credentials(run, "isdp")

    sheet = latest(tmp_path)
    assert read(f"file://{tmp_path}/launch/r1.json") == sheet
    for token in sheet["isdp"]["tokens"] + sheet["polyv"]["watchTokens"]:
        assert at(token["validFrom"]) <= start <= at(token["validUntil"]), token
    issued = sim_connections.polyv.watch_tokens
    assert [issued[t["token"]]["viewerId"] for t in sheet["polyv"]["watchTokens"]] == ["v-1", "v-2"]
    assert (
        sheet["polyv"]["justInTime"]["status"] == "issued" and sheet["isdp"]["justInTime"]["issuedBy"] == "r1"
    )
    assert isdp["count"] == 1 and polyv["count"] == 2 and isdp["issued_now"] is True
    assert 0 < isdp["seconds_before_start"] <= 61
    # Issued once: the step run again (a task retry, a resume) finds its own record.
    again = issue_credentials(run, "isdp")
    assert again["issued_now"] is False and again["count"] == 1
    assert calls(sim_connections, GET_TOKEN_BATCH_PATH) == 1 and calls(sim_connections, WATCH_TOKEN_PATH) == 2
    page = (tmp_path / "launch" / "latest.html").read_text()
    assert all(t["token"] in page for t in sheet["isdp"]["tokens"]) and "will be issued" not in page
    secrets = sheet_secrets(sheet)
    assert len(secrets) >= 3
    assert_no_secret_in(json.dumps([polyv, isdp, again]) + all_logs.text, *secrets, isdp_sim.DEMO_APP_TOKEN)


def test_late_run_issues_at_once_during_the_event_and_fails_as_missed_after_it(
    sim_connections: SimulatorServer, tmp_path: Path
) -> None:
    """The run started late (scheduler down): during the event it issues at once; a step that
    wakes after the end fails, saying what was missed, and issues nothing."""
    start = soon(-120)  # started two minutes ago, runs for an hour
    run = make_run(demo_event(start), tmp_path)
    summary = issue_credentials(run, "isdp")
    assert summary["count"] == 1 and summary["seconds_before_start"] < 0
    over = datetime.now(UTC) + timedelta(hours=2)
    with pytest.raises(
        AirflowFailException, match=r"missed: Polyv watch tokens for event 'Launch' were due at"
    ):
        issue_credentials(run, "polyv", now=over)
    assert calls(sim_connections, WATCH_TOKEN_PATH) == 0
    sheet = latest(tmp_path)
    assert (
        sheet["polyv"]["justInTime"]["status"] == "missed"
        and sheet["steps"]["polyv_tokens"]["status"] == "missed"
    )
    assert "not issued" in (tmp_path / "launch" / "latest.html").read_text()


def test_a_step_woken_just_before_the_start_still_has_time_to_issue(
    sim_connections: SimulatorServer, tmp_path: Path
) -> None:
    """1 s before the start, with a slow vendor and one transient failure: still issued (the
    budget is at least a minute, not the second left before the start)."""
    run = make_run(demo_event(soon(1)), tmp_path)
    sim_connections.latency = 0.6
    sim_connections.faults.add("503", path=GET_TOKEN_BATCH_PATH, times=1)
    summary = issue_credentials(run, "isdp")
    assert summary["count"] == 1
    assert [r.status for r in sim_connections.requests_to(GET_TOKEN_BATCH_PATH, "POST")] == [503, 200]


def test_an_unreadable_record_fails_the_step_without_issuing_or_overwriting(
    sim_connections: SimulatorServer, tmp_path: Path
) -> None:
    """Only "not found" means "not issued yet": a record that cannot be read stops the step."""
    run = make_run(demo_event(soon(60)), tmp_path)
    issue_credentials(run, "polyv")
    before = latest(tmp_path)
    record = Path(step_uri(run.folder, run.run_id, "isdp_tokens").removeprefix("file://"))
    record.write_text('{"status": "done", "result": {"tok')  # half a file (a foreign writer)
    with pytest.raises(RunSheetUnreadable, match="isdp_tokens.json cannot be read"):
        issue_credentials(run, "isdp")
    assert calls(sim_connections, GET_TOKEN_BATCH_PATH) == 0
    assert latest(tmp_path) == before  # the issued Polyv tokens were not overwritten with "pending"


def test_a_polyv_failure_blocks_neither_isdp_tokens_nor_push_urls(
    sim_connections: SimulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = make_run(demo_event(soon(60)), tmp_path)
    conn = json.loads(os.environ["AIRFLOW_CONN_POLYV_DEFAULT"])
    monkeypatch.setenv("AIRFLOW_CONN_POLYV_DEFAULT", json.dumps({**conn, "password": "wrong-app-secret"}))
    with pytest.raises(AirflowException, match="Polyv watch tokens could not be issued"):
        issue_credentials(run, "polyv")
    assert issue_credentials(run, "isdp")["count"] == 1
    provision_push(run)
    sheet = latest(tmp_path)
    assert sheet["isdp"]["justInTime"]["status"] == "issued"
    assert sheet["polyv"]["justInTime"]["status"] == "failed" and sheet["polyv"]["watchTokens"] == []
    assert sheet["steps"]["volcengine"]["status"] == "done"
    with pytest.raises(AirflowFailException, match=r"polyv_tokens: .*Polyv watch tokens could not be issued"):
        summarize(run)


def test_push_auth_off_blocks_no_token(sim_connections: SimulatorServer, tmp_path: Path) -> None:
    run = make_run(demo_event(soon(60)), tmp_path)
    sim_connections.volcengine.set_auth(volc_sim.DEMO_VHOST, "push", enabled=False)
    with pytest.raises(AirflowFailException, match="is OFF"):
        provision_push(run)
    assert issue_credentials(run, "polyv")["count"] == 2 and issue_credentials(run, "isdp")["count"] == 1
    assert latest(tmp_path)["steps"]["volcengine"]["status"] == "failed"


def test_two_steps_finishing_together_keep_both_updates(
    sim_connections: SimulatorServer, tmp_path: Path
) -> None:
    """Each step writes its own record; the sheet is rebuilt from all of them."""
    import threading

    run = make_run(demo_event(soon(60)), tmp_path)
    errors: list[BaseException] = []

    def issue(vendor: str) -> None:
        try:
            issue_credentials(run, vendor)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    for _ in range(3):
        threads = [threading.Thread(target=issue, args=(v,)) for v in ("polyv", "isdp")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
    sheet = latest(tmp_path)
    assert sheet["polyv"]["justInTime"]["status"] == "issued" and len(sheet["polyv"]["watchTokens"]) == 2
    assert sheet["isdp"]["justInTime"]["status"] == "issued" and len(sheet["isdp"]["tokens"]) == 1


def test_a_changed_or_removed_instance_issues_nothing_and_says_so(
    sim_connections: SimulatorServer, tmp_path: Path
) -> None:
    start = soon(60)
    raw = {
        "name": "Launch",
        "start": start.isoformat(),
        "isdp": {"channel_ids": list(isdp_sim.DEMO_CHANNEL_IDS), "user_account": isdp_sim.DEMO_USER_ACCOUNT},
        "polyv": {"channel_id": polyv_sim.DEMO_TRANSMIT_CHANNEL_ID, "viewers": ["v-1"]},
    }
    calendar = tmp_path / "calendar.json"
    calendar.write_text(json.dumps([raw]))
    [event] = parse_calendar([raw])
    sheets = tmp_path / "sheets"
    old = make_run(event, sheets, run_id="old", calendar=calendar)
    assert issue_credentials(old, "polyv")["count"] == 1  # still current

    # The viewers change: a newer run takes over; the old run's next step stands down.
    calendar.write_text(json.dumps([{**raw, "polyv": {**raw["polyv"], "viewers": ["v-1", "v-9"]}}]))
    new = make_run(
        parse_calendar(json.loads(calendar.read_text()))[0], sheets, run_id="new", calendar=calendar
    )
    issue_credentials(new, "isdp")
    with pytest.raises(AirflowSkipException, match="was changed in the calendar"):
        issue_credentials(old, "isdp")
    assert calls(sim_connections, GET_TOKEN_BATCH_PATH) == 1
    old_sheet = read(f"file://{sheets}/launch/old.json")
    assert old_sheet["superseded"]["verdict"] == "changed"
    assert latest(sheets)["runId"] == "new"  # the stale run never overwrites latest
    assert "Superseded" in render_page(old_sheet)
    assert summarize(old)["status"] == "superseded"
    assert latest(sheets)["runId"] == "new"  # nor does its summary

    calendar.write_text(json.dumps([]))
    with pytest.raises(AirflowSkipException, match="was cancelled"):
        issue_credentials(new, "polyv")
    assert calls(sim_connections, WATCH_TOKEN_PATH) == 1
    assert summarize(new)["status"] == "cancelled"  # ends without failing
    assert latest(sheets)["superseded"]["status"] == "cancelled"
    assert "Cancelled" in render_page(latest(sheets))


def render_page(sheet: dict[str, Any]) -> str:
    from airflow_live_provider.events.run_sheet_page import render_html

    return render_html(sheet)


def test_a_failing_token_call_fails_the_task_before_the_start(
    sim_connections: SimulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Retries are bounded (by the start, or the minimum budget from now if later): the crew hears
    of it while there is still time. The connection allows 20 attempts over 120 s."""
    conn = json.loads(os.environ["AIRFLOW_CONN_ISDP_DEFAULT"])
    conn["extra"] = {**conn.get("extra", {}), "max_attempts": 20}
    monkeypatch.setenv("AIRFLOW_CONN_ISDP_DEFAULT", json.dumps(conn))
    start = soon(4)
    run = make_run(demo_event(start), tmp_path)
    sim_connections.faults.add("503", path=GET_TOKEN_BATCH_PATH, times=1000)
    with pytest.raises(
        AirflowException, match="ISDP join tokens could not be issued before the start"
    ) as info:
        issue_credentials(run, "isdp", min_budget=timedelta(seconds=1))
    assert datetime.now(UTC) < start + timedelta(seconds=1), "retried past the start"
    assert calls(sim_connections, GET_TOKEN_BATCH_PATH) > 1  # it did retry
    assert not isinstance(info.value, AirflowFailException)  # transient: a task retry may help
    sheet = latest(tmp_path)
    assert sheet["isdp"]["tokens"] == [] and sheet["isdp"]["justInTime"]["status"] == "failed"


def test_a_token_the_vendor_says_dies_before_the_start_is_not_written(
    sim_connections: SimulatorServer, tmp_path: Path
) -> None:
    sim_connections.isdp.join_token_seconds = 60  # shorter than the 90 s lead
    run = make_run(demo_event(soon(90)), tmp_path)
    with pytest.raises(AirflowFailException, match=r"lifetime of 60 s.*token_lead_seconds \(now 90\)"):
        issue_credentials(run, "isdp")
    assert latest(tmp_path)["isdp"]["tokens"] == []


# -- refused before any request ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("turn_off", "message"),
    [
        (lambda sim: sim.volcengine.set_auth(volc_sim.DEMO_VHOST, "push", enabled=False), "is OFF"),
        (lambda sim: sim.volcengine.clear_auth(volc_sim.DEMO_VHOST, "push"), "push auth is not configured"),
    ],
)
def test_push_auth_off_fails_before_any_push_url_is_made(
    sim_connections: SimulatorServer,
    tmp_path: Path,
    turn_off: Callable[[SimulatorServer], None],
    message: str,
) -> None:
    turn_off(sim_connections)
    with pytest.raises(AirflowFailException, match=message) as info:
        provision_push(make_run(demo_event(soon(3600)), tmp_path))
    assert "Launch" in str(info.value) and volc_sim.DEMO_VHOST in str(info.value)
    assert not [r for r in sim_connections.requests if "GeneratePushURL" in str(r.query)]
    assert "push" not in latest(tmp_path)["volcengine"]


def test_bad_output_location_fails_before_any_request(sim_connections: SimulatorServer) -> None:
    sim_connections.clear_requests()
    with pytest.raises(LiveApiInputError, match="output_dir"):
        make_run(demo_event(soon(3600)), Path("relative/sheets"))
    assert list(sim_connections.requests) == []


def test_push_url_validity_shorter_than_the_event_is_refused(
    sim_connections: SimulatorServer, tmp_path: Path
) -> None:
    sim_connections.clear_requests()
    run = make_run(demo_event(soon(3 * 3600), volcengine={"valid_duration": 3600}), tmp_path)
    with pytest.raises(LiveApiInputError, match=r"volcengine.valid_duration.*before the event ends"):
        provision_push(run)
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
def test_a_bad_section_fails_the_run_before_the_first_request(
    sim_connections: SimulatorServer, tmp_path: Path, section: str, change: dict[str, Any], field: str
) -> None:
    """A run's instance is validated whole: no receive channel or token before the error."""
    event = demo_event(soon(3600))
    event[section] = {**event[section], **change}
    sim_connections.clear_requests()
    with pytest.raises(LiveApiInputError, match=re.escape(field)):
        make_run(event, tmp_path)
    assert list(sim_connections.requests) == []
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
    with pytest.raises(LiveApiInputError, match="output_dir.*file systems allow 255"):
        make_run(event, tmp_path)
    assert list(sim_connections.requests) == []
