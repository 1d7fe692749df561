"""The snapshot as a data product: its Airflow Asset, its file names, its default folder.

Light on purpose (DAG files import it at every parse): Airflow's SDK and nothing else at import.

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

#: Sub-account snapshots are ``<folder>/polyv_subaccounts_<YYYYmmddTHHMMSS>.jsonl``: names sort
#: by their run's date, and the report and the trend DAG find earlier ones by these affixes.
SNAPSHOT_PREFIX = "polyv_subaccounts_"
SNAPSHOT_SUFFIX = ".jsonl"


def snapshot_folder(output_dir: str | None = None) -> str:
    """Where snapshots and their pages go: ``output_dir``, else ``$AIRFLOW_HOME/live_provider/snapshots``.

    The DAGs call it from a template, so the default is resolved on the worker, not at parse.
    """
    if output_dir and output_dir.strip():
        return output_dir.strip().rstrip("/")
    from airflow_live_provider.outputs import default_output_root

    return f"{default_output_root()}/snapshots"


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
