"""Wait in the triggerer for a Volcengine Live stream to go online (DescribeLiveStreamState),
and watch a stream's sessions for an asset watcher (DescribeLiveStreamInfoByPage).

Polls share the access key's process-wide 10 requests/s bucket, so many triggers in one
triggerer stay under the vendor's quota. See :mod:`airflow_live_provider.triggers.base`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from airflow_live_provider.triggers.base import LiveWatchTrigger
from airflow_live_provider.triggers.stream_sessions import (
    PollSnapshot,
    SessionScopeTrigger,
    StreamSessionTrigger,
)

if TYPE_CHECKING:
    from airflow_live_provider.events.sessions import Seen, WatchState


class StreamTarget:
    """One stream: ``app``/``stream`` on a domain space (``vhost``) or a push/pull ``domain``.

    A plain class with slots, neither a frozen dataclass nor a NamedTuple: DAG files import this
    module at every parse (the session watchers); the dataclass cost 0.3-0.5 ms of it, a NamedTuple
    about 0.1 ms (it compiles its constructor).
    """

    __slots__ = ("app", "stream", "vhost", "domain")

    def __init__(self, app: str, stream: str, vhost: str | None = None, domain: str | None = None) -> None:
        self.app = app
        self.stream = stream
        self.vhost = vhost
        self.domain = domain

    def as_dict(self) -> dict[str, str | None]:
        """``{"app", "stream", "vhost", "domain"}``: the trigger's constructor arguments."""
        return {"app": self.app, "stream": self.stream, "vhost": self.vhost, "domain": self.domain}

    #: The name it had as a NamedTuple, kept for its callers (the Volcengine sensor).
    _asdict = as_dict

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StreamTarget) and self.as_dict() == other.as_dict()

    def __hash__(self) -> int:
        return hash((self.app, self.stream, self.vhost, self.domain))

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={value!r}" for name, value in self.as_dict().items())
        return f"StreamTarget({fields})"

    def __str__(self) -> str:
        where = f"vhost {self.vhost!r}" if self.vhost else f"domain {self.domain!r}"
        return f"stream {self.app}/{self.stream} on {where}"


class VolcengineStreamStateTrigger(LiveWatchTrigger):
    """Until the stream's ``stream_state`` is ``online`` (done) or ``forbidden`` (never)."""

    online_state = "online"
    forbidden_state = "forbidden"

    def __init__(
        self,
        *,
        app: str,
        stream: str,
        deadline: float,
        poke_interval: float,
        vhost: str | None = None,
        domain: str | None = None,
        volcengine_conn_id: str = "volcengine_live_default",
    ) -> None:
        super().__init__(deadline=deadline, poke_interval=poke_interval)
        self.target = StreamTarget(app=app, stream=stream, vhost=vhost, domain=domain)
        self.volcengine_conn_id = volcengine_conn_id

    def __str__(self) -> str:
        return str(self.target)

    def target_kwargs(self) -> dict[str, Any]:
        return {**self.target.as_dict(), "volcengine_conn_id": self.volcengine_conn_id}

    def make_client(self) -> Any:
        from airflow_live_provider.hooks.volcengine import VolcengineLiveHook

        return VolcengineLiveHook(volcengine_conn_id=self.volcengine_conn_id).client

    def poll(self) -> str:
        target = self.target
        result = self.client().describe_live_stream_state(
            vhost=target.vhost, domain=target.domain, app=target.app, stream=target.stream
        )
        return str(result["stream_state"])


class VolcengineStreamSessionTrigger(StreamSessionTrigger):
    """Session events of one stream (``vhost``/``app``/``stream``), for an asset watcher.

    A group is (connection, vhost, app, poll interval): one DescribeLiveStreamInfoByPage listing
    of the app's ONLINE streams per poll (1,000 a page) serves every watcher of the group, so N
    watched streams cost ``ceil(online streams / 1000)`` requests per poll, whatever N. The
    session id is ``<ID>@<SessionStartTime>``; a stream not listed is offline.
    """

    vendor = "volcengine"

    def __init__(
        self,
        *,
        vhost: str,
        app: str,
        stream: str,
        volcengine_conn_id: str = "volcengine_live_default",
        poll_interval: float = 30,
        offline_grace_seconds: float = 60,
    ) -> None:
        from airflow_live_provider.vendors.names import validate_app, validate_host_name, validate_stream

        super().__init__(
            conn_id=volcengine_conn_id,
            poll_interval=poll_interval,
            offline_grace_seconds=offline_grace_seconds,
        )
        self.vhost = validate_host_name(vhost).lower()
        self.app = validate_app(app)
        self.stream = validate_stream(stream)
        self.volcengine_conn_id = volcengine_conn_id

    def __str__(self) -> str:
        return f"stream {self.app}/{self.stream} on vhost {self.vhost!r}"

    def target_kwargs(self) -> dict[str, Any]:
        return {
            "vhost": self.vhost,
            "app": self.app,
            "stream": self.stream,
            "volcengine_conn_id": self.volcengine_conn_id,
        }

    def target(self) -> dict[str, Any]:
        return {"vhost": self.vhost, "app": self.app, "stream": self.stream}

    def asset_uri(self) -> str:
        from airflow_live_provider.asset_names import volclive_uri

        return volclive_uri(self.vhost, self.app, self.stream)

    @classmethod
    def group_key(cls, kwargs: Mapping[str, Any]) -> tuple[Any, ...]:
        return (
            cls.vendor,
            kwargs["volcengine_conn_id"],
            kwargs["vhost"],
            kwargs["app"],
            float(kwargs["poll_interval"]),
        )

    @classmethod
    def make_client(cls, kwargs: Mapping[str, Any]) -> Any:
        from airflow_live_provider.hooks.volcengine import VolcengineLiveHook

        return VolcengineLiveHook(volcengine_conn_id=kwargs["volcengine_conn_id"]).client

    @classmethod
    def fetch(cls, client: Any, kwargs: Mapping[str, Any]) -> dict[str, list[Any]]:
        """``{stream name: [OnlineStream, ...]}`` of the group's vhost/app: at most
        :data:`~.stream_sessions.MAX_POLL_PAGES` pages, stopped once the poll's deadline
        (``_deadline``, monotonic) has passed (a :class:`LiveApiResponseError`: the poll fails)."""
        import time

        from airflow_live_provider.triggers.stream_sessions import MAX_POLL_PAGES, poll_overran

        online: dict[str, list[Any]] = {}
        deadline = kwargs.get("_deadline")
        listing = client.iter_online_streams(
            vhost=kwargs["vhost"], app=kwargs["app"], max_pages=MAX_POLL_PAGES
        )
        for count, item in enumerate(listing, 1):
            if deadline is not None and count % 100 == 0 and time.monotonic() > deadline:
                raise poll_overran(cls.vendor, "DescribeLiveStreamInfoByPage", f"{count} streams listed")
            if item.app == kwargs["app"]:
                online.setdefault(item.stream, []).append(item)
        if deadline is not None and time.monotonic() > deadline:
            raise poll_overran(cls.vendor, "DescribeLiveStreamInfoByPage", "the listing ended")
        return online

    def seen(self, snapshot: PollSnapshot, state: WatchState | None) -> Seen:
        return seen_in_listing(snapshot.result.get(self.stream, []), state)


class VolcengineSessionScopeTrigger(SessionScopeTrigger):
    """Session events of the streams on a watch list, on one connection (see
    :class:`~airflow_live_provider.triggers.stream_sessions.SessionScopeTrigger`).

    Targets are ``{"vhost", "app", "stream"}``; each poll lists the ONLINE streams of every
    vhost/app on the list (DescribeLiveStreamInfoByPage, 1,000 a page), so a poll costs
    ``ceil(online streams / 1000)`` requests per vhost/app, whatever the number watched.
    """

    vendor = "volcengine"

    def __init__(
        self,
        *,
        volcengine_conn_id: str = "volcengine_live_default",
        poll_interval: float = 30,
        offline_grace_seconds: float = 60,
    ) -> None:
        super().__init__(
            conn_id=volcengine_conn_id,
            poll_interval=poll_interval,
            offline_grace_seconds=offline_grace_seconds,
        )
        self.volcengine_conn_id = volcengine_conn_id

    def target_kwargs(self) -> dict[str, Any]:
        return {"volcengine_conn_id": self.volcengine_conn_id}

    @classmethod
    def conn_id_of(cls, kwargs: Mapping[str, Any]) -> str:
        return str(kwargs["volcengine_conn_id"])

    @classmethod
    def make_client(cls, kwargs: Mapping[str, Any]) -> Any:
        return VolcengineStreamSessionTrigger.make_client(kwargs)

    @classmethod
    def check_target(cls, raw: Any) -> dict[str, str]:
        from airflow_live_provider.exceptions import LiveApiInputError
        from airflow_live_provider.vendors.names import validate_app, validate_host_name, validate_stream

        if not isinstance(raw, Mapping):
            raise LiveApiInputError("target", f"must be {{vhost, app, stream}}, got {type(raw).__name__}")
        return {
            "vhost": validate_host_name(raw.get("vhost")).lower(),
            "app": validate_app(raw.get("app")),
            "stream": validate_stream(raw.get("stream")),
        }

    @classmethod
    def target_uri(cls, conn_id: str, target: Mapping[str, str]) -> str:
        from airflow_live_provider.asset_names import volclive_uri

        return volclive_uri(target["vhost"], target["app"], target["stream"])

    @classmethod
    def fetch(cls, client: Any, kwargs: Mapping[str, Any]) -> dict[str, dict[str, list[Any]]]:
        """``{"<vhost>/<app>": {stream: [OnlineStream, ...]}}`` for every vhost/app on the list
        when the poll began; any failure fails the whole poll (its streams unknown)."""
        scopes = sorted({(t["vhost"], t["app"]) for t in kwargs["_targets"]})
        deadline = kwargs.get("_deadline")
        return {
            f"{vhost}/{app}": VolcengineStreamSessionTrigger.fetch(
                client, {"vhost": vhost, "app": app, "_deadline": deadline}
            )
            for vhost, app in scopes
        }

    def seen_target(
        self, target: Mapping[str, str], snapshot: PollSnapshot, state: WatchState | None
    ) -> Seen:
        from airflow_live_provider.events.sessions import UNKNOWN

        listing = snapshot.result.get(f"{target['vhost']}/{target['app']}")
        if listing is None:  # on the list since this poll began
            return UNKNOWN
        return seen_in_listing(listing.get(target["stream"], []), state)


def seen_in_listing(listed: list[Any], state: WatchState | None) -> Seen:
    """What one stream's entries in an online-stream listing say (none: offline)."""
    from airflow_live_provider.events.sessions import OFFLINE, Seen

    if not listed:
        return OFFLINE
    sessions = {session_id(item): item for item in listed}
    # Listed more than once (another domain): keep the session already seen, else the newest.
    if state is not None and state.session_id in sessions:
        chosen = state.session_id
    else:
        chosen = max(sessions, key=lambda s: (sessions[s].session_start_time or "", s))
    return Seen(live=True, session_id=chosen, started_at=sessions[chosen].session_start_time)


def session_id(item: Any) -> str:
    """``<ID>@<SessionStartTime>`` of an online stream (the ID alone without a start time)."""
    start = item.session_start_time
    return f"{item.stream_id}@{start}" if start else str(item.stream_id)
