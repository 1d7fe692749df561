"""A run with many session events (a replay by hand, a backlog): each file written once per run.

Counted through the one write path (``outputs.open_for_write``) and the records' one read path
(``ObjectStoragePath.read_text``): a run of N ended sessions writes each month's JSON Lines once,
each instance's sessions record once and publishes its sheet once, and reads no file more often
for N sessions than for a few. A run stopped before any of its writes is completed by the next
run with the same events (a task retry, a re-delivery), each session on record once.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from airflow_live_provider.events.session_records import record_sessions, session_events
from tests.events.test_session_records import SAMPLE_CALENDAR, volc_event

#: The daily demo is 12:00-12:45 UTC; its instances of 30 Nov (a November month file), 1 and 2 Dec.
DAYS = ("2026-11-30", "2026-12-01", "2026-12-02")
FOLDERS = [f"daily-product-demo-{day}" for day in DAYS]


def replay(per_day: int) -> list[dict[str, Any]]:
    """``per_day`` ended sessions of the daily demo stream on each day (reconnects within the
    event's window), and one ended session off any event."""
    events = []
    for day in DAYS:
        for n in range(per_day):
            started = f"{day}T11:{10 + 2 * n:02d}:00Z"
            ended = f"{day}T11:{11 + 2 * n:02d}:30Z"
            events.append(volc_event("ended", started, ended, session=f"{n}@{started}"))
    events.append(volc_event("ended", "2026-12-01T03:00:00Z", "2026-12-01T03:10:00Z", session="off@1"))
    return events


class Stopped(BaseException):
    """A task killed at this point (not an ``Exception``: nothing may catch it and carry on)."""


class Storage:
    """Every file written and read, by path relative to the output folder."""

    def __init__(self, root: Path) -> None:
        self.root = str(root)
        self.writes: Counter[str] = Counter()
        self.reads: Counter[str] = Counter()
        self.stop_at_write: int | None = None

    def name(self, path: Any) -> str:
        return str(path).removeprefix("file://").removeprefix(self.root).lstrip("/")

    def reset(self) -> None:
        self.writes.clear()
        self.reads.clear()


@pytest.fixture
def storage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Storage:
    from airflow.sdk import ObjectStoragePath

    from airflow_live_provider import outputs

    counted = Storage(tmp_path)
    original_open, original_read = outputs.open_for_write, ObjectStoragePath.read_text

    @contextmanager
    def open_for_write(path: Any) -> Iterator[Any]:
        if counted.stop_at_write == sum(counted.writes.values()) + 1:
            raise Stopped(f"stopped before writing {counted.name(path)}")
        with original_open(path) as fh:
            yield fh
        counted.writes[counted.name(path)] += 1

    def read_text(self: Any, *args: Any, **kwargs: Any) -> str:
        counted.reads[counted.name(self)] += 1
        return original_read(self, *args, **kwargs)

    monkeypatch.setattr(outputs, "open_for_write", open_for_write)
    monkeypatch.setattr(ObjectStoragePath, "read_text", read_text)
    return counted


def record(out: Path, events: list[dict[str, Any]], run_id: str = "replay") -> dict[str, Any]:
    return record_sessions(
        session_events({}, {"events": events}),
        output_dir=str(out),
        calendar=str(SAMPLE_CALENDAR),
        run_id=run_id,
    )


def on_record(out: Path) -> dict[str, Any]:
    """What a run leaves for readers: the JSON Lines (identities) and each sheet's sessions."""
    lines = [
        json.loads(line)
        for f in sorted((out / "sessions").glob("*.jsonl"))
        for line in f.read_text().splitlines()
    ]
    sheets = {}
    for folder in FOLDERS:
        latest = out / folder / "latest.json"
        sheets[folder] = json.loads(latest.read_text())["sessions"] if latest.exists() else None
    return {
        "lines": sorted((r["stream"], r["kind"], r["sessionId"]) for r in lines),
        "sheets": sheets,
        "pages": {f: (out / f / "latest.html").read_text().count("class='card'>volclive") for f in FOLDERS},
    }


def test_a_replay_writes_each_file_once_and_publishes_each_sheet_once(
    tmp_path: Path, storage: Storage
) -> None:
    events = replay(per_day=8)
    summary = record(tmp_path, [*events, events[0]])  # one event twice in the same run, too
    assert summary["added"] == len(events) and summary["duplicates"] == 1
    sheets = {s["event_run_id"] for s in summary["sheets"]}
    assert len(sheets) == 4 and None in sheets  # three instances, and the session off any event

    assert set(storage.writes.values()) == {1}, storage.writes  # nothing written twice
    assert {n for n in storage.writes if n.endswith(".jsonl")} == {
        "sessions/2026-11.jsonl",
        "sessions/2026-12.jsonl",
    }
    for folder in FOLDERS:  # per instance: its sessions record, its run's sheet, latest.json and .html
        run_id = next(s["event_run_id"] for s in summary["sheets"] if folder in (s["event_run_id"] or ""))
        assert sorted(n for n in storage.writes if n.startswith(f"{folder}/")) == [
            f"{folder}/{run_id}.json",
            f"{folder}/latest.html",
            f"{folder}/latest.json",
            f"{folder}/steps/{run_id}/sessions.json",
        ]

    state = on_record(tmp_path)
    assert len(state["lines"]) == len(set(state["lines"])) == len(events)
    for folder in FOLDERS:
        assert len(state["sheets"][folder]) == 8 and state["pages"][folder] == 8


def test_reads_do_not_grow_with_the_number_of_sessions(tmp_path: Path, storage: Storage) -> None:
    record(tmp_path / "few", replay(per_day=2))
    few = Counter({name.split("/", 1)[1]: n for name, n in storage.reads.items()})
    storage.reset()
    record(tmp_path / "many", replay(per_day=20))
    many = Counter({name.split("/", 1)[1]: n for name, n in storage.reads.items()})
    assert many == few  # the same files, each read as often, for 60 sessions as for 6
    assert max(many.values()) <= 3, many  # the sessions record: once here, twice by the publish


def test_a_redelivered_replay_changes_nothing_and_republishes_each_sheet_once(
    tmp_path: Path, storage: Storage
) -> None:
    events = replay(per_day=5)
    record(tmp_path, events, run_id="first")
    before = on_record(tmp_path)
    storage.reset()
    again = record(tmp_path, events, run_id="again")
    assert again["added"] == 0 and again["duplicates"] == len(events)
    assert on_record(tmp_path) == before
    assert not [n for n in storage.writes if n.endswith((".jsonl", "/sessions.json"))]  # nothing new
    assert {n: c for n, c in storage.writes.items() if n.endswith("latest.json")} == {
        f"{folder}/latest.json": 1 for folder in FOLDERS
    }


def test_a_run_stopped_before_any_write_is_completed_by_the_next_run(
    tmp_path: Path, storage: Storage
) -> None:
    events = replay(per_day=3)
    record(tmp_path / "whole", events)
    expected = on_record(tmp_path / "whole")
    writes = sum(storage.writes.values())
    assert writes == 2 + 4 * len(FOLDERS)
    for stop in range(1, writes + 1):
        out = tmp_path / f"stopped-{stop}"
        storage.reset()
        storage.stop_at_write = stop
        with pytest.raises(Stopped):
            record(out, events, run_id="first-try")
        assert sum(storage.writes.values()) == stop - 1
        storage.stop_at_write = None
        record(out, events, run_id="next-try")  # a retry, or the events delivered again
        assert on_record(out) == expected, f"stopped before write {stop}"
        assert not list(out.rglob(".*.tmp"))  # no temporary left behind
