"""Volcengine Live hook: an Airflow Connection turned into the Airflow-free vendor client."""

from __future__ import annotations

from typing import Any

from airflow_live_provider.hooks.base import LiveBaseHook


class VolcengineLiveHook(LiveBaseHook[Any]):
    conn_name_attr = "volcengine_conn_id"
    default_conn_name = "volcengine_live_default"
    conn_type = "volcengine_live"
    hook_name = "Volcengine Live"
    default_host = "live.volcengineapi.com"

    def __init__(self, volcengine_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(volcengine_conn_id, **kwargs)
        self.volcengine_conn_id = volcengine_conn_id
