"""The Airflow Assets this provider's tasks produce, so downstream DAGs schedule on data, not time.

``polyv://<conn id>/sub-account-snapshots``: one asset per Polyv group account connection, updated
by every :class:`~airflow_live_provider.operators.polyv.PolyvSubAccountSnapshotOperator` run. The
URI names the account (its connection id), not a folder, so it stays the same when snapshots move
to another bucket. Each asset event's ``extra`` says where that snapshot is and what it holds
(see :func:`snapshot_event_extra`); a consumer reads ``triggering_asset_events``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow.sdk import Asset

SNAPSHOT_ASSET_GROUP = "polyv"


def polyv_snapshot_asset(polyv_conn_id: str = "polyv_group_default") -> Asset:
    """The asset a group account's sub-account snapshots update."""
    return Asset(
        uri=f"polyv://{polyv_conn_id}/sub-account-snapshots",
        name=f"polyv_sub_account_snapshots__{polyv_conn_id}",
        group=SNAPSHOT_ASSET_GROUP,
    )


def snapshot_event_extra(
    *, uri: str, count: int, snapshot_time: str, totals: Mapping[str, float], below_threshold_count: int
) -> dict[str, Any]:
    """What a snapshot's asset event carries: its location and its figures, never a secret."""
    return {
        "snapshot_uri": uri,
        "snapshot_time": snapshot_time,
        "count": count,
        "totals": dict(totals),
        "below_threshold_count": below_threshold_count,
    }
