"""Wait in the triggerer for a Polyv channel to be live (batch channel live status, ``live``/``end``).

Polyv documents no "forbidden" state for this call, so a channel is watched until it is ``live``
or the deadline passes. See :mod:`airflow_live_provider.triggers.base`.
"""

from __future__ import annotations

from typing import Any

from airflow_live_provider.triggers.base import LiveWatchTrigger


class PolyvChannelLiveTrigger(LiveWatchTrigger):
    """Until the channel's status is ``live``."""

    online_state = "live"
    forbidden_state = None

    def __init__(
        self, *, channel_id: str, deadline: float, poke_interval: float, polyv_conn_id: str = "polyv_default"
    ) -> None:
        super().__init__(deadline=deadline, poke_interval=poke_interval)
        self.channel_id = str(channel_id)
        self.polyv_conn_id = polyv_conn_id

    def __str__(self) -> str:
        return f"Polyv channel {self.channel_id}"

    def target_kwargs(self) -> dict[str, Any]:
        return {"channel_id": self.channel_id, "polyv_conn_id": self.polyv_conn_id}

    def make_client(self) -> Any:
        from airflow_live_provider.hooks.polyv import PolyvHook

        return PolyvHook(polyv_conn_id=self.polyv_conn_id).client

    def poll(self) -> str:
        return self.client().get_channel_live_status([self.channel_id])[self.channel_id]
