"""The snapshot as a data product: its Airflow Asset, its file names, its default folder.

Light on purpose (DAG files import it at every parse): Airflow's SDK and nothing else at import.

``polyv://<conn id>/sub-account-snapshots``: one asset per Polyv group account connection, updated
by every :class:`~airflow_live_provider.operators.polyv.PolyvSubAccountSnapshotOperator` run. The
URI names the account (its connection id), not a folder, so it stays the same when snapshots move
to another bucket. Each asset event's ``extra`` says where that snapshot is and what it holds
(see :func:`snapshot_event_extra`); a consumer reads ``triggering_asset_events``.

The ``polyv`` scheme is registered with Airflow (``asset-uris`` in the provider info):
:func:`sanitize_polyv_uri` normalises and checks every ``polyv://`` URI, so ``Asset("polyv://...")``
written by hand is the very asset the operator updates (the asset's name is its URI, Airflow's
default) or is refused with the reason; :func:`create_asset` is the factory.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from airflow.sdk import Asset

from airflow_live_provider.exceptions import LiveApiInputError

if TYPE_CHECKING:
    from urllib.parse import SplitResult

SNAPSHOT_ASSET_GROUP = "polyv"
POLYV_SCHEME = "polyv"
#: What follows ``polyv://<conn id>/``: the provider's data products.
SNAPSHOTS_PRODUCT = "sub-account-snapshots"
POLYV_PRODUCTS = (SNAPSHOTS_PRODUCT,)
#: Airflow's rule for connection ids (letters, digits, '_', '-', '.'; at most 250).
_CONN_ID = re.compile(r"[A-Za-z0-9_.\-]{1,250}")

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
    """The asset a group account's sub-account snapshots update.

    Named by its URI (Airflow's default for ``Asset(uri)``): Airflow identifies an asset by name
    and URI, so ``Asset("polyv://<conn id>/sub-account-snapshots")`` written by hand is this asset.
    """
    return create_asset(conn_id=polyv_conn_id)


def create_asset(
    *,
    conn_id: str = "polyv_group_default",
    product: str = SNAPSHOTS_PRODUCT,
    extra: dict[str, Any] | None = None,
) -> Asset:
    """The ``asset-uris`` factory (Airflow's hook lineage builds ``polyv`` assets with it)."""
    uri = f"{POLYV_SCHEME}://{conn_id}/{product}"
    return Asset(uri=uri, name=uri, group=SNAPSHOT_ASSET_GROUP, extra=extra or {})


def sanitize_polyv_uri(uri: SplitResult) -> SplitResult:
    """Airflow's ``asset-uris`` handler for ``polyv://<conn id>/<product>``.

    Airflow has already lowercased the scheme, dropped a password and a fragment, sorted the query
    and cut trailing slashes; this collapses repeated slashes and refuses what the provider never
    emits, saying what a valid URI looks like.
    """
    shown = uri.geturl()
    expected = f"use {POLYV_SCHEME}://<connection id>/{SNAPSHOTS_PRODUCT}"
    if not uri.netloc:
        raise LiveApiInputError("uri", f"{shown!r} names no connection; {expected}")
    if not _CONN_ID.fullmatch(uri.netloc):
        raise LiveApiInputError(
            "uri",
            f"{shown!r}: {uri.netloc!r} is not a connection id (letters, digits, '_', '-', '.'; "
            f"no user, password or port); {expected}",
        )
    if uri.query:
        raise LiveApiInputError("uri", f"{shown!r} has a query string; {expected}")
    product = "/".join(part for part in uri.path.split("/") if part)
    if product not in POLYV_PRODUCTS:
        raise LiveApiInputError(
            "uri", f"{shown!r}: {product or '(nothing)'!r} is not a Polyv data product; {expected}"
        )
    return uri._replace(path=f"/{product}")


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
