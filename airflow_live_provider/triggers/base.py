"""What the live-watch triggers share: poll a vendor's live state in the triggerer until a verdict.

Each poll runs the provider's own (sync, signed, retrying, rate-limited) client in a worker thread
with ``asyncio.to_thread``, one request in flight per trigger, so the triggerer's event loop never
blocks. Polls share the vendor client's process-wide quota bucket; a throttled or failed poll
backs off. The deadline is absolute (epoch seconds): it survives the trigger being moved to
another triggerer. The verdict rules (:func:`watch_outcome`) and their wording
(:func:`outcome_message`) are shared with the sensors, so poking and deferring end the same way.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any, ClassVar

from airflow.triggers.base import BaseTrigger, TriggerEvent

#: The longest pause between polls after throttling or a transient failure.
MAX_BACKOFF_SECONDS = 60.0


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

    def target_kwargs(self) -> dict[str, Any]:
        """The subclass's own constructor arguments (what it watches, with which connection)."""
        raise NotImplementedError

    def poll(self) -> str:
        """One read of the live state (sync: runs in a worker thread)."""
        raise NotImplementedError

    def serialize(self) -> tuple[str, dict[str, Any]]:
        kwargs = {**self.target_kwargs(), "deadline": self.deadline, "poke_interval": self.poke_interval}
        return f"{type(self).__module__}.{type(self).__qualname__}", kwargs

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from airflow_live_provider.exceptions import LiveApiError

        last: str | None = None
        pause = self.poke_interval
        while True:
            try:
                # Bounded by the deadline: with many triggers sharing the quota a poll may queue,
                # and the verdict must not come later than the deadline because of it.
                last = await asyncio.wait_for(
                    asyncio.to_thread(self.poll), timeout=max(0.1, self.deadline - time.time())
                )
                pause = self.poke_interval
            except TimeoutError:
                pass  # the deadline came first: judged below with the last state seen
            except LiveApiError as exc:
                if not exc.retryable:
                    yield TriggerEvent({"outcome": "error", "state": last, "message": str(exc)})
                    return
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
                yield TriggerEvent({"outcome": outcome, "state": last})
                return
            self.log.info("%s is %s; next poll in %.0f s", self, last or "unknown", pause)
            await asyncio.sleep(max(0.0, min(pause, self.deadline - now)))
