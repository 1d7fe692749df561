"""Polyv (保利威) Live API client: the signer, envelope parsing and the calls the provider needs.

Signing follows Polyv's "签名生成规则", its Java SDK (``LiveSignUtil``) and ``@polyv/utils``
(``encrypt.ts``); the published vectors are checked in ``tests/vendors/test_polyv.py``. Every
attempt is re-signed with a fresh 13-digit timestamp (valid 3 minutes), so retries never go stale.

This module knows nothing of Airflow.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from airflow_live_provider.exceptions import (
    STRING_GIVEN_FOR_LIST,
    LiveApiAuthError,
    LiveApiConnectionError,
    LiveApiError,
    LiveApiInputError,
    LiveApiRateLimitError,
)
from airflow_live_provider.redaction import REDACTED
from airflow_live_provider.transport import (
    HttpRequest,
    RateLimiter,
    Transport,
    is_retryable_status,
    json_body,
)
from airflow_live_provider.validation import email_address, plain_text, setting_text, whole_number
from airflow_live_provider.vendors.names import validate_channel_id
from airflow_live_provider.vendors.shapes import (
    bad_answer,
    expect_choice,
    expect_count,
    expect_dict,
    expect_id,
    expect_list,
    expect_text,
)

if TYPE_CHECKING:  # requests is imported by the transport when a client is built
    import requests

log = logging.getLogger("airflow_live_provider.vendors.polyv")

VENDOR = "polyv"
DEFAULT_HOST = "api.polyv.net"
SIGNATURE_METHODS = ("MD5", "SHA256")

WATCH_TOKEN_PATH = "/live/v3/channel/watch/get-watch-api-token"
GROUP_PACKAGE_LIST_PATH = "/live/v4/group/user/package/list"
TRANSMIT_ASSOCIATIONS_PATH = "/live/v3/channel/transmit/get-associations"
TRANSMIT_BATCH_CREATE_PATH = "/live/v3/channel/transmit/batch-create"
CHANNEL_SIMPLE_LIST_PATH = "/live/v4/channel/simple/list"
#: Batch channel live status (Polyv docs "查询批量频道状态", live/api/channel/state/
#: get_live_status_list; Java SDK ``LiveChannelStateServiceImpl.listChannelLiveStream``).
CHANNEL_LIVE_STATUS_PATH = "/live/v2/channels/live-status"
MAX_CHANNELS_PER_STATUS_CALL = 20
#: The statuses the live-status call documents (anything else, ``LIVE`` included, is a broken answer).
LIVE_STATUSES = ("live", "end")

#: Documented limits.
MAX_EMAILS_PER_CALL = 100
MAX_PAGE_SIZE = 100
MAX_SIMPLE_LIST_PAGE_SIZE = 1000
MAX_NAMES_PER_CREATE = 100
MAX_RECEIVERS_PER_TRANSMIT = 500
MAX_VIEWER_ID_LENGTH = 64
#: Ours: more pages than this is an impossible answer (1,000,000 sub-accounts at 100 a page,
#: 10,000,000 channels at 1,000), not a reason to page for days.
MAX_PAGES = 10_000
#: Our own bound for a channel name (the vendor's exact limit is not documented).
MAX_CHANNEL_NAME_LENGTH = 100
#: Watch-API tokens are valid 5 hours (get-watch-api-token doc).
WATCH_TOKEN_TTL_SECONDS = 5 * 3600
#: Client-side pace of the calls made in bulk (a watch token per viewer, live-status polls): Polyv
#: allows 1,500 requests per 10 s per IP and then blocks the IP for 5 minutes, so every client of
#: the process shares one bucket a little under 150/s.
WATCH_TOKEN_REQUESTS_PER_SECOND = 145.0
_BULK_CALLS_LIMITER: RateLimiter | None = None
_BULK_CALLS_LOCK = threading.Lock()


def bulk_calls_limiter() -> RateLimiter:
    """The process-wide bucket of the calls made in bulk (burst 1: evenly spaced)."""
    global _BULK_CALLS_LIMITER
    with _BULK_CALLS_LOCK:
        if _BULK_CALLS_LIMITER is None:
            _BULK_CALLS_LIMITER = RateLimiter(WATCH_TOKEN_REQUESTS_PER_SECOND, burst=1)
        return _BULK_CALLS_LIMITER


_TRANSMIT_LOCKS: dict[tuple[str, str, str], threading.Lock] = {}


def transmit_lock(base_url: str, app_id: str, transmit_id: str) -> threading.Lock:
    """One lock per (host, account, transmit channel) for the whole process: two threads making
    sure of receivers on one transmit channel take turns, so the second sees what the first made."""
    with _BULK_CALLS_LOCK:
        return _TRANSMIT_LOCKS.setdefault((base_url, app_id, transmit_id), threading.Lock())


def channel_id_order(channel_id: str) -> tuple[int, int | str]:
    """Sort key: numeric ids by value (``"999" < "1000"``), others after, as text."""
    numeric = (
        channel_id.isascii() and channel_id.isdigit() and len(channel_id) <= 30
    )  # int() of 5,000 digits raises
    return (0, int(channel_id)) if numeric else (1, channel_id)


THROTTLE_MESSAGE = "qps exceeds number of calls"
TIMESTAMP_MESSAGE = "invalid timestamp."
#: v4 ``error.code`` for an expired timestamp (时间戳过期), the only confirmed v4 code.
V4_TIMESTAMP_CODE = 10003
#: Messages meaning credentials/permission: never retried. Codes differ per page, so match text.
AUTH_MESSAGES = (
    "invalid signature.",
    "appid is required.",
    "application not found.",
    "access forbidden",
)

T = TypeVar("T")


# -- signing -------------------------------------------------------------------------------------
def clean_params(params: Mapping[str, object]) -> dict[str, str]:
    """The parameters actually sent: None and blank values dropped, everything as text.

    Dropping them from the request as well as from the signature keeps both sets identical.
    Booleans are sent as ``true``/``false``.
    """
    out: dict[str, str] = {}
    for key, value in params.items():
        if value is None:
            continue
        text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        if text.strip():
            out[str(key)] = text
    return out


def polyv_sign(params: Mapping[str, object], app_secret: str, method: str = "MD5") -> str:
    """``UPPER(hex(H(secret + k1v1k2v2... + secret)))`` over the sorted non-blank params but ``sign``."""
    if method not in SIGNATURE_METHODS:
        raise LiveApiInputError(
            "signature_method", f"{method!r} is not supported; use MD5 or SHA256", vendor=VENDOR
        )
    cleaned = clean_params({k: v for k, v in params.items() if k != "sign"})
    concatenated = "".join(f"{key}{cleaned[key]}" for key in sorted(cleaned))
    payload = f"{app_secret}{concatenated}{app_secret}".encode()
    digest = hashlib.sha256(payload) if method == "SHA256" else hashlib.md5(payload)  # noqa: S324
    return digest.hexdigest().upper()


def now_millis() -> int:
    return int(time.time() * 1000)


# -- errors --------------------------------------------------------------------------------------
#: A sign (32 hex digits for MD5, 64 for SHA256) with its timestamp can be replayed for 3 minutes.
_SIGNED_VALUE = re.compile(r"(?i)\b(sign|appSecret|token)(\W{1,5})([0-9A-Za-z]{8,})")


def scrub_signed_values(text: str) -> str:
    """A vendor message without the credentials a gateway may echo from the request
    (``sign=...``, ``"appSecret":"..."``, ``token=...``)."""
    return _SIGNED_VALUE.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)


class PolyvTimestampError(LiveApiAuthError):
    """``invalid timestamp.`` / v4 ``10003``: the client retries once with a fresh timestamp."""


def parse_response(response: requests.Response, what: str) -> tuple[Any, str | None]:
    """``data`` of a v3 or v4 envelope, or the right :class:`LiveApiError`.

    v3: ``{code, status, message, data}``; v4: ``{code, status, success, requestId, error:
    {code, desc}, data}`` with ``code`` equal to the HTTP status, so v4 errors arrive as non-2xx
    and the body is read first. A body that is not a Polyv envelope (a proxy page, a truncated
    reply) is retryable.
    """
    status = response.status_code
    problem = "is not a Polyv envelope"
    try:
        payload = json_body(response)
    except ValueError as exc:
        payload, problem = None, str(exc)
    request_id = response.headers.get("X-Request-Id")
    if not isinstance(payload, dict) or ("status" not in payload and "success" not in payload):
        common: dict[str, Any] = {"vendor": VENDOR, "http_status": status, "request_id": request_id}
        if status == 429:
            raise LiveApiRateLimitError(f"{what} throttled (HTTP 429)", **common)
        retryable = status < 400 or is_retryable_status(status)
        raise LiveApiError(
            f"{what} failed: unexpected non-Polyv response (the body {problem})",
            retryable=retryable,
            **common,
        )
    request_id = str(payload.get("requestId") or "")[:128] or request_id
    body_code = payload.get("code")
    ok = (
        status < 400
        and body_code in (200, "200")
        and (payload.get("status") == "success" or payload.get("success") is True)
    )
    if ok:
        return payload.get("data"), request_id
    raw_error = payload.get("error")
    error: dict[str, Any] = raw_error if isinstance(raw_error, dict) else {}
    code = error.get("code") if error.get("code") not in (None, "") else body_code
    message = str(error.get("desc") or payload.get("message") or f"HTTP {status}")
    text = f"{what} failed: {scrub_signed_values(message)}"
    common = {"vendor": VENDOR, "code": code, "http_status": status, "request_id": request_id}
    lowered = message.strip().lower()
    if THROTTLE_MESSAGE in lowered or status == 429 or body_code in (429, "429"):
        raise LiveApiRateLimitError(text, **common)
    if lowered == TIMESTAMP_MESSAGE or str(error.get("code")) == str(V4_TIMESTAMP_CODE):
        raise PolyvTimestampError(text, retryable=False, **common)
    if lowered in AUTH_MESSAGES or status == 401 or body_code in (401, "401"):
        raise LiveApiAuthError(text, retryable=False, **common)
    try:
        numeric_code = int(body_code) if body_code is not None else status
    except (TypeError, ValueError, OverflowError):  # a hostile code: "x", [1], 1e999
        numeric_code = status
    retryable = is_retryable_status(status) or is_retryable_status(numeric_code)
    raise LiveApiError(text, retryable=retryable, **common)


# -- input validation (before any request) -------------------------------------------------------
def _optional_text(value: Any, field: str, max_len: int = 255) -> str | None:
    if value is None or value == "":
        return None
    return plain_text(value, field, vendor=VENDOR, what="value", max_len=max_len)


def validate_viewer_id(value: Any, field: str = "viewer_id") -> str:
    return plain_text(value, field, vendor=VENDOR, what="viewer's ID", max_len=MAX_VIEWER_ID_LENGTH)


#: Keys a viewer spec may have (the get-watch-api-token form fields).
VIEWER_KEYS = ("viewerId", "nickname", "avatar", "openid", "actor")
#: Longest value of each optional viewer field (avatar is a URL).
VIEWER_FIELD_LENGTHS = {"nickname": 255, "avatar": 1024, "openid": 255, "actor": 255}


def normalize_viewers(
    viewer_ids: Any, field: str = "viewer_ids", *, required: bool = True
) -> list[dict[str, str]]:
    """``viewer_ids`` as ``[{viewerId, nickname?, ...}]``: ID strings or dicts, every field checked
    up front so a bad nickname fails before the first token is fetched."""
    if isinstance(viewer_ids, str):
        raise LiveApiInputError(field, STRING_GIVEN_FOR_LIST, vendor=VENDOR)
    if viewer_ids is None and not required:
        return []
    if not isinstance(viewer_ids, Sequence) or (required and not viewer_ids):
        raise LiveApiInputError(
            field,
            f"must be a {'non-empty ' if required else ''}list of viewer IDs "
            "or {viewerId, nickname?...} dicts",
            vendor=VENDOR,
        )
    viewers: list[dict[str, str]] = []
    seen: set[str] = set()
    for index, item in enumerate(viewer_ids):
        spot = f"{field}[{index}]"
        if isinstance(item, int) and not isinstance(item, bool):
            item = str(item)
        spec = {"viewerId": item} if isinstance(item, str) else item
        if not isinstance(spec, Mapping):
            raise LiveApiInputError(
                spot, "must be a viewer ID string or a dict with 'viewerId'", vendor=VENDOR
            )
        unknown = sorted(str(key) for key in set(spec) - set(VIEWER_KEYS))
        if unknown:
            raise LiveApiInputError(
                spot, f"unknown key(s) {unknown}; use {', '.join(VIEWER_KEYS)}", vendor=VENDOR
            )
        viewer_id = validate_viewer_id(spec.get("viewerId"), f"{spot}.viewerId")
        if viewer_id in seen:
            raise LiveApiInputError(spot, f"viewer {viewer_id!r} is listed twice", vendor=VENDOR)
        seen.add(viewer_id)
        viewer = {"viewerId": viewer_id}
        for key, max_len in VIEWER_FIELD_LENGTHS.items():
            value = _optional_text(spec.get(key), f"{spot}.{key}", max_len)
            if value is not None:
                viewer[key] = value
        viewers.append(viewer)
    return viewers


def validate_page_size(value: Any, maximum: int = MAX_PAGE_SIZE, field: str = "page_size") -> int:
    return whole_number(value, field, vendor=VENDOR, low=1, high=maximum, example=str(maximum))


def validate_emails(emails: Any) -> list[str] | None:
    """None (every sub-account) or a list of e-mail addresses without commas or spaces."""
    if emails is None:
        return None
    if isinstance(emails, str):
        raise LiveApiInputError("emails", STRING_GIVEN_FOR_LIST, vendor=VENDOR)
    if not isinstance(emails, Sequence):
        raise LiveApiInputError("emails", "must be a list of e-mail addresses", vendor=VENDOR)
    return [email_address(email, f"emails[{index}]", vendor=VENDOR) for index, email in enumerate(emails)]


def validate_names(names: Any) -> list[str]:
    """Receive-channel names: a non-empty list of distinct, non-blank strings, at most 500."""
    if isinstance(names, str):
        raise LiveApiInputError("names", STRING_GIVEN_FOR_LIST, vendor=VENDOR)
    if not isinstance(names, Sequence):
        raise LiveApiInputError(
            "names", "must be a list of channel names, e.g. ['Hall A', 'Hall B']", vendor=VENDOR
        )
    if not names:
        raise LiveApiInputError("names", "is empty; give at least one channel name", vendor=VENDOR)
    if len(names) > MAX_RECEIVERS_PER_TRANSMIT:
        raise LiveApiInputError(
            "names",
            f"has {len(names)} names; a transmit channel holds at most "
            f"{MAX_RECEIVERS_PER_TRANSMIT} receivers",
            vendor=VENDOR,
        )
    seen: dict[str, int] = {}
    for index, name in enumerate(names):
        field = f"names[{index}]"
        plain_text(name, field, vendor=VENDOR, what="channel name", max_len=MAX_CHANNEL_NAME_LENGTH)
        if name in seen:
            raise LiveApiInputError(
                field, f"{name!r} duplicates names[{seen[name]}]; give each channel once", vendor=VENDOR
            )
        seen[name] = index
    return list(names)


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _is_ambiguous(exc: LiveApiError) -> bool:
    """Could a failed create have been committed anyway? (reset, lost response, 5xx)."""
    if isinstance(exc, LiveApiRateLimitError):
        return False  # throttled requests are not processed; the transport already resent them
    return isinstance(exc, LiveApiConnectionError) or exc.retryable


# -- the client ----------------------------------------------------------------------------------


def _iter_pages(fetch_page: Callable[[int], Any], call: str) -> Iterator[dict[str, Any]]:
    """Items (objects) of every page of a v4 list (``{contents, totalPages}``), fetching page N+1
    only once page N is consumed. A plain list is taken as the only page.

    A hostile answer cannot make this page forever: more than :data:`MAX_PAGES` pages, a page
    that repeats the one before or that answers another ``pageNumber`` is a
    :class:`LiveApiResponseError` before any of its items is yielded.
    """
    page_number = 1
    previous: list[Any] | None = None
    while True:
        data = fetch_page(page_number)
        if isinstance(data, list):
            yield from expect_list(data, VENDOR, call, "data")
            return
        page = expect_dict(data if data is not None else {}, VENDOR, call, "data")
        raw_contents = page.get("contents")
        contents = [] if raw_contents is None else expect_list(raw_contents, VENDOR, call, "data.contents")
        total_pages = expect_count(
            page.get("totalPages") or 0, VENDOR, call, "data.totalPages", maximum=MAX_PAGES
        )
        echoed = page.get("pageNumber")
        if echoed not in (None, "") and str(echoed) != str(page_number):
            raise bad_answer(VENDOR, call, f"asked for page {page_number}, the answer is another page")
        if contents and contents == previous:
            raise bad_answer(
                VENDOR, call, f"page {page_number} repeats page {page_number - 1}; stopped paging"
            )
        yield from contents
        if not contents or page_number >= total_pages:
            return
        previous = contents
        page_number += 1


class PolyvClient:
    """Signed calls to ``api.polyv.net`` with one appId/appSecret pair.

    Group calls (``/live/v4/group/...``) need the group main account's pair: use a second client.
    ``now_ms`` is injectable so tests can freeze or skew the clock.
    """

    def __init__(
        self,
        base_url: str,
        app_id: str,
        app_secret: str,
        *,
        signature_method: str = "MD5",
        now_ms: Callable[[], int] = now_millis,
        max_reconcile_rounds: int = 3,
        simple_list_page_size: int = MAX_SIMPLE_LIST_PAGE_SIZE,
        **transport_options: Any,
    ) -> None:
        setting_text(app_id, "app_id", vendor=VENDOR, what="Polyv appId")
        setting_text(app_secret, "app_secret", vendor=VENDOR, what="Polyv appSecret")
        method = (signature_method or "MD5").strip().upper()
        if method not in SIGNATURE_METHODS:
            raise LiveApiInputError(
                "signature_method", f"{signature_method!r} is not supported; use MD5 or SHA256", vendor=VENDOR
            )
        self.app_id = app_id.strip()
        self._app_secret = app_secret.strip()
        self.signature_method = method
        self.now_ms = now_ms
        self.max_reconcile_rounds = max_reconcile_rounds
        self.simple_list_page_size = validate_page_size(
            simple_list_page_size, MAX_SIMPLE_LIST_PAGE_SIZE, "simple_list_page_size"
        )
        self.transport = Transport(VENDOR, base_url, secrets=self._secrets, **transport_options)

    def _secrets(self) -> tuple[str, ...]:
        """Scrubbed by value from every error: a response may echo the appSecret bare."""
        return (self._app_secret,)

    def __repr__(self) -> str:  # never show the secret
        return f"PolyvClient(base_url={self.transport.base_url!r}, app_id={self.app_id!r})"

    def close(self) -> None:
        self.transport.close()

    # -- plumbing --------------------------------------------------------------------------------
    def signed_params(self, params: Mapping[str, object]) -> dict[str, str]:
        """``params`` plus appId, a fresh timestamp (and signatureMethod) and their sign."""
        out = clean_params({**params, "appId": self.app_id, "timestamp": self.now_ms()})
        if self.signature_method != "MD5":
            out["signatureMethod"] = self.signature_method
        out["sign"] = polyv_sign(out, self._app_secret, self.signature_method)
        return out

    def _send(
        self,
        build: Callable[[], HttpRequest],
        what: str,
        *,
        idempotent: bool = True,
        rate_limiter: RateLimiter | None = None,
    ) -> Any:
        """One call through the transport; a rejected timestamp gets exactly one fresh retry."""

        def parse(response: requests.Response) -> tuple[Any, str | None]:
            return parse_response(response, what)

        deadline = self.transport.deadline()  # the retry below shares the call's time budget
        try:
            return self.transport.request(
                build, parse, idempotent=idempotent, deadline=deadline, rate_limiter=rate_limiter
            )
        except PolyvTimestampError:
            # Rejected before processing, so even a create is safe to resend; more than once
            # would only hide a skewed clock.
            log.warning("polyv %s: timestamp rejected; retrying once with a fresh timestamp", what)
            return self.transport.request(
                build, parse, idempotent=idempotent, deadline=deadline, rate_limiter=rate_limiter
            )

    def get(self, path: str, params: Mapping[str, object], what: str) -> Any:
        return self._send(lambda: HttpRequest("GET", path, params=self.signed_params(params)), what)

    def post_form(
        self,
        path: str,
        form: Mapping[str, object],
        what: str,
        *,
        idempotent: bool = True,
        rate_limiter: RateLimiter | None = None,
    ) -> Any:
        return self._send(
            lambda: HttpRequest("POST", path, data=self.signed_params(form)),
            what,
            idempotent=idempotent,
            rate_limiter=rate_limiter,
        )

    def post_json(
        self, path: str, query: Mapping[str, object], body: Any, what: str, *, idempotent: bool = True
    ) -> Any:
        """JSON bodies are not signed: only the query is (batch-create)."""
        payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return self._send(
            lambda: HttpRequest(
                "POST",
                path,
                params=self.signed_params(query),
                data=payload,
                headers={"Content-Type": "application/json; charset=utf-8"},
            ),
            what,
            idempotent=idempotent,
        )

    # -- calls -----------------------------------------------------------------------------------
    def get_watch_api_token(
        self,
        channel_id: str | int,
        viewer_id: str,
        *,
        nickname: str | None = None,
        avatar: str | None = None,
        openid: str | None = None,
        actor: str | None = None,
    ) -> str:
        """A watch-page SDK token (valid 5 h) for one viewer. Issuing one changes nothing: idempotent.

        Thread-safe; calls from every thread and client share :func:`bulk_calls_limiter`."""
        form = {
            "channelId": validate_channel_id(channel_id),
            "viewerId": validate_viewer_id(viewer_id),
            "nickname": _optional_text(nickname, "nickname"),
            "avatar": _optional_text(avatar, "avatar", 1024),
            "openid": _optional_text(openid, "openid"),
            "actor": _optional_text(actor, "actor"),
        }
        data = self.post_form(
            WATCH_TOKEN_PATH, form, "get-watch-api-token", rate_limiter=bulk_calls_limiter()
        )
        call = "get-watch-api-token"
        return expect_text(expect_dict(data, VENDOR, call, "data").get("token"), VENDOR, call, "data.token")

    def get_sub_account_page(
        self, *, page_number: int, page_size: int, emails: Sequence[str] | None = None
    ) -> dict[str, Any]:
        """One page of the group's sub-accounts (group main account credentials)."""
        params = {
            "pageNumber": page_number,
            "pageSize": page_size,
            "emails": ",".join(emails) if emails else None,
        }
        data = self.get(GROUP_PACKAGE_LIST_PATH, params, "group/user/package/list")
        return expect_dict(data, VENDOR, "group/user/package/list", "data")

    def iter_sub_accounts(
        self, *, emails: Sequence[str] | None = None, page_size: int = MAX_PAGE_SIZE
    ) -> Iterator[dict[str, Any]]:
        """Every sub-account, one page in memory at a time. Inputs are checked on the call itself,
        before the first request; an empty ``emails`` list yields nothing."""
        size = validate_page_size(page_size)
        wanted = validate_emails(emails)
        groups: list[Sequence[str] | None] = (
            [None] if wanted is None else list(_chunks(wanted, MAX_EMAILS_PER_CALL))
        )
        return self._iter_sub_accounts(groups, size)

    def _iter_sub_accounts(self, groups: list[Sequence[str] | None], size: int) -> Iterator[dict[str, Any]]:
        for group in groups:
            yield from _iter_pages(partial(self._sub_account_page, size, group), "group/user/package/list")

    def _sub_account_page(self, size: int, emails: Sequence[str] | None, number: int) -> dict[str, Any]:
        return self.get_sub_account_page(page_number=number, page_size=size, emails=emails)

    def get_channel_live_status(self, channel_ids: Sequence[str | int]) -> dict[str, str]:
        """``{channelId: "live" | "end"}`` for up to 20 channels (signed form POST, read-only).

        Documented by Polyv's Java SDK (``channelIds`` comma-separated, at most 20; ``status``
        ``live`` or ``end``). Unverified: the v2 envelope is assumed to be the v3 one.
        """
        if isinstance(channel_ids, str | int) or not channel_ids:
            raise LiveApiInputError(
                "channel_ids", "must be a non-empty list of channel IDs such as ['3151318']", vendor=VENDOR
            )
        ids = [validate_channel_id(c, f"channel_ids[{i}]") for i, c in enumerate(channel_ids)]
        if len(ids) > MAX_CHANNELS_PER_STATUS_CALL:
            raise LiveApiInputError(
                "channel_ids", f"has {len(ids)} channels; ask for at most 20 per call", vendor=VENDOR
            )
        data = self.post_form(
            CHANNEL_LIVE_STATUS_PATH,
            {"channelIds": ",".join(ids)},
            "channels/live-status",
            rate_limiter=bulk_calls_limiter(),
        )
        call = "channels/live-status"
        found = {
            expect_id(item.get("channelId"), VENDOR, call, f"data[{index}].channelId"): expect_choice(
                item.get("status"), VENDOR, call, f"data[{index}].status", LIVE_STATUSES
            )
            for index, item in enumerate(expect_list(data, VENDOR, call, "data", items=dict))
        }
        missing = [c for c in ids if c not in found]
        if missing:
            raise bad_answer(VENDOR, call, f"no status for channel(s) {missing}")
        return {c: found[c] for c in ids}

    def get_channel_live_statuses(self, channel_ids: Sequence[str | int]) -> dict[str, str]:
        """``{channelId: "live" | "end"}`` for any number of channels, in calls of at most 20
        (:meth:`get_channel_live_status`, each paced by :func:`bulk_calls_limiter`): every ID is
        checked before the first call, duplicates are asked once. No IDs, no call."""
        if isinstance(channel_ids, str | int) or not isinstance(channel_ids, Sequence | set | frozenset):
            raise LiveApiInputError(
                "channel_ids", "must be a list of channel IDs such as ['3151318']", vendor=VENDOR
            )
        ids = list(
            dict.fromkeys(validate_channel_id(c, f"channel_ids[{i}]") for i, c in enumerate(channel_ids))
        )
        statuses: dict[str, str] = {}
        for chunk in _chunks(ids, MAX_CHANNELS_PER_STATUS_CALL):
            statuses.update(self.get_channel_live_status(chunk))
        return statuses

    def get_transmit_associations(self, channel_id: str | int) -> list[dict[str, Any]]:
        """``[{channelId, receiveChannelId}]`` of one transmit channel (IDs only; ``receiveChannelId``
        checked and returned as text). ``data`` null or empty means no receivers."""
        call = "transmit/get-associations"
        data = self.get(TRANSMIT_ASSOCIATIONS_PATH, {"channelId": validate_channel_id(channel_id)}, call)
        if data in (None, ""):
            return []
        items = expect_list(data, VENDOR, call, "data")
        return [
            {
                **item,
                "receiveChannelId": expect_id(
                    item.get("receiveChannelId"), VENDOR, call, f"data[{i}].receiveChannelId"
                ),
            }
            for i, item in enumerate(items)
        ]

    def iter_channels(
        self, *, keyword: str | None = None, page_size: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """The account's channels (``v4/channel/simple/list``), paged.

        The page shape (``data.contents`` with ``channelId``/``name``, ``totalPages``) mirrors the
        other v4 list endpoints: *unverified* for this one, so ``data`` as a plain list is accepted
        too. ``keyword`` is a fuzzy match: callers must compare names exactly.
        """
        size = validate_page_size(page_size or self.simple_list_page_size, MAX_SIMPLE_LIST_PAGE_SIZE)
        return _iter_pages(
            lambda number: self.get(
                CHANNEL_SIMPLE_LIST_PATH,
                {"pageNumber": number, "pageSize": size, "keyword": keyword},
                "channel/simple/list",
            ),
            "channel/simple/list",
        )

    def list_transmit_receivers(self, channel_id: str | int) -> list[dict[str, Any]]:
        """``[{channelId, name}]`` of a transmit channel's receivers (name None if not found)."""
        transmit_id = validate_channel_id(channel_id)
        receiver_ids = [item["receiveChannelId"] for item in self.get_transmit_associations(transmit_id)]
        names: dict[str, str | None] = dict.fromkeys(receiver_ids)
        if receiver_ids:
            unresolved = set(receiver_ids)
            for index, channel in enumerate(self.iter_channels()):
                cid = expect_id(
                    channel.get("channelId"), VENDOR, "channel/simple/list", f"item {index}: channelId"
                )
                if cid in unresolved:
                    name = channel.get("name")
                    names[cid] = name if isinstance(name, str) else None
                    unresolved.discard(cid)
                    if not unresolved:
                        break
        return [{"channelId": cid, "name": names[cid]} for cid in receiver_ids]

    def batch_create_transmit(self, channel_id: str, names: Sequence[str]) -> list[dict[str, Any]]:
        """One raw ``transmit/batch-create`` call (≤100 names). Not idempotent: prefer
        :meth:`create_transmit_channels`. The result holds channel passwords."""
        if not 1 <= len(names) <= MAX_NAMES_PER_CREATE:
            raise LiveApiInputError(
                "names", f"give 1-{MAX_NAMES_PER_CREATE} names per batch-create call", vendor=VENDOR
            )
        data = self.post_json(
            TRANSMIT_BATCH_CREATE_PATH,
            {"channelId": channel_id},
            list(names),
            "transmit/batch-create",
            idempotent=False,
        )
        if not isinstance(data, list):
            # Channels may have been made all the same: the caller reads the receivers back and
            # finds them (or says which names are missing), so no exception here.
            log.warning("polyv transmit/batch-create: data is not a list; reading receivers back instead")
            return []
        return [item for item in data if isinstance(item, dict)]

    def create_transmit_channels(self, channel_id: str | int, names: Sequence[str]) -> list[dict[str, Any]]:
        """Make sure the transmit channel has one receiver per name; create only what is missing.

        Reads existing receivers first, refuses before creating anything when existing + missing
        would exceed 500, creates in calls of ≤100, and after an ambiguous failure (reset, lost
        response, 5xx) reads the state again instead of resending, so nothing is created twice.
        Returns ``[{name, channelId, created}]`` in input order (no passwords).

        Concurrent callers converge: threads of one process take turns per transmit channel
        (:func:`transmit_lock`); processes on other hosts cannot be locked out, so when two
        created the same name, every caller (now and later) answers the receiver with the lowest
        channel id, with a warning naming the extras, never a permanent failure. For that, what
        was just created is read back once before answering.
        """
        transmit_id = validate_channel_id(channel_id)
        wanted = validate_names(names)
        with transmit_lock(self.transport.base_url, self.app_id, transmit_id):
            return self._create_missing_receivers(transmit_id, wanted)

    def _create_missing_receivers(self, transmit_id: str, wanted: list[str]) -> list[dict[str, Any]]:
        wanted_set = set(wanted)
        initial: set[str] | None = None
        made: dict[str, str] = {}
        rounds = 0
        while True:
            existing = self.list_transmit_receivers(transmit_id)
            by_name = self._receivers_by_name(existing, wanted_set, transmit_id)
            if initial is None:
                initial = set(by_name)
            missing = [name for name in wanted if name not in by_name and name not in made]
            total = len(existing) + len(missing)
            if total > MAX_RECEIVERS_PER_TRANSMIT:
                raise LiveApiError(
                    f"transmit channel {transmit_id} has {len(existing)} receivers; adding {len(missing)} "
                    f"would exceed the limit of {MAX_RECEIVERS_PER_TRANSMIT}. Nothing was created",
                    vendor=VENDOR,
                    code="transmit_limit",
                )
            try:
                for chunk in _chunks(missing, MAX_NAMES_PER_CREATE):
                    created = self.batch_create_transmit(transmit_id, chunk)
                    made.update(self._match_created(chunk, created))
            except LiveApiError as exc:
                if not _is_ambiguous(exc) or rounds >= self.max_reconcile_rounds:
                    if made or rounds:
                        exc.message += (
                            f" ({len(made)} receiver(s) confirmed created before the failure; "
                            "re-running creates only what is still missing)"
                        )
                    raise
                rounds += 1
                log.warning(
                    "polyv transmit/batch-create: outcome unknown (%s); re-reading receivers (round %d/%d)",
                    type(exc).__name__,
                    rounds,
                    self.max_reconcile_rounds,
                )
                continue
            unmatched = [name for name in wanted if name not in by_name and name not in made]
            if unmatched:
                # The vendor answered with fewer channels than names: find them among the receivers.
                log.warning(
                    "polyv transmit/batch-create: %d name(s) without a channel ID in the reply; "
                    "re-reading receivers",
                    len(unmatched),
                )
            if missing:
                # Read back what was made: another process may have created the same names at the
                # same moment, and every caller must answer the same (lowest) channel per name.
                found = self._receivers_by_name(
                    self.list_transmit_receivers(transmit_id), wanted_set, transmit_id
                )
                by_name.update(found)
                still = [name for name in unmatched if name not in by_name]
                if still:
                    shown = ", ".join(repr(name) for name in still[:5]) + (" ..." if len(still) > 5 else "")
                    raise LiveApiError(
                        f"transmit/batch-create on channel {transmit_id} returned no channel for "
                        f"{len(still)} name(s) ({shown}) and they are not among its receivers; "
                        "re-run to create what is missing",
                        vendor=VENDOR,
                        code="batch_create_incomplete",
                    )
            return [
                {"name": name, "channelId": by_name.get(name) or made[name], "created": name not in initial}
                for name in wanted
            ]

    @staticmethod
    def _receivers_by_name(
        receivers: list[dict[str, Any]], wanted: set[str], transmit_id: str
    ) -> dict[str, str]:
        """Requested name -> existing receiver ID. A name held by several receivers (two hosts
        created it at once) resolves to the lowest channel id, the same answer for every caller."""
        found: dict[str, list[str]] = {}
        for receiver in receivers:
            name = receiver.get("name")
            if name in wanted:
                found.setdefault(name, []).append(str(receiver["channelId"]))
        for ids in found.values():
            ids.sort(key=channel_id_order)
        clashes = {name: ids for name, ids in found.items() if len(ids) > 1}
        if clashes:
            detail = "; ".join(
                f"{name!r}: using {ids[0]}, extra {', '.join(ids[1:])}"
                for name, ids in sorted(clashes.items())
            )
            log.warning(
                "polyv transmit channel %s has several receivers with one name (%s): every run uses "
                "the lowest channel id; delete the extras in the Polyv console when convenient",
                transmit_id,
                detail,
            )
        return {name: ids[0] for name, ids in found.items()}

    @staticmethod
    def _match_created(chunk: Sequence[str], created: list[dict[str, Any]]) -> dict[str, str]:
        """Name -> new channel ID from a batch-create result (by name, else by position). Only
        text or whole-number IDs count: anything else is left for the read-back to find."""

        def usable(cid: Any) -> bool:
            return isinstance(cid, str | int) and not isinstance(cid, bool) and str(cid).strip() != ""

        out: dict[str, str] = {}
        by_name = {
            item["name"]: item.get("channelId")
            for item in created
            if isinstance(item, dict) and isinstance(item.get("name"), str) and usable(item.get("channelId"))
        }
        for index, name in enumerate(chunk):
            cid = by_name.get(name)
            if cid is None and index < len(created) and isinstance(created[index], dict):
                cid = created[index].get("channelId")
            if usable(cid):
                out[name] = str(cid)
        return out

    def probe(self, *, group: bool = False) -> str:
        """A cheap read: one item of the group's sub-accounts, or of the account's channels."""
        if group:
            page = self.get_sub_account_page(page_number=1, page_size=1)
            return f"Polyv group account {self.app_id}: {page.get('totalItems', '?')} sub-account(s)"
        data = self.get(CHANNEL_SIMPLE_LIST_PATH, {"pageNumber": 1, "pageSize": 1}, "channel/simple/list")
        total = data.get("totalItems", "?") if isinstance(data, dict) else len(data or [])
        return f"Polyv account {self.app_id}: {total} channel(s)"
