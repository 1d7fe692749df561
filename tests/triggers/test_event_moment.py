"""A step's wait for its moment ends early when the calendar moves on (edit or cancellation),
with one calendar read per check interval for every waiting step, and never on an unreadable one."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from airflow_live_provider.events.calendar import load_calendar
from airflow_live_provider.events.planner import definition_hash
from airflow_live_provider.triggers import event_moment
from airflow_live_provider.triggers.event_moment import EventMomentTrigger


def write(path: Path, start: datetime, **extra: Any) -> dict[str, Any]:
    raw = {"name": "Keynote", "start": start.isoformat(), "isdp": {"channel_ids": ["1"], "user_account": "u"}}
    path.write_text(json.dumps({"events": [raw | extra]}))
    [event] = load_calendar(path.read_text())
    return event


def waiter(path: Path, event: dict[str, Any], moment: datetime, check: float = 0.05) -> EventMomentTrigger:
    return EventMomentTrigger(
        moment=moment,
        event=event,
        definition=definition_hash(event),
        calendar=str(path),
        check_interval=check,
    )


async def first_event(
    trigger: EventMomentTrigger, change: Any = None, after: float = 0.15
) -> tuple[dict[str, Any], float]:
    started = asyncio.get_running_loop().time()
    if change is not None:
        asyncio.get_running_loop().call_later(after, change)
    async for event in trigger.run():
        return event.payload, asyncio.get_running_loop().time() - started
    raise AssertionError("no event")


@pytest.fixture(autouse=True)
def fresh_cache() -> None:
    event_moment._CALENDARS.clear()
    event_moment._LOCKS.clear()


def test_it_fires_at_its_moment_when_nothing_changed(tmp_path: Path) -> None:
    path = tmp_path / "calendar.json"
    event = write(path, datetime.now(UTC) + timedelta(hours=1))
    payload, took = asyncio.run(first_event(waiter(path, event, datetime.now(UTC) + timedelta(seconds=0.4))))
    assert payload == {"status": "moment"} and took >= 0.35


@pytest.mark.parametrize(
    ("edit", "status"),
    [
        (lambda path, start: write(path, start - timedelta(minutes=30)), "changed"),  # moved earlier
        (lambda path, start: write(path, start, cancelled=True), "cancelled"),
        (lambda path, start: path.write_text(json.dumps({"events": []})), "cancelled"),  # deleted
    ],
)
def test_an_edit_or_a_cancellation_wakes_the_step_early(tmp_path: Path, edit: Any, status: str) -> None:
    path = tmp_path / "calendar.json"
    start = datetime.now(UTC) + timedelta(hours=1)
    event = write(path, start)
    trigger = waiter(path, event, start - timedelta(seconds=90))  # an hour away
    payload, took = asyncio.run(first_event(trigger, lambda: edit(path, start)))
    assert payload == {"status": status} and took < 5


def test_an_unreadable_calendar_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "calendar.json"
    event = write(path, datetime.now(UTC) + timedelta(hours=1))
    trigger = waiter(path, event, datetime.now(UTC) + timedelta(seconds=0.5))
    payload, _ = asyncio.run(first_event(trigger, lambda: path.write_text('{"events": [')))
    assert payload == {"status": "moment"}


def test_many_waiting_steps_share_one_read_per_interval(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "calendar.json"
    event = write(path, datetime.now(UTC) + timedelta(hours=1))
    reads: list[str] = []
    real = event_moment._load
    monkeypatch.setattr(event_moment, "_load", lambda location: reads.append(location) or real(location))

    async def many() -> None:
        moment = datetime.now(UTC) + timedelta(seconds=0.5)
        triggers = [waiter(path, event, moment, check=0.2) for _ in range(200)]
        results = await asyncio.gather(*(first_event(t) for t in triggers))
        assert all(payload == {"status": "moment"} for payload, _ in results)

    asyncio.run(many())
    assert 1 <= len(reads) <= 4, len(reads)  # 200 steps, ~2 checks each: a handful of reads


def test_it_serializes_to_what_it_was_built_with(tmp_path: Path) -> None:
    path = tmp_path / "calendar.json"
    event = write(path, datetime.now(UTC) + timedelta(hours=1))
    trigger = waiter(path, event, datetime(2026, 12, 1, 11, 0, tzinfo=UTC), check=30)
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_live_provider.triggers.event_moment.EventMomentTrigger"
    assert EventMomentTrigger(**kwargs).serialize() == (classpath, kwargs)
    json.dumps(kwargs)  # stored in the metadata DB as JSON
