"""The Volcengine Live part of the simulator: ``POST /?Action=...&Version=...`` like the gateway
(``GET`` with query parameters for DescribeLiveStreamState and DescribeLiveStreamInfoByPage, whose
answers tests control with :meth:`VolcengineSimulator.set_stream` and the push sessions of
:meth:`VolcengineSimulator.start_session` / :meth:`VolcengineSimulator.stop_session`).

Every request is authenticated the way the gateway does it, re-implemented here from the
published algorithm (not by calling the client's signer, so a signer bug cannot hide itself):
the Authorization header is parsed, the access key looked up, ``X-Date`` checked against a
15-minute window, the body hashed and compared with ``X-Content-Sha256``, an STS credential's
``X-Security-Token`` required and signed, and the signature recomputed from the received
method, query, signed headers and body. Then a per-access-key token bucket enforces the
vendor's quotas (DescribeAuth, DescribeLiveStreamState and DescribeLiveStreamInfoByPage 10/s,
GeneratePushURL 25/s) answering HTTP 429 ``FlowLimitExceeded``.

DescribeLiveStreamInfoByPage (docs 6469/1126841): PageNum >= 1, PageSize 1..1000, optional Vhost
or Domain (not both), App, Stream (only with App), StreamType, SourceType, QueryType; lists only
online streams, sorted by vhost/app/stream. Assumed: the error codes of bad parameters, the
fuzzy match (a substring of App/Stream), and that ``RoughCount`` is the exact count here.

Response shapes: success ``{ResponseMetadata{RequestId, Action, Version, Service, Region},
Result}``, error ``ResponseMetadata.Error{Code, Message}`` without ``Result`` (Volcengine docs,
Go SDK ``service/live/v20230101``). The 2020-08-01 DescribeAuth answer spells ``RequestID`` as its
doc page does. Assumed, not verified: the exact gateway messages, the 15-minute window, the
HTTP status of ``InvalidTimestamp`` (403 here), ``AuthType``/``TimeStampBase`` values, and the
push URL signing formula (``volcSecret = md5("/{app}/{stream}" + key + volcTime)``).
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, quote

from airflow_live_provider.simulator.base import (
    Handler,
    SimRequest,
    SimResponse,
    SimulatorClock,
    VendorSimulator,
)

DEMO_ACCESS_KEY_ID = "AKLTZGVtb2FjY2Vzc2tleWlk"
DEMO_SECRET_ACCESS_KEY = "TURFd1pHVnRieTF6WldOeVpYUXRZV05qWlhOekxXdGxlUT09"
DEMO_VHOST = "live.demo.example.com"
DEMO_PUSH_DOMAIN = "push.demo.example.com"
DEMO_PULL_DOMAIN = "pull.demo.example.com"
DEMO_APP = "live"
DEMO_PUSH_AUTH_KEY = "demo-push-auth-key-7f3a"
DEMO_PULL_AUTH_KEY = "demo-pull-auth-key-91c2"

REGION = "cn-north-1"
SERVICE = "live"
X_DATE_WINDOW_SECONDS = 15 * 60
#: Per-access-key quotas: (requests per second, bucket capacity).
QUOTAS: dict[str, tuple[float, float]] = {
    "DescribeAuth": (10.0, 10.0),
    "GeneratePushURL": (25.0, 25.0),
    "DescribeLiveStreamState": (10.0, 10.0),
    "DescribeLiveStreamInfoByPage": (10.0, 10.0),
}
DEFAULT_VALID_DURATION = 604800
#: Actions called with GET and query parameters (the rest are POST with a JSON body).
GET_ACTIONS = frozenset({"DescribeLiveStreamState", "DescribeLiveStreamInfoByPage"})
#: DescribeLiveStreamInfoByPage's PageSize range (docs 6469/1126841).
MAX_ONLINE_PAGE_SIZE = 1000
#: Session IDs are int64 (Java SDK ``StreamInfoList.ID`` is a Long); ours start above 2**53 so a
#: client reading JSON numbers as doubles would round them and fail its tests.
FIRST_SESSION_ID = 7_300_000_000_000_000_001

SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your Secret Access Key and signing method. Consult the service documentation for details."
)


@dataclass
class AuthConfig:
    """One vhost's push or pull auth setting (what DescribeAuth reports)."""

    enabled: bool
    secret_key: str
    valid_duration: int = DEFAULT_VALID_DURATION
    algorithm: str = "md5"
    app: str = ""


@dataclass
class Vhost:
    name: str
    push_domains: list[str] = field(default_factory=list)
    pull_domains: list[str] = field(default_factory=list)
    auth: dict[str, AuthConfig] = field(default_factory=dict)


@dataclass
class StreamPlan:
    """What DescribeLiveStreamState answers for one stream: ``state`` until ``online_at`` (epoch
    seconds on the simulator clock), ``online`` from then on. ``forbidden`` never changes.

    An online stream is one push session: ``session_id`` (int64) and its start (``started_at``
    for ``state="online"``, else ``online_at``) are what DescribeLiveStreamInfoByPage lists."""

    state: str = "offline"
    online_at: float | None = None
    session_id: int = 0
    started_at: float = 0.0
    domain: str = ""

    def state_at(self, now: float) -> str:
        if self.state != "forbidden" and self.online_at is not None and now >= self.online_at:
            return "online"
        return self.state

    def online_since(self, now: float) -> float | None:
        """When the current session started, or None when the stream is not online at ``now``."""
        if self.state == "online":
            return self.started_at
        if self.state_at(now) == "online":
            return self.online_at
        return None


def rfc3339_millis(epoch: float) -> str:
    """``2026-12-01T10:50:44.123Z``: SessionStartTime's form (RFC 3339, UTC, milliseconds)."""
    millis = int(round(epoch * 1000))
    seconds, ms = divmod(millis, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{ms:03d}Z"


class _Refused(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(code)
        self.status, self.code, self.message = status, code, message


class VolcengineSimulator(VendorSimulator):
    """State: credentials, vhosts with their domains and auth settings, rate buckets."""

    def __init__(self, server: SimulatorClock) -> None:
        super().__init__(server)
        self._lock = threading.Lock()
        #: access key id -> (secret access key, required STS session token or None)
        self.credentials: dict[str, tuple[str, str | None]] = {}
        self.vhosts: dict[str, Vhost] = {}
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}
        self.quotas = dict(QUOTAS)
        #: (vhost, app, stream) -> its plan; streams not listed are offline.
        self.streams: dict[tuple[str, str, str], StreamPlan] = {}
        #: What it handed out: one ``{vhost, app, stream, expires}`` (epoch s) per GeneratePushURL.
        self.push_url_log: list[dict[str, Any]] = []
        self._next_session_id = FIRST_SESSION_ID

    # -- set-up helpers for tests and the demo ----------------------------------------------
    def add_credentials(
        self, access_key_id: str, secret_access_key: str, session_token: str | None = None
    ) -> None:
        """Register an AK/SK pair; with ``session_token`` it behaves like STS credentials."""
        self.credentials[access_key_id] = (secret_access_key, session_token)

    def add_vhost(self, name: str, *, push_domains: list[str], pull_domains: list[str]) -> Vhost:
        vhost = Vhost(name, list(push_domains), list(pull_domains))
        self.vhosts[name] = vhost
        return vhost

    def set_auth(self, vhost: str, scene_type: str, *, enabled: bool, secret_key: str | None = None) -> None:
        """Turn push/pull auth on or off for a vhost (keeps the existing key unless given)."""
        current = self.vhosts[vhost].auth.get(scene_type)
        key = secret_key or (current.secret_key if current else secrets.token_hex(8))
        self.vhosts[vhost].auth[scene_type] = AuthConfig(enabled=enabled, secret_key=key)

    def set_stream(
        self,
        vhost: str,
        app: str,
        stream: str,
        *,
        state: str = "offline",
        online_in: float | None = None,
    ) -> None:
        """Control a stream: ``state`` now (online/offline/forbidden), online ``online_in`` s later."""
        if state not in ("online", "offline", "forbidden"):
            raise ValueError(f"unknown stream state {state!r}")
        now = self.server.now()
        online_at = None if online_in is None else now + online_in
        with self._lock:
            self.streams[(vhost, app, stream)] = StreamPlan(
                state, online_at, self._new_session_id(), now, self._push_domain(vhost)
            )

    def start_session(self, vhost: str, app: str, stream: str, *, domain: str | None = None) -> str:
        """A push session starts now: DescribeLiveStreamState answers ``online`` and
        DescribeLiveStreamInfoByPage lists the stream with a fresh ``ID`` and ``SessionStartTime``
        (also after a stop, or when it was already online: a new push replaces the old one).
        Returns ``"<ID>@<SessionStartTime>"``, the ``session_id`` an event carries."""
        now = self.server.now()
        with self._lock:
            plan = StreamPlan("online", None, self._new_session_id(), now, domain or self._push_domain(vhost))
            self.streams[(vhost, app, stream)] = plan
        return f"{plan.session_id}@{rfc3339_millis(now)}"

    def stop_session(self, vhost: str, app: str, stream: str) -> None:
        """The push stops: the stream is offline (and no longer listed) until the next session."""
        with self._lock:
            plan = self.streams.get((vhost, app, stream))
            domain = plan.domain if plan is not None else self._push_domain(vhost)
            self.streams[(vhost, app, stream)] = StreamPlan("offline", None, 0, 0.0, domain)

    def _new_session_id(self) -> int:
        session_id = self._next_session_id
        self._next_session_id += 1
        return session_id

    def _push_domain(self, vhost: str) -> str:
        known = self.vhosts.get(vhost)
        return known.push_domains[0] if known is not None and known.push_domains else vhost

    def secrets(self) -> list[str]:
        found = [secret for secret, _ in self.credentials.values()]
        found.extend(token for _, token in self.credentials.values() if token)
        for vhost in self.vhosts.values():
            found.extend(config.secret_key for config in vhost.auth.values())
        return found

    def clear_auth(self, vhost: str, scene_type: str) -> None:
        """No auth setting at all: DescribeAuth then answers an empty AuthList."""
        self.vhosts[vhost].auth.pop(scene_type, None)

    def seed_demo(self) -> None:
        self.add_credentials(DEMO_ACCESS_KEY_ID, DEMO_SECRET_ACCESS_KEY)
        self.add_vhost(DEMO_VHOST, push_domains=[DEMO_PUSH_DOMAIN], pull_domains=[DEMO_PULL_DOMAIN])
        self.set_auth(DEMO_VHOST, "push", enabled=True, secret_key=DEMO_PUSH_AUTH_KEY)
        self.set_auth(DEMO_VHOST, "pull", enabled=False, secret_key=DEMO_PULL_AUTH_KEY)

    def connections(self, base_url: str) -> dict[str, dict[str, Any]]:
        return {
            "volcengine_live_default": {
                "conn_type": "volcengine_live",
                "host": base_url,
                "login": DEMO_ACCESS_KEY_ID,
                "password": DEMO_SECRET_ACCESS_KEY,
                "extra": {"region": REGION},
            }
        }

    def routes(self) -> dict[tuple[str, str], Handler]:
        return {("POST", "/"): self.handle, ("GET", "/"): self.handle}

    # -- request handling --------------------------------------------------------------------
    def handle(self, req: SimRequest) -> SimResponse:
        action = req.query.get("Action", "")
        version = req.query.get("Version", "")
        handlers = {
            ("DescribeAuth", "2023-01-01"): self._describe_auth,
            ("DescribeAuth", "2020-08-01"): self._describe_auth,
            ("GeneratePushURL", "2023-01-01"): self._generate_push_url,
            ("ListDomainDetail", "2023-01-01"): self._list_domain_detail,
            ("DescribeLiveStreamState", "2023-01-01"): self._describe_live_stream_state,
            ("DescribeLiveStreamInfoByPage", "2023-01-01"): self._describe_live_stream_info_by_page,
        }
        try:
            access_key_id = self._authenticate(req)
            handler = handlers.get((action, version))
            if handler is None:
                raise _Refused(
                    404, "InvalidActionOrVersion", f"Could not find operation {action} for version {version}"
                )
            self._throttle(access_key_id, action)
            if (req.method == "GET") != (action in GET_ACTIONS):
                raise _Refused(400, "InvalidHttpMethod", f"{action} does not accept {req.method}")
            try:
                body = req.json() if req.body else {}
            except ValueError:
                raise _Refused(400, "InvalidParameter", "The request body is not valid JSON") from None
            if req.method == "GET":  # a GET action's parameters are in the (signed) query
                body = {k: v for k, v in req.query.items() if k not in ("Action", "Version")}
            if not isinstance(body, dict):
                raise _Refused(400, "InvalidParameter", "The request body must be a JSON object")
            result = handler(body, version)
        except _Refused as refused:
            meta = self._metadata(action, version)
            meta["Error"] = {"Code": refused.code, "Message": refused.message}
            return SimResponse(refused.status, {"ResponseMetadata": meta})
        return SimResponse(200, {"ResponseMetadata": self._metadata(action, version), "Result": result})

    def _metadata(self, action: str, version: str) -> dict[str, Any]:
        request_id = (
            time.strftime("%Y%m%d%H%M%S", time.gmtime(self.server.now())) + secrets.token_hex(10).upper()
        )
        id_key = "RequestID" if version == "2020-08-01" else "RequestId"
        return {
            id_key: request_id,
            "Action": action,
            "Version": version,
            "Service": SERVICE,
            "Region": REGION,
        }

    def _authenticate(self, req: SimRequest) -> str:
        """Verify the V4 signature as the gateway does; return the access key id."""
        auth = req.headers.get("authorization", "")
        prefix = "HMAC-SHA256 "
        if not auth.startswith(prefix):
            raise _Refused(400, "InvalidAuthorization", "The Authorization header is missing or malformed")
        fields: dict[str, str] = {}
        for part in auth[len(prefix) :].split(","):
            name, _, value = part.strip().partition("=")
            fields[name] = value
        try:
            access_key_id, date, region, service, terminal = fields["Credential"].split("/")
            signed_names = fields["SignedHeaders"].split(";")
            signature = fields["Signature"]
        except (KeyError, ValueError):
            raise _Refused(400, "InvalidAuthorization", "The Authorization header is malformed") from None
        if access_key_id not in self.credentials:
            raise _Refused(
                401, "InvalidAccessKey", "The Access Key ID you provided does not exist in our records"
            )
        secret_access_key, session_token = self.credentials[access_key_id]
        x_date = req.headers.get("x-date", "")
        try:
            epoch = calendar.timegm(time.strptime(x_date, "%Y%m%dT%H%M%SZ"))
        except ValueError:
            raise _Refused(
                400, "InvalidTimestamp", "The X-Date header is missing or not %Y%m%dT%H%M%SZ"
            ) from None
        if abs(self.server.now() - epoch) > X_DATE_WINDOW_SECONDS:
            raise _Refused(403, "InvalidTimestamp", "The request signature has expired or X-Date is skewed")
        if date != x_date[:8] or region != REGION or service != SERVICE or terminal != "request":
            raise _Refused(401, "SignatureDoesNotMatch", SIGNATURE_MISMATCH)
        required = {"host", "x-date", "x-content-sha256"}
        if session_token is not None:
            if not hmac.compare_digest(req.headers.get("x-security-token", ""), session_token):
                raise _Refused(401, "InvalidAccessKey", "The security token is missing, invalid or expired")
            required.add("x-security-token")
        if not required.issubset(signed_names) or any(name not in req.headers for name in signed_names):
            raise _Refused(401, "SignatureDoesNotMatch", SIGNATURE_MISMATCH)
        body_hash = hashlib.sha256(req.body).hexdigest()
        if req.headers.get("x-content-sha256") != body_hash:
            raise _Refused(401, "SignatureDoesNotMatch", SIGNATURE_MISMATCH)
        pairs = sorted(parse_qsl(req.raw_query, keep_blank_values=True))
        query = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in pairs)
        headers = "".join(f"{name}:{req.headers[name].strip()}\n" for name in signed_names)
        canonical = "\n".join([req.method, "/", query, headers, ";".join(signed_names), body_hash])
        scope = f"{date}/{region}/{service}/request"
        to_sign = f"HMAC-SHA256\n{x_date}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
        key = secret_access_key.encode()
        for step in (date, region, service, "request"):
            key = hmac.new(key, step.encode(), hashlib.sha256).digest()
        expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            raise _Refused(401, "SignatureDoesNotMatch", SIGNATURE_MISMATCH)
        return access_key_id

    def _throttle(self, access_key_id: str, action: str) -> None:
        quota = self.quotas.get(action)
        if quota is None:
            return
        rate, capacity = quota
        now = time.monotonic()
        with self._lock:
            tokens, updated = self._buckets.get((access_key_id, action), (capacity, now))
            tokens = min(capacity, tokens + (now - updated) * rate)
            if tokens < 1:
                self._buckets[(access_key_id, action)] = (tokens, now)
                raise _Refused(
                    429, "FlowLimitExceeded", f"Request rate exceeded the limit of {rate:g}/s for {action}"
                )
            self._buckets[(access_key_id, action)] = (tokens - 1, now)

    # -- actions -------------------------------------------------------------------------------
    def _find_vhost(self, body: dict[str, Any]) -> tuple[Vhost | None, str]:
        vhost_name, domain = body.get("Vhost") or "", body.get("Domain") or ""
        if bool(vhost_name) == bool(domain):
            raise _Refused(400, "InvalidParameter", "Exactly one of Vhost and Domain must be specified")
        if vhost_name:
            return self.vhosts.get(vhost_name), ""
        for vhost in self.vhosts.values():
            if domain in vhost.push_domains or domain in vhost.pull_domains:
                return vhost, domain
        return None, domain

    def _describe_live_stream_state(self, body: dict[str, Any], version: str) -> dict[str, Any]:
        for name in ("App", "Stream"):
            if not body.get(name):
                raise _Refused(400, "MissingParameter", f"The parameter {name} is required")
        vhost, _domain = self._find_vhost(body)
        if vhost is None:
            raise _Refused(404, "InvalidVhost.NotFound", "The domain space or domain does not exist")
        plan = self.streams.get((vhost.name, body["App"], body["Stream"]), StreamPlan())
        return {"stream_state": plan.state_at(self.server.now()), "type": "push"}

    def _describe_live_stream_info_by_page(self, body: dict[str, Any], version: str) -> dict[str, Any]:
        """The ONLINE streams, filtered (strict match, or ``QueryType=fuzzy``: App/Stream contain the
        value) and paged. Sorted by vhost, app, stream so pages do not overlap."""
        for name in ("PageNum", "PageSize"):
            if body.get(name) in (None, ""):
                raise _Refused(400, "MissingParameter", f"The parameter {name} is required")
        page_num, page_size = _int_param(body, "PageNum"), _int_param(body, "PageSize")
        if page_num < 1:
            raise _Refused(400, "InvalidParameter", "PageNum must be at least 1")
        if not 1 <= page_size <= MAX_ONLINE_PAGE_SIZE:
            raise _Refused(400, "InvalidParameter", f"PageSize must be 1 to {MAX_ONLINE_PAGE_SIZE}")
        choices = {
            "StreamType": ("origin", "trans"),
            "SourceType": ("push", "relay"),
            "QueryType": ("strict", "fuzzy"),
        }
        for name, allowed in choices.items():
            if body.get(name) not in (None, "", *allowed):
                raise _Refused(400, "InvalidParameter", f"{name} must be one of {', '.join(allowed)}")
        if body.get("Vhost") and body.get("Domain"):
            raise _Refused(400, "InvalidParameter", "Specify either Vhost or Domain, not both")
        if body.get("Stream") and not body.get("App"):
            raise _Refused(400, "InvalidParameter", "If you specify Stream, you must also specify App")
        fuzzy = body.get("QueryType") == "fuzzy"

        def matches(wanted: Any, actual: str, *, fuzzy_ok: bool) -> bool:
            if wanted in (None, ""):
                return True
            return str(wanted) in actual if fuzzy and fuzzy_ok else wanted == actual

        now = self.server.now()
        with self._lock:
            plans = sorted(self.streams.items())
        listed: list[dict[str, Any]] = []
        for (vhost, app, stream), plan in plans:
            since = plan.online_since(now)
            if since is None or body.get("StreamType") == "trans" or body.get("SourceType") == "relay":
                continue
            if not (
                matches(body.get("Vhost"), vhost, fuzzy_ok=False)
                and matches(body.get("Domain"), plan.domain, fuzzy_ok=False)
                and matches(body.get("App"), app, fuzzy_ok=True)
                and matches(body.get("Stream"), stream, fuzzy_ok=True)
            ):
                continue
            listed.append(
                {
                    "ID": plan.session_id,
                    "Vhost": vhost,
                    "Domain": plan.domain,
                    "App": app,
                    "Stream": stream,
                    "SessionStartTime": rfc3339_millis(since),
                    "SourceType": "push",
                }
            )
        start = (page_num - 1) * page_size
        return {"StreamInfoList": listed[start : start + page_size], "RoughCount": len(listed)}

    def _describe_auth(self, body: dict[str, Any], version: str) -> dict[str, Any]:
        scene = body.get("SceneType")
        if not scene:
            raise _Refused(400, "MissingParameter", "The parameter SceneType is required")
        if scene not in ("push", "pull"):
            raise _Refused(400, "InvalidParameter", "SceneType must be push or pull")
        vhost, domain = self._find_vhost(body)
        config = vhost.auth.get(scene) if vhost is not None else None
        if vhost is None or config is None:
            return {"AuthList": []}
        detail: dict[str, Any] = {
            "AuthField": {"volcSecret": "volcSecret", "volcTime": "volcTime"},
            "EncryptField": ["key", "volcTime"],
            "EncryptionAlgorithm": config.algorithm,
            "SecretKey": config.secret_key,
        }
        item: dict[str, Any] = {
            "App": body.get("App") or config.app,
            "AuthDetailList": [detail],
            "AuthStatus": config.enabled,
            "Domain": domain,
            "SceneType": scene,
            "ValidDuration": config.valid_duration,
            "Vhost": vhost.name,
        }
        if version == "2023-01-01":
            detail["AuthType"] = "default"
            item["TimeStampBase"] = 10
        return {"AuthList": [item]}

    def _generate_push_url(self, body: dict[str, Any], version: str) -> dict[str, Any]:
        for name in ("Vhost", "App", "Stream"):
            if not body.get(name):
                raise _Refused(400, "MissingParameter", f"The parameter {name} is required")
        vhost = self.vhosts.get(body["Vhost"])
        if vhost is None:
            raise _Refused(400, "InvalidParameter", "The specified Vhost does not exist")
        domains = vhost.push_domains
        if body.get("Domain"):
            if body["Domain"] not in vhost.push_domains:
                raise _Refused(
                    400, "InvalidParameter", "The specified Domain is not a push domain of the Vhost"
                )
            domains = [body["Domain"]]
        duration = body.get("ValidDuration", DEFAULT_VALID_DURATION)
        if isinstance(duration, bool) or not isinstance(duration, int) or duration <= 0:
            raise _Refused(400, "InvalidParameter", "ValidDuration must be a positive integer")
        expires = int(self.server.now()) + duration
        if body.get("ExpiredTime"):
            try:
                expires = int(
                    datetime.fromisoformat(str(body["ExpiredTime"]).replace("Z", "+00:00")).timestamp()
                )
            except ValueError:
                raise _Refused(400, "InvalidParameter", "ExpiredTime must be an RFC3339 time") from None
        app, stream = body["App"], body["Stream"]
        with self._lock:
            self.push_url_log.append(
                {"vhost": body["Vhost"], "app": app, "stream": stream, "expires": expires}
            )
        config = vhost.auth.get("push")
        query = ""
        if config is not None and config.enabled:
            sign = hashlib.md5(f"/{app}/{stream}{config.secret_key}{expires}".encode()).hexdigest()
            query = f"?volcTime={expires}&volcSecret={sign}"
        stream_sign = f"{stream}{query}"
        result: dict[str, Any] = {
            "AuthType": "default" if query else "",
            "PushURLList": [],
            "PushURLListDetail": [],
            "RtmURLList": [],
            "RtmpOverSrtURLList": [],
            "TsOverSrtURLList": [],
            "WebTransportURLList": [],
        }
        for domain in domains:
            result["PushURLList"].append(f"rtmp://{domain}/{app}/{stream_sign}")
            result["PushURLListDetail"].append(
                {
                    "URL": f"rtmp://{domain}/{app}/{stream_sign}",
                    "DomainApp": f"rtmp://{domain}/{app}/",
                    "StreamSign": stream_sign,
                }
            )
            result["RtmURLList"].append(f"https://{domain}/push/{app}/{stream_sign}")
            srt = f"srt://{domain}:1935?streamid=#!::h={domain},r={app}/{stream}"
            srt_auth = f",volcTime={expires},volcSecret={query.rsplit('=', 1)[-1]}" if query else ""
            result["RtmpOverSrtURLList"].append(f"{srt}{srt_auth},m=publish")
            result["TsOverSrtURLList"].append(f"{srt}{srt_auth},m=publish,t=ts")
            result["WebTransportURLList"].append(f"https://{domain}/{app}/{stream_sign}")
        return result

    def _list_domain_detail(self, body: dict[str, Any], version: str) -> dict[str, Any]:
        page_num, page_size = body.get("PageNum"), body.get("PageSize")
        if not isinstance(page_num, int) or not isinstance(page_size, int):
            raise _Refused(400, "MissingParameter", "The parameters PageNum and PageSize are required")
        domains = [
            {"Domain": d, "Type": kind, "Vhost": v.name, "Status": 0, "Region": "cn", "PushDomain": ""}
            for v in self.vhosts.values()
            for kind, names in (("push", v.push_domains), ("pull-flv", v.pull_domains))
            for d in names
        ]
        start = (max(page_num, 1) - 1) * page_size
        return {"Total": len(domains), "DomainList": domains[start : start + page_size]}


def _int_param(body: dict[str, Any], name: str) -> int:
    """A whole-number parameter (GET parameters arrive as text)."""
    value = body.get(name)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isascii() and value.lstrip("-").isdigit():
        return int(value)
    raise _Refused(400, "InvalidParameter", f"{name} must be an integer")
