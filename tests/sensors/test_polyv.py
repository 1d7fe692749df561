"""The Polyv channel live sensor against the simulator: poking and deferring agree."""

from __future__ import annotations

import pytest
from airflow.sdk.exceptions import AirflowSensorTimeout

from airflow_live_provider.exceptions import LiveApiInputError
from airflow_live_provider.sensors.polyv import PolyvChannelLiveSensor
from airflow_live_provider.simulator import SimulatorServer
from airflow_live_provider.simulator import polyv as polyv_sim
from airflow_live_provider.vendors.polyv import CHANNEL_LIVE_STATUS_PATH
from tests.helpers import drive

MODES = ["poke", "deferrable"]


def sensor(
    mode: str, channel_id: str = polyv_sim.DEMO_CHANNEL_ID, timeout: float = 10
) -> PolyvChannelLiveSensor:
    return PolyvChannelLiveSensor(
        task_id="live",
        channel_id=channel_id,
        deferrable=mode == "deferrable",
        poke_interval=0.2,
        timeout=timeout,
    )


@pytest.mark.parametrize("mode", MODES)
def test_succeeds_when_the_channel_goes_live(sim_connections: SimulatorServer, mode: str) -> None:
    sim_connections.polyv.go_live(polyv_sim.DEMO_CHANNEL_ID, in_seconds=0.8)
    result, _ = drive(sensor(mode))
    assert result == {"status": "live", "channel_id": polyv_sim.DEMO_CHANNEL_ID}
    assert len(sim_connections.requests_to(CHANNEL_LIVE_STATUS_PATH, "POST")) >= 2


@pytest.mark.parametrize("mode", MODES)
def test_times_out_naming_the_channel_and_its_last_state(sim_connections: SimulatorServer, mode: str) -> None:
    with pytest.raises(AirflowSensorTimeout) as info:
        drive(sensor(mode, timeout=1))
    assert str(info.value) == (
        f"Polyv channel {polyv_sim.DEMO_CHANNEL_ID} is not live after 1 s; its last state was 'end'"
    )


def test_a_bad_channel_id_is_refused_before_any_request(sim_connections: SimulatorServer) -> None:
    sim_connections.clear_requests()
    with pytest.raises(LiveApiInputError, match="digits only"):
        drive(sensor("deferrable", channel_id="launch"))
    assert list(sim_connections.requests) == []
