"""The Polyv part of the vendor simulator.

Five endpoints with Polyv's real envelopes and error messages (``vendor-docs/polyv-*.txt``):
watch-API tokens, the group's sub-account list, transmit associations, the channel simple list
and transmit batch-create. Every call is checked like the real API: appId (group endpoints take
the group main account's), a 3-minute timestamp window and the MD5/SHA256 sign. The signer here
is written separately from the client's on purpose, so one bug cannot hide in both.
"""

from __future__ import annotations

import hashlib
import json
import math
import secrets
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable
from typing import Any

from airflow_live_provider.simulator.base import (
    Handler,
    SimRequest,
    SimResponse,
    SimulatorClock,
    VendorSimulator,
)

DEMO_APP_ID = "demo0polyv"
DEMO_APP_SECRET = "demo0polyv0app0secret0000000001x"
DEMO_USER_ID = "demo0user1"
DEMO_GROUP_APP_ID = "demo0group"
DEMO_GROUP_APP_SECRET = "demo0group0app0secret000000002y"
DEMO_CHANNEL_ID = "2094979"
DEMO_TRANSMIT_CHANNEL_ID = "3151318"
DEMO_SUB_ACCOUNT_COUNT = 25

TIMESTAMP_WINDOW_MS = 3 * 60 * 1000
TOKEN_TTL_MS = 5 * 3600 * 1000
DAY_MS = 86_400_000

#: Index (0-based) of the demo sub-accounts with something to report.
LOW_RESOURCE_INDEXES = frozenset({2, 6, 10})
EXPIRED_INDEX = 4
FROZEN_INDEX = 8
EXPIRING_SOON_DAYS = {12: 2, 16: 5}


def sub_account_email(index: int) -> str:
    return f"sub{index + 1:05d}@demo.example.com"


def _secret(kind: str, index: int, length: int = 32) -> str:
    return hashlib.sha256(f"polyv-sim-{kind}-{index}".encode()).hexdigest()[:length]


def _sign(params: dict[str, str], secret: str, method: str) -> str:
    """Independent re-implementation of Polyv's rule (sorted k+v, secret on both sides, upper hex)."""
    text = (
        secret + "".join(k + params[k] for k in sorted(params) if k != "sign" and params[k].strip()) + secret
    )
    raw = text.encode("utf-8")
    return (hashlib.sha256(raw) if method == "SHA256" else hashlib.md5(raw)).hexdigest().upper()  # noqa: S324


class PolyvSimulator(VendorSimulator):
    """State: apps, channels, transmit associations, generated sub-accounts, issued tokens."""

    def __init__(self, server: SimulatorClock) -> None:
        super().__init__(server)
        self._lock = threading.Lock()
        self.apps: dict[str, str] = {}
        self.group_apps: dict[str, str] = {}
        self.channels: dict[str, dict[str, Any]] = {}
        self.associations: dict[str, list[str]] = {}
        self.watch_tokens: dict[str, dict[str, Any]] = {}
        #: channel id -> when it goes live (epoch s, simulator clock); channels not listed: "end".
        self.live_at: dict[str, float] = {}
        self.sub_account_count = 0
        #: index -> {remain field: amount used so far} (what ``use_resources`` subtracted).
        self.used: dict[int, dict[str, float]] = {}
        #: index -> fields replaced as given (odd vendor data: ``expireDate="永久"``, NaN minutes).
        self.overrides: dict[int, dict[str, Any]] = {}
        self._next_channel_id = 3_200_000
        self._throttle_remaining = 0
        #: The documented IP limit: 1500 requests per 10 s (None disables it).
        self.qps_window: tuple[int, float] | None = (1500, 10.0)
        self._recent: deque[float] = deque()
        #: The ``channelIds`` of every authenticated live-status call, in order (chunking tests).
        self.live_status_calls: list[list[str]] = []

    # -- set-up helpers (demo data and tests) ----------------------------------------------------
    def routes(self) -> dict[tuple[str, str], Handler]:
        return {
            ("POST", "/live/v3/channel/watch/get-watch-api-token"): self._watch_token,
            ("GET", "/live/v4/group/user/package/list"): self._package_list,
            ("GET", "/live/v3/channel/transmit/get-associations"): self._get_associations,
            ("GET", "/live/v4/channel/simple/list"): self._simple_list,
            ("POST", "/live/v3/channel/transmit/batch-create"): self._batch_create,
            ("POST", "/live/v2/channels/live-status"): self._live_status,
        }

    def seed_demo(self) -> None:
        self.apps[DEMO_APP_ID] = DEMO_APP_SECRET
        self.group_apps[DEMO_GROUP_APP_ID] = DEMO_GROUP_APP_SECRET
        self.add_channel("Demo live channel", channel_id=DEMO_CHANNEL_ID)
        self.add_channel(
            "Demo transmit channel", channel_id=DEMO_TRANSMIT_CHANNEL_ID, channel_type="transmit"
        )
        for n in range(1, 4):
            self.add_channel(f"Demo channel {n}")
        self.set_sub_account_count(DEMO_SUB_ACCOUNT_COUNT)

    def connections(self, base_url: str) -> dict[str, dict[str, Any]]:
        return {
            "polyv_default": {
                "conn_type": "polyv",
                "host": base_url,
                "login": DEMO_APP_ID,
                "password": DEMO_APP_SECRET,
            },
            "polyv_group_default": {
                "conn_type": "polyv",
                "host": base_url,
                "login": DEMO_GROUP_APP_ID,
                "password": DEMO_GROUP_APP_SECRET,
                # MD5 (the default) is not spelled out: Airflow masks every extra value and
                # warns on each one under 5 characters.
                "extra": {"account_type": "group"},
            },
        }

    def secrets(self) -> list[str]:
        from airflow_live_provider.redaction import SECRET_KEYS, secret_values

        found = [*self.apps.values(), *self.group_apps.values(), *self.watch_tokens]
        for index in range(self.sub_account_count):
            found.extend(secret_values(self.sub_account(index), SECRET_KEYS))
        found.extend(channel["channelPasswd"] for channel in self.channels.values())
        return found

    def set_sub_account_count(self, count: int) -> None:
        """``count`` deterministic sub-accounts, generated per index on demand (no memory cost)."""
        self.sub_account_count = count

    def set_sub_account_fields(self, index: int, **fields: Any) -> None:
        """Sub-account ``index`` reports these values as given (bad vendor data tests)."""
        with self._lock:
            self.overrides.setdefault(index, {}).update(fields)

    def use_resources(self, index: int, **amounts: float) -> None:
        """Sub-account ``index`` uses resources: ``use_resources(3, remainMinutes=120)`` lowers
        what the next list call reports (trend and runway tests). A negative amount is a top-up."""
        with self._lock:
            used = self.used.setdefault(index, {})
            for name, amount in amounts.items():
                used[name] = used.get(name, 0.0) + amount

    def add_channel(self, name: str, *, channel_id: str | None = None, channel_type: str = "normal") -> str:
        with self._lock:
            if channel_id is None:
                self._next_channel_id += 1
                channel_id = str(self._next_channel_id)
            self.channels[channel_id] = {
                "channelId": int(channel_id),
                "name": name,
                "type": channel_type,
                "channelPasswd": secrets.token_hex(4),
                "stream": secrets.token_hex(13)[:27],
                "createdTime": int(self.server.now() * 1000),
            }
            if channel_type == "transmit":
                self.associations.setdefault(channel_id, [])
            return channel_id

    def go_live(self, channel_id: str, *, in_seconds: float = 0.0) -> None:
        """The channel's live status turns from ``end`` to ``live`` after ``in_seconds``."""
        self.live_at[channel_id] = self.server.now() + in_seconds

    def end_live(self, channel_id: str) -> None:
        """The channel's live status is ``end`` again (until the next :meth:`go_live`)."""
        self.live_at.pop(channel_id, None)

    def add_receivers(self, transmit_id: str, names: Iterable[str]) -> list[str]:
        """Receivers created directly (as if made earlier, e.g. in the Polyv console)."""
        ids = [self.add_channel(name, channel_type="receive") for name in names]
        with self._lock:
            self.associations.setdefault(transmit_id, []).extend(ids)
        return ids

    def receivers(self, transmit_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(self.channels[cid]) for cid in self.associations.get(transmit_id, [])]

    def throttle(self, times: int = 1) -> None:
        """The next ``times`` Polyv requests answer ``qps exceeds number of calls``."""
        with self._lock:
            self._throttle_remaining += times

    def sub_account(self, index: int) -> dict[str, Any]:
        """The deterministic sub-account at ``index`` (0-based), with Polyv's field names."""
        now_ms = int(self.server.now() * 1000)
        status, expire = "normal", now_ms + 365 * DAY_MS
        if index == EXPIRED_INDEX:
            status, expire = "expired", now_ms - 30 * DAY_MS
        elif index == FROZEN_INDEX:
            status = "frozen"
        elif index in EXPIRING_SOON_DAYS:
            expire = now_ms + EXPIRING_SOON_DAYS[index] * DAY_MS
        low = index in LOW_RESOURCE_INDEXES
        account: dict[str, Any] = {
            "userId": f"u{index + 1:09d}",
            "appId": f"sub{_secret('appid', index, 7)}",
            "appSecret": _secret("appsecret", index),
            "email": sub_account_email(index),
            "balance": str((index * 13) % 1000),
            "phone": f"138{index:08d}",
            "memo": f"demo sub-account {index + 1}",
            "contacts": f"Contact {index + 1}",
            "chargeType": ("minutes", "parallelConcurrent", "totalConcurrent")[index % 3],
            "remainConcurrent": 1 if low else 50 + index % 100,
            "remainMinutes": 5 if low else 1000 + (index * 37) % 5000,
            "remainFlow": 0.5 if low else 100.0 + (index % 50) * 1.5,
            "remainSpace": 0.2 if low else 50.0 + (index % 20) * 2.5,
            "expireType": "custom" if index in EXPIRING_SOON_DAYS or index == EXPIRED_INDEX else "group",
            "expireDate": expire,
            "status": status,
            "linkMicMinutes": 100,
            "guideMinutes": 100,
            "maxChannels": 10,
            "linkMicLimit": 6,
            "pureRtcEnabled": "N",
            "vodSecretKey": _secret("vodsecret", index),
            "vodBakSecretKey": _secret("vodbaksecret", index),
            "writeToken": str(uuid.UUID(_secret("write", index))),
            "readToken": str(uuid.UUID(_secret("read", index))),
        }
        account.update(self.overrides.get(index, {}))
        for name, amount in self.used.get(index, {}).items():
            remaining = account[name] - amount
            account[name] = int(remaining) if float(remaining).is_integer() else round(remaining, 3)
        return account

    # -- envelopes -------------------------------------------------------------------------------
    @staticmethod
    def _v3(data: Any) -> SimResponse:
        return SimResponse(200, {"code": 200, "status": "success", "message": "", "data": data})

    @staticmethod
    def _v3_error(status: int, message: str) -> SimResponse:
        return SimResponse(status, {"code": status, "status": "error", "message": message, "data": ""})

    @staticmethod
    def _v4(data: Any) -> SimResponse:
        body = {
            "code": 200,
            "status": "success",
            "requestId": uuid.uuid4().hex,
            "data": data,
            "success": True,
        }
        return SimResponse(200, body)

    @staticmethod
    def _v4_error(status: int, code: int, desc: str) -> SimResponse:
        body = {
            "code": status,
            "status": "error",
            "requestId": uuid.uuid4().hex,
            "error": {"code": code, "desc": desc},
            "success": False,
        }
        return SimResponse(status, body)

    def _error(self, v4: bool, status: int, message: str, v4_code: int | None = None) -> SimResponse:
        return self._v4_error(status, v4_code or status, message) if v4 else self._v3_error(status, message)

    # -- checks every call goes through ----------------------------------------------------------
    def _check(self, req: SimRequest, params: dict[str, str], *, group: bool, v4: bool) -> SimResponse | None:
        with self._lock:
            if self._throttle_remaining > 0:
                self._throttle_remaining -= 1
                return self._error(v4, 400, "qps exceeds number of calls")
            if self.qps_window is not None:
                limit, window = self.qps_window
                now = time.monotonic()
                while self._recent and self._recent[0] < now - window:
                    self._recent.popleft()
                if len(self._recent) >= limit:
                    return self._error(v4, 400, "qps exceeds number of calls")
                self._recent.append(now)
        app_id = params.get("appId", "")
        if not app_id:
            return self._error(v4, 400, "appId is required.")
        secret = (self.group_apps if group else self.apps).get(app_id)
        if secret is None:
            if app_id in (self.apps if group else self.group_apps):
                return self._error(v4, 403, "access forbidden")
            return self._error(v4, 400, "application not found.")
        timestamp = params.get("timestamp", "")
        now_ms = int(self.server.now() * 1000)
        if (
            len(timestamp) != 13
            or not timestamp.isdigit()
            or abs(now_ms - int(timestamp)) > TIMESTAMP_WINDOW_MS
        ):
            return (
                self._error(v4, 400, "时间戳过期", 10003) if v4 else self._v3_error(400, "invalid timestamp.")
            )
        method = params.get("signatureMethod", "MD5")
        if method not in ("MD5", "SHA256"):
            return self._error(v4, 400, "invalid signatureMethod.")
        if params.get("sign", "") != _sign(params, secret, method):
            return self._error(v4, 403, "invalid signature.")
        return None

    def _channel_error(self, channel_id: str, *, transmit: bool) -> SimResponse | None:
        channel = self.channels.get(channel_id)
        if channel is None or (transmit and channel["type"] != "transmit"):
            return self._v3_error(403, f"illegal channel id: {channel_id}")
        return None

    # -- endpoints -------------------------------------------------------------------------------
    def _watch_token(self, req: SimRequest) -> SimResponse:
        params = {**req.query, **req.form}
        failure = self._check(req, params, group=False, v4=False)
        if failure is not None:
            return failure
        channel_id, viewer_id = params.get("channelId", ""), params.get("viewerId", "")
        if not channel_id or not viewer_id:
            return self._v3_error(400, "channelId and viewerId are required.")
        if not 1 <= len(viewer_id) <= 64:
            return self._v3_error(400, "param length is incorrect: viewerId")
        bad = self._channel_error(channel_id, transmit=False)
        if bad is not None:
            return bad
        token = secrets.token_hex(8)
        with self._lock:
            self.watch_tokens[token] = {
                "channelId": channel_id,
                "viewerId": viewer_id,
                "nickname": params.get("nickname"),
                "issuedAt": int(self.server.now() * 1000),
                "expiresAt": int(self.server.now() * 1000) + TOKEN_TTL_MS,
            }
        return self._v3({"token": token})

    def _live_status(self, req: SimRequest) -> SimResponse:
        """Batch live status: ``channelIds`` (<= 20) -> ``[{channelId, status: live|end}]``."""
        params = {**req.query, **req.form}
        failure = self._check(req, params, group=False, v4=False)
        if failure is not None:
            return failure
        ids = [c for c in params.get("channelIds", "").split(",") if c]
        with self._lock:
            self.live_status_calls.append(ids)
        if not ids or len(ids) > 20:
            return self._v3_error(400, "param length is incorrect: channelIds")
        for channel_id in ids:
            bad = self._channel_error(channel_id, transmit=False)
            if bad is not None:
                return bad
        now = self.server.now()
        live = {c for c, at in self.live_at.items() if now >= at}
        return self._v3([{"channelId": int(c), "status": "live" if c in live else "end"} for c in ids])

    def _package_list(self, req: SimRequest) -> SimResponse:
        params = dict(req.query)
        failure = self._check(req, params, group=True, v4=True)
        if failure is not None:
            return failure
        paging = self._paging(params, max_page_size=100)
        if isinstance(paging, SimResponse):
            return paging
        page_number, page_size = paging
        emails = [e for e in (params.get("emails") or "").split(",") if e]
        if len(emails) > 100:
            return self._v4_error(400, 400, "param length is incorrect: emails")
        count = self.sub_account_count
        if emails:
            by_email = {}
            for email in emails:
                index = self._index_of(email)
                if index is not None and index < count:
                    by_email[index] = True
            indexes: list[int] | range = sorted(by_email)
        else:
            indexes = range(count)
        start = (page_number - 1) * page_size
        contents = [self.sub_account(i) for i in indexes[start : start + page_size]]
        return self._v4_page(contents, page_number, page_size, len(indexes))

    @staticmethod
    def _index_of(email: str) -> int | None:
        local, _, domain = email.partition("@")
        if domain != "demo.example.com" or not local.startswith("sub") or not local[3:].isdigit():
            return None
        return int(local[3:]) - 1

    def _get_associations(self, req: SimRequest) -> SimResponse:
        params = dict(req.query)
        failure = self._check(req, params, group=False, v4=False)
        if failure is not None:
            return failure
        channel_id = params.get("channelId", "")
        bad = self._channel_error(channel_id, transmit=True)
        if bad is not None:
            return bad
        with self._lock:
            data = [
                {"channelId": int(channel_id), "receiveChannelId": int(cid)}
                for cid in self.associations.get(channel_id, [])
            ]
        return self._v3(data)

    def _simple_list(self, req: SimRequest) -> SimResponse:
        params = dict(req.query)
        failure = self._check(req, params, group=False, v4=True)
        if failure is not None:
            return failure
        paging = self._paging(params, max_page_size=1000)
        if isinstance(paging, SimResponse):
            return paging
        page_number, page_size = paging
        keyword = params.get("keyword") or ""
        with self._lock:
            matching = [
                {"channelId": c["channelId"], "name": c["name"], "scene": "alone", "channelType": c["type"]}
                for c in sorted(self.channels.values(), key=lambda c: c["channelId"])
                if keyword.lower() in c["name"].lower()
            ]
        start = (page_number - 1) * page_size
        return self._v4_page(matching[start : start + page_size], page_number, page_size, len(matching))

    def _paging(self, params: dict[str, str], *, max_page_size: int) -> tuple[int, int] | SimResponse:
        """``(pageNumber, pageSize)`` of a v4 list request, or the error Polyv answers."""
        try:
            page_size = int(params.get("pageSize") or 10)
            page_number = int(params.get("pageNumber") or 1)
        except ValueError:
            return self._v4_error(400, 400, "pageSize and pageNumber must be numbers")
        if not 1 <= page_size <= max_page_size or page_number < 1:
            return self._v4_error(400, 400, "param length is incorrect: pageSize")
        return page_number, page_size

    def _v4_page(self, contents: list[Any], page_number: int, page_size: int, total: int) -> SimResponse:
        return self._v4(
            {
                "pageNumber": page_number,
                "pageSize": page_size,
                "totalPages": math.ceil(total / page_size),
                "totalItems": total,
                "contents": contents,
            }
        )

    def _batch_create(self, req: SimRequest) -> SimResponse:
        params = dict(req.query)  # the JSON body is not signed
        failure = self._check(req, params, group=False, v4=False)
        if failure is not None:
            return failure
        channel_id = params.get("channelId", "")
        bad = self._channel_error(channel_id, transmit=True)
        if bad is not None:
            return bad
        try:
            names = json.loads(req.body.decode("utf-8")) if req.body else None
        except ValueError:
            names = None
        if (
            "application/json" not in req.headers.get("content-type", "")
            or not isinstance(names, list)
            or not names
            or not all(isinstance(n, str) and n.strip() for n in names)
        ):
            return self._v3_error(400, "request body is not empty or lost params")
        if len(names) > 100:
            return self._v3_error(400, "param length is incorrect:body array size")
        with self._lock:
            existing = len(self.associations.get(channel_id, []))
        if existing + len(names) > 500:
            return self._v3_error(400, "transmit channel number limit: 500")
        ids = self.add_receivers(channel_id, names)
        data = []
        for cid in ids:
            channel = self.channels[cid]
            data.append(
                {
                    "channelId": channel["channelId"],
                    "name": channel["name"],
                    "channelPasswd": channel["channelPasswd"],
                    "authType": "none",
                    "streamType": "client",
                    "stream": channel["stream"],
                    "status": "客户端推流/直播结束",
                    "scene": "alone",
                    "createdTime": channel["createdTime"],
                    "appId": None,
                    "type": "receive",
                }
            )
        return self._v3(data)
