"""Huawei ISDP OpenAPI client: OAuth password-grant token lifecycle and the SaasLive join-token calls.

Why a token manager: every ``/openapi/v1`` call needs ``Authorization: bearer <access_token>``
from ``POST /oauth2/oauth/rest_token``. Fetching one per call doubles the traffic and hits the
token endpoint's (undocumented) limits, so the token is cached until ``expires_in`` minus a
safety margin, shared by every call and thread of this client, and fetched by one thread at a
time. A token revoked or expired early (HTTP 401 ``invalid_token``) is replaced once and the
call retried once.

Secrets handled here (application token, client secret, access tokens, join tokens) never go
into logs or exception messages: the transport logs no bodies or headers, and vendor error texts
are scrubbed of any credential value they echo (Spring OAuth echoes the access token).

This module knows nothing of Airflow.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_live_provider.exceptions import (
    STRING_GIVEN_FOR_LIST,
    LiveApiAuthError,
    LiveApiError,
    LiveApiInputError,
    LiveApiRateLimitError,
)
from airflow_live_provider.transport import (
    HttpRequest,
    Transport,
    check_body_size,
    is_retryable_status,
    json_body,
)
from airflow_live_provider.validation import (
    MAX_ID_SETTING_LENGTH,
    MAX_SECRET_SETTING_LENGTH,
    plain_text,
    setting_text,
    shown,
    whole_number,
)
from airflow_live_provider.vendors.shapes import (
    bad_answer,
    expect_dict,
    expect_id,
    expect_seconds,
    expect_text,
    kind,
)

if TYPE_CHECKING:  # requests is imported by the transport when a client is built
    import requests

VENDOR = "isdp"
DEFAULT_HOST = "isdpcloud.huawei.com"
#: On Huawei's SaaS both client ID and secret are this value; private deployments set their own.
DEFAULT_CLIENT_ID = "isdp-saas-openapi"
DEFAULT_CLIENT_SECRET = "isdp-saas-openapi"
DEFAULT_TOKEN_PATH = "/oauth2/oauth/rest_token"
GET_TOKEN_PATH = "/openapi/v1/SaasLive/getToken"
GET_TOKEN_BATCH_PATH = "/openapi/v1/SaasLive/getTokenBatch"
DEFAULT_ROLE = 1
#: Join-token lifetime in the vendor's getTokenBatch example (``expirationTime: 120``); the
#: lifetime a response reports is checked again after issuing.
JOIN_TOKEN_TTL_SECONDS = 120
#: Refresh this long before the token's end (capped at half its lifetime for short-lived tokens).
DEFAULT_REFRESH_MARGIN = 60.0
#: Used only if a token response lacks a usable ``expires_in`` (the vendor always sends one).
FALLBACK_EXPIRES_IN = 300.0
#: Ours: an access token said to live longer than a day is a broken answer (examples: 359-1799 s).
MAX_EXPIRES_IN = 86_400.0
#: OAuth errors meaning "this access token is no longer accepted": refresh once and retry once.
INVALID_TOKEN_ERRORS = frozenset({"invalid_token"})
#: OAuth errors at the token endpoint meaning the client ID/secret pair is wrong.
CLIENT_ERRORS = frozenset({"invalid_client", "unauthorized_client", "unauthorized"})
_CHALLENGE_ERROR = re.compile(r'error="([^"]+)"')


@dataclass(frozen=True)
class AccessToken:
    """A bearer token and when this client stops using it (its own clock, margin applied)."""

    value: str
    expires_in: float
    refresh_at: float

    def __repr__(self) -> str:  # the value is a credential
        return f"AccessToken(expires_in={self.expires_in:g}, refresh_at={self.refresh_at:.0f})"


# -- input validation (before any request) -------------------------------------------------------
#: Ours (ISDP documents no limits): one getTokenBatch call, a channel ID, a role number.
MAX_CHANNELS_PER_BATCH = 100
MAX_ID_LENGTH = 64
MAX_ROLE = 99


def _identifier(value: Any, field: str, what: str) -> str:
    """An ISDP ID: a non-blank string sent as given (a trailing line break or space is refused,
    not stripped), or an int (converted: the API wants strings)."""
    return plain_text(value, field, vendor=VENDOR, what=what, max_len=MAX_ID_LENGTH, allow_int=True)


def validate_channel_id(value: Any, field: str = "channel_id") -> str:
    """An ISDP channel ID (``'10882'``): text or an int; a number must be positive (0, ``"000"``,
    -5 and ``"-5"`` are refused: no channel has them)."""
    text = _identifier(value, field, "ISDP channel ID such as '10882'")
    digits = text.removeprefix("-")
    if digits.isascii() and digits.isdigit() and (text.startswith("-") or not digits.strip("0")):
        raise LiveApiInputError(
            field, f"{text!r} is not a channel ID: ISDP channel IDs are positive, e.g. '10882'", vendor=VENDOR
        )
    return text


def validate_channel_ids(values: Any, field: str = "channel_ids") -> list[str]:
    """A non-empty list of channel IDs, as strings, duplicates dropped (order kept)."""
    if isinstance(values, str | bytes):
        raise LiveApiInputError(field, STRING_GIVEN_FOR_LIST, vendor=VENDOR)
    if not isinstance(values, list | tuple):
        # A set or dict would be accepted by iteration but loses order or sends its keys.
        raise LiveApiInputError(
            field,
            f"a {type(values).__name__} is not a list; give a list of channel IDs such as ['10882', '10883']",
            vendor=VENDOR,
        )
    if len(values) > MAX_CHANNELS_PER_BATCH:
        raise LiveApiInputError(
            field,
            f"has {len(values)} channel IDs; give at most {MAX_CHANNELS_PER_BATCH} per request "
            "(split the list)",
            vendor=VENDOR,
        )
    ids = [validate_channel_id(v, f"{field}[{i}]") for i, v in enumerate(values)]
    if not ids:
        raise LiveApiInputError(
            field, "is empty; give at least one channel ID such as ['10882']", vendor=VENDOR
        )
    return list(dict.fromkeys(ids))


def validate_user_account(value: Any, field: str = "user_account") -> str:
    """The ISDP user account joining the channels."""
    return _identifier(value, field, "ISDP user account such as '135965565'")


def validate_role(value: Any, field: str = "role") -> int:
    """The role as an int (the doc's example sends ``"1"``; the API declares int). ASCII digit
    strings from templates are accepted and converted; 1 is the default."""
    return whole_number(
        value, field, vendor=VENDOR, low=0, high=MAX_ROLE, example="1, the default", what="role"
    )


#: Ours: the documented token path has 24 characters.
MAX_TOKEN_PATH_LENGTH = 255


def validate_token_path(value: Any, field: str = "token_path") -> str:
    """The OAuth token URL path: ``/...``, at most 255 printable characters, no space, ``?`` or ``#``."""
    if (
        not isinstance(value, str)
        or not value.strip().startswith("/")
        or any(c in value for c in "?# ")
        or not value.strip().isprintable()
        or len(value.strip()) > MAX_TOKEN_PATH_LENGTH
    ):
        shown = repr(value)[:60] if isinstance(value, str) else f"a {type(value).__name__}"
        raise LiveApiInputError(
            field,
            f"{shown} is not a URL path of at most {MAX_TOKEN_PATH_LENGTH} printable characters; "
            f"use e.g. {DEFAULT_TOKEN_PATH!r}",
            vendor=VENDOR,
        )
    return value.strip()


# -- the client ----------------------------------------------------------------------------------
class IsdpClient:
    """Calls to the ISDP OpenAPI with a cached, thread-safe OAuth access token."""

    def __init__(
        self,
        base_url: str,
        app_id: str,
        app_token: str,
        *,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        token_path: str = DEFAULT_TOKEN_PATH,
        refresh_margin: float = DEFAULT_REFRESH_MARGIN,
        clock: Callable[[], float] = time.monotonic,
        **transport_options: Any,
    ) -> None:
        for value, field, what, max_len in (
            (app_id, "app_id", "application ID", MAX_ID_SETTING_LENGTH),
            (app_token, "app_token", "application token", MAX_SECRET_SETTING_LENGTH),
            (
                client_id,
                "client_id",
                "OAuth client ID ('isdp-saas-openapi' on Huawei's SaaS)",
                MAX_ID_SETTING_LENGTH,
            ),
            (
                client_secret,
                "client_secret",
                "OAuth client secret ('isdp-saas-openapi' on Huawei's SaaS)",
                MAX_SECRET_SETTING_LENGTH,
            ),
        ):
            setting_text(value, field, vendor=VENDOR, what=what, max_len=max_len)
        if refresh_margin < 0:
            raise LiveApiInputError("refresh_margin", "must be >= 0 seconds", vendor=VENDOR)
        self.app_id = app_id.strip()
        self._app_token = app_token.strip()
        self.client_id = client_id.strip()
        self._client_secret = client_secret.strip()
        self.token_path = validate_token_path(token_path)
        self.refresh_margin = refresh_margin
        self.clock = clock
        self.transport = Transport(
            VENDOR,
            base_url,
            secrets=self._credentials,
            **transport_options,
        )
        self._token: AccessToken | None = None
        self._token_lock = threading.Lock()
        #: Every access token this client has held: scrubbed from any vendor error text.
        self._seen_tokens: list[str] = []
        #: How many tokens this client fetched (for tests, metrics and the benchmark).
        self.token_fetches = 0

    def __repr__(self) -> str:  # never show a secret
        return f"IsdpClient(base_url={self.transport.base_url!r}, app_id={self.app_id!r})"

    def close(self) -> None:
        self.transport.close()

    # -- the token -------------------------------------------------------------------------------
    @property
    def token_expires_in(self) -> float | None:
        """The ``expires_in`` of the cached token (None before the first fetch)."""
        token = self._token
        return token.expires_in if token is not None else None

    def get_access_token(self) -> str:
        """The current access token, fetched (by one thread only) when missing or near expiry."""
        token = self._token
        if token is not None and self.clock() < token.refresh_at:
            return token.value
        with self._token_lock:
            token = self._token
            if token is None or self.clock() >= token.refresh_at:
                token = self._fetch_token()
                self._token = token
            return token.value

    def invalidate_token(self, rejected: str) -> str:
        """The vendor refused ``rejected``: replace it unless another thread already has.

        Returns the token to retry with. Several threads refused at once trigger one fetch.
        """
        with self._token_lock:
            current = self._token
            if current is None or current.value == rejected:
                current = self._fetch_token()
                self._token = current
            return current.value

    def _fetch_token(self) -> AccessToken:
        """``POST token_path`` with the password grant; the caller holds the lock."""
        started = self.clock()
        body = json.dumps(
            {
                "client_id": self.client_id,
                "client_secret": self._client_secret,
                "grant_type": "password",
                "username": self.app_id,
                "password": self._app_token,
            },
            separators=(",", ":"),
        ).encode("utf-8")
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        value, expires_in = self.transport.request(
            lambda: HttpRequest("POST", self.token_path, data=body, headers=headers),
            self._parse_token_response,
            idempotent=True,  # a second password grant only issues another token
        )
        self.token_fetches += 1
        self._seen_tokens = [*self._seen_tokens[-9:], value]
        margin = min(self.refresh_margin, expires_in / 2)
        # Counted from before the request was sent: the vendor's clock started later than ours.
        return AccessToken(value, expires_in, started + expires_in - margin)

    def _parse_token_response(self, response: requests.Response) -> tuple[tuple[str, float], str | None]:
        status = response.status_code
        payload = _json_or_none(response)
        request_id = _request_id(response)
        if status == 200 and isinstance(payload, dict) and payload.get("access_token") is not None:
            call = "token request"
            token = expect_text(payload["access_token"], VENDOR, call, "access_token")
            raw = payload.get("expires_in")
            # Missing: the fallback. Present but NaN, 0, "soon" or 1e300: refused, since the token
            # would never (or always) be due for renewal.
            expires_in = (
                FALLBACK_EXPIRES_IN
                if raw is None
                else expect_seconds(raw, VENDOR, call, "expires_in", maximum=MAX_EXPIRES_IN)
            )
            return (token, expires_in), request_id
        error, description = _oauth_error(payload)
        common: dict[str, Any] = {"vendor": VENDOR, "http_status": status, "request_id": request_id}
        detail = self._scrub(f"{error}: {description}" if description else (error or f"HTTP {status}"))
        if status == 429:
            raise LiveApiRateLimitError(f"token request throttled: {detail}", code=error, **common)
        if is_retryable_status(status):
            raise LiveApiError(f"token request failed: {detail}", code=error, retryable=True, **common)
        if error in CLIENT_ERRORS or status == 401:
            raise LiveApiAuthError(
                f"token request refused ({detail}); check the OAuth client_id/client_secret "
                "connection extras ('isdp-saas-openapi' on Huawei's SaaS)",
                code=error,
                **common,
            )
        if status in (404, 405):
            raise LiveApiAuthError(
                f"token request: {self.token_path} answered HTTP {status} ({detail}); the OAuth token "
                "URL path is wrong: check the connection's oauth_path extra (default "
                f"{DEFAULT_TOKEN_PATH}) and the host",
                code=error or status,
                **common,
            )
        if 400 <= status < 500:
            raise LiveApiAuthError(
                f"token request refused ({detail}); check the application ID (connection login) "
                "and application token (connection password)",
                code=error,
                **common,
            )
        if payload is None and status < 400:  # a proxy page, a cut or malformed answer
            raise LiveApiError(
                f"token request failed: the answer {_json_problem(response)}", retryable=True, **common
            )
        raise LiveApiError(f"token response has no access_token ({detail})", code=error, **common)

    # -- calls -----------------------------------------------------------------------------------
    def call(self, path: str, body: dict[str, Any]) -> Any:
        """``POST path`` with a JSON body and the bearer token; returns the envelope's ``data``.

        A 401 ``invalid_token`` (revoked, or expired on the vendor's clock) gets one new token
        and one more try; a second refusal is raised.
        """
        if not isinstance(path, str) or not path.startswith("/openapi/"):
            raise LiveApiInputError("path", f"{shown(path)} is not an ISDP OpenAPI path ('/openapi/v1/...')")
        try:
            payload = json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
        except (TypeError, ValueError) as exc:
            raise LiveApiInputError(
                "body", f"is not valid JSON ({exc}); use numbers, text, lists and dicts", vendor=VENDOR
            ) from None
        check_body_size(payload, VENDOR)  # before a token is fetched for it
        used: list[str] = []

        def build() -> HttpRequest:
            token = self.get_access_token()  # per attempt: a retry after a long backoff stays valid
            used.append(token)
            headers = {
                "Content-Type": "application/json",
                "Accept": "application/json",
                "Authorization": f"bearer {token}",
            }
            return HttpRequest("POST", path, data=payload, headers=headers)

        parse = lambda response: self._parse_envelope(response, path)  # noqa: E731
        deadline = self.transport.deadline()  # the retry after a refresh shares the call's budget
        try:
            return self.transport.request(build, parse, idempotent=True, deadline=deadline)
        except LiveApiAuthError as exc:
            if exc.code not in INVALID_TOKEN_ERRORS or not used:
                raise
        self.invalidate_token(used[-1])
        return self.transport.request(build, parse, idempotent=True, deadline=deadline)

    def _parse_envelope(self, response: requests.Response, path: str) -> tuple[Any, str | None]:
        """``{status, message, error, data, timestamp}``: ``status == 1`` is success."""
        status = response.status_code
        payload = _json_or_none(response)
        request_id = _request_id(response)
        name = path.rsplit("/", 1)[-1]
        common: dict[str, Any] = {"vendor": VENDOR, "http_status": status, "request_id": request_id}
        if status in (401, 403):
            error, description = _oauth_error(payload)
            if error is None:  # a gateway may drop the body but keep the challenge header
                match = _CHALLENGE_ERROR.search(response.headers.get("WWW-Authenticate", ""))
                error = match.group(1) if match else None
            detail = self._scrub(f"{error}: {description}" if description else (error or f"HTTP {status}"))
            hint = (
                "the access token was refused"
                if error in INVALID_TOKEN_ERRORS
                else "check the application's permissions for this API"
            )
            raise LiveApiAuthError(f"{name} refused ({detail}); {hint}", code=error or status, **common)
        if status == 429:
            raise LiveApiRateLimitError(f"{name} throttled (HTTP 429)", code=429, **common)
        if status >= 400 or not isinstance(payload, dict):
            error, description = _oauth_error(payload)
            fallback = f"HTTP {status}" if status >= 400 or payload is not None else _json_problem(response)
            detail = self._scrub(description or error or fallback)
            raise LiveApiError(
                f"{name} failed: {detail}", code=error, retryable=is_retryable_status(status), **common
            )
        if payload.get("status") != 1 and str(payload.get("status")) != "1":
            message = payload.get("error") or payload.get("message") or "no message"
            raise LiveApiError(
                f"{name} failed: {self._scrub(str(message))}",
                code=payload.get("status"),
                retryable=False,
                **common,
            )
        return payload.get("data"), request_id

    def _scrub(self, text: str) -> str:
        """Vendor error texts may echo a credential (Spring OAuth echoes the access token). The
        transport scrubs every error again with the same list (:meth:`_credentials`)."""
        return self.transport.scrub(text)

    def _credentials(self) -> tuple[str, ...]:
        return (self._app_token, self._client_secret, *self._seen_tokens)

    def get_token(self, channel_id: Any, user_account: Any, role: Any = DEFAULT_ROLE) -> dict[str, Any]:
        """SaasLive/getToken: one join token (short-lived credential) for one channel."""
        body = {
            "channelId": validate_channel_id(channel_id),
            "userAccount": validate_user_account(user_account),
            "role": validate_role(role),
        }
        data = self.call(GET_TOKEN_PATH, body)
        if isinstance(data, list) and len(data) == 1:
            data = data[0]
        item = expect_dict(data, VENDOR, "getToken", "data")
        expect_text(item.get("token"), VENDOR, "getToken", "data.token")
        return item

    def get_token_batch(
        self, channel_ids: Any, user_account: Any, role: Any = DEFAULT_ROLE
    ) -> dict[str, Any] | list[Any]:
        """SaasLive/getTokenBatch: join tokens for several channels.

        Sends clean keys (the doc example has ``" channelIds"``), IDs as strings and role as an
        int. ``data`` is returned as the vendor sent it: an object or a list.
        """
        ids = validate_channel_ids(channel_ids)
        body = {
            "channelIds": ids,
            "userAccount": validate_user_account(user_account),
            "role": validate_role(role),
        }
        return check_token_batch(self.call(GET_TOKEN_BATCH_PATH, body), ids)


def check_token_batch(data: Any, channel_ids: list[str]) -> dict[str, Any] | list[Any]:
    """getTokenBatch's ``data`` as documented: one token object, or a non-empty list of them,
    each with a non-empty ``token``. List items that name their ``channelId`` must cover every
    requested channel: ``[1, 2]`` or ``[]`` is not zero tokens issued successfully."""
    call = "getTokenBatch"
    if isinstance(data, dict):
        expect_text(data.get("token"), VENDOR, call, "data.token")
        return data
    if not isinstance(data, list):
        raise bad_answer(VENDOR, call, f"data is {kind(data)}, not a token object or a list of them")
    if not data:
        raise bad_answer(VENDOR, call, "data is an empty list: no token was issued")
    named: set[str] = set()
    for index, item in enumerate(data):
        expect_dict(item, VENDOR, call, f"data[{index}]")
        expect_text(item.get("token"), VENDOR, call, f"data[{index}].token")
        if item.get("channelId") not in (None, ""):
            named.add(expect_id(item["channelId"], VENDOR, call, f"data[{index}].channelId"))
    missing = [c for c in channel_ids if c not in named]
    if named and missing:
        raise bad_answer(VENDOR, call, f"no token for channel(s) {missing}")
    return data


def _json_problem(response: requests.Response) -> str:
    """What is wrong with an answer's JSON (``"is not JSON (...)"``), for an error message."""
    try:
        json_body(response)
    except ValueError as exc:
        return str(exc)
    return "is not an object"


def _json_or_none(response: requests.Response) -> Any:
    """The JSON of an answer, None if it is not JSON we can handle (see :func:`json_body`)."""
    try:
        return json_body(response)
    except ValueError:
        return None


def _request_id(response: requests.Response) -> str | None:
    for name in ("X-Request-Id", "X-Trace-Id", "X-B3-TraceId"):
        if response.headers.get(name):
            return response.headers[name]
    return None


def _oauth_error(payload: Any) -> tuple[str | None, str | None]:
    """``(error, error_description)`` of an OAuth-style error body (or an envelope's message)."""
    if not isinstance(payload, dict):
        return None, None
    error = payload.get("error")
    description = payload.get("error_description") or payload.get("message")
    return (str(error) if error else None), (str(description) if description else None)
