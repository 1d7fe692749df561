"""The provider's asset names and URIs as plain strings: what both the assets (``assets.py``) and
the watchers behind them (``triggers/``) name, so neither imports the other.

Light (DAG files and the triggerer import it) and Airflow-free.
"""

from __future__ import annotations

from airflow_live_provider.exceptions import LiveApiInputError

POLYV_SCHEME = "polyv"
#: What follows ``polyv://<conn id>/`` for a channel: ``channels/<id>``.
CHANNELS_PATH = "channels"
VOLCLIVE_SCHEME = "volclive"
#: Airflow's rule for connection ids (letters, digits, '_', '-', '.'; at most 250). Checked with
#: str methods, not regexes: compiling two regexes cost 0.2 ms of every parse of a DAG importing this.
CONN_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")
MAX_CONN_ID_LENGTH = 250
SESSION_SCOPE_VENDORS = ("volcengine", "polyv")
SESSION_SCOPE_PREFIX = "stream-sessions"
#: The asset state key a scope watcher reads its watch list from.
WATCH_LIST_KEY = "watch_list"


def is_conn_id(text: str) -> bool:
    return 0 < len(text) <= MAX_CONN_ID_LENGTH and CONN_ID_CHARS.issuperset(text)


def volclive_uri(vhost: str, app: str, stream: str) -> str:
    """``volclive://<vhost>/<app>/<stream>``, as the URI handler normalises it (vhost lowercased)."""
    return f"{VOLCLIVE_SCHEME}://{vhost.lower()}/{app}/{stream}"


def polyv_channel_uri(polyv_conn_id: str, channel_id: str | int) -> str:
    return f"{POLYV_SCHEME}://{polyv_conn_id}/{CHANNELS_PATH}/{channel_id}"


def session_scope_name(vendor: str, conn_id: str) -> str:
    """``stream-sessions/<vendor>/<conn id>``: the name (and URI) of a scope watcher's asset."""
    if vendor not in SESSION_SCOPE_VENDORS:
        raise LiveApiInputError("vendor", f"{vendor!r} is not one of {', '.join(SESSION_SCOPE_VENDORS)}")
    if not is_conn_id(conn_id):
        raise LiveApiInputError(
            "conn_id", f"{conn_id!r} is not a connection id (letters, digits, '_', '-', '.')"
        )
    return f"{SESSION_SCOPE_PREFIX}/{vendor}/{conn_id}"
