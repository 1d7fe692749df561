"""Volcengine Live OpenAPI client: Signature V4 signer and calls, standard library + transport only.

Why not the ``volcengine`` SDK: +37 MB, credentials held process-globally (a second client
overwrites the first's AK), environment variables override explicit keys, errors lose the HTTP
status and nothing is retried. The signer below is checked byte for byte against the two vectors
the official SDK (volcengine 1.0.229) produces (see ``tests/vendors/test_volcengine.py``).

This module knows nothing of Airflow.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from airflow_live_provider.exceptions import (
    LiveApiAuthError,
    LiveApiError,
    LiveApiInputError,
    LiveApiRateLimitError,
    LiveApiResponseError,
)
from airflow_live_provider.redaction import scrub
from airflow_live_provider.times import parse_instant
from airflow_live_provider.transport import (
    HttpRequest,
    RateLimiter,
    Transport,
    is_retryable_status,
    json_body,
)
from airflow_live_provider.validation import MAX_ID_SETTING_LENGTH, setting_text, shown, whole_number
from airflow_live_provider.vendors.names import (
    validate_app,
    validate_stream,
)
from airflow_live_provider.vendors.names import (
    volcengine_host_name as _host_name,
)
from airflow_live_provider.vendors.shapes import (
    bad_answer,
    expect_bool,
    expect_id,
    expect_list,
    expect_text,
    kind,
)

if TYPE_CHECKING:  # requests is imported by the transport when a client is built
    import requests

VENDOR = "volcengine"
SERVICE = "live"
DEFAULT_HOST = "live.volcengineapi.com"
DEFAULT_REGION = "cn-north-1"
DEFAULT_VERSION = "2023-01-01"
#: DescribeAuth versions: 2023-01-01 (current) and 2020-08-01 (deprecated 2023-12-25, same request).
DESCRIBE_AUTH_VERSIONS = ("2023-01-01", "2020-08-01")
SCENE_TYPES = ("push", "pull")
ALGORITHM = "HMAC-SHA256"

#: The vendor's per-user quotas (requests/s); the client spaces calls to stay under them.
ACTION_RATE_LIMITS: dict[str, float] = {
    "DescribeAuth": 10.0,
    "GeneratePushURL": 25.0,
    "GeneratePlayURL": 25.0,
    "DescribeLiveStreamState": 10.0,
    "DescribeLiveStreamInfoByPage": 10.0,
}
#: A quota is per user (access key), not per client: every client of this process with the same
#: access key shares one bucket per action (many sensors in one triggerer stay under 10/s).
_SHARED_LIMITERS: dict[tuple[str, str, float], RateLimiter] = {}
_SHARED_LIMITERS_LOCK = threading.Lock()
#: ``stream_state`` values of DescribeLiveStreamState (Live OpenAPI 2023-01-01).
STREAM_STATES = ("online", "offline", "forbidden")

#: Credentials, signature or permission: retrying cannot help.
AUTH_ERROR_CODES = frozenset(
    {"SignatureDoesNotMatch", "InvalidAccessKey", "AccessDenied", "InvalidTimestamp", "InvalidAuthorization"}
)
THROTTLE_ERROR_CODES = frozenset({"FlowLimitExceeded", "AccountFlowLimitExceeded"})
#: Server-side codes worth another attempt even if the HTTP status were unusual.
RETRYABLE_ERROR_CODES = frozenset({"InternalError", "InternalServiceTimeout", "ServiceUnavailableTemp"})

#: DescribeLiveStreamInfoByPage (docs 6469/1126841 "查询在线流列表"): PageSize 1..1000.
MAX_ONLINE_STREAMS_PAGE_SIZE = 1000
#: Ours: more pages than this is an impossible answer (10,000,000 online streams at 1,000 a
#: page), not a reason to page for hours.
MAX_ONLINE_STREAM_PAGES = 10_000

_ACTION_RE = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")
_VERSION_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


# -- signing -------------------------------------------------------------------------------------
def _sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def canonical_query(query: Mapping[str, str]) -> str:
    """Keys sorted; keys and values percent-encoded with only ``-_.~`` safe (space -> ``%20``)."""
    return "&".join(
        f"{quote(str(k), safe='-_.~')}={quote(str(v), safe='-_.~')}" for k, v in sorted(query.items())
    )


def signed_header_names(headers: Mapping[str, str]) -> list[str]:
    """``content-type``, ``content-md5``, ``host`` and every ``x-*`` header, lower-cased, sorted."""
    names = {k.lower() for k in headers}
    return sorted(n for n in names if n in ("content-type", "content-md5", "host") or n.startswith("x-"))


def signing_key(secret_access_key: str, date: str, region: str, service: str) -> bytes:
    """kDate -> kRegion -> kService -> kSigning (no ``AWS4`` prefix; the scope ends in ``request``)."""
    k_date = _hmac(secret_access_key.encode("utf-8"), date)
    return _hmac(_hmac(_hmac(k_date, region), service), "request")


def sign_request(
    method: str,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    body: bytes,
    access_key_id: str,
    secret_access_key: str,
    region: str,
    service: str,
    x_date: str,
    session_token: str | None = None,
) -> dict[str, str]:
    """Return ``headers`` plus ``X-Date``, ``X-Content-Sha256``, ``X-Security-Token`` and
    ``Authorization``: Volcengine Signature V4 exactly as the official SDK computes it.

    ``headers`` must hold ``Host`` (the value actually sent, port kept unless 80/443) and
    ``Content-Type``. ``x_date`` is ``%Y%m%dT%H%M%SZ`` UTC: the caller owns the clock.
    """
    out = {
        k: v for k, v in headers.items() if k.lower() not in ("authorization", "x-date", "x-content-sha256")
    }
    body_hash = _sha256_hex(body)
    out["X-Date"] = x_date
    out["X-Content-Sha256"] = body_hash
    if session_token:
        out["X-Security-Token"] = session_token
    lowered = {k.lower(): str(v).strip() for k, v in out.items()}
    if "host" in lowered:
        lowered["host"] = _strip_default_port(lowered["host"])
    names = signed_header_names(lowered)
    canonical_headers = "".join(f"{name}:{lowered[name]}\n" for name in names)
    signed_headers = ";".join(names)
    canonical_request = "\n".join(
        [method.upper(), "/", canonical_query(query), canonical_headers, signed_headers, body_hash]
    )
    date = x_date[:8]
    scope = f"{date}/{region}/{service}/request"
    string_to_sign = "\n".join([ALGORITHM, x_date, scope, _sha256_hex(canonical_request.encode("utf-8"))])
    signature = hmac.new(
        signing_key(secret_access_key, date, region, service),
        string_to_sign.encode("utf-8"),
        hashlib.sha256,
    ).hexdigest()
    out["Authorization"] = (
        f"{ALGORITHM} Credential={access_key_id}/{scope}, "
        f"SignedHeaders={signed_headers}, Signature={signature}"
    )
    return out


def _strip_default_port(host: str) -> str:
    for suffix in (":80", ":443"):
        if host.endswith(suffix):
            return host[: -len(suffix)]
    return host


def format_x_date(epoch_seconds: float) -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(epoch_seconds))


# -- input validation (before any request) -------------------------------------------------------
#: Volcengine region names: cn-north-1, cn-beijing, ap-singapore-1 ("cn north" would only surface
#: later as SignatureDoesNotMatch).
REGION_PATTERN = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
#: Ours: real region names are about 15 characters; the region is signed into every request.
MAX_REGION_LENGTH = 64


def validate_region(value: Any, field: str = "region") -> str:
    """A region name such as ``cn-north-1``: at most 64 lower-case letters, digits and dashes."""
    text = setting_text(
        value, field, vendor=VENDOR, what="region, e.g. 'cn-north-1'", max_len=MAX_REGION_LENGTH
    )
    if not REGION_PATTERN.fullmatch(text):
        raise LiveApiInputError(
            field,
            f"{text!r} is not a region name such as cn-north-1 (lower-case letters, digits, dashes)",
            vendor=VENDOR,
        )
    return text


def validate_scene_type(scene_type: Any) -> str:
    if scene_type not in SCENE_TYPES:
        raise LiveApiInputError(
            "scene_type", f"{shown(scene_type)} is not supported; use 'push' or 'pull'", vendor=VENDOR
        )
    return str(scene_type)


def validate_version(version: Any, allowed: tuple[str, ...] = DESCRIBE_AUTH_VERSIONS) -> str:
    if version not in allowed:
        raise LiveApiInputError(
            "version", f"{shown(version)} is not supported; use one of {', '.join(allowed)}", vendor=VENDOR
        )
    return str(version)


#: Ours (the docs give none): a push URL valid for more than a year is a leak waiting to happen.
MAX_VALID_DURATION = 365 * 86_400


def validate_valid_duration(value: Any) -> int | None:
    """Seconds a push URL stays valid: a whole number 1 s to a year (ASCII digit strings from
    templates accepted)."""
    if value is None or value == "":
        return None
    return whole_number(
        value, "valid_duration", vendor=VENDOR, low=1, high=MAX_VALID_DURATION, example="86400 (a day)"
    )


#: RFC 3339 ``date-time`` (section 5.6): full date, ``T``, full time, fraction, ``Z`` or offset.
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})")
_RFC3339_EXAMPLE = "'2026-11-24T00:00:00+08:00'"


def validate_expired_time(value: Any) -> str | None:
    """An RFC 3339 time with its offset, e.g. ``2026-11-24T00:00:00+08:00``, in the future and at
    most a year ahead (as ``valid_duration``). Other ISO 8601 forms Python would read
    (``2026-11-24 00:00``, ``20261124T000000+0800``) are refused: the vendor documents RFC 3339."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise LiveApiInputError(
            "expired_time",
            f"must be text: an RFC 3339 time with an offset such as {_RFC3339_EXAMPLE}, "
            f"got a {type(value).__name__}",
            vendor=VENDOR,
        )
    if not _RFC3339.fullmatch(value):
        raise LiveApiInputError(
            "expired_time",
            f"{value[:40]!r} is not an RFC 3339 time with an offset, e.g. {_RFC3339_EXAMPLE}",
            vendor=VENDOR,
        )
    parsed = parse_instant(value, "expired_time", vendor=VENDOR)  # 2026-02-30, 25:00, year 9999
    ahead = parsed.timestamp() - time.time()
    if ahead <= 0:
        raise LiveApiInputError(
            "expired_time", f"{value!r} is in the past: a push URL would be dead on arrival", vendor=VENDOR
        )
    if ahead > MAX_VALID_DURATION:
        raise LiveApiInputError(
            "expired_time",
            f"{value!r} is more than a year ahead; a push URL valid that long is a leak waiting to happen",
            vendor=VENDOR,
        )
    return value


# -- the client ----------------------------------------------------------------------------------
class VolcengineLiveClient:
    """Signed calls to the Live OpenAPI (``POST /?Action=...&Version=...`` with a JSON body)."""

    def __init__(
        self,
        base_url: str,
        access_key_id: str,
        secret_access_key: str,
        *,
        region: str = DEFAULT_REGION,
        session_token: str | None = None,
        clock: Callable[[], float] = time.time,
        rate_limits: Mapping[str, float] | None = None,
        **transport_options: Any,
    ) -> None:
        self.access_key_id = setting_text(
            access_key_id,
            "access_key_id",
            vendor=VENDOR,
            what="Access Key ID",
            max_len=MAX_ID_SETTING_LENGTH,
            word=True,
        )
        self._secret_access_key = setting_text(
            secret_access_key, "secret_access_key", vendor=VENDOR, what="Secret Access Key"
        )
        self._session_token = (
            None
            if session_token is None or (isinstance(session_token, str) and not session_token.strip())
            else setting_text(session_token, "session_token", vendor=VENDOR, what="STS session token")
        )
        self.region = validate_region(region)
        self.clock = clock
        if urlsplit(base_url).path.strip("/"):
            # The signature covers the canonical URI "/": a path prefix could never verify.
            raise LiveApiInputError(
                "host", "must be a host or scheme://host[:port] without a path for Volcengine", vendor=VENDOR
            )
        self.transport = Transport(
            VENDOR,
            base_url,
            secrets=lambda: (self._secret_access_key, self._session_token),
            **transport_options,
        )
        self.rate_limits = dict(ACTION_RATE_LIMITS if rate_limits is None else rate_limits)

    def __repr__(self) -> str:  # never show the secret
        return f"VolcengineLiveClient(base_url={self.transport.base_url!r}, ak={self.access_key_id!r})"

    def close(self) -> None:
        self.transport.close()

    def limiter_for(self, action: str) -> RateLimiter | None:
        """The token bucket of a throttled action (burst 1: evenly spaced calls), shared by every
        client of this process using the same access key."""
        rate = self.rate_limits.get(action)
        if not rate:
            return None
        key = (self.access_key_id, action, rate)
        with _SHARED_LIMITERS_LOCK:
            if key not in _SHARED_LIMITERS:
                _SHARED_LIMITERS[key] = RateLimiter(rate, burst=1)
            return _SHARED_LIMITERS[key]

    def build_request(
        self,
        action: str,
        body: bytes,
        version: str,
        method: str = "POST",
        query: Mapping[str, str] | None = None,
    ) -> HttpRequest:
        """One freshly dated and signed request (the transport calls this once per attempt).

        POST actions carry a JSON body; GET actions carry their parameters in the (signed) query.
        """
        query = {**(query or {}), "Action": action, "Version": version}
        headers = {"Host": self.transport.host_header or ""}
        if method == "POST":
            headers["Content-Type"] = "application/json"
        headers = sign_request(
            method,
            query,
            headers,
            body,
            self.access_key_id,
            self._secret_access_key,
            self.region,
            SERVICE,
            format_x_date(self.clock()),
            self._session_token,
        )
        return HttpRequest(method, "/", params=query, data=body or None, headers=headers)

    def call(
        self,
        action: str,
        body: Mapping[str, Any] | None = None,
        *,
        version: str = DEFAULT_VERSION,
        idempotent: bool | None = None,
        method: str = "POST",
        query: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Any Live action; returns its ``Result`` (``{}`` when there is none).

        ``idempotent`` defaults to True only for reads (Describe/List/Get/Generate/Query...):
        a create or update is never blindly re-sent after an ambiguous failure. GET actions
        (``method="GET"``) take their parameters as ``query`` (signed) and no body.
        """
        if not isinstance(action, str) or not _ACTION_RE.fullmatch(action):
            raise LiveApiInputError(
                "action", f"{shown(action)} is not an action name such as 'DescribeAuth'", vendor=VENDOR
            )
        if not isinstance(version, str) or not _VERSION_RE.fullmatch(version):
            raise LiveApiInputError(
                "version", f"{shown(version)} is not a version such as '2023-01-01'", vendor=VENDOR
            )
        if body is not None and not isinstance(body, Mapping):
            raise LiveApiInputError("body", "must be a JSON object (dict) or None", vendor=VENDOR)
        params = validate_query(method, body, query)
        payload = encode_body(body) if method == "POST" else b""
        return self.transport.request(
            lambda: self.build_request(action, payload, version, method, params),
            lambda response: parse_response(
                response, action, secrets=(self._secret_access_key, self._session_token)
            ),
            idempotent=is_read_action(action) if idempotent is None else idempotent,
            rate_limiter=self.limiter_for(action),
        )

    def describe_auth(
        self,
        scene_type: str,
        *,
        vhost: str | None = None,
        domain: str | None = None,
        app: str | None = None,
        version: str = DEFAULT_VERSION,
    ) -> list[dict[str, Any]]:
        """The push or pull auth settings (``AuthList``) of one vhost or one domain."""
        body = describe_auth_body(scene_type, vhost=vhost, domain=domain, app=app, version=version)
        return check_auth_list(self.call("DescribeAuth", body, version=version))

    def describe_live_stream_state(
        self, *, vhost: str | None = None, domain: str | None = None, app: str, stream: str
    ) -> dict[str, Any]:
        """DescribeLiveStreamState (GET, 2023-01-01): ``{"stream_state": "online" | "offline" |
        "forbidden", "type": "push" | "pull"}`` for one stream of a vhost or a domain. Read-only,
        so retried like any read; spaced to the documented 10 requests/s per user."""
        query = stream_state_query(vhost=vhost, domain=domain, app=app, stream=stream)
        result = self.call("DescribeLiveStreamState", version=DEFAULT_VERSION, method="GET", query=query)
        state = result.get("stream_state")
        if state not in STREAM_STATES:
            shown = repr(state)[:40] if isinstance(state, str) else kind(state)
            raise bad_answer(
                VENDOR,
                "DescribeLiveStreamState",
                f"stream_state is {self.transport.scrub(shown)}, not one of {', '.join(STREAM_STATES)}",
            )
        return result

    def iter_online_streams(
        self,
        *,
        vhost: str | None = None,
        domain: str | None = None,
        app: str | None = None,
        stream: str | None = None,
        page_size: int = MAX_ONLINE_STREAMS_PAGE_SIZE,
        max_pages: int | None = None,
    ) -> Iterator[OnlineStream]:
        """Every ONLINE stream (optionally of one vhost, domain, app or stream), one
        DescribeLiveStreamInfoByPage page at a time: N watched streams cost ``ceil(N / page_size)``
        requests, not N.

        DescribeLiveStreamInfoByPage (docs 6469/1126841 "查询在线流列表"; Java SDK
        ``live.v20230101.DescribeLiveStreamInfoByPageResResult``): signed GET, 2023-01-01,
        ``PageNum`` >= 1, ``PageSize`` 1..1000, Vhost or Domain (not both), Stream only with App,
        10 requests/s per user (shared bucket), no
        ``HasMore``: a page shorter than ``PageSize`` is the last. Inputs are checked here, before
        any request; page N+1 is fetched once page N is consumed. A page without
        ``StreamInfoList`` (``null`` is an empty page), a page longer than asked, a page repeating
        the previous one or more than ``max_pages`` pages (at most
        :data:`MAX_ONLINE_STREAM_PAGES`) is a :class:`LiveApiResponseError`: a hostile answer cannot
        make this page forever, and an answer that lists nothing by mistake is not "none online".
        """
        query = online_streams_query(vhost=vhost, domain=domain, app=app, stream=stream)
        size = whole_number(
            page_size,
            "page_size",
            vendor=VENDOR,
            low=1,
            high=MAX_ONLINE_STREAMS_PAGE_SIZE,
            example="1000",
            what="page size",
        )
        pages = whole_number(
            MAX_ONLINE_STREAM_PAGES if max_pages is None else max_pages,
            "max_pages",
            vendor=VENDOR,
            low=1,
            high=MAX_ONLINE_STREAM_PAGES,
            example="100",
            what="page count",
        )
        return self._iter_online_stream_pages(query, size, pages)

    def _iter_online_stream_pages(
        self, query: dict[str, str], size: int, max_pages: int
    ) -> Iterator[OnlineStream]:
        call = "DescribeLiveStreamInfoByPage"
        previous: list[Any] | None = None
        for page_num in range(1, max_pages + 1):
            result = self.call(
                call,
                version=DEFAULT_VERSION,
                method="GET",
                query={**query, "PageNum": page_num, "PageSize": size},
            )
            if "StreamInfoList" not in result:
                raise bad_answer(
                    VENDOR, call, f"page {page_num} has no Result.StreamInfoList (not taken as none online)"
                )
            raw = result["StreamInfoList"]
            items = [] if raw is None else expect_list(raw, VENDOR, call, "Result.StreamInfoList")
            if len(items) > size:
                raise bad_answer(
                    VENDOR, call, f"page {page_num} holds {len(items)} streams, more than {size}"
                )
            if items and items == previous:
                raise bad_answer(VENDOR, call, f"page {page_num} repeats page {page_num - 1}; stopped paging")
            streams = [online_stream(item, f"Result.StreamInfoList[{i}]") for i, item in enumerate(items)]
            yield from streams
            if len(items) < size:
                return
            previous = items
        raise bad_answer(VENDOR, call, f"more than {max_pages} pages of online streams; stopped paging")

    def generate_push_url(
        self,
        vhost: str,
        app: str,
        stream: str,
        *,
        domain: str | None = None,
        valid_duration: int | None = None,
        expired_time: str | None = None,
    ) -> dict[str, Any]:
        """GeneratePushURL (2023-01-01): signed push addresses for one stream.

        Verified against the Volcengine Go SDK model (``service/live/v20230101``,
        ``GeneratePushURLResResult``): ``AuthType``, ``PushURLList``, ``PushURLListDetail``
        (``URL``, ``DomainApp``, ``StreamSign``), ``RtmURLList``, ``RtmpOverSrtURLList``,
        ``TsOverSrtURLList``, ``WebTransportURLList``. The result is returned as is.
        """
        body: dict[str, Any] = {
            "Vhost": _host_name(vhost, "vhost", "domain space (Vhost)"),
            "App": validate_app(app),
            "Stream": validate_stream(stream),
        }
        if domain not in (None, ""):
            body["Domain"] = _host_name(domain, "domain", "push domain")
        duration = validate_valid_duration(valid_duration)
        if duration is not None:
            body["ValidDuration"] = duration
        expiry = validate_expired_time(expired_time)
        if expiry is not None:
            body["ExpiredTime"] = expiry
        return check_push_urls(self.call("GeneratePushURL", body, version=DEFAULT_VERSION))


@dataclass(frozen=True)
class OnlineStream:
    """One online stream as DescribeLiveStreamInfoByPage lists it. ``stream_id`` is the vendor's
    int64 ``ID`` as text (a JSON reader using doubles would round it); ``session_start_time`` is
    its RFC 3339 ``SessionStartTime``: together they tell one push session from the next."""

    vhost: str
    domain: str
    app: str
    stream: str
    stream_id: str
    session_start_time: str | None
    source_type: str | None


def online_stream(item: Mapping[str, Any], where: str) -> OnlineStream:
    """One ``StreamInfoList`` item checked against the documented shape (names, ID, RFC 3339)."""
    call = "DescribeLiveStreamInfoByPage"
    start = item.get("SessionStartTime")
    if start in (None, ""):
        start = None
    elif not isinstance(start, str) or not _RFC3339.fullmatch(start):
        raise bad_answer(VENDOR, call, f"{where}.SessionStartTime is {kind(start)}, not an RFC 3339 time")
    source = item.get("SourceType")
    if source not in (None, "") and not isinstance(source, str):
        raise bad_answer(VENDOR, call, f"{where}.SourceType is {kind(source)}, not text")
    domain = item.get("Domain")
    if domain is not None and not isinstance(domain, str):
        raise bad_answer(VENDOR, call, f"{where}.Domain is {kind(domain)}, not text")
    return OnlineStream(
        vhost=expect_text(item.get("Vhost"), VENDOR, call, f"{where}.Vhost"),
        domain=domain or "",
        app=expect_text(item.get("App"), VENDOR, call, f"{where}.App"),
        stream=expect_text(item.get("Stream"), VENDOR, call, f"{where}.Stream"),
        stream_id=expect_id(item.get("ID"), VENDOR, call, f"{where}.ID"),
        session_start_time=start,
        source_type=source or None,
    )


def check_auth_list(result: dict[str, Any]) -> list[dict[str, Any]]:
    """DescribeAuth's ``AuthList`` as documented: objects whose ``AuthStatus`` is a JSON boolean
    (``"false"`` would read as enabled) and whose ``AuthDetailList``, if any, is a list of objects."""
    call = "DescribeAuth"
    if "AuthList" not in result:
        # An empty list is "no setting"; no list at all is no answer (``Result: {}``), and reading
        # it as "auth off" would fail an event for a vendor's hiccup, or pass one in the reverse case.
        raise bad_answer(VENDOR, call, "Result has no AuthList (the settings list; [] when there are none)")
    raw = result["AuthList"]
    auth_list = [] if raw is None else expect_list(raw, VENDOR, call, "Result.AuthList")
    for index, item in enumerate(auth_list):
        where = f"Result.AuthList[{index}]"
        expect_bool(item.get("AuthStatus"), VENDOR, call, f"{where}.AuthStatus")
        if item.get("AuthDetailList") is not None:
            expect_list(item["AuthDetailList"], VENDOR, call, f"{where}.AuthDetailList")
    return auth_list


#: GeneratePushURL's lists of address strings (Go SDK ``GeneratePushURLResResult``).
PUSH_URL_LISTS = (
    "PushURLList",
    "RtmURLList",
    "RtmpOverSrtURLList",
    "TsOverSrtURLList",
    "WebTransportURLList",
)


def check_push_urls(result: dict[str, Any]) -> dict[str, Any]:
    """A GeneratePushURL result with at least one push address: every ``*URLList`` a list of
    text, ``PushURLListDetail`` a list of objects with a ``URL``. ``{}`` is not a success."""
    call = "GeneratePushURL"
    count = 0
    for key in PUSH_URL_LISTS:
        if result.get(key) is not None:
            for index, url in enumerate(expect_list(result[key], VENDOR, call, f"Result.{key}", items=str)):
                expect_text(url, VENDOR, call, f"Result.{key}[{index}]")
            count += len(result[key])
    if result.get("PushURLListDetail") is not None:
        details = expect_list(result["PushURLListDetail"], VENDOR, call, "Result.PushURLListDetail")
        for index, detail in enumerate(details):
            expect_text(detail.get("URL"), VENDOR, call, f"Result.PushURLListDetail[{index}].URL")
        count += len(details)
    if not count:
        raise bad_answer(VENDOR, call, "Result holds no push URL (no PushURLList, no PushURLListDetail)")
    return result


def push_url_secrets(result: dict[str, Any]) -> list[str]:
    """Every value in a GeneratePushURL result that grants the right to push: whole URLs,
    ``StreamSign`` values, their query strings and the ``volcSecret`` signatures alone."""
    found: list[str] = []
    for key, value in result.items():
        if key.endswith("URLList") and isinstance(value, list):
            found.extend(v for v in value if isinstance(v, str))
    for detail in result.get("PushURLListDetail") or []:
        if isinstance(detail, dict):
            found.extend(str(detail[k]) for k in ("URL", "StreamSign") if detail.get(k))
    extra: list[str] = []
    for value in found:
        if "?" in value:
            extra.append(value.split("?", 1)[1])
        extra.extend(re.findall(r"volcSecret=([^&,\s]+)", value))
    return [v for v in dict.fromkeys(found + extra) if v]


def encode_body(body: Mapping[str, Any] | None) -> bytes:
    """The exact JSON bytes sent (and hashed): compact, UTF-8, key order kept. NaN/Infinity (not
    JSON) and values JSON cannot hold (a set) are refused before anything is signed."""
    try:
        text = json.dumps(dict(body or {}), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise LiveApiInputError(
            "body", f"is not valid JSON ({exc}); use numbers, text, lists and dicts", vendor=VENDOR
        ) from None
    return text.encode("utf-8")


READ_ACTION_PREFIXES = ("Describe", "List", "Get", "Generate", "Query", "Check")


_QUERY_KEY_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.]{0,63}$")


def is_read_action(action: str) -> bool:
    """Actions that change nothing, so resending after a lost response is harmless."""
    return action.startswith(READ_ACTION_PREFIXES)


def describe_auth_body(
    scene_type: str,
    *,
    vhost: str | None = None,
    domain: str | None = None,
    app: str | None = None,
    version: str = DEFAULT_VERSION,
) -> dict[str, Any]:
    """Validated DescribeAuth body, keys in the documented order (Vhost|Domain, App, SceneType)."""
    validate_version(version)
    validate_scene_type(scene_type)
    body: dict[str, Any] = vhost_or_domain(vhost, domain)
    if app not in (None, ""):
        body["App"] = validate_app(app)
    body["SceneType"] = scene_type
    return body


def validate_query(method: str, body: Any, query: Mapping[str, Any] | None) -> dict[str, str]:
    """The extra query parameters of a call: only GET actions take them, as plain strings."""
    if method not in ("GET", "POST"):
        raise LiveApiInputError("method", f"{method!r} is not supported; use GET or POST", vendor=VENDOR)
    if method == "POST":
        if query:
            raise LiveApiInputError("query", "is for GET actions; a POST action takes a body", vendor=VENDOR)
        return {}
    if body is not None:
        raise LiveApiInputError(
            "body", "is for POST actions; give a GET action's parameters as query", vendor=VENDOR
        )
    params: dict[str, str] = {}
    for key, value in (query or {}).items():
        if key in ("Action", "Version") or not isinstance(key, str) or not _QUERY_KEY_RE.fullmatch(key):
            raise LiveApiInputError(
                f"query[{shown(key)}]", "is not a parameter name such as 'Vhost'", vendor=VENDOR
            )
        if (
            not isinstance(value, str | int)
            or isinstance(value, bool)
            or (isinstance(value, int) and abs(value) >= 10**40)
        ):
            raise LiveApiInputError(
                f"query[{shown(key)}]",
                f"must be a string or a whole number (at most 40 digits), got a {type(value).__name__}",
                vendor=VENDOR,
            )
        params[key] = str(value)  # control characters and size: the transport's check_request
    return params


def vhost_or_domain(vhost: Any, domain: Any) -> dict[str, str]:
    """``{"Vhost": ...}`` or ``{"Domain": ...}``: exactly one of them, validated."""
    has_vhost, has_domain = vhost not in (None, ""), domain not in (None, "")
    if has_vhost == has_domain:
        raise LiveApiInputError(
            "vhost/domain",
            "give exactly one of vhost (the domain space) or domain (a push/pull domain)",
            vendor=VENDOR,
        )
    if has_vhost:
        return {"Vhost": _host_name(vhost, "vhost", "domain space (Vhost)")}
    return {"Domain": _host_name(domain, "domain", "push/pull domain")}


def stream_state_query(
    *, vhost: str | None = None, domain: str | None = None, app: Any, stream: Any
) -> dict[str, str]:
    """Validated DescribeLiveStreamState parameters: exactly one of Vhost/Domain, App, Stream."""
    query = vhost_or_domain(vhost, domain)
    return query | {"App": validate_app(app), "Stream": validate_stream(stream)}


def online_streams_query(
    *, vhost: Any = None, domain: Any = None, app: Any = None, stream: Any = None
) -> dict[str, str]:
    """Validated DescribeLiveStreamInfoByPage filters (strict match), each optional; as documented,
    Vhost or Domain but not both, and Stream only with App."""
    query: dict[str, str] = {}
    if vhost not in (None, ""):
        query["Vhost"] = _host_name(vhost, "vhost", "domain space (Vhost)")
    if domain not in (None, ""):
        query["Domain"] = _host_name(domain, "domain", "push/pull domain")
    if app not in (None, ""):
        query["App"] = validate_app(app)
    if stream not in (None, ""):
        query["Stream"] = validate_stream(stream)
    if "Vhost" in query and "Domain" in query:
        raise LiveApiInputError(
            "vhost/domain", "give vhost (the domain space) or domain, not both", vendor=VENDOR
        )
    if "Stream" in query and "App" not in query:
        raise LiveApiInputError("app", "is required with stream: give the stream's app too", vendor=VENDOR)
    return query


def parse_response(
    response: requests.Response, action: str, *, secrets: Iterable[str | None] = ()
) -> tuple[dict[str, Any], str | None]:
    """``Result`` on success; otherwise the right :class:`LiveApiError` from ``ResponseMetadata``
    (its message scrubbed of ``secrets``: a gateway may echo the canonical request)."""
    status = response.status_code
    problem = ""
    try:
        payload = json_body(response)
    except ValueError as exc:
        payload, problem = None, str(exc)
    meta = payload.get("ResponseMetadata") if isinstance(payload, dict) else None
    meta = meta if isinstance(meta, dict) else {}
    # The 2020-08-01 doc shows ``RequestID``; the SDKs and newer responses use ``RequestId``.
    raw_id = meta.get("RequestId") or meta.get("RequestID") or response.headers.get("X-Tt-Logid")
    request_id = str(raw_id)[:128] if raw_id else None
    error = meta.get("Error") if isinstance(meta.get("Error"), dict) else None
    if error is None and status < 400 and isinstance(payload, dict):
        result = payload.get("Result")
        if result is not None and not isinstance(result, dict):
            raise LiveApiResponseError(
                f"{action} answered in an unexpected shape: Result is {kind(result)}, not an object",
                vendor=VENDOR,
                http_status=status,
                request_id=request_id,
            )
        return (result or {}), request_id
    if error is None and status < 400:
        raise LiveApiError(
            f"{action} failed: the answer is not a Volcengine response (the body "
            f"{problem or 'has no Result'})",
            vendor=VENDOR,
            http_status=status,
            request_id=request_id,
            retryable=True,  # a proxy page or a cut answer: another attempt may get the real one
        )
    code = (error or {}).get("Code") or None
    code = str(code)[:64] if code is not None else None
    message = scrub(str((error or {}).get("Message") or f"HTTP {status}"), secrets)
    text = f"{action} failed: {message}"
    common: dict[str, Any] = {"vendor": VENDOR, "code": code, "http_status": status, "request_id": request_id}
    if code in AUTH_ERROR_CODES:
        raise LiveApiAuthError(text, retryable=False, **common)
    if status == 429 or code in THROTTLE_ERROR_CODES:
        raise LiveApiRateLimitError(text, **common)
    retryable = is_retryable_status(status) or code in RETRYABLE_ERROR_CODES
    if status in (401, 403):
        raise LiveApiAuthError(text, retryable=False, **common)
    raise LiveApiError(text, retryable=retryable, **common)
