"""Polyv Live hook: an Airflow Connection turned into the Airflow-free vendor client."""

from __future__ import annotations

from typing import Any

from airflow_live_provider.hooks.base import LiveBaseHook


class PolyvHook(LiveBaseHook[Any]):
    conn_name_attr = "polyv_conn_id"
    default_conn_name = "polyv_default"
    conn_type = "polyv"
    hook_name = "Polyv Live"
    default_host = "api.polyv.net"

    def __init__(self, polyv_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(polyv_conn_id, **kwargs)
        self.polyv_conn_id = polyv_conn_id
