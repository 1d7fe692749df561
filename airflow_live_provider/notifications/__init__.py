"""Notifiers (Airflow's ``BaseNotifier``): :mod:`.live_ops` tells the live-ops crew what failed.

Light: DAG files import :func:`live_ops_failure_callback` at every parse; the notifier's module
is imported only when it is configured.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow_live_provider.notifications.live_ops import LiveOpsNotifier

CONFIG_SECTION = "live_provider"


def live_ops_failure_callback() -> LiveOpsNotifier | None:
    """The sample DAGs' opt-in: a :class:`~.live_ops.LiveOpsNotifier` when ``[live_provider]
    live_ops_conn_id`` is set (``live_ops_payload``: its shape), else None. Reads configuration
    only, never a connection (it runs at parse time)."""
    from airflow.sdk import conf

    conn_id = (conf.get(CONFIG_SECTION, "live_ops_conn_id", fallback="") or "").strip()
    if not conn_id:
        return None
    from airflow_live_provider.notifications.live_ops import LiveOpsNotifier

    payload = (conf.get(CONFIG_SECTION, "live_ops_payload", fallback="generic") or "generic").strip()
    return LiveOpsNotifier(http_conn_id=conn_id, payload=payload)
