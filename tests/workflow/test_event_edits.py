"""Event runs through calendar edits, clears, retries and kills: every credential of the current
definition is issued once and is valid at its current start, whatever happened before.

Each test drives the steps against the simulator over HTTP, with the calendar in a file the
steps read at their own moment (as they read the planner's calendar on a cluster), and counts
what the simulator handed out.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pendulum
import pytest
from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSkipException

from airflow_live_provider.calendar_source import CALENDAR_VARIABLE, PLANNER_CALENDAR
from airflow_live_provider.events.calendar import load_calendar
from airflow_live_provider.events.planner import definition_hash, instance_run_id
from airflow_live_provider.events.run_records import issued_uri, step_uri
from airflow_live_provider.operators.events import (
    EventCredentialsOperator,
    EventGoLiveSensor,
    EventProvisionOperator,
    EventSummaryOperator,
)
from airflow_live_provider.simulator import SimulatorServer
from airflow_live_provider.simulator import isdp as isdp_sim
from airflow_live_provider.simulator import polyv as polyv_sim
from airflow_live_provider.simulator import volcengine as volc_sim
from airflow_live_provider.times import utc_iso
from airflow_live_provider.vendors.isdp import GET_TOKEN_BATCH_PATH
from airflow_live_provider.vendors.polyv import WATCH_TOKEN_PATH
from airflow_live_provider.workflow.event_timeline import (
    CalendarUnreadable,
    EventRun,
    credential_moment,
    event_run,
    issue_credentials,
    provision_push,
    provision_receivers,
    record_go_live,
    reuse_go_live,
    summarize,
)

BATCH_CREATE = "/live/v3/channel/transmit/batch-create"


def raw_event(start: pendulum.DateTime, **changes: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "name": "Keynote",
        "start": start.isoformat(),
        "duration_minutes": 60,
        "volcengine": {"vhost": volc_sim.DEMO_VHOST, "app": volc_sim.DEMO_APP, "stream": "keynote"},
        "polyv": {
            "channel_id": polyv_sim.DEMO_TRANSMIT_CHANNEL_ID,
            "receive_channel_names": ["keynote-cn"],
            "viewers": ["v-1"],
        },
        "isdp": {"channel_ids": list(isdp_sim.DEMO_CHANNEL_IDS), "user_account": isdp_sim.DEMO_USER_ACCOUNT},
    }
    for key, change in changes.items():
        raw[key] = {**raw[key], **change} if isinstance(change, dict) else change
    return raw


class Calendar:
    """The calendar file the steps read, and the run the planner would make for its one event."""

    def __init__(self, tmp_path: Path) -> None:
        self.path = tmp_path / "calendar.json"
        self.sheets = tmp_path / "sheets"

    def write(self, *events: dict[str, Any]) -> None:
        self.path.write_text(json.dumps({"events": list(events)}))

    def run(self, calendar: str | None = None) -> EventRun:
        [event] = load_calendar(self.path.read_text())
        conf = {
            "event": event,
            "definition": definition_hash(event),
            "calendar": calendar or str(self.path),
            "output_dir": str(self.sheets),
        }
        return event_run(conf, instance_run_id(event))

    def latest(self) -> dict[str, Any]:
        return json.loads((self.sheets / "keynote" / "latest.json").read_text())


@pytest.fixture
def cal(tmp_path: Path) -> Calendar:
    return Calendar(tmp_path)


def calls(sim: SimulatorServer, path: str) -> int:
    return len(sim.requests_to(path, "POST"))


def actions(sim: SimulatorServer, action: str) -> int:
    return sum(1 for r in sim.requests if r.query.get("Action") == action)


def soon(seconds: float) -> pendulum.DateTime:
    return pendulum.now("UTC").add(seconds=seconds).replace(microsecond=0)


def test_a_viewer_added_after_the_first_tokens_gets_one_and_nobody_else_a_second(
    sim_connections: SimulatorServer, cal: Calendar
) -> None:
    start = soon(60)
    cal.write(raw_event(start))
    first = cal.run()
    issue_credentials(first, "polyv")
    issue_credentials(first, "isdp")
    [v1_token] = [t["token"] for t in cal.latest()["polyv"]["watchTokens"]]

    cal.write(raw_event(start, polyv={"viewers": ["v-1", "v-2"]}))  # an hour before: a speaker joins
    edited = cal.run()
    assert edited.run_id != first.run_id  # the edit's own run (the planner makes it at once)
    polyv = issue_credentials(edited, "polyv")
    isdp = issue_credentials(edited, "isdp")
    assert polyv["count"] == 2 and polyv["issued_now"] is True and isdp["issued_now"] is False
    assert calls(sim_connections, WATCH_TOKEN_PATH) == 2  # v-1 once, v-2 once
    assert calls(sim_connections, GET_TOKEN_BATCH_PATH) == 1  # the join tokens are kept
    tokens = {t["viewerId"]: t["token"] for t in cal.latest()["polyv"]["watchTokens"]}
    assert tokens["v-1"] == v1_token and set(tokens) == {"v-1", "v-2"}
    assert cal.latest()["runId"] == edited.run_id
    # The first run's next step (or a clear of it) stands down: nothing issued, latest untouched.
    with pytest.raises(AirflowSkipException, match="was changed in the calendar"):
        issue_credentials(first, "polyv")
    assert summarize(first)["status"] == "superseded"
    assert calls(sim_connections, WATCH_TOKEN_PATH) == 2
    assert cal.latest()["runId"] == edited.run_id

    # A viewer removed gets nothing, and nobody a new token.
    cal.write(raw_event(start, polyv={"viewers": ["v-2"]}))
    fewer = issue_credentials(cal.run(), "polyv")
    assert fewer["count"] == 1 and calls(sim_connections, WATCH_TOKEN_PATH) == 2
    assert [t["viewerId"] for t in cal.latest()["polyv"]["watchTokens"]] == ["v-2"]


def test_an_event_moved_earlier_waits_for_its_new_moment_and_gets_tokens_valid_at_the_new_start(
    sim_connections: SimulatorServer, cal: Calendar
) -> None:
    cal.write(raw_event(soon(3 * 3600)))
    old = cal.run()
    new_start = soon(100)
    cal.write(raw_event(new_start))
    moved = cal.run()
    assert credential_moment(moved, "isdp") < credential_moment(old, "isdp")
    # The new run's ISDP step defers to the new moment (start - 90 s), not the old one.
    op = EventCredentialsOperator(task_id="isdp_tokens", vendor="isdp")
    from airflow.sdk.exceptions import TaskDeferred

    with pytest.raises(TaskDeferred) as deferred:
        op.execute(context_of(moved))
    assert deferred.value.trigger.moment == credential_moment(moved, "isdp")
    issue_credentials(moved, "isdp")
    [entry] = cal.latest()["isdp"]["tokens"]
    assert pendulum.parse(entry["validFrom"]) <= new_start <= pendulum.parse(entry["validUntil"])
    with pytest.raises(AirflowSkipException):  # the old run wakes at its old moment: nothing
        issue_credentials(old, "isdp")
    # ... or rather at once: its wait watches the calendar and wakes it early, and it skips
    # instead of waiting again.
    assert type(deferred.value.trigger).__name__ == "EventMomentTrigger"
    with pytest.raises(AirflowSkipException, match="was changed in the calendar"):
        op.resume(context_of(old), event={"status": "changed"})
    assert calls(sim_connections, GET_TOKEN_BATCH_PATH) == 1


def test_an_event_moved_later_waits_for_new_join_tokens_and_keeps_its_watch_tokens(
    sim_connections: SimulatorServer, cal: Calendar
) -> None:
    from airflow.sdk.exceptions import TaskDeferred

    cal.write(raw_event(soon(60)))
    first = cal.run()
    issue_credentials(first, "isdp")
    issue_credentials(first, "polyv")
    later = soon(1800)  # half an hour later: the ~120 s join tokens would be dead by then
    cal.write(raw_event(later))
    moved = cal.run()
    with pytest.raises(TaskDeferred) as deferred:  # new join tokens, at the new moment
        EventCredentialsOperator(task_id="isdp_tokens", vendor="isdp").execute(context_of(moved))
    assert deferred.value.trigger.moment == credential_moment(moved, "isdp")
    assert issue_credentials(moved, "polyv")["issued_now"] is False  # 5 h tokens: still valid then
    assert calls(sim_connections, GET_TOKEN_BATCH_PATH) == 1 and calls(sim_connections, WATCH_TOKEN_PATH) == 1
    for token in cal.latest()["polyv"]["watchTokens"]:
        assert pendulum.parse(token["validUntil"]) >= later


@pytest.mark.parametrize("how", ["deleted", "cancelled"])
def test_a_deleted_or_cancelled_event_issues_nothing_more_and_its_run_ends_cancelled(
    sim_connections: SimulatorServer, cal: Calendar, how: str
) -> None:
    cal.write(raw_event(soon(60)))
    run = cal.run()
    provision_push(run)
    sim_connections.clear_requests()
    cal.write() if how == "deleted" else cal.write(raw_event(soon(60)) | {"cancelled": True})
    for step in (lambda: issue_credentials(run, "isdp"), lambda: provision_receivers(run)):
        with pytest.raises(AirflowSkipException, match="was cancelled"):
            step()
    assert summarize(run)["status"] == "cancelled"  # no failure
    assert list(sim_connections.requests) == []
    latest = cal.latest()
    assert (
        latest["superseded"]["status"] == "cancelled" and latest["steps"]["outcome"]["status"] == "cancelled"
    )


def test_a_running_event_extended_keeps_its_push_urls_until_they_would_expire(
    sim_connections: SimulatorServer, cal: Calendar
) -> None:
    start = soon(-600)  # on air for ten minutes
    cal.write(raw_event(start))
    first = cal.run()
    provision_push(first)
    provision_receivers(first)
    issue_credentials(first, "polyv")
    issue_credentials(first, "isdp")
    record_go_live(first, "done", live_at=utc_iso())
    push = cal.latest()["volcengine"]["push"]
    counts = (actions(sim_connections, "GeneratePushURL"), actions(sim_connections, "DescribeAuth"))

    # Extended by 30 min: the push URLs (end + 1 h) still cover it; nothing in use is re-issued.
    cal.write(raw_event(start, duration_minutes=90))
    longer = cal.run()
    provision_push(longer)
    provision_receivers(longer)
    issue_credentials(longer, "polyv")
    issue_credentials(longer, "isdp")
    assert reuse_go_live(longer)  # live already: no second watch, no "missed"
    assert (actions(sim_connections, "GeneratePushURL"), actions(sim_connections, "DescribeAuth")) == counts
    assert calls(sim_connections, WATCH_TOKEN_PATH) == 1 and calls(sim_connections, GET_TOKEN_BATCH_PATH) == 1
    assert calls(sim_connections, BATCH_CREATE) == 1  # the first run's, none since
    assert cal.latest()["volcengine"]["push"] == push and cal.latest()["steps"]["go_live"]["status"] == "done"
    assert summarize(longer)["status"] == "done"

    # Extended past the push URLs' validity: new ones, valid through the new end.
    cal.write(raw_event(start, duration_minutes=300))
    provision_push(cal.run())
    assert actions(sim_connections, "GeneratePushURL") == counts[0] + 1
    assert pendulum.parse(cal.latest()["volcengine"]["validUntil"]) >= start.add(minutes=300)


def context_of(run: EventRun) -> dict[str, Any]:
    return {"dag_run": SimpleNamespace(conf=run.conf, run_after=pendulum.now("UTC")), "run_id": run.run_id}


def test_clearing_a_whole_run_after_its_event_issues_nothing_and_it_stays_a_success(
    sim_connections: SimulatorServer, cal: Calendar
) -> None:
    """Every step re-run after the end (the go-live window long closed): no vendor call, no
    done record turned into missed or failed, the summary still succeeds."""
    end = soon(4)
    cal.write(raw_event(end.subtract(minutes=10), duration_minutes=10))
    run = cal.run()
    sim_connections.volcengine.set_stream(volc_sim.DEMO_VHOST, volc_sim.DEMO_APP, "keynote", online_in=0)
    steps = [
        EventProvisionOperator(task_id="volcengine", step="volcengine"),
        EventProvisionOperator(task_id="polyv_channels", step="polyv_channels"),
        EventCredentialsOperator(task_id="polyv_tokens", vendor="polyv"),
        EventCredentialsOperator(task_id="isdp_tokens", vendor="isdp"),
    ]
    for op in steps:
        op.execute(context_of(run))
    record_go_live(run, "done", live_at=utc_iso())
    EventSummaryOperator(task_id="summary").execute(context_of(run))
    before = cal.latest()
    while pendulum.now("UTC") < end.add(seconds=1):  # the event's own clock: it ends in ~4 s
        time.sleep(0.2)

    sim_connections.clear_requests()
    for op in steps:
        op.execute(context_of(run))
    EventGoLiveSensor(task_id="go_live", poke_interval=0.5).execute(context_of(run))
    summary = EventSummaryOperator(task_id="summary").execute(context_of(run))
    assert list(sim_connections.requests) == []
    assert summary["status"] == "done"
    after = cal.latest()
    assert {k: v["status"] for k, v in after["steps"].items()} == dict.fromkeys(before["steps"], "done")
    assert after["volcengine"]["push"] == before["volcengine"]["push"]
    assert after["isdp"]["tokens"] == before["isdp"]["tokens"]
    assert after["polyv"]["watchTokens"] == before["polyv"]["watchTokens"]
    assert after["polyv"]["receiveChannels"] == before["polyv"]["receiveChannels"]


def test_a_failed_retry_never_overwrites_a_done_record(
    sim_connections: SimulatorServer, cal: Calendar
) -> None:
    """The instance's own copy lost (say, written by a version without it): the retry calls the
    vendor again, fails, and the run's done record and its push URLs stay."""
    cal.write(raw_event(soon(3600)))
    run = cal.run()
    provision_push(run)
    Path(issued_uri(str(cal.sheets / "keynote"), "volcengine")).unlink()
    sim_connections.volcengine.set_auth(volc_sim.DEMO_VHOST, "push", enabled=False)
    with pytest.raises(AirflowFailException, match="is OFF"):
        provision_push(cal.run())
    assert cal.latest()["steps"]["volcengine"]["status"] == "done"
    assert cal.latest()["volcengine"]["push"]


def test_a_calendar_that_cannot_be_read_fails_the_step_as_retryable_and_issues_nothing(
    sim_connections: SimulatorServer, cal: Calendar
) -> None:
    cal.write(raw_event(soon(60)))
    run = cal.run()
    cal.path.write_text('{"events": [{"name": ')  # being rewritten
    with pytest.raises(CalendarUnreadable, match="calendar cannot be read now") as raised:
        issue_credentials(run, "isdp")
    assert isinstance(raised.value, AirflowException) and not isinstance(raised.value, AirflowFailException)
    assert calls(sim_connections, GET_TOKEN_BATCH_PATH) == 0
    assert not (cal.sheets / "keynote" / "latest.json").exists()


def test_switching_the_variable_to_another_calendar_cancels_the_old_events(
    sim_connections: SimulatorServer, cal: Calendar, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Runs ask where the planner reads the calendar now, not a path copied when they were made."""
    cal.write(raw_event(soon(60)))
    monkeypatch.setenv(f"AIRFLOW_VAR_{CALENDAR_VARIABLE.upper()}", str(cal.path))
    run = cal.run(calendar=PLANNER_CALENDAR)
    assert run.conf["calendar"] == PLANNER_CALENDAR
    assert issue_credentials(run, "isdp")["count"] == 1
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"events": [raw_event(soon(60), name="Other")]}))
    monkeypatch.setenv(f"AIRFLOW_VAR_{CALENDAR_VARIABLE.upper()}", str(other))
    with pytest.raises(AirflowSkipException, match="was cancelled"):
        issue_credentials(run, "polyv")
    assert calls(sim_connections, WATCH_TOKEN_PATH) == 0


@pytest.mark.parametrize("lost", ["run record", "instance record"])
def test_a_kill_between_the_two_records_issues_nothing_again(
    sim_connections: SimulatorServer, cal: Calendar, lost: str
) -> None:
    """A worker killed after the instance's record was written but before the run's (or a run
    recorded before instances kept records): the retry finds the other and issues nothing."""
    cal.write(raw_event(soon(60)))
    run = cal.run()
    issue_credentials(run, "polyv")
    issue_credentials(run, "isdp")
    folder = str(cal.sheets / "keynote")
    for step in ("polyv_tokens", "isdp_tokens"):
        gone = step_uri(folder, run.run_id, step) if lost == "run record" else issued_uri(folder, step)
        Path(gone.removeprefix("file://")).unlink()
    retry = cal.run()
    assert issue_credentials(retry, "polyv")["issued_now"] is False
    assert issue_credentials(retry, "isdp")["issued_now"] is False
    assert calls(sim_connections, WATCH_TOKEN_PATH) == 1 and calls(sim_connections, GET_TOKEN_BATCH_PATH) == 1
    assert cal.latest()["steps"]["polyv_tokens"]["status"] == "done"
