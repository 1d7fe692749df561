"""What the live-watch triggers share: poll a vendor's live state in the triggerer until a verdict.

Each poll runs the provider's own (sync, signed, retrying, rate-limited) client in a worker thread
with ``asyncio.to_thread``, one request in flight per trigger, so the triggerer's event loop never
blocks. Polls share the vendor client's process-wide quota bucket; a throttled or failed poll
backs off. The deadline is absolute (epoch seconds): it survives the trigger being moved to
another triggerer. The verdict rules (:func:`watch_outcome`) and their wording
(:func:`outcome_message`) are shared with the sensors, so poking and deferring end the same way.

Each trigger builds its vendor client once (on the first poll) and closes it, with its HTTP
session and pooled connections, before it yields its verdict or when it is cancelled: a
triggerer runs thousands of triggers over its life and would otherwise keep a session and an
idle keep-alive socket per finished one until the garbage collector got to it.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, ClassVar, TypeVar

from airflow.triggers.base import BaseTrigger, TriggerEvent

T = TypeVar("T")

#: The longest pause between polls after throttling or a transient failure.
MAX_BACKOFF_SECONDS = 60.0


class ClientSlot:
    """One vendor client, built on first use by ``make`` (in a worker thread), closed once.

    :meth:`close` closes it at once when no call is running, else the running call (see
    :meth:`run`) closes it when it returns: closing a session under a call would let it open a
    fresh pool. Once closed, :meth:`get` refuses instead of opening a new session. Built outside
    the lock (reading a connection may take a while) so :meth:`close` never waits on it from the
    event loop.
    """

    def __init__(self, make: Callable[[], Any], *, owner: object) -> None:
        self._make = make
        self._owner = owner
        self._client: Any = None
        self._lock = threading.Lock()
        self._closed = False
        self._calls = 0  # calls running in worker threads (one may outlive a cancelled wait)

    def get(self) -> Any:
        with self._lock:
            if self._closed:
                raise RuntimeError(f"{self._owner}: the trigger has finished")
            if self._client is not None:
                return self._client
        client = self._make()
        with self._lock:
            if self._closed or self._client is not None:  # finished, or another call won the race
                keep = None if self._closed else self._client
            else:
                self._client = keep = client
        if keep is not client:
            client.close()
        if keep is None:
            raise RuntimeError(f"{self._owner}: the trigger has finished")
        return keep

    def run(self, call: Callable[[], T]) -> T:
        """``call()`` (which uses :meth:`get`), counted so that :meth:`close` waits for it."""
        with self._lock:
            self._calls += 1
        try:
            return call()
        finally:
            with self._lock:
                self._calls -= 1
                client = self._take_if_idle()
            if client is not None:
                client.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            client = self._take_if_idle()
        if client is not None:
            client.close()

    def _take_if_idle(self) -> Any:
        """The client to close now (under the lock): closed and no call running."""
        if not self._closed or self._calls:
            return None
        client, self._client = self._client, None
        return client


def watch_outcome(
    state: str | None, *, online: str, forbidden: str | None, now: float, deadline: float
) -> str | None:
    """``online`` / ``forbidden`` / ``timeout`` when watching should stop, else None (keep going)."""
    if state is not None and state == online:
        return "online"
    if forbidden is not None and state == forbidden:
        return "forbidden"
    return "timeout" if now >= deadline else None


def outcome_message(target: str, outcome: str, last_state: str | None, timeout: float) -> str:
    if outcome == "online":
        return f"{target} is live"
    if outcome == "forbidden":
        return (
            f"{target} is forbidden (state {last_state!r}): the vendor refuses to serve it; lift the "
            "ban in the vendor's console"
        )
    return f"{target} is not live after {timeout:g} s; its last state was {last_state or 'unknown'!r}"


class LiveWatchTrigger(BaseTrigger):
    """Poll :meth:`poll` every ``poke_interval`` s until ``online``, ``forbidden`` or ``deadline``.

    Event payload: ``{"outcome": "online" | "forbidden" | "timeout" | "error", "state": <last
    state seen>, "message": <for errors>}``; never a credential.
    """

    #: The state that means live, and the one that means it never will be (None: no such state).
    online_state: ClassVar[str] = "online"
    forbidden_state: ClassVar[str | None] = None

    def __init__(self, *, deadline: float, poke_interval: float) -> None:
        super().__init__()
        self.deadline = float(deadline)
        self.poke_interval = float(poke_interval)
        self._slot = ClientSlot(self.make_client, owner=self)

    def target_kwargs(self) -> dict[str, Any]:
        """The subclass's own constructor arguments (what it watches, with which connection)."""
        raise NotImplementedError

    def poll(self) -> str:
        """One read of the live state (sync: runs in a worker thread); use :meth:`client`."""
        raise NotImplementedError

    def make_client(self) -> Any:
        """A vendor client (with a ``close()``) from the trigger's connection; runs in a worker thread."""
        raise NotImplementedError

    def client(self) -> Any:
        """The trigger's vendor client, built on first use (see :class:`ClientSlot`)."""
        return self._slot.get()

    def close(self) -> None:
        """Close the vendor client now, or when the poll still running in a worker thread returns."""
        self._slot.close()

    def _poll_once(self) -> str:
        """:meth:`poll`, counted, so that :meth:`close` knows whether one is still running."""
        return self._slot.run(self.poll)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        kwargs = {**self.target_kwargs(), "deadline": self.deadline, "poke_interval": self.poke_interval}
        return f"{type(self).__module__}.{type(self).__qualname__}", kwargs

    async def run(self) -> AsyncIterator[TriggerEvent]:
        # Closed before the verdict is yielded: the triggerer does not resume a trigger after its
        # event, so a ``finally`` around the yield would run only when the generator is collected.
        try:
            payload = await self._watch()
        finally:
            self.close()  # also when cancelled (the task was cleared, the triggerer stops)
        yield TriggerEvent(payload)

    async def _watch(self) -> dict[str, Any]:
        """Poll until a verdict; the event payload."""
        from airflow_live_provider.exceptions import LiveApiError

        last: str | None = None
        pause = self.poke_interval
        while True:
            try:
                # Bounded by the deadline: with many triggers sharing the quota a poll may queue,
                # and the verdict must not come later than the deadline because of it.
                last = await asyncio.wait_for(
                    asyncio.to_thread(self._poll_once), timeout=max(0.1, self.deadline - time.time())
                )
                pause = self.poke_interval
            except TimeoutError:
                pass  # the deadline came first: judged below with the last state seen
            except LiveApiError as exc:
                if not exc.retryable:
                    return {"outcome": "error", "state": last, "message": str(exc)}
                # The client's own retries are spent: throttled or the vendor is struggling.
                pause = min(MAX_BACKOFF_SECONDS, max(pause, self.poke_interval) * 2)
                self.log.warning("%s: poll failed (%s); next poll in %.0f s", self, exc.code, pause)
            now = time.time()
            outcome = watch_outcome(
                last,
                online=self.online_state,
                forbidden=self.forbidden_state,
                now=now,
                deadline=self.deadline,
            )
            if outcome is not None:
                return {"outcome": outcome, "state": last}
            self.log.info("%s is %s; next poll in %.0f s", self, last or "unknown", pause)
            await asyncio.sleep(max(0.0, min(pause, self.deadline - now)))
