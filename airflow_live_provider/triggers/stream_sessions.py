"""Stream sessions as Airflow events: asset-watcher triggers that fire on "started" and "ended".

A watcher keeps running after it fires (Airflow's design), so these triggers fire on *changes*
(:func:`airflow_live_provider.events.sessions.observe`), never on a state.

**One poll per group.** Watchers of the same group share one poll loop in the triggerer
(``shared_stream_key`` / ``open_shared_stream`` / ``filter_shared_stream``, Airflow 3.3): one
Volcengine online-stream listing per vhost/app, one batch of Polyv live statuses (20 channels a
call) per connection. The poll runs the provider's own sync client in a worker thread
(``asyncio.to_thread``), built from the hook on the first poll and closed when the loop ends. A
failed poll is *unknown* to every watcher (never offline); retryable errors back off with jitter,
others are logged and retried slowly; no vendor error leaves the loop (it would end every
watcher of the group).

**State** lives in the asset state store (``self.asset_state_store``, injected by the triggerer),
read once when the watcher starts. Events are at-least-once with one identity per session: the
state with the poll's events marked *pending* is written before they are yielded (the triggerer
hands a yielded event on at its next sync, ~1 s later; the write lands at once); an event stays
pending until the first poll :data:`HANDOVER_SECONDS` after it fired, and a watcher starting with
pending events fires them again, as stored. Consumers dedupe by (asset_uri, kind, session_id).
Without a store (``run()`` outside a triggerer) the state is kept in memory.

The vendor triggers live beside their live-watch triggers (:mod:`.volcengine`, :mod:`.polyv`) and
are importable from here too.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from contextlib import aclosing
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, cast

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

from airflow_live_provider.exceptions import LiveApiError, LiveApiInputError
from airflow_live_provider.triggers.base import MAX_BACKOFF_SECONDS, ClientSlot

if TYPE_CHECKING:
    from airflow_live_provider.events.sessions import Seen, WatchState

# The vendors' watchers subclass these beside their live-watch triggers (triggers/volcengine.py,
# triggers/polyv.py); this module does not import them (no import circle).
__all__ = ["PollSnapshot", "SessionScopeTrigger", "StreamSessionTrigger"]

log = logging.getLogger(__name__)

#: The asset state store key holding a watcher's :class:`WatchState` (JSON).
STATE_KEY = "stream_session"
#: A poll that failed for a reason retrying soon cannot fix waits this many poll intervals.
SLOW_RETRY_INTERVALS = 10
#: The vendor's Retry-After is honoured up to this many poll intervals (finite numbers only).
RETRY_AFTER_MAX_INTERVALS = 5
#: One whole poll (all its pages or batches) must finish within this many poll intervals...
POLL_DEADLINE_INTERVALS = 2
#: ... and at least this many seconds.
MIN_POLL_DEADLINE_SECONDS = 30.0
#: A Volcengine listing pages at most this far per poll (1,000 streams a page: 100,000 online).
MAX_POLL_PAGES = 100
#: After this many failed polls in a row a group says so at ERROR in the triggerer's log (and again
#: every this many), with the last error; then once at WARNING when a poll succeeds again.
FAILED_POLLS_ALERT = 3
#: A fired event stays pending (stored, re-fired by a watcher that starts with it) until the
#: watcher's first poll at least this many seconds after it fired: the triggerer hands events on
#: at its next sync, about a second later.
HANDOVER_SECONDS = 10.0
#: The longest error text a failed poll logs.
MAX_LOGGED_MESSAGE = 500


class PollSnapshot:
    """One shared poll's answer, fanned out to every watcher of the group.

    ``result`` is the vendor's answer (None when the poll failed: ``error`` says why, and every
    watcher takes it as unknown). A plain class with slots, neither a dataclass nor a NamedTuple:
    DAG files import this module at every parse, and building a dataclass costs a third of a
    millisecond, a NamedTuple about 0.1 ms (it compiles its constructor), this about 0.01 ms.
    """

    __slots__ = ("observed_at", "result", "error")

    def __init__(self, observed_at: datetime, result: Any = None, error: str | None = None) -> None:
        self.observed_at = observed_at
        self.result = result
        self.error = error

    def __repr__(self) -> str:
        return f"PollSnapshot(observed_at={self.observed_at!r}, result={self.result!r}, error={self.error!r})"


def positive_seconds(value: Any, field: str, *, allow_zero: bool = False) -> float:
    """A number of seconds (> 0, or >= 0 with ``allow_zero``), refused clearly otherwise."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise LiveApiInputError(field, f"must be a number of seconds such as 30, got {value!r}")
    if value < 0 or (value == 0 and not allow_zero):
        raise LiveApiInputError(
            field, f"must be {'0 or more' if allow_zero else 'more than 0'}, got {value!r}"
        )
    return float(value)


def usable_retry_after(value: float | None, poll_interval: float) -> float | None:
    """The vendor's Retry-After as a pause: a finite number of seconds (>= 0), at most
    :data:`RETRY_AFTER_MAX_INTERVALS` poll intervals; None for no usable value (``inf``, NaN, a
    negative number): a vendor must not be able to silence a watcher group for a day or forever."""
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not math.isfinite(value) or value < 0:
        return None
    return min(float(value), RETRY_AFTER_MAX_INTERVALS * poll_interval)


def next_pause(exc: LiveApiError, previous: float, poll_interval: float) -> float:
    """How long to wait after a failed poll: retryable errors double the pause (with jitter, at
    most :data:`MAX_BACKOFF_SECONDS` or one poll interval if longer, at least the vendor's
    Retry-After as :func:`usable_retry_after` caps it); other errors wait
    :data:`SLOW_RETRY_INTERVALS` poll intervals within that cap."""
    cap = max(MAX_BACKOFF_SECONDS, poll_interval)
    if exc.retryable:
        ceiling = min(cap, max(previous, poll_interval) * 2)
        pause = random.uniform(ceiling / 2, ceiling)
    else:
        pause = min(cap, poll_interval * SLOW_RETRY_INTERVALS)
    return max(pause, usable_retry_after(exc.retry_after, poll_interval) or 0.0)


def poll_deadline_seconds(poll_interval: float) -> float:
    """How long one whole poll (every page or batch of it) may take: :data:`POLL_DEADLINE_INTERVALS`
    poll intervals, at least :data:`MIN_POLL_DEADLINE_SECONDS`."""
    return max(MIN_POLL_DEADLINE_SECONDS, POLL_DEADLINE_INTERVALS * poll_interval)


def poll_overran(vendor: str, call: str, progress: str) -> LiveApiError:
    """The error of a poll stopped at its deadline (not retryable soon: the next poll is one
    interval away anyway)."""
    from airflow_live_provider.exceptions import LiveApiResponseError

    return LiveApiResponseError(
        f"{call}: the poll passed its deadline ({progress}); stopped, its streams are unknown this poll",
        vendor=vendor,
    )


def poll_failure_text(exc: BaseException) -> str:
    """What a failed poll logs: a provider error's text (built from the vendor's code and message,
    credentials already scrubbed by the transport), cut to :data:`MAX_LOGGED_MESSAGE`; for any other
    exception only its type (its text may hold anything, a connection URI included)."""
    if isinstance(exc, LiveApiError):
        text = str(exc)
        return text if len(text) <= MAX_LOGGED_MESSAGE else text[: MAX_LOGGED_MESSAGE - 3] + "..."
    return type(exc).__name__


class SessionBook:
    """One watched stream's state and the delivery of its events (see the module docstring).

    :meth:`step` folds a poll's answer into the state and returns the events it decides, already
    in ``state.pending``; the caller stores the state when told, then yields them and calls
    :meth:`fired`. An event leaves ``pending`` at the first step :data:`HANDOVER_SECONDS` after
    it fired; :meth:`refire` returns what a previous life left pending (fire those first).
    """

    __slots__ = ("grace", "identity", "state", "_fired")

    def __init__(self, identity: Mapping[str, Any], grace: float, state: WatchState | None) -> None:
        self.identity = dict(identity)
        self.grace = grace
        self.state = state
        self._fired: dict[tuple[Any, ...], float] = {}  # event key -> when this process fired it

    def refire(self) -> list[dict[str, Any]]:
        pending = list(self.state.pending) if self.state is not None else []
        for payload in pending:
            self.fired(payload)
        return pending

    def fired(self, payload: Mapping[str, Any]) -> None:
        from airflow_live_provider.events.sessions import event_key

        self._fired[event_key(payload)] = time.monotonic()

    def step(self, seen: Seen, observed_at: datetime) -> tuple[list[dict[str, Any]], bool]:
        """The events this poll decides, and whether the state must be stored (before firing)."""
        from airflow_live_provider.events.sessions import event_key, observe

        before = self.state.pending if self.state is not None else ()
        kept = before
        if self._fired:  # something fired by this process may have been handed on by now
            handed_on = time.monotonic() - HANDOVER_SECONDS
            kept = tuple(p for p in before if self._fired.get(event_key(p), math.inf) > handed_on)
            for key in [k for k, at in self._fired.items() if at <= handed_on]:
                del self._fired[key]
        state, payloads = observe(self.state, seen, observed_at, self.grace, identity=self.identity)
        if payloads or state.pending != kept:  # observe keeps the pending it was given, or none
            state = replace(state, pending=(*kept, *payloads))
        self.state = state
        return payloads, bool(payloads) or kept != before


class StreamSessionTrigger(BaseEventTrigger):
    """Fire one event when a watched stream's session starts and one when it ends.

    Subclasses say what they watch (:meth:`target_kwargs`, :meth:`target`, :meth:`asset_uri`),
    how a group is keyed (:meth:`group_key`), how a poll is made (:meth:`make_client`,
    :meth:`fetch`) and what it says about their own stream (:meth:`seen`).
    """

    vendor: ClassVar[str]

    def __init__(self, *, conn_id: str, poll_interval: float = 30, offline_grace_seconds: float = 60) -> None:
        super().__init__()
        self.conn_id = conn_id
        self.poll_interval = positive_seconds(poll_interval, "poll_interval")
        self.offline_grace_seconds = positive_seconds(
            offline_grace_seconds, "offline_grace_seconds", allow_zero=True
        )
        self._memory: dict[str, Any] = {}  # the state when there is no asset state store

    # -- what a subclass says ------------------------------------------------------------------
    def target_kwargs(self) -> dict[str, Any]:
        """The constructor arguments naming what is watched, with which connection."""
        raise NotImplementedError

    def target(self) -> dict[str, Any]:
        """What the events carry as ``target``."""
        raise NotImplementedError

    def asset_uri(self) -> str:
        raise NotImplementedError

    @classmethod
    def group_key(cls, kwargs: Mapping[str, Any]) -> tuple[Any, ...]:
        """The shared poll's key, from serialized kwargs (only the fields a poll depends on)."""
        raise NotImplementedError

    @classmethod
    def make_client(cls, kwargs: Mapping[str, Any]) -> Any:
        """A vendor client (with ``close()``) from the group's connection; runs in a worker thread."""
        raise NotImplementedError

    @classmethod
    def poll_kwargs(cls, kwargs: Mapping[str, Any]) -> Mapping[str, Any]:
        """What the next :meth:`fetch` gets (read in the event loop before each poll)."""
        return kwargs

    @classmethod
    def fetch(cls, client: Any, kwargs: Mapping[str, Any]) -> Any:
        """One poll for the whole group (sync: runs in a worker thread)."""
        raise NotImplementedError

    def seen(self, snapshot: PollSnapshot, state: WatchState | None) -> Seen:
        """What ``snapshot`` says about this trigger's stream (UNKNOWN when it cannot tell)."""
        raise NotImplementedError

    def watching(self) -> None:
        """Called when this trigger starts consuming its group's polls (before any await)."""

    def done_watching(self) -> None:
        """Called when it stops."""

    # -- Airflow's trigger API -----------------------------------------------------------------
    def serialize(self) -> tuple[str, dict[str, Any]]:
        kwargs = {
            **self.target_kwargs(),
            "poll_interval": self.poll_interval,
            "offline_grace_seconds": self.offline_grace_seconds,
        }
        return f"{type(self).__module__}.{type(self).__qualname__}", kwargs

    def shared_stream_key(self) -> tuple[Any, ...]:
        return self.group_key(self.serialize()[1])

    @classmethod
    async def open_shared_stream(cls, kwargs: dict[str, Any]) -> AsyncIterator[PollSnapshot]:
        """Poll forever, one request batch per interval for the whole group; never raises for a
        vendor error (a failed poll is yielded as unknown and retried later).

        Each poll has a deadline (:func:`poll_deadline_seconds`, checked between pages or
        batches) and a page cap (:data:`MAX_POLL_PAGES`); an answer in the wrong shape fails the
        poll like any vendor error. Every poll is counted in the metrics
        (:func:`~airflow_live_provider.metrics.record_session_poll`); a group failing
        :data:`FAILED_POLLS_ALERT` polls in a row logs an ERROR naming the last error.
        """
        from airflow_live_provider.exceptions import LiveApiResponseError
        from airflow_live_provider.metrics import record_session_poll

        poll_interval = float(kwargs["poll_interval"])
        name = f"{cls.__name__} group {cls.group_key(kwargs)!r}"
        slot = ClientSlot(lambda: cls.make_client(kwargs), owner=name)
        pause = poll_interval
        failed_in_a_row = 0
        try:
            while True:
                poll = {  # in the event loop, as the group is now
                    **cls.poll_kwargs(kwargs),
                    "_deadline": time.monotonic() + poll_deadline_seconds(poll_interval),
                }
                failure: BaseException | None = None
                try:
                    result = await asyncio.to_thread(slot.run, lambda poll=poll: cls.fetch(slot.get(), poll))
                except LiveApiError as exc:
                    failure = exc
                    pause = next_pause(exc, pause, poll_interval)
                except Exception as exc:  # a missing connection, a bug: retried slowly, never raised
                    failure = exc
                    pause = min(max(MAX_BACKOFF_SECONDS, poll_interval), poll_interval * SLOW_RETRY_INTERVALS)
                if failure is None:
                    record_session_poll(cls.vendor, "ok")
                    if failed_in_a_row >= FAILED_POLLS_ALERT:
                        log.warning("%s: polling again after %d failed polls in a row", name, failed_in_a_row)
                    failed_in_a_row = 0
                    pause = poll_interval
                    yield PollSnapshot(datetime.now(UTC), result=result)
                else:
                    bad_answer = isinstance(failure, LiveApiResponseError)
                    record_session_poll(cls.vendor, "bad_answer" if bad_answer else "failed")
                    failed_in_a_row += 1
                    text = poll_failure_text(failure)
                    if failed_in_a_row % FAILED_POLLS_ALERT == 0:
                        log.error(
                            "%s: %d polls in a row failed; its streams' sessions are unknown (no event "
                            "fires) until a poll succeeds. Last error: %s; next poll in %.1f s",
                            name,
                            failed_in_a_row,
                            text,
                            pause,
                        )
                    else:
                        log.warning("%s: poll failed (%s); next poll in %.1f s", name, text, pause)
                    yield PollSnapshot(datetime.now(UTC), error=text)
                await asyncio.sleep(pause)
        finally:
            slot.close()  # now, or when a poll still running in its worker thread returns

    async def filter_shared_stream(self, shared_stream: AsyncIterator[Any]) -> AsyncIterator[TriggerEvent]:
        # Imported here, not at the top: DAG files build these triggers at every parse.
        from airflow_live_provider.events.sessions import UNKNOWN

        self.watching()  # before any await: the group's next poll includes this trigger
        try:
            identity = {
                "vendor": self.vendor,
                "conn_id": self.conn_id,
                "asset_uri": self.asset_uri(),
                "target": self.target(),
            }
            book = SessionBook(identity, self.offline_grace_seconds, await self._load_state())
            # Pending from an earlier life (a triggerer killed before handing them on): again.
            for payload in book.refire():
                self.log.info("%s: session %s (%s) fired again", self, payload["kind"], payload["session_id"])
                yield TriggerEvent(payload)
            async for snapshot in shared_stream:
                if not isinstance(snapshot, PollSnapshot):
                    continue
                seen = UNKNOWN if snapshot.error is not None else self.seen(snapshot, book.state)
                payloads, changed = book.step(seen, snapshot.observed_at)
                if changed:
                    # Stored BEFORE the events are yielded: the triggerer hands an event on at its
                    # next sync (~1 s), while this write lands at once.
                    await self._save_state(book.state)
                for payload in payloads:
                    self.log.info("%s: session %s (%s)", self, payload["kind"], payload["session_id"])
                    yield TriggerEvent(payload)
                    book.fired(payload)
        finally:
            self.done_watching()

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Without a shared stream: this trigger's own poll loop (same events)."""
        _, kwargs = self.serialize()
        polls = cast("AsyncGenerator[PollSnapshot, None]", type(self).open_shared_stream(kwargs))
        async with aclosing(polls):
            events = cast("AsyncGenerator[TriggerEvent, None]", self.filter_shared_stream(polls))
            async with aclosing(events):
                async for event in events:
                    yield event

    # -- state ---------------------------------------------------------------------------------
    async def _load_state(self, key: str = STATE_KEY) -> WatchState | None:
        from airflow_live_provider.events.sessions import WatchState

        return WatchState.from_json(await self._read(key, "starting as offline"))

    async def _save_state(self, state: WatchState | None, key: str = STATE_KEY) -> None:
        if state is not None:
            await self._write(key, state.to_json())

    async def _read(self, key: str, otherwise: str) -> Any:
        """A value of the asset state store (of this trigger's memory without one); None when
        nothing is stored or the read failed (logged, saying ``otherwise``)."""
        store = self.asset_state_store
        if store is None:
            return self._memory.get(key)
        try:
            return await store.aget(key)
        except Exception as exc:  # e.g. one trigger watching several assets: no single accessor
            self.log.warning("%s: asset state %r not read (%s); %s", self, key, exc, otherwise)
            return None

    async def _write(self, key: str, value: Any) -> None:
        store = self.asset_state_store
        if store is None:
            self._memory[key] = value
            return
        try:
            await store.aset(key, value)
        except Exception as exc:
            self._memory[key] = value
            self.log.warning("%s: asset state %r not written (%s)", self, key, exc)


#: The streams each scope group polls now: set by its watcher from its watch list, read by its poll.
_SCOPE_TARGETS: dict[tuple[Any, ...], tuple[dict[str, str], ...]] = {}


class SessionScopeTrigger(StreamSessionTrigger):
    """Session events of every stream on a watch list, one watcher per vendor scope (connection).

    The watch list is the value under ``watch_list`` in the watcher's own asset state
    (``{"targets": [<target>, ...], ...}``, written by the planner from the events calendar, see
    :func:`airflow_live_provider.events.session_records.watch_lists`), read before the
    first poll and after every poll: a stream added to the calendar is polled from the next
    poll, one removed is no longer polled. Each stream keeps its own state (and pending events)
    under ``session:<stream URI>``. Events carry the stream's own ``asset_uri`` (its
    ``volclive://`` or ``polyv://`` URI) and ``target``, exactly as the one-stream watchers'.
    Subclasses say how a target is checked (:meth:`check_target`), named (:meth:`target_uri`),
    polled (:meth:`fetch`) and seen (:meth:`seen_target`).
    """

    def __str__(self) -> str:
        return f"{self.vendor} session scope {self.conn_id!r}"

    def target(self) -> dict[str, Any]:
        return {}

    def asset_uri(self) -> str:
        from airflow_live_provider.asset_names import session_scope_name

        return session_scope_name(self.vendor, self.conn_id)

    @classmethod
    def group_key(cls, kwargs: Mapping[str, Any]) -> tuple[Any, ...]:
        return (cls.vendor, "scope", cls.conn_id_of(kwargs), float(kwargs["poll_interval"]))

    @classmethod
    def conn_id_of(cls, kwargs: Mapping[str, Any]) -> str:
        raise NotImplementedError

    @classmethod
    def poll_kwargs(cls, kwargs: Mapping[str, Any]) -> Mapping[str, Any]:
        return {**kwargs, "_targets": _SCOPE_TARGETS.get(cls.group_key(kwargs), ())}

    @classmethod
    def check_target(cls, raw: Any) -> dict[str, str]:
        """One watch-list entry, normalised; LiveApiInputError when it is not a target."""
        raise NotImplementedError

    @classmethod
    def target_uri(cls, conn_id: str, target: Mapping[str, str]) -> str:
        raise NotImplementedError

    def seen_target(
        self, target: Mapping[str, str], snapshot: PollSnapshot, state: WatchState | None
    ) -> Seen:
        raise NotImplementedError

    def seen(self, snapshot: PollSnapshot, state: WatchState | None) -> Seen:  # one-stream API: unused
        raise NotImplementedError

    async def _watch_list(self, previous: tuple[dict[str, str], ...] | None) -> tuple[dict[str, str], ...]:
        """The targets on the stored watch list (bad entries left out, logged); the previous ones
        when it cannot be read; none before a watch list was ever published."""
        from airflow_live_provider.asset_names import WATCH_LIST_KEY

        stored = await self._read(WATCH_LIST_KEY, "keeping the streams watched so far")
        if stored is None:
            return previous or ()
        raw = stored.get("targets") if isinstance(stored, Mapping) else None
        if not isinstance(raw, list):
            self.log.warning("%s: the stored watch list is not {'targets': [...]}; ignored", self)
            return previous or ()
        targets: dict[str, dict[str, str]] = {}
        for index, entry in enumerate(raw):
            try:
                target = self.check_target(entry)
            except LiveApiError as exc:
                if previous is None or len(raw) != len(previous):
                    self.log.warning("%s: watch list entry %d left out: %s", self, index, exc)
                continue
            targets.setdefault(self.target_uri(self.conn_id, target), target)
        return tuple(targets.values())

    async def filter_shared_stream(self, shared_stream: AsyncIterator[Any]) -> AsyncIterator[TriggerEvent]:
        from airflow_live_provider.events.sessions import UNKNOWN

        key = self.shared_stream_key()
        books: dict[str, tuple[dict[str, str], SessionBook]] = {}
        targets: tuple[dict[str, str], ...] | None = None
        try:
            while True:
                # The watch list for the next poll; books for streams new to it (their pending
                # events fired first); streams gone from it are no longer polled.
                targets = await self._watch_list(targets)
                _SCOPE_TARGETS[key] = targets
                wanted = {self.target_uri(self.conn_id, t): t for t in targets}
                for uri in [u for u in books if u not in wanted]:
                    del books[uri]
                for uri, target in wanted.items():
                    if uri in books:
                        continue
                    identity = {
                        "vendor": self.vendor,
                        "conn_id": self.conn_id,
                        "asset_uri": uri,
                        "target": target,
                    }
                    book = SessionBook(
                        identity, self.offline_grace_seconds, await self._load_state(f"session:{uri}")
                    )
                    books[uri] = (target, book)
                    for payload in book.refire():
                        self.log.info(
                            "%s: %s session %s (%s) fired again",
                            self,
                            uri,
                            payload["kind"],
                            payload["session_id"],
                        )
                        yield TriggerEvent(payload)
                snapshot = await anext(shared_stream, None)
                if snapshot is None:
                    return
                if not isinstance(snapshot, PollSnapshot):
                    continue
                for uri, (target, book) in list(books.items()):
                    seen = (
                        UNKNOWN
                        if snapshot.error is not None
                        else self.seen_target(target, snapshot, book.state)
                    )
                    payloads, changed = book.step(seen, snapshot.observed_at)
                    if changed:  # stored before the events are yielded, as for one stream
                        await self._save_state(book.state, f"session:{uri}")
                    for payload in payloads:
                        self.log.info(
                            "%s: %s session %s (%s)", self, uri, payload["kind"], payload["session_id"]
                        )
                        yield TriggerEvent(payload)
                        book.fired(payload)
        finally:
            if _SCOPE_TARGETS.get(key) is targets:
                _SCOPE_TARGETS.pop(key, None)
