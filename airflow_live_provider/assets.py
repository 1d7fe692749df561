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

Stream sessions as events: ``volclive://<vhost>/<app>/<stream>`` (a Volcengine stream; the scheme
cannot hold ``_``) and ``polyv://<conn id>/channels/<id>`` (a Polyv channel) are assets watched by
the session triggers; :func:`volcengine_stream_asset` and :func:`polyv_channel_asset` build each
with its watcher in one line. The trigger classes are imported when a helper is called, not here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from airflow.sdk import Asset

from airflow_live_provider.asset_names import (
    CHANNELS_PATH,
    POLYV_SCHEME,
    VOLCLIVE_SCHEME,
    is_conn_id,
    session_scope_name,
    volclive_uri,
)
from airflow_live_provider.exceptions import LiveApiInputError

if TYPE_CHECKING:
    from urllib.parse import SplitResult

SNAPSHOT_ASSET_GROUP = "polyv"
#: What follows ``polyv://<conn id>/``: the provider's data products, or ``channels/<id>``.
SNAPSHOTS_PRODUCT = "sub-account-snapshots"
POLYV_PRODUCTS = (SNAPSHOTS_PRODUCT,)
STREAM_ASSET_GROUP = "live-streams"
#: The watcher's name on each stream or channel asset.
SESSIONS_WATCHER = "sessions"
MAX_CHANNEL_ID_LENGTH = 32


def _is_channel_id(text: str) -> bool:
    """ASCII digits (as the Polyv client accepts them), 1 to 32 of them."""
    return 0 < len(text) <= MAX_CHANNEL_ID_LENGTH and text.isascii() and text.isdigit()


#: Sub-account snapshots are ``<folder>/polyv_subaccounts_<YYYYmmddTHHMMSS>.jsonl``: names sort
#: by their run's date, and the report and the trend DAG find earlier ones by these affixes.
SNAPSHOT_PREFIX = "polyv_subaccounts_"
SNAPSHOT_SUFFIX = ".jsonl"


def snapshot_folder(output_dir: str | None = None, field: str = "output_dir") -> str:
    """Where snapshots and their pages go: ``output_dir``, else ``$AIRFLOW_HOME/live_provider/snapshots``.

    The DAGs call it from a template, so the default is resolved on the worker, not at parse.
    ``output_dir`` (a param: never rendered) is checked as every output location is
    (:func:`~airflow_live_provider.outputs.check_output_location`, errors naming ``field``).
    """
    from airflow_live_provider.outputs import check_output_location, default_output_root

    folder = check_output_location(output_dir, field, folder=True, optional=True)
    if folder:
        return folder
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
    expected = (
        f"use {POLYV_SCHEME}://<connection id>/{SNAPSHOTS_PRODUCT} or "
        f"{POLYV_SCHEME}://<connection id>/{CHANNELS_PATH}/<channel id>"
    )
    if not uri.netloc:
        raise LiveApiInputError("uri", f"{shown!r} names no connection; {expected}")
    if not is_conn_id(uri.netloc):
        raise LiveApiInputError(
            "uri",
            f"{shown!r}: {uri.netloc!r} is not a connection id (letters, digits, '_', '-', '.'; "
            f"no user, password or port); {expected}",
        )
    if uri.query:
        raise LiveApiInputError("uri", f"{shown!r} has a query string; {expected}")
    parts = [part for part in uri.path.split("/") if part]
    product = "/".join(parts)
    if len(parts) == 2 and parts[0] == CHANNELS_PATH:
        if not _is_channel_id(parts[1]):
            raise LiveApiInputError(
                "uri", f"{shown!r}: {parts[1]!r} is not a Polyv channel id (digits); {expected}"
            )
        return uri._replace(path=f"/{product}")
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


# -- stream sessions ------------------------------------------------------------------------------
def sanitize_volclive_uri(uri: SplitResult) -> SplitResult:
    """Airflow's ``asset-uris`` handler for ``volclive://<vhost>/<app>/<stream>``.

    The vhost is a DNS name (lowercased), the app 1-30 and the stream 1-100 characters of
    ``[A-Za-z0-9_.-]`` (Volcengine's rules, checked by the client's own validators); exactly three
    parts, no user, port or query.
    """
    from airflow_live_provider.vendors.names import validate_app, validate_host_name, validate_stream

    shown = uri.geturl()
    expected = (
        f"use {VOLCLIVE_SCHEME}://<vhost>/<app>/<stream>, e.g. volclive://live.example.com/live/keynote"
    )

    def refuse(problem: str) -> LiveApiInputError:
        return LiveApiInputError("uri", f"{shown!r} {problem}; {expected}")

    if not uri.netloc:
        raise refuse("names no vhost")
    if uri.query:
        raise refuse("has a query string")
    parts = [part for part in uri.path.split("/") if part]
    if len(parts) != 2:
        raise refuse(f"has {len(parts) + 1} parts, not 3 (vhost, app, stream)")
    try:
        vhost = validate_host_name(uri.netloc).lower()
        app = validate_app(parts[0])
        stream = validate_stream(parts[1])
    except LiveApiInputError as exc:
        raise refuse(f"is not a stream: {exc.problem}") from None
    return uri._replace(netloc=vhost, path=f"/{app}/{stream}")


def create_volclive_asset(*, vhost: str, app: str, stream: str, extra: dict[str, Any] | None = None) -> Asset:
    """The ``asset-uris`` factory for ``volclive`` (no watcher: see :func:`volcengine_stream_asset`)."""
    uri = volclive_uri(vhost, app, stream)
    return Asset(uri=uri, name=uri, group=STREAM_ASSET_GROUP, extra=extra or {})


def watched_asset(trigger: Any) -> Asset:
    """The asset a session trigger watches: named by its URI, with the trigger as its one watcher."""
    from airflow.sdk import AssetWatcher

    uri = trigger.asset_uri()
    return Asset(
        uri=uri,
        name=uri,
        group=STREAM_ASSET_GROUP,
        watchers=[AssetWatcher(name=SESSIONS_WATCHER, trigger=trigger)],
    )


def volcengine_stream_asset(
    vhost: str,
    app: str,
    stream: str,
    *,
    volcengine_conn_id: str = "volcengine_live_default",
    poll_interval: float = 30,
    offline_grace_seconds: float = 60,
) -> Asset:
    """A Volcengine stream as an asset whose events are its sessions starting and ending.

    ``schedule=AssetAny(volcengine_stream_asset("live.example.com", "live", "keynote"), ...)``.
    Named by its URI, with one watcher (``sessions``); bad names are refused here, before parse ends.
    """
    from airflow_live_provider.triggers.volcengine import VolcengineStreamSessionTrigger

    trigger = VolcengineStreamSessionTrigger(
        vhost=vhost,
        app=app,
        stream=stream,
        volcengine_conn_id=volcengine_conn_id,
        poll_interval=poll_interval,
        offline_grace_seconds=offline_grace_seconds,
    )
    return watched_asset(trigger)


def polyv_channel_asset(
    channel_id: str | int,
    *,
    polyv_conn_id: str = "polyv_default",
    poll_interval: float = 30,
    offline_grace_seconds: float = 60,
) -> Asset:
    """A Polyv channel as an asset whose events are its sessions starting and ending (see
    :func:`volcengine_stream_asset`)."""
    from airflow_live_provider.triggers.polyv import PolyvChannelSessionTrigger

    trigger = PolyvChannelSessionTrigger(
        channel_id=str(channel_id) if isinstance(channel_id, int) else channel_id,
        polyv_conn_id=polyv_conn_id,
        poll_interval=poll_interval,
        offline_grace_seconds=offline_grace_seconds,
    )
    return watched_asset(trigger)


#: The planner's calendar as an asset: its watcher fires when the calendar changes.
CALENDAR_ASSET_URI = "livecalendar://planner"
CALENDAR_WATCHER = "calendar_changes"


def calendar_asset(poll_seconds: float = 60, calendar: str | None = None) -> Asset:
    """``livecalendar://planner``, watched by a :class:`~airflow_live_provider.triggers.calendar.
    CalendarChangeTrigger`: schedule the planner on it (with its hour) and an edit reaches the
    event runs within a poll."""
    from airflow.sdk import AssetWatcher

    from airflow_live_provider.triggers.calendar import CalendarChangeTrigger

    trigger = CalendarChangeTrigger(poll_interval=poll_seconds, calendar=calendar)
    return Asset(
        name="live_events_calendar",
        uri=CALENDAR_ASSET_URI,
        group="live-events",
        watchers=[AssetWatcher(name=CALENDAR_WATCHER, trigger=trigger)],
    )


# -- stream sessions of a whole vendor scope (the calendar's streams) ------------------------------
#: The vendors with a session scope watcher, and the name prefix of their assets.
#: The scopes the sample DAGs watch and publish: each vendor's default connection (the event runs').
DEFAULT_SESSION_SCOPES = (("volcengine", "volcengine_live_default"), ("polyv", "polyv_default"))


def session_scope_asset(
    vendor: str, conn_id: str, *, poll_interval: float = 30, offline_grace_seconds: float = 60
) -> Asset:
    """One vendor connection's stream sessions as an asset, watched by one scope watcher
    (:class:`~airflow_live_provider.triggers.stream_sessions.SessionScopeTrigger`) that polls the
    streams on the watch list in the asset's state (``watch_list``, published by the planner from
    the events calendar: :func:`airflow_live_provider.events.session_records.watch_lists`).
    Each event's payload names its stream (``asset_uri``, ``target``). Nothing is read at parse."""
    from airflow.sdk import AssetWatcher

    name = session_scope_name(vendor, conn_id)
    trigger: Any
    if vendor == "volcengine":
        from airflow_live_provider.triggers.volcengine import VolcengineSessionScopeTrigger

        trigger = VolcengineSessionScopeTrigger(
            volcengine_conn_id=conn_id,
            poll_interval=poll_interval,
            offline_grace_seconds=offline_grace_seconds,
        )
    else:
        from airflow_live_provider.triggers.polyv import PolyvSessionScopeTrigger

        trigger = PolyvSessionScopeTrigger(
            polyv_conn_id=conn_id, poll_interval=poll_interval, offline_grace_seconds=offline_grace_seconds
        )
    return Asset(
        name=name,
        uri=name,
        group=STREAM_ASSET_GROUP,
        watchers=[AssetWatcher(name=SESSIONS_WATCHER, trigger=trigger)],
    )


def sample_session_scope_assets() -> list[Asset]:
    """The sample DAGs' session scope assets (``DEFAULT_SESSION_SCOPES``), timed by ``[live_provider]
    session_poll_seconds`` (30) and ``session_offline_grace_seconds`` (60). ``live_stream_sessions``
    is scheduled on them and the planner has them as inlets (to write their watch lists): both
    declare the very same watchers, or each parse of one DAG file would replace the other's."""
    from airflow.sdk import conf

    timing = {
        "poll_interval": conf.getint("live_provider", "session_poll_seconds", fallback=30),
        "offline_grace_seconds": conf.getint("live_provider", "session_offline_grace_seconds", fallback=60),
    }
    return [session_scope_asset(vendor, conn_id, **timing) for vendor, conn_id in DEFAULT_SESSION_SCOPES]
