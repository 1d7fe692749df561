"""Provider metrics through Airflow's own ``Stats`` (StatsD, Datadog or OpenTelemetry: ``[metrics]``).

The only module that knows Airflow's metrics client. The transport reports every HTTP attempt to a
:class:`~airflow_live_provider.transport.TransportObserver`; the hooks install :class:`StatsObserver`
on the clients they build when Airflow's metrics are on, so vendor clients stay Airflow-free and
metrics off (Airflow's default) costs one ``is None`` check per attempt.

Names (stable: dashboards depend on them; the README has the table):

- ``live_provider.<vendor>.<action>.requests`` (counter, one per HTTP attempt), ``.errors`` (an
  attempt that failed: HTTP error, vendor error, network failure), ``.throttled`` (of those, the
  vendor throttled us), ``.retries`` (an attempt that resends an earlier one), ``.latency`` (timer);
- ``live_provider.<vendor>.quota_wait`` (timer): time waiting on our own client-side rate limiter;
- ``live_provider.event.token_lead.<vendor>`` (gauge, s) and ``live_provider.event.go_live_delay``
  (gauge, s), from the event steps;
- ``live_provider.sessions.<vendor>.polls`` (counter, one per session-watcher group poll),
  ``.poll_errors`` (a poll that failed: its streams stay unknown) and ``.bad_answers`` (of those,
  the vendor answered in a shape we cannot read, e.g. a listing without ``StreamInfoList``).

``<action>`` comes from :func:`endpoint_actions` (Polyv, ISDP) or the Volcengine ``Action``: a short
fixed vocabulary. No channel id, name, token or other per-call value ever goes into a name or tag.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from functools import cache
from typing import Any

from airflow_live_provider.exceptions import LiveApiError, LiveApiInputError, LiveApiRateLimitError
from airflow_live_provider.transport import HttpRequest, TransportObserver

log = logging.getLogger("airflow_live_provider.metrics")

PREFIX = "live_provider"
VENDORS = ("polyv", "volcengine", "isdp")


@cache
def endpoint_actions() -> dict[str, dict[str, str]]:
    """``{vendor: {request path: action}}``: the one table of action names for path-routed vendors.

    Built on first use from the vendor modules' own path constants (not imported with this module:
    every hook imports it when it builds a client, metrics on or off)."""
    from airflow_live_provider.vendors import isdp, polyv

    return {
        "polyv": {
            polyv.WATCH_TOKEN_PATH: "get_watch_api_token",
            polyv.GROUP_PACKAGE_LIST_PATH: "group_package_list",
            polyv.TRANSMIT_ASSOCIATIONS_PATH: "transmit_associations",
            polyv.TRANSMIT_BATCH_CREATE_PATH: "transmit_batch_create",
            polyv.CHANNEL_SIMPLE_LIST_PATH: "channel_simple_list",
            polyv.CHANNEL_LIVE_STATUS_PATH: "channel_live_status",
        },
        "isdp": {
            isdp.GET_TOKEN_PATH: "get_token",
            isdp.GET_TOKEN_BATCH_PATH: "get_token_batch",
        },
    }


#: ISDP's OAuth path is a connection setting (``oauth_path``): every non-OpenAPI path is the token.
ISDP_OAUTH_ACTION = "oauth_token"
#: A path or action outside the table (a new endpoint called through ``call()``).
OTHER_ACTION = "other"
_VOLCENGINE_ACTION = re.compile(r"[A-Za-z][A-Za-z0-9]{0,63}")


def action_name(vendor: str, request: HttpRequest) -> str:
    """The short, stable ``<action>`` of one request; never a value taken from the call's data
    beyond the Volcengine action name (which the client already checked against ``^[A-Za-z]...``)."""
    if vendor == "volcengine":
        action = (request.params or {}).get("Action")
        return action if isinstance(action, str) and _VOLCENGINE_ACTION.fullmatch(action) else OTHER_ACTION
    path = request.path.split("?", 1)[0]
    known = endpoint_actions().get(vendor, {}).get(path)
    if known is not None:
        return known
    if vendor == "isdp" and not path.startswith("/openapi/"):
        return ISDP_OAUTH_ACTION
    return OTHER_ACTION


def _stats() -> Any:
    """Airflow's ``Stats`` (the Task SDK's: the floor is 3.3.2)."""
    from airflow.sdk.observability.stats import Stats

    return Stats


def _conf() -> Any:
    from airflow.sdk.configuration import conf

    return conf


def metrics_enabled() -> bool:
    """Whether ``[metrics]`` turns on a backend (the same three switches Airflow's factory reads)."""
    conf = _conf()
    return any(
        conf.getboolean("metrics", option, fallback=False)
        for option in ("statsd_on", "statsd_datadog_enabled", "otel_on")
    )


class StatsObserver:
    """Turns transport attempts into ``Stats`` calls. Never raises: a metric must not fail a call."""

    def __init__(self, stats: Any | None = None) -> None:
        self.stats = stats if stats is not None else _stats()

    def attempt(
        self,
        vendor: str,
        request: HttpRequest,
        *,
        attempt: int,
        seconds: float,
        error: LiveApiError | None,
        quota_wait: float | None,
    ) -> None:
        try:
            stats = self.stats
            base = f"{PREFIX}.{vendor}.{action_name(vendor, request)}"
            stats.incr(f"{base}.requests")
            stats.timing(f"{base}.latency", timedelta(seconds=seconds))
            if attempt > 1:
                stats.incr(f"{base}.retries")
            if error is not None:
                stats.incr(f"{base}.errors")
                if isinstance(error, LiveApiRateLimitError) or error.http_status == 429:
                    stats.incr(f"{base}.throttled")
            if quota_wait is not None:
                stats.timing(f"{PREFIX}.{vendor}.quota_wait", timedelta(seconds=quota_wait))
        except Exception:  # noqa: BLE001 - metrics are best effort
            log.debug("metrics: could not emit for %s", vendor, exc_info=True)


def transport_observer() -> TransportObserver | None:
    """The observer for a new client's transport: None while Airflow's metrics are off."""
    return StatsObserver() if metrics_enabled() else None


def _check_vendor(vendor: str) -> str:
    if vendor not in VENDORS:
        raise LiveApiInputError("vendor", f"{vendor!r} is not one of {', '.join(VENDORS)}")
    return vendor


def record_token_lead(vendor: str, seconds: float) -> None:
    """Gauge ``live_provider.event.token_lead.<vendor>``: seconds from issuing an event's
    short-lived tokens to its start (negative: issued after the start)."""
    _gauge(f"{PREFIX}.event.token_lead.{_check_vendor(vendor)}", seconds)


def record_go_live_delay(seconds: float) -> None:
    """Gauge ``live_provider.event.go_live_delay``: seconds from an event's start to its stream
    being online (negative: live before the start)."""
    _gauge(f"{PREFIX}.event.go_live_delay", seconds)


#: What :func:`record_session_poll` takes.
SESSION_POLL_OUTCOMES = ("ok", "failed", "bad_answer")


def record_session_poll(vendor: str, outcome: str) -> None:
    """Counters for one session-watcher group poll: ``live_provider.sessions.<vendor>.polls``, plus
    ``.poll_errors`` when it failed and ``.bad_answers`` when the answer had the wrong shape."""
    if outcome not in SESSION_POLL_OUTCOMES:
        raise LiveApiInputError("outcome", f"{outcome!r} is not one of {', '.join(SESSION_POLL_OUTCOMES)}")
    base = f"{PREFIX}.sessions.{_check_vendor(vendor)}"
    try:
        stats = _stats()
        stats.incr(f"{base}.polls")
        if outcome != "ok":
            stats.incr(f"{base}.poll_errors")
        if outcome == "bad_answer":
            stats.incr(f"{base}.bad_answers")
    except Exception:  # noqa: BLE001 - metrics are best effort
        log.debug("metrics: could not emit for %s", base, exc_info=True)


def _gauge(name: str, seconds: float) -> None:
    try:
        _stats().gauge(name, float(seconds))
    except Exception:  # noqa: BLE001 - metrics are best effort
        log.debug("metrics: could not emit %s", name, exc_info=True)
