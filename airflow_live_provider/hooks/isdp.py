"""Huawei ISDP hook: an Airflow Connection turned into the Airflow-free vendor client."""

from __future__ import annotations

from typing import Any

from airflow_live_provider.hooks.base import LiveBaseHook


class IsdpHook(LiveBaseHook[Any]):
    conn_name_attr = "isdp_conn_id"
    default_conn_name = "isdp_default"
    conn_type = "isdp"
    hook_name = "Huawei ISDP"
    default_host = "isdpcloud.huawei.com"

    def __init__(self, isdp_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(isdp_conn_id, **kwargs)
        self.isdp_conn_id = isdp_conn_id
