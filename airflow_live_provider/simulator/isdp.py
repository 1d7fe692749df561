"""The Huawei ISDP part of the simulator: the OAuth password grant and SaasLive join tokens.

Endpoints (Huawei Cloud ISDP API reference: 5.2.1 token, SaasLive/getToken, getTokenBatch):

* ``POST /oauth2/oauth/rest_token`` with JSON ``{client_id, client_secret, grant_type: "password",
  username: <application ID>, password: <application token>}``: the client pair is checked
  first (HTTP 401 ``invalid_client``), then the application (HTTP 400 ``invalid_grant``
  ``Bad credentials``), as Spring Security OAuth2 answers. Success: ``{access_token, token_type:
  "bearer", refresh_token, expires_in, scope}`` with ``expires_in`` = :attr:`token_lifetime`.
* ``POST /openapi/v1/SaasLive/getToken`` and ``.../getTokenBatch``: ``Authorization: bearer
  <access_token>`` checked (HTTP 401 ``{"error": "invalid_token", "error_description": "Invalid
  access token: <token>"}``: Spring echoes the token, which the client must scrub), then the
  body; the answer is the ``{status, message, error, data, timestamp}`` envelope with ``data``
  shaped like the doc example (``expirationTime`` 120, ``tokenBegin``/``tokenEnd`` in Beijing
  time without an offset, as the example shows).

Test knobs: :attr:`token_lifetime`, :attr:`token_delay` (slow token endpoint, to make racing
threads overlap), :meth:`revoke_tokens` (the revoke fault: every issued access token stops
working), :attr:`batch_data_as_list` (``data`` as a list of per-channel objects, which the
notes say also occurs). Assumed, not documented: failure envelopes (``status`` 0 with the
reason in ``error``), the exact OAuth error texts, and that the API refuses ``role`` as a string
and keys with stray spaces (so a client regression shows).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from airflow_live_provider.simulator.base import (
    Handler,
    SimRequest,
    SimResponse,
    SimulatorClock,
    VendorSimulator,
)

DEMO_APP_ID = "isdp-demo-app-20240601"
DEMO_APP_TOKEN = "c2a7f0e4d9b84f41a3e6b1d05f7c9e28"
DEMO_CLIENT_ID = "isdp-saas-openapi"
DEMO_CLIENT_SECRET = "isdp-saas-openapi"
DEMO_CHANNEL_IDS = ["10882", "10883"]
DEMO_USER_ACCOUNT = "135965565"

TOKEN_PATH = "/oauth2/oauth/rest_token"
GET_TOKEN_PATH = "/openapi/v1/SaasLive/getToken"
GET_TOKEN_BATCH_PATH = "/openapi/v1/SaasLive/getTokenBatch"
#: The doc example's values: join tokens live 120 s; the RTC app ID is not the ISDP application ID.
JOIN_TOKEN_SECONDS = 120
RTC_APP_ID = "b78e8a89d5034d27b522c3f1f12ed1c5"
BEIJING = timezone(timedelta(hours=8))


class IsdpSimulator(VendorSimulator):
    """State: registered applications and OAuth clients, channels, users and issued tokens."""

    def __init__(self, server: SimulatorClock) -> None:
        super().__init__(server)
        self._lock = threading.Lock()
        #: ``expires_in`` of new access tokens, seconds (the vendor's examples: 359, 1199, 1799).
        self.token_lifetime: float = 1199
        #: Seconds the token endpoint waits before answering (tests: make threads overlap).
        self.token_delay: float = 0.0
        #: Answer getTokenBatch with a list of per-channel objects instead of one object.
        self.batch_data_as_list = False
        #: Lifetime reported for join tokens (``expirationTime``); tests shorten it.
        self.join_token_seconds = JOIN_TOKEN_SECONDS
        self.apps: dict[str, str] = {}
        self.clients: dict[str, str] = {}
        self.channels: set[str] = set()
        self.users: set[str] = set()
        #: access token -> expiry on the simulator clock (``server.now()``).
        self.access_tokens: dict[str, float] = {}
        #: Every access token ever issued, revoked or expired ones included.
        self.issued_access_tokens: list[str] = []
        self.tokens_issued = 0
        self.join_tokens_issued = 0
        #: What it handed out: one ``{channelIds, userAccount, validFrom, validUntil}`` (UTC epoch
        #: seconds) per join token, so a test counts credentials per event from the vendor's side.
        self.join_token_log: list[dict[str, Any]] = []

    # -- setup and knobs -----------------------------------------------------------------------
    def seed_demo(self) -> None:
        self.apps[DEMO_APP_ID] = DEMO_APP_TOKEN
        self.clients[DEMO_CLIENT_ID] = DEMO_CLIENT_SECRET
        self.channels.update(DEMO_CHANNEL_IDS)
        self.users.add(DEMO_USER_ACCOUNT)

    def connections(self, base_url: str) -> dict[str, dict[str, Any]]:
        return {
            "isdp_default": {
                "conn_type": "isdp",
                "host": base_url,
                "login": DEMO_APP_ID,
                "password": DEMO_APP_TOKEN,
                "extra": {
                    "client_id": DEMO_CLIENT_ID,
                    "client_secret": DEMO_CLIENT_SECRET,
                    "token_path": TOKEN_PATH,
                },
            }
        }

    def secrets(self) -> list[str]:
        return [*self.apps.values(), *self.issued_access_tokens]

    def revoke_tokens(self) -> int:
        """The revoke fault: every access token issued so far is refused from now on."""
        with self._lock:
            count = len(self.access_tokens)
            self.access_tokens.clear()
            return count

    def routes(self) -> dict[tuple[str, str], Handler]:
        return {
            ("POST", TOKEN_PATH): self._token,
            ("POST", GET_TOKEN_PATH): self._get_token,
            ("POST", GET_TOKEN_BATCH_PATH): self._get_token_batch,
        }

    # -- OAuth -----------------------------------------------------------------------------------
    def _token(self, req: SimRequest) -> SimResponse:
        if self.token_delay:
            time.sleep(self.token_delay)
        try:
            body = req.json() if req.body else dict(req.form)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return _oauth_error(400, "invalid_request", "Request body must be a JSON object")
        client_id, client_secret = body.get("client_id"), body.get("client_secret")
        if not client_id or self.clients.get(str(client_id)) != client_secret:
            return _oauth_error(401, "invalid_client", "Bad client credentials")
        if body.get("grant_type") != "password":
            return _oauth_error(400, "unsupported_grant_type", "Unsupported grant type")
        username, password = body.get("username"), body.get("password")
        if not username or self.apps.get(str(username)) != password:
            return _oauth_error(400, "invalid_grant", "Bad credentials")
        token = secrets.token_hex(16)
        with self._lock:
            self.access_tokens[token] = self.server.now() + self.token_lifetime
            self.issued_access_tokens.append(token)
            self.tokens_issued += 1
        return SimResponse(
            200,
            {
                "access_token": token,
                "token_type": "bearer",
                "refresh_token": secrets.token_hex(16),
                "expires_in": int(self.token_lifetime)
                if float(self.token_lifetime).is_integer()
                else self.token_lifetime,
                "scope": "read write",
            },
            {"Cache-Control": "no-store", "Pragma": "no-cache"},
        )

    def _check_bearer(self, req: SimRequest) -> SimResponse | None:
        scheme, _, token = req.headers.get("authorization", "").strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return _oauth_error(
                401, "unauthorized", "Full authentication is required to access this resource"
            )
        with self._lock:
            expiry = self.access_tokens.get(token)
            if expiry is not None and self.server.now() >= expiry:
                del self.access_tokens[token]
                return _oauth_error(401, "invalid_token", f"Access token expired: {token}")
        if expiry is None:
            return _oauth_error(401, "invalid_token", f"Invalid access token: {token}")
        return None

    # -- SaasLive --------------------------------------------------------------------------------
    def _get_token(self, req: SimRequest) -> SimResponse:
        refused = self._check_bearer(req)
        if refused is not None:
            return refused
        body, problem = _json_object(req)
        if problem is None:
            channel = body.get("channelId")
            if not isinstance(channel, str) or not channel:
                problem = "channelId is required and must be a string"
            else:
                problem = self._check_common(body, [channel])
        if problem is not None:
            return self._failure(problem)
        return self._success(self._join_token(body["channelId"], body["userAccount"], [body["channelId"]]))

    def _get_token_batch(self, req: SimRequest) -> SimResponse:
        refused = self._check_bearer(req)
        if refused is not None:
            return refused
        body, problem = _json_object(req)
        if problem is None:
            ids = body.get("channelIds")
            if not isinstance(ids, list) or not ids or not all(isinstance(c, str) and c for c in ids):
                problem = "channelIds is required and must be a list of strings"
            else:
                problem = self._check_common(body, ids)
        if problem is not None:
            return self._failure(problem)
        ids, user = body["channelIds"], body["userAccount"]
        if self.batch_data_as_list:
            data: Any = [{"channelId": c, **self._join_token(c, user, [c])} for c in ids]
        else:
            data = self._join_token(ids[0], user, ids)
        return self._success(data)

    def _check_common(self, body: dict[str, Any], channel_ids: list[str]) -> str | None:
        user, role = body.get("userAccount"), body.get("role")
        if not isinstance(user, str) or not user:
            return "userAccount is required and must be a string"
        if isinstance(role, bool) or not isinstance(role, int):
            return "role is required and must be an integer"
        if user not in self.users:
            return f"User account does not exist: {user}"
        missing = [c for c in channel_ids if c not in self.channels]
        if missing:
            return f"Channel does not exist: {','.join(missing)}"
        return None

    def _join_token(self, channel_id: str, user: str, channel_ids: list[str]) -> dict[str, Any]:
        """One join token object, shaped like the doc's getTokenBatch example."""
        now = self.server.now()
        begin = datetime.fromtimestamp(now, BEIJING).replace(microsecond=0, tzinfo=None)
        end = begin + timedelta(seconds=self.join_token_seconds)
        with self._lock:
            self.join_tokens_issued += 1
            self.join_token_log.append(
                {
                    "channelIds": list(channel_ids),
                    "userAccount": user,
                    "validFrom": int(now),
                    "validUntil": int(now) + int(self.join_token_seconds),
                }
            )
        seed = f"{user}|{','.join(channel_ids)}|{secrets.token_hex(8)}".encode()
        token = "006" + RTC_APP_ID + base64.b64encode(hashlib.sha256(seed).digest() * 2).decode()
        room = int(hashlib.sha256(user.encode()).hexdigest()[:4], 16) % 9000 + 1000
        return {
            "proxy": "video.isdp.sim.example.com",
            "appId": RTC_APP_ID,
            "expirationTime": self.join_token_seconds,
            "tokenBegin": begin.strftime("%Y-%m-%dT%H:%M:%S"),
            "tokenEnd": end.strftime("%Y-%m-%dT%H:%M:%S"),
            "token": token,
            "publishUrl": f"rtmp://push.isdp.sim.example.com/live/{room}_{channel_id}",
            "publishInfo": {
                "transcodingFramerate": 0,
                "transcodingWidth": 0,
                "currentPushSum": 2,
                "pushEnable": True,
                "pushLimit": 100,
                "transcodingHeight": 0,
                "transcodingBitrate": 0,
            },
            "networkQuality": {"normal": "16-30", "strong": "0-15", "bad": "51-100", "weak": "31-50"},
            "playQuality": {"frameRate": 15, "bitRate": 320, "resolutionHeight": 360, "resolutionWidth": 480},
            "playQualityCondition": {"t4G": 31, "t5G": 31, "t2G": 0, "CPU": 80, "t3G": 0, "WIFI": 31},
            "proxyList": [
                "172-19-99-245.video.isdp.sim.example.com",
                "172-19-99-228.video.isdp.sim.example.com",
            ],
            "metering": {"message": "5003", "status": 0},
            "safetyHelmetInfo": {"resolutionRatio": None},
        }

    def _timestamp(self) -> str:
        now = datetime.fromtimestamp(self.server.now(), UTC).astimezone(BEIJING)
        return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}+0800"

    def _success(self, data: Any) -> SimResponse:
        envelope = {"status": 1, "message": "SUCCESS", "error": None, "data": data}
        return SimResponse(200, {**envelope, "timestamp": self._timestamp()})

    def _failure(self, problem: str) -> SimResponse:
        envelope = {"status": 0, "message": "FAILED", "error": problem, "data": None}
        return SimResponse(200, {**envelope, "timestamp": self._timestamp()})


def _oauth_error(status: int, error: str, description: str) -> SimResponse:
    headers = {"WWW-Authenticate": f'Bearer error="{error}", error_description="{description}"'}
    return SimResponse(status, {"error": error, "error_description": description}, headers)


def _json_object(req: SimRequest) -> tuple[dict[str, Any], str | None]:
    if "application/json" not in req.headers.get("content-type", ""):
        return {}, "Content-Type must be application/json"
    try:
        body = req.json()
    except ValueError:
        return {}, "request body is not valid JSON"
    if not isinstance(body, dict):
        return {}, "request body must be a JSON object"
    return body, None
