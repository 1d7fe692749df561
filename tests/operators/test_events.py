"""The just-in-time operator: defers to Airflow's DateTimeTrigger, resumes, issues once."""

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

from airflow_live_provider.events import parse_calendar
from airflow_live_provider.operators.events import EventGoLiveSensor, EventJustInTimeCredentialsOperator
from airflow_live_provider.simulator import SimulatorServer
from airflow_live_provider.simulator import isdp as isdp_sim
from airflow_live_provider.simulator import polyv as polyv_sim
from airflow_live_provider.simulator import volcengine as volc_sim
from airflow_live_provider.vendors.isdp import GET_TOKEN_BATCH_PATH
from airflow_live_provider.vendors.polyv import WATCH_TOKEN_PATH
from tests.helpers import drive, first_event


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


def context(run_after: pendulum.DateTime, run_id: str = "scheduled__r") -> dict[str, Any]:
    return {"dag_run": SimpleNamespace(run_after=run_after), "run_id": run_id}


def operator(event: dict[str, Any], tmp_path: Path) -> EventJustInTimeCredentialsOperator:
    return EventJustInTimeCredentialsOperator(
        task_id="issue_tokens", live_event=event, output_dir=str(tmp_path), run_window=timedelta(hours=1)
    )


def test_defers_until_the_moment_then_issues(sim_connections: SimulatorServer, tmp_path: Path) -> None:
    start = pendulum.now("UTC").add(seconds=5)
    event = live_event(start, isdp_lead=3, polyv_lead=60)  # Polyv's moment has passed; ISDP's is 2 s away
    op = operator(event, tmp_path)
    ctx = context(pendulum.now("UTC"))
    with pytest.raises(TaskDeferred) as info:
        op.execute(ctx)
    # Polyv was issued before waiting; ISDP waits in the triggerer (Airflow's own trigger).
    assert len(sim_connections.requests_to(WATCH_TOKEN_PATH, "POST")) == 1
    assert sim_connections.requests_to(GET_TOKEN_BATCH_PATH, "POST") == []
    trigger = info.value.trigger
    assert isinstance(trigger, DateTimeTrigger)
    assert trigger.moment == start.subtract(seconds=3)
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow.providers.standard.triggers.temporal.DateTimeTrigger"
    assert not info.value.kwargs and info.value.method_name == "resume"  # state lives in latest.json

    fired = asyncio.run(first_event(trigger))
    result = getattr(op, info.value.method_name)(ctx, event=fired.payload)
    assert len(sim_connections.requests_to(GET_TOKEN_BATCH_PATH, "POST")) == 1
    assert len(sim_connections.requests_to(WATCH_TOKEN_PATH, "POST")) == 1  # not issued again
    assert result["issued_now"] == ["isdp"] and result["waited"] is True
    assert {v: s["status"] for v, s in result["just_in_time"].items()} == {
        "polyv": "issued",
        "isdp": "issued",
    }
    sheet = json.loads(Path(result["latest_sheet"].removeprefix("file://")).read_text())
    for token in sheet["isdp"]["tokens"]:
        assert pendulum.parse(token["validFrom"]) <= start <= pendulum.parse(token["validUntil"])
    assert "token" not in json.dumps(result).lower().replace("tokens", "")  # no credential in XCom


def test_a_run_before_the_moments_hour_neither_waits_nor_issues(
    sim_connections: SimulatorServer, tmp_path: Path
) -> None:
    start = pendulum.now("UTC").add(hours=3)
    result = operator(live_event(start), tmp_path).execute(context(pendulum.now("UTC")))
    assert result["issued_now"] == [] and result["waited"] is False
    assert [r for r in sim_connections.requests if r.path in (WATCH_TOKEN_PATH, GET_TOKEN_BATCH_PATH)] == []


# -- the go-live watch ---------------------------------------------------------------------------------
def go_live_event(start: pendulum.DateTime, grace: int = 10, volcengine: bool = True) -> dict[str, Any]:
    raw: dict[str, Any] = {"name": "Keynote", "start": start.isoformat()}
    if volcengine:
        raw["volcengine"] = {
            "vhost": volc_sim.DEMO_VHOST,
            "app": volc_sim.DEMO_APP,
            "stream": "keynote",
            "go_live_grace_minutes": grace,
        }
    else:
        raw["isdp"] = {"channel_ids": ["10882"], "user_account": isdp_sim.DEMO_USER_ACCOUNT}
    [event] = parse_calendar([raw])
    return event


def go_live(event: dict[str, Any]) -> EventGoLiveSensor:
    return EventGoLiveSensor(task_id="go_live", live_event=event, poke_interval=0.5)


def test_go_live_waits_for_the_window_then_for_the_stream(sim_connections: SimulatorServer) -> None:
    start = pendulum.now("UTC").add(minutes=5, seconds=2)  # the window opens in 2 s
    sim_connections.volcengine.set_stream(volc_sim.DEMO_VHOST, volc_sim.DEMO_APP, "keynote", online_in=3)
    result, used = drive(go_live(go_live_event(start)), context(pendulum.now("UTC")))
    assert result["stream_state"] == "online" and result["stream"] == "keynote"
    assert used == ["DateTimeTrigger", "VolcengineStreamStateTrigger"]


def test_go_live_fails_when_not_live_by_the_end_of_the_grace(sim_connections: SimulatorServer) -> None:
    start = pendulum.now("UTC").subtract(seconds=56)  # grace 1 min: the window closes in ~4 s
    with pytest.raises(AirflowSensorTimeout, match=r"stream live/keynote .* last state was 'offline'"):
        drive(go_live(go_live_event(start, grace=1)), context(pendulum.now("UTC")))


def test_go_live_fails_at_once_for_a_forbidden_stream(sim_connections: SimulatorServer) -> None:
    sim_connections.volcengine.set_stream(
        volc_sim.DEMO_VHOST, volc_sim.DEMO_APP, "keynote", state="forbidden"
    )
    with pytest.raises(AirflowFailException, match="forbidden"):
        drive(go_live(go_live_event(pendulum.now("UTC"))), context(pendulum.now("UTC")))


@pytest.mark.parametrize(
    ("start_in", "volcengine", "why"),
    [
        (timedelta(hours=3), True, "in a later run"),
        (timedelta(minutes=-30), True, "window closed"),
        (timedelta(minutes=1), False, "has no Volcengine stream"),
    ],
)
def test_go_live_skips_outside_its_run(
    sim_connections: SimulatorServer, start_in: timedelta, volcengine: bool, why: str
) -> None:
    event = go_live_event(pendulum.now("UTC") + start_in, volcengine=volcengine)
    with pytest.raises(AirflowSkipException, match=why):
        go_live(event).execute(context(pendulum.now("UTC")))
    assert not [r for r in sim_connections.requests if r.query.get("Action")]  # not one poll
