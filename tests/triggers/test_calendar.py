"""The planner's calendar watcher: fires when the calendar it would read changes (content or
location), never for an unchanged or unreadable one, and not again after a restart."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from airflow_live_provider.calendar_source import CALENDAR_VARIABLE
from airflow_live_provider.triggers.calendar import CalendarChangeTrigger


class Store:
    """The asset state store's async accessors (what the triggerer injects), kept in a dict."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    async def aget(self, key: str) -> Any:
        return self.values.get(key)

    async def aset(self, key: str, value: Any) -> None:
        self.values[key] = value


async def events_while(
    trigger: CalendarChangeTrigger, steps: list[Any], pause: float = 0.15
) -> list[dict[str, Any]]:
    """Run the trigger while ``steps`` (callables) change the world, one per ``pause``."""
    fired: list[dict[str, Any]] = []

    async def consume() -> None:
        async for event in trigger.run():
            fired.append(event.payload)

    task = asyncio.create_task(consume())
    for step in steps:
        await asyncio.sleep(pause)
        step()
    await asyncio.sleep(pause)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    return fired


def test_fires_once_per_change_and_survives_a_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calendar = tmp_path / "calendar.json"
    calendar.write_text(json.dumps({"events": []}))
    monkeypatch.setenv(f"AIRFLOW_VAR_{CALENDAR_VARIABLE.upper()}", str(calendar))
    store = Store()

    def trigger() -> CalendarChangeTrigger:
        made = CalendarChangeTrigger(poll_interval=0.03)
        made.asset_state_store = store  # type: ignore[assignment]
        return made

    first = asyncio.run(events_while(trigger(), [lambda: None]))
    assert [e["location"] for e in first] == [str(calendar)]  # the first sight: the planner runs
    # A restarted triggerer (same state store): nothing new, nothing fired.
    assert asyncio.run(events_while(trigger(), [lambda: None])) == []
    # An edit fires once; a half-written file fires nothing; the finished edit fires again.
    fired = asyncio.run(
        events_while(
            trigger(),
            [
                lambda: calendar.write_text(json.dumps({"events": [{"name": "x"}]})),
                lambda: calendar.unlink(),
                lambda: calendar.write_text(json.dumps({"events": [{"name": "y"}]})),
            ],
        )
    )
    assert len(fired) == 2 and len({e["digest"] for e in fired}) == 2
    # The Variable switched to another file (even with the same content) fires too.
    other = tmp_path / "other.json"
    other.write_text(calendar.read_text())
    switched = asyncio.run(
        events_while(
            trigger(), [lambda: monkeypatch.setenv(f"AIRFLOW_VAR_{CALENDAR_VARIABLE.upper()}", str(other))]
        )
    )
    assert [e["location"] for e in switched] == [str(other)]


def test_it_serializes_to_what_it_was_built_with() -> None:
    path, kwargs = CalendarChangeTrigger(poll_interval=30, calendar="s3://b/cal.json").serialize()
    assert path == "airflow_live_provider.triggers.calendar.CalendarChangeTrigger"
    assert CalendarChangeTrigger(**kwargs).serialize() == (path, kwargs)
    with pytest.raises(Exception, match="poll_interval"):
        CalendarChangeTrigger(poll_interval=0)
