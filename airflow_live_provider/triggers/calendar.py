"""Calendar edits as Airflow events: the planner runs when the calendar changes, not only hourly.

:class:`CalendarChangeTrigger` is an event trigger (an ``AssetWatcher`` on the asset
``livecalendar://planner``): every ``poll_interval`` seconds (``[live_provider]
calendar_poll_seconds``, default 60) it finds the calendar where the planner reads it now (the
Variable ``live_events_calendar``, else the DAGs folder's ``live_events.json``; see
:mod:`airflow_live_provider.calendar_source`), reads it, and fires when its location or content
differs from what it last fired for. The planner is scheduled on its hour *or* that asset, so an
edit reaches the event runs within one poll plus one planner run.

The digest it fired for is kept in the asset state store, written after the event is taken: a
triggerer killed in the second between would fire once more after its restart (a planner run
makes nothing twice), never less. A calendar that cannot be read is logged and polled again; it
never fires (the planner would only fail on it).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

#: Where the digest this watcher last fired for is kept (asset state store).
DIGEST_KEY = "calendar_digest"


class CalendarChangeTrigger(BaseEventTrigger):
    """Fires ``{"location", "digest"}`` whenever the planner's calendar changes (or moves)."""

    def __init__(self, *, poll_interval: float = 60, calendar: str | None = None) -> None:
        super().__init__()
        from airflow_live_provider.triggers.stream_sessions import positive_seconds

        self.poll_interval = positive_seconds(poll_interval, "poll_interval")
        self.calendar = calendar or None
        self._memory: dict[str, Any] = {}

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {"poll_interval": self.poll_interval, "calendar": self.calendar},
        )

    def read(self) -> tuple[str, str]:
        """The calendar's location and the digest of its content (blocking: run in a thread)."""
        from airflow_live_provider.calendar_source import (
            calendar_location,
            content_digest,
            read_calendar_text,
        )

        location = calendar_location(self.calendar)
        return location, content_digest(location, read_calendar_text(location))

    async def run(self) -> AsyncIterator[TriggerEvent]:
        last = await self._load()
        failures = 0
        while True:
            try:
                location, digest = await asyncio.to_thread(self.read)
            except Exception as exc:  # a calendar being rewritten, a store down: polled again
                failures += 1
                self.log.warning(
                    "calendar watcher: the calendar cannot be read (%s: %s); %d poll(s) in a row",
                    type(exc).__name__,
                    str(exc)[:300],
                    failures,
                )
            else:
                failures = 0
                if digest != last:
                    self.log.info("calendar watcher: %s changed; the planner runs", location)
                    yield TriggerEvent({"location": location, "digest": digest})
                    last = digest
                    await self._save(digest)
            await asyncio.sleep(self.poll_interval)

    async def _load(self) -> str | None:
        store = self.asset_state_store
        if store is None:
            return self._memory.get(DIGEST_KEY)
        try:
            found = await store.aget(DIGEST_KEY)
        except Exception as exc:
            self.log.warning("calendar watcher: state not read (%s); the first poll fires", exc)
            return None
        return found if isinstance(found, str) else None

    async def _save(self, digest: str) -> None:
        self._memory[DIGEST_KEY] = digest
        store = self.asset_state_store
        if store is None:
            return
        try:
            await store.aset(DIGEST_KEY, digest)
        except Exception as exc:
            self.log.warning("calendar watcher: state not written (%s)", exc)
