"""The go-live sensor against the simulator: poking and deferring give the same results."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException, AirflowSensorTimeout, TaskDeferred

from airflow_live_provider.exceptions import LiveApiInputError
from airflow_live_provider.sensors.volcengine import VolcengineStreamLiveSensor
from airflow_live_provider.simulator import SimulatorServer
from airflow_live_provider.simulator import volcengine as volc_sim
from airflow_live_provider.triggers.volcengine import VolcengineStreamStateTrigger
from tests.helpers import drive, first_event

MODES = ["poke", "deferrable"]


def sensor(deferrable: bool, stream: str = "launch", **kwargs: Any) -> VolcengineStreamLiveSensor:
    kwargs.setdefault("vhost", volc_sim.DEMO_VHOST)
    return VolcengineStreamLiveSensor(
        task_id="go_live",
        app=volc_sim.DEMO_APP,
        stream=stream,
        deferrable=deferrable,
        poke_interval=kwargs.pop("poke_interval", 0.2),
        timeout=kwargs.pop("timeout", 10),
        **kwargs,
    )


def run(op: VolcengineStreamLiveSensor) -> Any:
    return drive(op)[0]


def polls(server: SimulatorServer) -> list[Any]:
    return [r for r in server.requests if r.query.get("Action") == "DescribeLiveStreamState"]


@pytest.mark.parametrize("mode", MODES)
def test_succeeds_when_the_stream_goes_online(sim_connections: SimulatorServer, mode: str) -> None:
    sim_connections.volcengine.set_stream(volc_sim.DEMO_VHOST, volc_sim.DEMO_APP, "launch", online_in=0.8)
    result = run(sensor(mode == "deferrable"))
    assert result == {
        "stream_state": "online",
        "app": volc_sim.DEMO_APP,
        "stream": "launch",
        "vhost": volc_sim.DEMO_VHOST,
        "domain": None,
    }
    assert len(polls(sim_connections)) >= 2  # it saw the stream offline first
    assert all(r.method == "GET" and r.status == 200 for r in polls(sim_connections))


@pytest.mark.parametrize("mode", MODES)
def test_a_forbidden_stream_fails_at_once(sim_connections: SimulatorServer, mode: str) -> None:
    sim_connections.volcengine.set_stream(volc_sim.DEMO_VHOST, volc_sim.DEMO_APP, "launch", state="forbidden")
    with pytest.raises(AirflowFailException, match=r"stream live/launch on vhost .* is forbidden"):
        run(sensor(mode == "deferrable", timeout=60))
    assert len(polls(sim_connections)) == 1


@pytest.mark.parametrize("mode", MODES)
def test_times_out_naming_the_stream_and_its_last_state(sim_connections: SimulatorServer, mode: str) -> None:
    started = time.time()
    with pytest.raises(AirflowSensorTimeout) as info:
        run(sensor(mode == "deferrable", domain=volc_sim.DEMO_PUSH_DOMAIN, vhost=None, timeout=1.5))
    assert str(info.value) == (
        f"stream live/launch on domain {volc_sim.DEMO_PUSH_DOMAIN!r} is not live after 1.5 s; "
        "its last state was 'offline'"
    )
    assert time.time() - started >= 1.5  # not before the timeout...
    assert len(polls(sim_connections)) >= 3  # ...and it kept polling until then


def test_the_timeout_counts_from_the_first_poke_across_deferrals(sim_connections: SimulatorServer) -> None:
    """The deadline is absolute: a trigger rebuilt later (another triggerer) keeps it."""
    op = sensor(True, timeout=30)
    with pytest.raises(TaskDeferred) as info:
        op.execute({})
    classpath, kwargs = info.value.trigger.serialize()
    assert classpath == "airflow_live_provider.triggers.volcengine.VolcengineStreamStateTrigger"
    assert kwargs["deadline"] == pytest.approx(time.time() + 30, abs=5)
    assert kwargs == VolcengineStreamStateTrigger(**kwargs).serialize()[1]  # round trip
    # Rebuilt with a deadline already past (the wait went on elsewhere): it ends with a timeout.
    expired = VolcengineStreamStateTrigger(**{**kwargs, "deadline": time.time() - 1})
    event = asyncio.run(first_event(expired))
    # Its one last poll gets 0.1 s (a verdict never waits past the deadline for a poll): on a busy
    # machine it may not answer in time, and the last state is then unknown.
    assert event.payload["outcome"] == "timeout" and event.payload["state"] in ("offline", None)


def test_many_triggers_in_one_triggerer_stay_under_the_quota(sim_connections: SimulatorServer) -> None:
    """40 triggers polling every 0.1 s for ~2.5 s share one 10/s bucket: no 429 storm."""
    for i in range(40):
        sim_connections.volcengine.set_stream(volc_sim.DEMO_VHOST, volc_sim.DEMO_APP, f"s{i}")

    async def watch_all() -> list[Any]:
        triggers = [
            VolcengineStreamStateTrigger(
                app=volc_sim.DEMO_APP,
                stream=f"s{i}",
                vhost=volc_sim.DEMO_VHOST,
                deadline=time.time() + 2.5,
                poke_interval=0.1,
            )
            for i in range(40)
        ]
        return await asyncio.gather(*(first_event(t) for t in triggers))

    started = time.monotonic()
    events = asyncio.run(watch_all())
    elapsed = time.monotonic() - started
    statuses = Counter(r.status for r in polls(sim_connections))
    assert {e.payload["outcome"] for e in events} == {"timeout"}
    assert set(statuses) == {200}, statuses  # not one 429
    assert sum(statuses.values()) <= 10 * elapsed + 2  # the shared bucket held the rate


def test_bad_input_is_refused_before_any_request(sim_connections: SimulatorServer) -> None:
    sim_connections.clear_requests()
    with pytest.raises(LiveApiInputError, match="exactly one of vhost"):
        run(sensor(False, domain=volc_sim.DEMO_PUSH_DOMAIN))  # vhost given too
    with pytest.raises(LiveApiInputError, match="stream"):
        run(sensor(True, stream="bad stream"))
    assert list(sim_connections.requests) == []
