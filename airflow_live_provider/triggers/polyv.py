"""Wait in the triggerer for a Polyv channel to be live (batch channel live status, ``live``/``end``),
and watch a channel's sessions for an asset watcher (the same call, 20 channels a request).

Polyv documents no "forbidden" state for this call, so a channel is watched until it is ``live``
or the deadline passes. See :mod:`airflow_live_provider.triggers.base`.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from airflow_live_provider.exceptions import LiveApiError
from airflow_live_provider.triggers.base import LiveWatchTrigger
from airflow_live_provider.triggers.stream_sessions import (
    PollSnapshot,
    SessionScopeTrigger,
    StreamSessionTrigger,
)

if TYPE_CHECKING:
    from airflow_live_provider.events.sessions import Seen, WatchState


class PolyvChannelLiveTrigger(LiveWatchTrigger):
    """Until the channel's status is ``live``."""

    online_state = "live"
    forbidden_state = None

    def __init__(
        self, *, channel_id: str, deadline: float, poke_interval: float, polyv_conn_id: str = "polyv_default"
    ) -> None:
        super().__init__(deadline=deadline, poke_interval=poke_interval)
        self.channel_id = str(channel_id)
        self.polyv_conn_id = polyv_conn_id

    def __str__(self) -> str:
        return f"Polyv channel {self.channel_id}"

    def target_kwargs(self) -> dict[str, Any]:
        return {"channel_id": self.channel_id, "polyv_conn_id": self.polyv_conn_id}

    def make_client(self) -> Any:
        from airflow_live_provider.hooks.polyv import PolyvHook

        return PolyvHook(polyv_conn_id=self.polyv_conn_id).client

    def poll(self) -> str:
        return self.client().get_channel_live_status([self.channel_id])[self.channel_id]


log = logging.getLogger(__name__)
#: Channels per batch live-status call (Polyv's documented maximum).
MAX_CHANNELS_PER_POLL_CALL = 20
#: The channels each Polyv group watches: joined and left by its triggers, read by its poll.
_WATCHED: dict[tuple[Any, ...], Counter[str]] = {}


class PolyvChannelSessionTrigger(StreamSessionTrigger):
    """Session events of one Polyv channel, for an asset watcher.

    A group is (connection, poll interval): each poll asks the batch live-status call for every
    channel the group's triggers watch (a process-level registry they join and leave), 20 a call,
    so N channels cost ``ceil(N / 20)`` requests per poll. Polyv gives no session id: a session
    starts at the first poll that sees the channel ``live``.
    """

    vendor = "polyv"

    def __init__(
        self,
        *,
        channel_id: str,
        polyv_conn_id: str = "polyv_default",
        poll_interval: float = 30,
        offline_grace_seconds: float = 60,
    ) -> None:
        from airflow_live_provider.vendors.names import validate_channel_id

        super().__init__(
            conn_id=polyv_conn_id, poll_interval=poll_interval, offline_grace_seconds=offline_grace_seconds
        )
        self.channel_id = validate_channel_id(str(channel_id) if isinstance(channel_id, int) else channel_id)
        self.polyv_conn_id = polyv_conn_id

    def __str__(self) -> str:
        return f"Polyv channel {self.channel_id}"

    def target_kwargs(self) -> dict[str, Any]:
        return {"channel_id": self.channel_id, "polyv_conn_id": self.polyv_conn_id}

    def target(self) -> dict[str, Any]:
        return {"channel_id": self.channel_id}

    def asset_uri(self) -> str:
        from airflow_live_provider.asset_names import polyv_channel_uri

        return polyv_channel_uri(self.polyv_conn_id, self.channel_id)

    @classmethod
    def group_key(cls, kwargs: Mapping[str, Any]) -> tuple[Any, ...]:
        return (cls.vendor, kwargs["polyv_conn_id"], float(kwargs["poll_interval"]))

    @classmethod
    def poll_kwargs(cls, kwargs: Mapping[str, Any]) -> Mapping[str, Any]:
        """The group's kwargs plus the channels its triggers watch now, in numeric order."""
        return {**kwargs, "_channels": sorted(_WATCHED.get(cls.group_key(kwargs), ()), key=int)}

    def watching(self) -> None:
        _WATCHED.setdefault(self.shared_stream_key(), Counter())[self.channel_id] += 1

    def done_watching(self) -> None:
        key = self.shared_stream_key()
        channels = _WATCHED.get(key)
        if channels is None:
            return
        channels[self.channel_id] -= 1
        if channels[self.channel_id] <= 0:
            del channels[self.channel_id]
        if not channels:
            del _WATCHED[key]

    @classmethod
    def make_client(cls, kwargs: Mapping[str, Any]) -> Any:
        from airflow_live_provider.hooks.polyv import PolyvHook

        return PolyvHook(polyv_conn_id=kwargs["polyv_conn_id"]).client

    @classmethod
    def fetch(cls, client: Any, kwargs: Mapping[str, Any]) -> dict[str, str]:
        """``{channel id: "live" | "end"}`` for the channels the group watched when the poll began.

        Asked 20 at a time (the poll fails once its deadline ``_deadline`` has passed) so that a
        batch Polyv refuses for good (a deleted channel: 403
        "illegal channel id") leaves only its own 20 channels unknown; throttling or a server
        error stops the poll (retrying the other batches now would only add to the load).
        """
        import time

        from airflow_live_provider.triggers.stream_sessions import poll_overran

        channels: list[str] = kwargs["_channels"]
        deadline = kwargs.get("_deadline")
        statuses: dict[str, str] = {}
        refused: LiveApiError | None = None
        for start in range(0, len(channels), MAX_CHANNELS_PER_POLL_CALL):
            if deadline is not None and time.monotonic() > deadline:
                asked = f"{start} of {len(channels)} channels asked"
                raise poll_overran(cls.vendor, "channels/live-status", asked)
            batch = channels[start : start + MAX_CHANNELS_PER_POLL_CALL]
            try:
                statuses.update(client.get_channel_live_statuses(batch))
            except LiveApiError as exc:
                if exc.retryable:
                    raise
                refused = exc
                log.warning("Polyv channels %s..%s unknown this poll: %s", batch[0], batch[-1], exc)
        if refused is not None and not statuses:
            raise refused
        strange = sorted(c for c, status in statuses.items() if status not in ("live", "end"))
        if strange:
            log.warning(
                "Polyv channels %s unknown this poll: a status other than live/end (%s)",
                ", ".join(strange[:10]) + (" ..." if len(strange) > 10 else ""),
                statuses[strange[0]][:40],
            )
        return statuses

    def seen(self, snapshot: PollSnapshot, state: WatchState | None) -> Seen:
        return seen_status(snapshot.result.get(self.channel_id))


class PolyvSessionScopeTrigger(SessionScopeTrigger):
    """Session events of the channels on a watch list, on one Polyv connection (see
    :class:`~airflow_live_provider.triggers.stream_sessions.SessionScopeTrigger`): targets are
    ``{"channel_id"}``, each poll asks the batch live-status call for all of them, 20 a call."""

    vendor = "polyv"

    def __init__(
        self,
        *,
        polyv_conn_id: str = "polyv_default",
        poll_interval: float = 30,
        offline_grace_seconds: float = 60,
    ) -> None:
        super().__init__(
            conn_id=polyv_conn_id, poll_interval=poll_interval, offline_grace_seconds=offline_grace_seconds
        )
        self.polyv_conn_id = polyv_conn_id

    def target_kwargs(self) -> dict[str, Any]:
        return {"polyv_conn_id": self.polyv_conn_id}

    @classmethod
    def conn_id_of(cls, kwargs: Mapping[str, Any]) -> str:
        return str(kwargs["polyv_conn_id"])

    @classmethod
    def make_client(cls, kwargs: Mapping[str, Any]) -> Any:
        return PolyvChannelSessionTrigger.make_client(kwargs)

    @classmethod
    def check_target(cls, raw: Any) -> dict[str, str]:
        from airflow_live_provider.exceptions import LiveApiInputError
        from airflow_live_provider.vendors.names import validate_channel_id

        if not isinstance(raw, Mapping):
            raise LiveApiInputError("target", f"must be {{channel_id}}, got {type(raw).__name__}")
        channel = raw.get("channel_id")
        return {"channel_id": validate_channel_id(str(channel) if isinstance(channel, int) else channel)}

    @classmethod
    def target_uri(cls, conn_id: str, target: Mapping[str, str]) -> str:
        from airflow_live_provider.asset_names import polyv_channel_uri

        return polyv_channel_uri(conn_id, target["channel_id"])

    @classmethod
    def fetch(cls, client: Any, kwargs: Mapping[str, Any]) -> dict[str, str]:
        channels = sorted({t["channel_id"] for t in kwargs["_targets"]}, key=int)
        return PolyvChannelSessionTrigger.fetch(
            client, {"_channels": channels, "_deadline": kwargs.get("_deadline")}
        )

    def seen_target(
        self, target: Mapping[str, str], snapshot: PollSnapshot, state: WatchState | None
    ) -> Seen:
        return seen_status(snapshot.result.get(target["channel_id"]))


def seen_status(status: str | None) -> Seen:
    """What a channel's batch live status says: ``live``, ``end`` (offline), else unknown (not
    asked in this poll, or a status Polyv does not document)."""
    from airflow_live_provider.events.sessions import OFFLINE, UNKNOWN, Seen

    if status == "live":
        return Seen(live=True)
    if status == "end":
        return OFFLINE
    return UNKNOWN
