"""The vendors' console pages, and the operator links that point at them.

Light on purpose: operator modules import it at every DAG parse (Airflow's SDK only; the vendor
validators are imported when a link is built, on the worker, at the end of the task).

URL patterns (``CONSOLE_URLS``):

- Polyv channel: ``https://live.polyv.net/#/channel/<channel id>``. Polyv's own SDK docs point at
  ``https://live.polyv.net/#/channel/<频道号>/playback`` (a tab of that page); the page without a tab
  is assumed to open the channel.
- Volcengine Live stream: the console's stream management (功能管理 > 直播管理 > 流管理, filtered by
  domain space, AppName and StreamName). Verified: ``https://console.volcengine.com/live/main/`` is
  the console (``.../domain/list`` is the domain page the API docs link to); the ``stream/online``
  path and its query parameters are assumed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from airflow.sdk import BaseOperatorLink

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator
    from airflow.sdk.types import TaskInstanceKey

CONSOLE_URLS = {
    "polyv_channel": "https://live.polyv.net/#/channel/{channel_id}",
    "volcengine_stream": "https://console.volcengine.com/live/main/stream/online?{query}",
}


def polyv_channel_url(channel_id: Any) -> str:
    """The channel's page in the Polyv console, or "" when ``channel_id`` is not a channel ID."""
    from airflow_live_provider.exceptions import LiveApiInputError
    from airflow_live_provider.vendors.names import validate_channel_id

    try:
        channel = validate_channel_id(channel_id)
    except LiveApiInputError:
        return ""
    return CONSOLE_URLS["polyv_channel"].format(channel_id=quote(channel, safe=""))


def volcengine_stream_url(*, vhost: Any, domain: Any, app: Any, stream: Any) -> str:
    """The stream in the Volcengine Live console, or "" unless app, stream and a vhost or domain
    are valid names."""
    from airflow_live_provider.exceptions import LiveApiInputError
    from airflow_live_provider.vendors.names import validate_app, validate_host_name, validate_stream

    try:
        where = (
            {"vhost": validate_host_name(vhost)}
            if vhost
            else {"domain": validate_host_name(domain, "domain", "domain")}
        )
        query = {**where, "app": validate_app(app), "stream": validate_stream(stream)}
    except LiveApiInputError:
        return ""
    return CONSOLE_URLS["volcengine_stream"].format(query=urlencode(query))


class PolyvChannelLink(BaseOperatorLink):
    """The Polyv channel the task acted on (its ``channel_id``)."""

    name = "Polyv channel"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        return polyv_channel_url(getattr(operator, "channel_id", None))


class VolcengineStreamLink(BaseOperatorLink):
    """The Volcengine Live stream the task acted on: its ``watched_stream()`` (a stream sensor's,
    known at run time for an event's go-live watch), else its ``vhost``/``domain``, ``app``,
    ``stream``."""

    name = "Volcengine stream"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        watched = getattr(operator, "watched_stream", None)
        if callable(watched):
            stream = watched()
        else:
            stream = {k: getattr(operator, k, None) for k in ("vhost", "domain", "app", "stream")}
        return volcengine_stream_url(**stream) if stream else ""
