"""Replaying ended stream sessions: one ``live_stream_sessions`` run given 100, 1,000 and 5,000
"ended" events at once (a replay by hand with conf ``{"events": [...]}``, or a backlog of asset
events handed to one run), recorded by ``events.session_records.record_sessions`` into local files.

The sessions are the sample calendar's daily demo stream on two days, inside each day's event
window (a stream that reconnects again and again, a backlog): two run sheets, one month file.
Printed per size: wall time, cost per session, file writes (all of them, the month's JSON Lines,
sheet publishes = ``latest.json`` writes) and file reads.
The old path (every ended session recorded on its sheet on its own, the sheet republished per
session, as before 2026-12) is printed beside it for the sizes where it still runs in seconds
(``--old-sizes 100,300,1000`` to choose them; 1,000 takes most of a minute). Printed, never
asserted.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from _common import ROOT, header

SIZES = (100, 1_000, 5_000)
#: The old path grows with the square: measured only where it stays short.
OLD_SIZES = (100, 300)
DAYS = 2
STREAM = {"vhost": "live.demo.example.com", "app": "live", "stream": "daily-demo"}


def ended_sessions(count: int) -> list[dict[str, Any]]:
    """``count`` ended sessions of the daily demo (12:00-12:45 UTC), spread over ``DAYS`` days,
    each day's between 11:10 and 13:30 UTC (within the two-hour margin of the window)."""
    import pendulum

    per_day = -(-count // DAYS)
    step = 8_400 // per_day  # seconds between starts in a day's 2 h 20 min
    events = []
    for n in range(count):
        day, slot = divmod(n, per_day)
        started = pendulum.datetime(2026, 12, 1 + day, 11, 10, tz="UTC").add(seconds=slot * step)
        ended = started.add(seconds=max(step - 1, 1))
        events.append(
            {
                "kind": "ended",
                "vendor": "volcengine",
                "asset_uri": "volclive://live.demo.example.com/live/daily-demo",
                "target": STREAM,
                "session_id": f"{n}@{started.isoformat()}",
                "started_at": started.isoformat().replace("+00:00", "Z"),
                "ended_at": ended.isoformat().replace("+00:00", "Z"),
                "observed_at": ended.isoformat().replace("+00:00", "Z"),
            }
        )
    return events


@contextmanager
def counted() -> Iterator[Counter[str]]:
    """Counts every output file written (through ``outputs.open_for_write``, which every write
    uses) by kind, and every file read (``ObjectStoragePath.read_text``, what the records use)."""
    from airflow.sdk import ObjectStoragePath

    from airflow_live_provider import outputs

    counts: Counter[str] = Counter()
    original_open, original_read = outputs.open_for_write, ObjectStoragePath.read_text

    def kind(path: Any) -> str:
        name = str(path).rsplit("/", 1)[-1]
        return "publishes" if name == "latest.json" else "jsonl" if name.endswith(".jsonl") else "other"

    @contextmanager
    def open_for_write(path: Any) -> Iterator[Any]:
        counts["writes"] += 1
        counts[kind(path)] += 1
        with original_open(path) as fh:
            yield fh

    def read_text(self: Any, *args: Any, **kwargs: Any) -> str:
        counts["reads"] += 1
        return original_read(self, *args, **kwargs)

    outputs.open_for_write = open_for_write  # type: ignore[assignment]
    ObjectStoragePath.read_text = read_text  # type: ignore[method-assign]
    try:
        yield counts
    finally:
        outputs.open_for_write = original_open  # type: ignore[assignment]
        ObjectStoragePath.read_text = original_read  # type: ignore[method-assign]


def new_path(output_dir: str, calendar: str, events: list[dict[str, Any]]) -> None:
    from airflow_live_provider.events.session_records import record_sessions, session_events

    summary = record_sessions(
        session_events({}, {"events": events}), output_dir=output_dir, calendar=calendar, run_id="replay"
    )
    assert summary["added"] == len(events)


def old_path(output_dir: str, calendar: str, events: list[dict[str, Any]]) -> None:
    """What ``record_sessions`` did before: the JSON Lines once, then each ended session on its
    sheet on its own (its sessions record rewritten, its sheet republished, per session)."""
    from airflow_live_provider.events.calendar import read_calendar
    from airflow_live_provider.events.session_records import append_records, record_on_sheets, session_events

    records = [
        e | {"recordedAt": "2026-12-07T00:00:00Z", "runId": "replay"}
        for e in session_events({}, {"events": events})
    ]
    append_records(output_dir, records)
    calendar_events = read_calendar(calendar)
    for record in records:
        record_on_sheets(output_dir, calendar_events, [record])


def measure(
    path: Callable[[str, str, list[dict[str, Any]]], None], count: int, work: Path
) -> tuple[float, Counter[str]]:
    out = work / f"out-{path.__name__}-{count}"
    events = ended_sessions(count)
    with counted() as counts:
        started = time.perf_counter()
        path(str(out), str(work / "live_events.json"), events)
        seconds = time.perf_counter() - started
    shutil.rmtree(out)
    return seconds, counts


def main(argv: list[str]) -> None:
    old_sizes = OLD_SIZES
    if argv[:1] == ["--old-sizes"] and len(argv) == 2:
        old_sizes = tuple(int(n) for n in argv[1].split(","))
    header("Replaying ended stream sessions in one live_stream_sessions run (2 run sheets, local files)")
    work = Path(tempfile.mkdtemp(prefix="bench-session-replay-"))
    try:
        shutil.copy(ROOT / "dags" / "live_events.json", work / "live_events.json")
        print(
            f"{'path':<4} {'sessions':>8} {'seconds':>8} {'ms/session':>10} {'writes':>7} "
            f"{'jsonl':>6} {'publishes':>9} {'reads':>7}"
        )
        measure(new_path, 10, work)  # imports and caches warmed, not counted
        rows = [("old", old_path, n) for n in old_sizes] + [("new", new_path, n) for n in SIZES]
        for label, path, count in rows:
            seconds, counts = measure(path, count, work)
            print(
                f"{label:<4} {count:>8,} {seconds:>8.2f} {1000 * seconds / count:>10.2f} "
                f"{counts['writes']:>7,} {counts['jsonl']:>6,} {counts['publishes']:>9,} "
                f"{counts['reads']:>7,}",
                flush=True,
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
