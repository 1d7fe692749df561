"""The live_event run's operators: each reads its instance from the run's conf, defers to Airflow's
DateTimeTrigger for its own moment, resumes, issues once; the go-live watch records its outcome."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pendulum
import pytest
from airflow.providers.standard.triggers.temporal import DateTimeTrigger
from airflow.sdk.exceptions import (
    AirflowFailException,
    AirflowSensorTimeout,
    AirflowSkipException,
    TaskDeferred,
)

from airflow_live_provider.events.calendar import parse_calendar
from airflow_live_provider.events.planner import definition_hash
from airflow_live_provider.events.run_sheets import sheet_secrets
from airflow_live_provider.exceptions import LiveApiInputError
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
from airflow_live_provider.vendors.isdp import GET_TOKEN_BATCH_PATH
from airflow_live_provider.vendors.polyv import WATCH_TOKEN_PATH
from tests.helpers import assert_no_secret_in, drive, first_event


def live_event(start: pendulum.DateTime, isdp_lead: int = 90, polyv_lead: int = 600) -> dict[str, Any]:
    [event] = parse_calendar(
        [
            {
                "name": "Town hall",
                "start": start.isoformat(),
                "polyv": {
                    "channel_id": polyv_sim.DEMO_TRANSMIT_CHANNEL_ID,
                    "viewers": ["v-1"],
                    "token_lead_seconds": polyv_lead,
                },
                "isdp": {
                    "channel_ids": list(isdp_sim.DEMO_CHANNEL_IDS),
                    "user_account": isdp_sim.DEMO_USER_ACCOUNT,
                    "token_lead_seconds": isdp_lead,
                },
            }
        ]
    )
    return event


def context(event: dict[str, Any], tmp_path: Path | None = None, run_id: str = "event__r") -> dict[str, Any]:
    conf = {"event": event, "definition": definition_hash(event), "output_dir": str(tmp_path or "")}
    return {"dag_run": SimpleNamespace(conf=conf, run_after=pendulum.now("UTC")), "run_id": run_id}


def test_each_vendor_defers_to_its_own_moment_then_issues_once(
    sim_connections: SimulatorServer, tmp_path: Path
) -> None:
    start = pendulum.now("UTC").add(seconds=5)
    event = live_event(start, isdp_lead=3, polyv_lead=60)  # Polyv's moment has passed; ISDP's is 2 s away
    ctx = context(event, tmp_path)
    polyv = EventCredentialsOperator(task_id="polyv_tokens", vendor="polyv").execute(ctx)
    assert polyv["count"] == 1 and polyv["issued_now"] is True
    isdp = EventCredentialsOperator(task_id="isdp_tokens", vendor="isdp")
    with pytest.raises(TaskDeferred) as info:
        isdp.execute(ctx)
    assert sim_connections.requests_to(GET_TOKEN_BATCH_PATH, "POST") == []
    trigger = info.value.trigger
    assert isinstance(trigger, DateTimeTrigger)
    assert trigger.moment == start.subtract(seconds=3)
    classpath, _kwargs = trigger.serialize()
    assert classpath == "airflow.providers.standard.triggers.temporal.DateTimeTrigger"
    assert not info.value.kwargs and info.value.method_name == "resume"  # state lives in the records

    fired = asyncio.run(first_event(trigger))
    result = getattr(isdp, info.value.method_name)(ctx, event=fired.payload)
    assert result["count"] == 1 and result["issued_now"] is True
    assert len(sim_connections.requests_to(GET_TOKEN_BATCH_PATH, "POST")) == 1
    assert len(sim_connections.requests_to(WATCH_TOKEN_PATH, "POST")) == 1
    # A resume after a triggerer restart, or a task retry: nothing is issued again.
    again = EventCredentialsOperator(task_id="isdp_tokens", vendor="isdp").execute(ctx)
    assert again["issued_now"] is False
    assert len(sim_connections.requests_to(GET_TOKEN_BATCH_PATH, "POST")) == 1
    sheet = json.loads((tmp_path / "town-hall" / "latest.json").read_text())
    for token in sheet["isdp"]["tokens"]:
        assert pendulum.parse(token["validFrom"]) <= start <= pendulum.parse(token["validUntil"])
    secrets = sheet_secrets(sheet)
    assert len(secrets) >= 2  # the join token and the watch token
    assert_no_secret_in(json.dumps([polyv, result, again]), *secrets)  # no credential in XCom


def test_an_instance_without_the_section_skips_the_step(
    sim_connections: SimulatorServer, tmp_path: Path
) -> None:
    [event] = parse_calendar(
        [
            {
                "name": "ISDP only",
                "start": pendulum.now("UTC").add(hours=3).isoformat(),
                "isdp": {"channel_ids": ["10882"], "user_account": isdp_sim.DEMO_USER_ACCOUNT},
            }
        ]
    )
    ctx = context(event, tmp_path)
    for op in (
        EventCredentialsOperator(task_id="polyv_tokens", vendor="polyv"),
        EventProvisionOperator(task_id="volcengine", step="volcengine"),
        EventProvisionOperator(task_id="polyv_channels", step="polyv_channels"),
        EventGoLiveSensor(task_id="go_live"),
    ):
        with pytest.raises(AirflowSkipException):
            op.execute(ctx)
    assert list(sim_connections.requests) == []


def test_a_run_without_the_planners_conf_is_refused(sim_connections: SimulatorServer) -> None:
    ctx = {"dag_run": SimpleNamespace(conf={}), "run_id": "manual__x"}
    with pytest.raises(ValueError, match=r"dag_run.conf: has no 'event'"):
        EventCredentialsOperator(task_id="isdp_tokens", vendor="isdp").execute(ctx)


def test_summary_fails_the_run_naming_each_failed_step(
    sim_connections: SimulatorServer, tmp_path: Path
) -> None:
    start = pendulum.now("UTC").subtract(hours=2)  # over: both token steps are missed
    ctx = context(live_event(start), tmp_path)
    for vendor in ("polyv", "isdp"):
        with pytest.raises(AirflowFailException, match="missed"):
            EventCredentialsOperator(task_id=f"{vendor}_tokens", vendor=vendor).execute(ctx)
    with pytest.raises(AirflowFailException, match=r"polyv_tokens: missed: .*; isdp_tokens: missed"):
        EventSummaryOperator(task_id="summary").execute(ctx)
    sheet = json.loads((tmp_path / "town-hall" / "latest.json").read_text())
    assert sheet["steps"]["outcome"]["status"] == "failed"


# -- the go-live watch ---------------------------------------------------------------------------------
def go_live_event(start: pendulum.DateTime, grace: int = 10) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "name": "Keynote",
        "start": start.isoformat(),
        "volcengine": {
            "vhost": volc_sim.DEMO_VHOST,
            "app": volc_sim.DEMO_APP,
            "stream": "keynote",
            "go_live_grace_minutes": grace,
        },
    }
    [event] = parse_calendar([raw])
    return event


def go_live() -> EventGoLiveSensor:
    return EventGoLiveSensor(task_id="go_live", poke_interval=0.5)


def keynote_sheet(tmp_path: Path) -> dict[str, Any]:
    return json.loads((tmp_path / "keynote" / "latest.json").read_text())


def test_go_live_waits_for_the_window_then_for_the_stream(
    sim_connections: SimulatorServer, tmp_path: Path
) -> None:
    start = pendulum.now("UTC").add(minutes=5, seconds=2)  # the window opens in 2 s
    sim_connections.volcengine.set_stream(volc_sim.DEMO_VHOST, volc_sim.DEMO_APP, "keynote", online_in=3)
    result, used = drive(go_live(), context(go_live_event(start), tmp_path))
    assert result["stream_state"] == "online" and result["stream"] == "keynote"
    assert used == ["DateTimeTrigger", "VolcengineStreamStateTrigger"]
    record = keynote_sheet(tmp_path)["steps"]["go_live"]
    assert record["status"] == "done" and pendulum.parse(record["liveAt"]) <= pendulum.now("UTC")


def test_go_live_fails_when_not_live_by_the_end_of_the_grace(
    sim_connections: SimulatorServer, tmp_path: Path
) -> None:
    start = pendulum.now("UTC").subtract(seconds=56)  # grace 1 min: the window closes in ~4 s
    with pytest.raises(AirflowSensorTimeout, match=r"stream live/keynote .* last state was 'offline'"):
        drive(go_live(), context(go_live_event(start, grace=1), tmp_path))
    record = keynote_sheet(tmp_path)["steps"]["go_live"]
    assert record["status"] == "failed" and "last state was 'offline'" in record["error"]


def test_go_live_fails_at_once_for_a_forbidden_stream(
    sim_connections: SimulatorServer, tmp_path: Path
) -> None:
    sim_connections.volcengine.set_stream(
        volc_sim.DEMO_VHOST, volc_sim.DEMO_APP, "keynote", state="forbidden"
    )
    with pytest.raises(AirflowFailException, match="forbidden"):
        drive(go_live(), context(go_live_event(pendulum.now("UTC")), tmp_path))
    assert keynote_sheet(tmp_path)["steps"]["go_live"]["status"] == "failed"


def test_go_live_woken_after_its_window_fails_as_missed(
    sim_connections: SimulatorServer, tmp_path: Path
) -> None:
    event = go_live_event(pendulum.now("UTC") - timedelta(minutes=30))
    with pytest.raises(AirflowFailException, match="missed: the go-live watch of event 'Keynote'"):
        go_live().execute(context(event, tmp_path))
    assert not [r for r in sim_connections.requests if r.query.get("Action")]  # not one poll
    assert keynote_sheet(tmp_path)["steps"]["go_live"]["status"] == "missed"


def console_link(sensor: EventGoLiveSensor) -> str:
    """What Airflow stores for the task's console link when it ends ("" shows no link)."""
    (only,) = sensor.operator_extra_links
    return only.get_link(sensor, ti_key=None)


def test_the_go_live_watch_is_built_without_a_stream_and_reads_it_from_its_run(
    sim_connections: SimulatorServer, tmp_path: Path
) -> None:
    """Parsed, the sensor holds no stream (no empty app/stream for a parent to carry, no link to
    nowhere, no stream arguments accepted); once it has read its run, the watch, its XCom and its
    console link name the instance's stream, in a resumed (fresh) task object too."""
    parsed = go_live()
    assert parsed.watched_stream() is None and console_link(parsed) == ""
    assert not [f for f in ("app", "stream", "vhost", "domain") if hasattr(parsed, f)]
    assert parsed.template_fields == ()
    with pytest.raises(LiveApiInputError, match="'go_live' does not know its stream yet"):
        parsed.make_trigger(0)
    with pytest.raises(TypeError, match="Invalid arguments were passed to EventGoLiveSensor"):
        EventGoLiveSensor(task_id="go_live", app="live", stream="keynote")

    sim_connections.volcengine.set_stream(volc_sim.DEMO_VHOST, volc_sim.DEMO_APP, "keynote", state="online")
    run = context(go_live_event(pendulum.now("UTC")), tmp_path)
    url = (
        "https://console.volcengine.com/live/main/stream/online?"
        f"vhost={volc_sim.DEMO_VHOST}&app={volc_sim.DEMO_APP}&stream=keynote"
    )
    watched = go_live()
    assert watched.execute(run)["stream"] == "keynote"  # live already: no deferral
    assert console_link(watched) == url
    resumed = go_live()  # back from the triggerer: Airflow builds the task again
    assert resumed.execute_complete(run, {"outcome": "online", "state": "online"})["stream"] == "keynote"
    assert console_link(resumed) == url


def test_the_planners_chunk_task_asks_airflow_for_each_run_of_its_chunk(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The Task SDK message the task runner sends for TriggerDagRunOperator, once per instance of
    its own chunk; an existing run is left alone and counted."""
    from airflow.sdk.exceptions import ErrorType
    from airflow.sdk.execution_time import task_runner
    from airflow.sdk.execution_time.comms import ErrorResponse, OKResponse

    from airflow_live_provider.operators.event_runs import StartEventRunsOperator

    chunk = [
        {"trigger_run_id": f"event__e{i}__x", "conf": {"event": {"name": f"E{i}"}, "definition": "0123abcd"}}
        for i in range(3)
    ]
    sent: list[Any] = []

    class Comms:
        def send(self, msg: Any) -> Any:
            sent.append(msg)
            if msg.run_id == "event__e1__x":
                return ErrorResponse(error=ErrorType.DAGRUN_ALREADY_EXISTS)
            return OKResponse(ok=True)

    class TI:
        def xcom_pull(self, task_ids: str, key: str) -> Any:
            assert (task_ids, key) == ("plan", "chunk-0003")
            return chunk

    monkeypatch.setattr(task_runner, "SUPERVISOR_COMMS", Comms(), raising=False)
    op = StartEventRunsOperator(
        task_id="start_event_runs", trigger_dag_id="live_event", chunk_key="chunk-0003"
    )
    assert op.execute({"ti": TI()}) == {"started": 2, "existing": 1}
    assert [(m.dag_id, m.run_id, m.conf, m.logical_date) for m in sent] == [
        ("live_event", p["trigger_run_id"], p["conf"], None) for p in chunk
    ]
    chunk[0]["conf"] = {"event": {1, 2}}  # not JSON: refused before anything is asked
    sent.clear()
    with pytest.raises(TypeError):
        op.execute({"ti": TI()})
    assert sent == []
