"""Stream sessions from polls: when a watched stream's session starts and ends (pure, no I/O).

The event triggers (:mod:`airflow_live_provider.triggers.stream_sessions`) poll a vendor and feed
each poll's answer for one stream or channel to :func:`observe`, with the state kept from the last
poll (:class:`WatchState`, stored as JSON in Airflow's asset state store so a triggerer restart
fires nothing again). :func:`observe` says what changed, as event payloads.

Rules:

- A poll answers live (with the vendor's session id and start time when it gives them), offline,
  or unknown (the poll failed). Unknown changes nothing: it is never taken for offline.
- With no stored state the stream counts as offline: a live stream never seen makes one "started".
- Offline must last ``offline_grace_seconds`` (from the first offline poll to an offline poll)
  before "ended"; a blip inside it, back to the same session, fires nothing. ``ended_at`` is the
  first offline poll.
- Another session id without an offline poll in between fires "ended" (the old session, ended at
  the poll that saw the new one) then "started" (the new one).
- A session the vendor gives no id (Polyv) gets one when it starts: the time of the first poll
  that saw it live (its ``started_at``), kept in the state, so every event of that session, and
  every re-fire of one, carries the same ``session_id``.

Delivery (the trigger's part, :mod:`airflow_live_provider.triggers.stream_sessions`): the events
an :func:`observe` decides are kept in ``WatchState.pending`` and stored *before* they are fired,
and fired again by a watcher that starts with them still pending (see :func:`event_key`).

Payloads carry times as UTC ISO-8601 ``...Z`` and never a credential (see the README).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime
from typing import Any

from airflow_live_provider.times import instant_or_none, utc_iso

STARTED = "started"
ENDED = "ended"


@dataclass(frozen=True)
class Seen:
    """One poll's answer for one watched thing: ``live`` True/False, or None when unknown."""

    live: bool | None
    session_id: str | None = None
    #: The vendor's session start (RFC 3339) when it gives one.
    started_at: str | None = None


UNKNOWN = Seen(live=None)
OFFLINE = Seen(live=False)


@dataclass(frozen=True)
class WatchState:
    """What the watcher remembers between polls (and across restarts, as :meth:`to_json`).

    ``live`` is the decided state: True from "started" to "ended". ``offline_since`` is the first
    offline poll of a grace period still running (None when the last known poll was live).
    """

    live: bool = False
    session_id: str | None = None
    started_at: str | None = None
    first_seen_live_at: str | None = None
    last_seen_live_at: str | None = None
    offline_since: str | None = None
    #: Events fired (or about to be) whose hand-over is not yet known, oldest first: stored before
    #: they are fired, re-fired by a watcher that starts with them, dropped once handed on.
    pending: tuple[dict[str, Any], ...] = ()

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["pending"] = [dict(p) for p in self.pending]
        return data

    @classmethod
    def from_json(cls, data: Any) -> WatchState | None:
        """The state stored by :meth:`to_json`; None for nothing stored or a value not ours."""
        if not isinstance(data, Mapping):
            return None
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if not isinstance(values.get("live", False), bool):
            return None
        pending = values.pop("pending", None) or []
        if not isinstance(pending, list) or not all(isinstance(p, Mapping) for p in pending):
            return None
        if any(v is not None and not isinstance(v, str) for k, v in values.items() if k != "live"):
            return None
        return cls(**values, pending=tuple(dict(p) for p in pending))


def event_key(payload: Mapping[str, Any]) -> tuple[Any, ...]:
    """What tells one event from another: its kind and session (id and start)."""
    return payload.get("kind"), payload.get("session_id"), payload.get("started_at")


def _ended(state: WatchState, ended_at: datetime, now: datetime) -> dict[str, Any]:
    started = instant_or_none(state.started_at, naive_zone=UTC)
    duration = round((ended_at - started).total_seconds(), 3) if started else None
    return {
        "kind": ENDED,
        "session_id": state.session_id,
        "started_at": state.started_at,
        "first_seen_live_at": state.first_seen_live_at,
        "observed_at": utc_iso(now, milliseconds=True),
        "last_seen_live_at": state.last_seen_live_at,
        "ended_at": utc_iso(ended_at, milliseconds=True),
        "duration_seconds": duration,
    }


def _start(seen: Seen, now: datetime) -> tuple[WatchState, dict[str, Any]]:
    vendor_start = instant_or_none(seen.started_at, naive_zone=UTC)
    started_at = utc_iso(vendor_start or now, milliseconds=True)
    state = WatchState(
        live=True,
        # No id from the vendor: the session's start, fixed here, so a re-fire carries the same.
        session_id=seen.session_id or started_at,
        started_at=started_at,
        first_seen_live_at=utc_iso(now, milliseconds=True),
        last_seen_live_at=utc_iso(now, milliseconds=True),
    )
    payload = {
        "kind": STARTED,
        "session_id": state.session_id,
        "started_at": state.started_at,
        "first_seen_live_at": state.first_seen_live_at,
        "observed_at": utc_iso(now, milliseconds=True),
    }
    return state, payload


def observe(
    state: WatchState | None,
    seen: Seen,
    now: datetime,
    offline_grace_seconds: float,
    *,
    identity: Mapping[str, Any] | None = None,
) -> tuple[WatchState, list[dict[str, Any]]]:
    """The state after this poll and the events it decides (oldest first).

    ``identity`` (vendor, conn_id, asset_uri, target) is copied into every payload. ``pending`` is
    the caller's business: the returned state's may be empty or stale, set it on the result.
    """
    state = state or WatchState()
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    payloads: list[dict[str, Any]] = []
    if seen.live is None:  # the poll failed: no evidence either way
        return state, payloads
    if seen.live:
        if state.live and state.session_id and seen.session_id and seen.session_id != state.session_id:
            # Another session without an offline poll seen in between (or inside the grace).
            ended_at = instant_or_none(state.offline_since, naive_zone=UTC) or now
            payloads.append(_ended(state, ended_at, now))
            state = WatchState()
        if not state.live:
            state, started = _start(seen, now)
            payloads.append(started)
        else:  # the same session (a blip inside the grace, if any, is forgotten)
            state = replace(
                state,
                session_id=state.session_id or seen.session_id,
                last_seen_live_at=utc_iso(now, milliseconds=True),
                offline_since=None,
            )
    elif state.live:
        offline_since = instant_or_none(state.offline_since, naive_zone=UTC) or now
        if (now - offline_since).total_seconds() >= offline_grace_seconds:
            payloads.append(_ended(state, offline_since, now))
            state = WatchState()
        elif state.offline_since is None:
            state = replace(state, offline_since=utc_iso(now, milliseconds=True))
    base = dict(identity or {})
    return state, [{**base, **payload} for payload in payloads]
