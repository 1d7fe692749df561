"""Wait for an event step's moment in the triggerer, and stop waiting when the calendar moves on.

A ``live_event`` step waits for its moment (a token lead before the start, the go-live window)
with :class:`EventMomentTrigger` instead of a plain ``DateTimeTrigger``: it fires at the moment,
or earlier when the run's definition is no longer the calendar's (the event was moved, edited,
cancelled or removed), so a superseded or cancelled run ends within a check interval
(``[live_provider] calendar_poll_seconds``), not at its old moment (an hour, a day later).

The calendar is read where the planner reads it now, at most once per check interval per
location for every trigger of the triggerer (one cache, refreshed by one reader), in a thread:
a thousand waiting steps cost one read a minute. A calendar that cannot be read changes nothing
(the step wakes at its moment and decides then).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

#: location -> (monotonic time read, the validated events or None when unreadable)
_CALENDARS: dict[str, tuple[float, list[dict[str, Any]] | None]] = {}
_LOCKS: dict[str, asyncio.Lock] = {}


async def calendar_events(pinned: str, max_age: float) -> list[dict[str, Any]] | None:
    """The calendar's validated events (None when it cannot be read), at most ``max_age`` old."""
    from airflow_live_provider.calendar_source import calendar_location

    location = await asyncio.to_thread(calendar_location, pinned)
    lock = _LOCKS.setdefault(location, asyncio.Lock())
    async with lock:
        cached = _CALENDARS.get(location)
        if cached is not None and time.monotonic() - cached[0] < max_age:
            return cached[1]
        events = await asyncio.to_thread(_load, location)
        _CALENDARS[location] = (time.monotonic(), events)
        return events


def _load(location: str) -> list[dict[str, Any]] | None:
    from airflow_live_provider.events.calendar import read_calendar

    try:
        return read_calendar(location)
    except Exception:  # being rewritten, a store down: the step decides at its moment
        return None


class EventMomentTrigger(BaseTrigger):
    """Fires ``{"status": "moment"}`` at ``moment``, or ``{"status": "changed"|"cancelled"}`` as
    soon as the calendar no longer holds ``event`` as defined by ``definition``."""

    def __init__(
        self,
        *,
        moment: datetime | str,
        event: dict[str, Any],
        definition: str,
        calendar: str,
        check_interval: float = 60,
    ) -> None:
        super().__init__()
        from airflow_live_provider.times import parse_instant

        self.moment = moment if isinstance(moment, datetime) else parse_instant(moment)
        self.event = event
        self.definition = definition
        self.calendar = calendar
        self.check_interval = float(check_interval)
        if not self.check_interval > 0:
            raise ValueError(f"check_interval: {check_interval!r} must be a positive number of seconds")

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "moment": self.moment.isoformat(),
                "event": self.event,
                "definition": self.definition,
                "calendar": self.calendar,
                "check_interval": self.check_interval,
            },
        )

    async def verdict(self) -> str:
        from airflow_live_provider.events.planner import calendar_verdict

        events = await calendar_events(self.calendar, self.check_interval / 2)
        if events is None:
            return "unknown"
        conf = {"definition": self.definition}
        return calendar_verdict(conf, self.event, events)[0]

    async def run(self) -> AsyncIterator[TriggerEvent]:
        while True:
            left = (self.moment - datetime.now(UTC)).total_seconds()
            if left <= 0:
                yield TriggerEvent({"status": "moment"})
                return
            await asyncio.sleep(min(left, self.check_interval))
            if datetime.now(UTC) >= self.moment:
                continue
            verdict = await self.verdict()
            if verdict in ("changed", "cancelled"):
                self.log.info(
                    "event %r %s in the calendar: the step wakes now", self.event.get("name"), verdict
                )
                yield TriggerEvent({"status": verdict})
                return
