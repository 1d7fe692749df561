"""Wait until a Polyv channel is live (Polyv's batch channel live status: ``live`` or ``end``).

Polyv documents no "forbidden" answer for this call, so the sensor succeeds on ``live`` and
otherwise waits until ``timeout``. Poking and deferring end the same way (see
:mod:`airflow_live_provider.sensors.base`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_live_provider.links.console import PolyvChannelLink
from airflow_live_provider.sensors.base import LiveWatchSensor

if TYPE_CHECKING:  # imported where used: DAG files import the sensors at every parse
    from airflow_live_provider.triggers.polyv import PolyvChannelLiveTrigger


class PolyvChannelLiveSensor(LiveWatchSensor):
    """Wait for Polyv channel ``channel_id`` to be live. XCom: ``{"status": "live", "channel_id"}``."""

    template_fields: Sequence[str] = ("channel_id",)
    operator_extra_links = (PolyvChannelLink(),)

    def __init__(self, *, channel_id: str, polyv_conn_id: str = "polyv_default", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.channel_id = channel_id
        self.polyv_conn_id = polyv_conn_id

    def validate(self) -> None:
        from airflow_live_provider.vendors.names import validate_channel_id

        self.channel_id = validate_channel_id(self.channel_id)

    def make_trigger(self, deadline: float) -> PolyvChannelLiveTrigger:
        from airflow_live_provider.triggers.polyv import PolyvChannelLiveTrigger

        return PolyvChannelLiveTrigger(
            channel_id=str(self.channel_id),
            deadline=deadline,
            poke_interval=self._poke_seconds(),
            polyv_conn_id=self.polyv_conn_id,
        )

    def result(self) -> dict[str, Any]:
        return {"status": "live", "channel_id": str(self.channel_id)}
