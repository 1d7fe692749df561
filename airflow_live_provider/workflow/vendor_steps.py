"""Multi-call steps that operators and the event workflow share: one place, one behaviour.

Each step takes a hook, makes the vendor calls, masks every credential it receives in the task
log and returns the credentials with their validity (``validFrom``/``validUntil``, UTC, the one
output format). Callers decide where the credentials go; nothing here writes files or XCom.

Layering (the workflow layer): operators and :mod:`airflow_live_provider.workflow.event_timeline`
call these; these call hooks. Hooks are imported for type checking only, so importing this module
stays cheap at parse time (the Volcengine operators import it at every DAG parse).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowFailException

from airflow_live_provider.redaction import mask_all, mask_returned_secrets
from airflow_live_provider.times import instant_or_none, utc_iso
from airflow_live_provider.vendors.shapes import expect_seconds

if TYPE_CHECKING:
    from airflow_live_provider.hooks.isdp import IsdpHook
    from airflow_live_provider.hooks.polyv import PolyvHook
    from airflow_live_provider.hooks.volcengine import VolcengineLiveHook

#: ``tokenBegin``/``tokenEnd`` carry no offset; the vendor's envelope timestamps are +08:00.
ISDP_VENDOR_LOCAL_TIME = timezone(timedelta(hours=8))
#: Watch tokens requested at once per event: the client's shared rate limit sets the pace, this
#: only has to cover the round trip (145/s x 50 ms needs ~8 in flight; 16 keeps the full quota up
#: to ~110 ms). Equal to the transport's connection pool, so every request reuses a connection.
WATCH_TOKEN_CONCURRENCY = 16
#: Ours: a join-token ``expirationTime`` above a week is not believed (the example says 120 s).
MAX_JOIN_TOKEN_SECONDS = 7 * 86_400


# -- Volcengine ------------------------------------------------------------------------------------
def ensure_auth_enabled(
    auth_list: list[dict[str, Any]], scene_type: str, target: str, about: str = ""
) -> None:
    """Fail (without retries: waiting will not switch it on) unless every auth setting is on.

    ``about`` prefixes the message (e.g. ``"event 'Launch': "``).
    """
    if not auth_list:
        raise AirflowFailException(
            f"{about}{scene_type} auth is not configured for {target}: DescribeAuth returned no "
            f"setting; enable {scene_type} authentication in the Volcengine Live console"
        )
    if not all(item.get("AuthStatus") for item in auth_list):
        raise AirflowFailException(
            f"{about}{scene_type} auth is OFF for {target}: enable {scene_type} "
            "authentication in the Volcengine Live console before the event"
        )


def check_push_auth(hook: VolcengineLiveHook, vhost: str, app: str, about: str = "") -> list[dict[str, Any]]:
    """DescribeAuth for push on a vhost/app (keys masked); fails unless push auth is on."""
    auth = hook.describe_auth("push", vhost=vhost, app=app)
    mask_returned_secrets(auth)
    ensure_auth_enabled(auth, "push", f"vhost {vhost!r} (app {app!r})", about=about)
    return auth


def push_url_count(result: dict[str, Any]) -> int:
    """Push addresses in a GeneratePushURL result: one per push domain."""
    details = result.get("PushURLListDetail") or []
    return len(details) if details else len(result.get("PushURLList") or [])


@dataclass(frozen=True)
class PushUrls:
    """A GeneratePushURL result (masked in logs) and the window it is valid in."""

    result: dict[str, Any]
    valid_from: str
    valid_until: str | None


def generate_push_urls(
    hook: VolcengineLiveHook,
    vhost: str,
    app: str,
    stream: str,
    *,
    domain: str | None = None,
    valid_duration: int | None = None,
    expired_time: datetime | None = None,
) -> PushUrls:
    """GeneratePushURL; the validity is counted from before the request (errs early).

    ``expired_time`` (an absolute end) wins over ``valid_duration``; with neither the vendor's
    default applies and the validity is unknown (``valid_until`` None).
    """
    from airflow_live_provider.vendors.volcengine import push_url_secrets

    issued = datetime.now(UTC)
    result = hook.generate_push_url(
        vhost,
        app,
        stream,
        domain=domain or None,
        valid_duration=None if expired_time is not None else valid_duration,
        expired_time=utc_iso(expired_time) if expired_time is not None else None,
    )
    mask_all(push_url_secrets(result))
    mask_returned_secrets(result)
    if expired_time is not None:
        until: str | None = utc_iso(expired_time)
    elif valid_duration:
        until = utc_iso(issued + timedelta(seconds=valid_duration))
    else:
        until = None
    return PushUrls(result, utc_iso(issued), until)


# -- Polyv ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class WatchTokens:
    """Watch tokens (``{viewerId, token, validFrom, validUntil}``), when issuing began, the first expiry."""

    tokens: list[dict[str, str]]
    generated_at: str
    expires_at: str


def issue_watch_tokens(
    hook: PolyvHook,
    channel_id: str,
    viewers: list[dict[str, str]],
    *,
    concurrency: int = WATCH_TOKEN_CONCURRENCY,
) -> WatchTokens:
    """One watch token per (normalised) viewer, in viewer order, all masked before returning.

    Requests run ``concurrency`` at a time and share the client's rate limit (Polyv's per-IP
    quota). Each token's validity is counted from just before its own request, so it is never
    later than when the token really stops working. The first failure (after the client's
    bounded retries) is raised; tokens already issued are masked all the same.
    """
    from airflow_live_provider.vendors.polyv import WATCH_TOKEN_TTL_SECONDS

    started = datetime.now(UTC)
    ttl = timedelta(seconds=WATCH_TOKEN_TTL_SECONDS)
    hook.client  # noqa: B018 - build the client once, before the threads share it

    def issue(viewer: dict[str, str]) -> dict[str, str]:
        issued = datetime.now(UTC)
        token = hook.get_watch_api_token(
            channel_id,
            viewer["viewerId"],
            nickname=viewer.get("nickname"),
            avatar=viewer.get("avatar"),
            openid=viewer.get("openid"),
            actor=viewer.get("actor"),
        )
        return {
            "viewerId": viewer["viewerId"],
            "token": token,
            "validFrom": utc_iso(issued),
            "validUntil": utc_iso(issued + ttl),
        }

    workers = max(1, min(concurrency, len(viewers)))
    futures = []
    try:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="polyv-watch-token") as pool:
            futures = [pool.submit(issue, viewer) for viewer in viewers]
            try:
                tokens = [future.result() for future in futures]
            except BaseException:
                for pending in futures:
                    pending.cancel()
                raise
    finally:
        # One batch (linear in the number of tokens), including tokens issued before a failure.
        done = [f.result() for f in futures if f.done() and not f.cancelled() and f.exception() is None]
        mask_all(t["token"] for t in done)
    first_expiry = min((t["validUntil"] for t in tokens), default=utc_iso(started + ttl))
    return WatchTokens(tokens, utc_iso(started), first_expiry)


# -- ISDP -----------------------------------------------------------------------------------------
def token_expiry(item: dict[str, Any], requested_at: datetime) -> datetime:
    """When a join token stops working: never unknown, never later than the vendor says.

    ``expirationTime`` (seconds) counted from *before* the request was sent is preferred: it
    needs no time zone and errs early. Without a usable one (absent, ``-5``, ``1e999``, ``10**30``:
    not a lifetime), ``tokenEnd``, read as Beijing time unless it carries an offset (the doc
    example's values have none). Without either, the lifetime of the vendor's example (120 s):
    a token kept with no expiry would be handed out long after it died.
    """
    from airflow_live_provider.exceptions import LiveApiResponseError
    from airflow_live_provider.vendors.isdp import JOIN_TOKEN_TTL_SECONDS

    seconds = item.get("expirationTime")
    if seconds not in (None, ""):
        with suppress(LiveApiResponseError):
            lifetime = expect_seconds(
                seconds, "isdp", "getTokenBatch", "expirationTime", maximum=MAX_JOIN_TOKEN_SECONDS
            )
            return requested_at + timedelta(seconds=lifetime)
    end = instant_or_none(item.get("tokenEnd"), naive_zone=ISDP_VENDOR_LOCAL_TIME)
    return end or requested_at + timedelta(seconds=JOIN_TOKEN_TTL_SECONDS)


def token_entries(
    data: dict[str, Any] | list[Any], channel_ids: list[str], requested_at: datetime
) -> list[dict[str, Any]]:
    """One entry per token object, whatever shape ``data`` had, each with ``validFrom``/``validUntil``.

    An object answers for every requested channel; list items name their own ``channelId``
    when the vendor includes it. ``validFrom`` is the vendor's ``tokenBegin`` when it has one.
    """
    items = data if isinstance(data, list) else [data]
    entries: list[dict[str, Any]] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        begin = instant_or_none(item.get("tokenBegin"), naive_zone=ISDP_VENDOR_LOCAL_TIME) or requested_at
        channels = [str(item["channelId"])] if item.get("channelId") not in (None, "") else channel_ids
        # Ours last: a vendor's own "validUntil" (garbage, or a number among texts) never replaces it.
        validity = {"validFrom": utc_iso(begin), "validUntil": utc_iso(token_expiry(item, requested_at))}
        entries.append({**item, "channelIds": channels, **validity})
    return entries


@dataclass(frozen=True)
class JoinTokens:
    """Join-token entries (each with its validity), when they were requested, the earliest expiry."""

    entries: list[dict[str, Any]]
    requested_at: str
    expires_at: str | None


def fetch_join_tokens(hook: IsdpHook, channel_ids: list[str], user_account: str, role: int) -> JoinTokens:
    """getTokenBatch, every token masked, entries with their validity counted from *before* the request."""
    requested_at = datetime.now(UTC)
    data = hook.get_token_batch(channel_ids, user_account, role)
    mask_returned_secrets(data)
    entries = token_entries(data, channel_ids, requested_at)
    mask_all(str(e["token"]) for e in entries if e.get("token"))
    expiries = [e["validUntil"] for e in entries if e.get("validUntil")]
    return JoinTokens(entries, utc_iso(requested_at), min(expiries) if expiries else None)
