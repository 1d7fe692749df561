"""Each trigger closes its vendor client's HTTP session when it ends: after its verdict (online,
timeout) and when it is cancelled. Counted as this process's open sockets to the simulator."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import psutil
import pytest

from airflow_live_provider.simulator import SimulatorServer
from airflow_live_provider.simulator import polyv as polyv_sim
from airflow_live_provider.simulator import volcengine as volc_sim
from airflow_live_provider.triggers.polyv import PolyvChannelLiveTrigger
from airflow_live_provider.triggers.volcengine import VolcengineStreamStateTrigger
from tests.helpers import first_event


def sockets_to(server: SimulatorServer) -> int:
    """Client sockets this process holds open to the simulator (keep-alive ones included)."""
    return sum(
        1
        for c in psutil.Process().net_connections(kind="tcp")
        if c.raddr and c.raddr.port == server.port and c.status != psutil.CONN_TIME_WAIT
    )


def stream_trigger(stream: str, seconds: float) -> VolcengineStreamStateTrigger:
    return VolcengineStreamStateTrigger(
        app=volc_sim.DEMO_APP,
        stream=stream,
        vhost=volc_sim.DEMO_VHOST,
        deadline=time.time() + seconds,
        poke_interval=0.1,
    )


def test_a_trigger_closes_its_session_before_its_verdict(sim_connections: SimulatorServer) -> None:
    sim_connections.polyv.go_live(polyv_sim.DEMO_CHANNEL_ID, in_seconds=0.3)
    trigger = PolyvChannelLiveTrigger(
        channel_id=polyv_sim.DEMO_CHANNEL_ID, deadline=time.time() + 20, poke_interval=0.1
    )
    event = asyncio.run(first_event(trigger))  # as the triggerer: never resumed after the event
    assert event.payload == {"outcome": "online", "state": "live"}
    assert len(sim_connections.requests) >= 1
    assert sockets_to(sim_connections) == 0
    with pytest.raises(RuntimeError, match="finished"):  # a stray late poll opens no new session
        trigger.poll()
    assert sockets_to(sim_connections) == 0


def test_a_timed_out_trigger_closes_its_session(sim_connections: SimulatorServer) -> None:
    """Even when the deadline cut a poll short (it finishes in its worker thread, then closes)."""
    sim_connections.volcengine.set_stream(volc_sim.DEMO_VHOST, volc_sim.DEMO_APP, "quiet")
    trigger = stream_trigger("quiet", 0.5)
    assert asyncio.run(first_event(trigger)).payload["outcome"] == "timeout"
    assert len(sim_connections.requests) >= 1 and sockets_to(sim_connections) == 0


def test_a_cancelled_trigger_closes_its_session(sim_connections: SimulatorServer) -> None:
    """The triggerer cancels a trigger whose task was cleared or moved: its session closes too."""
    sim_connections.volcengine.set_stream(volc_sim.DEMO_VHOST, volc_sim.DEMO_APP, "waiting")
    trigger = stream_trigger("waiting", 60)

    async def cancel_after_polls() -> Any:
        task = asyncio.create_task(first_event(trigger))
        for _ in range(200):  # up to 20 s: the first polls need the connection read once
            await asyncio.sleep(0.1)
            if len(sim_connections.requests) >= 2:
                break
        open_while_polling = sockets_to(sim_connections)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return open_while_polling

    assert asyncio.run(cancel_after_polls()) == 1  # one pooled keep-alive connection...
    assert sockets_to(sim_connections) == 0  # ...closed with the session
