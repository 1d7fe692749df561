"""Planning event runs: 1,000 and 5,000 instances in one planner run (time, memory, XCom bytes
moved) and the triggerer load they make (triggers per waiting instance).

The planner's ``plan`` task validates the calendar and computes one ``{trigger_run_id, conf}`` per
instance in the lead window, pushed in chunks of 500 (one XCom each); a mapped
``StartEventRunsOperator`` per chunk pulls only its chunk and asks Airflow for each run. XCom bytes
moved = pushed once + each chunk pulled once; the old shape (one mapped task per instance, each
pulling the whole list, refused past 1,024 by ``[core] max_map_length``) is printed beside it.
Measured here: the pure planning (the ``plan`` task's work; what Airflow then spends per mapped
trigger task is Airflow's), its peak Python memory, and the size of the list it returns as XCom.
Triggerer load: every waiting instance holds one ``DateTimeTrigger`` per time-bound step that has
not fired yet (Polyv tokens, ISDP tokens, the go-live window, then the stream watch), so at most
three at once. Printed, never asserted.
"""

from __future__ import annotations

import json
import statistics
import time
import tracemalloc
from datetime import timedelta
from typing import Any

from _common import header

INSTANCES = 1_000


def calendar(now: Any, instances: int = INSTANCES) -> list[dict[str, Any]]:
    """Instances in the next 24 h: 70 % one-off events with every vendor, 30 % ISDP-only."""
    events: list[dict[str, Any]] = []
    for n in range(instances):
        start = now.add(seconds=300 + n * 86_000 // instances)  # spread over the window
        entry: dict[str, Any] = {
            "name": f"Event {n:04d}",
            "start": start.isoformat(),
            "timezone": "Asia/Shanghai",
            "isdp": {"channel_ids": ["10882", "10883"], "user_account": "135965565"},
        }
        if n % 10 < 7:
            entry["volcengine"] = {"vhost": "live.example.com", "app": "live", "stream": f"s{n}"}
            entry["polyv"] = {
                "channel_id": "3151318",
                "receive_channel_names": [f"e{n}-cn", f"e{n}-en"],
                "viewers": ["viewer-1", {"viewerId": "viewer-2", "nickname": "Ann"}],
            }
        events.append(entry)
    return events


def main() -> None:
    import pendulum

    from airflow_live_provider.events.calendar import parse_calendar
    from airflow_live_provider.events.planner import plan_event_runs
    from airflow_live_provider.events.run_sheets import steps_for

    header(f"Planning {INSTANCES:,} event instances (one live_event run each)")
    now = pendulum.now("UTC")
    raw = calendar(now)
    lead = timedelta(hours=24)
    times, validate_times = [], []
    planned: list[dict[str, Any]] = []
    for _ in range(5):
        started = time.perf_counter()
        events = parse_calendar(raw)
        validated = time.perf_counter()
        planned = plan_event_runs(events, now, lead, calendar="/calendar.json", output_dir="s3://b/sheets")
        times.append(time.perf_counter() - started)
        validate_times.append(validated - started)
    tracemalloc.start()
    plan_event_runs(parse_calendar(raw), now, lead, calendar="/calendar.json", output_dir="s3://b/sheets")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    xcom = len(json.dumps(planned).encode())
    print(
        f"validate + plan {len(planned):,} instances: median {statistics.median(times):.2f} s of which "
        f"validation {statistics.median(validate_times):.2f} s (5 runs); peak Python memory "
        f"{peak / 2**20:.1f} MB; XCom (the mapped trigger arguments) {xcom / 1024:.0f} KB "
        f"({xcom / len(planned):.0f} bytes per instance); run ids unique: "
        f"{len({p['trigger_run_id'] for p in planned}) == len(planned)}"
    )
    waiting = [
        sum(step in steps_for(p["conf"]["event"]) for step in ("polyv_tokens", "isdp_tokens", "go_live"))
        for p in planned
    ]
    print(
        f"triggerer load while all {len(planned):,} wait for their moments: {sum(waiting):,} triggers "
        f"(per waiting instance: max {max(waiting)}, mean {statistics.mean(waiting):.1f}); "
        f"a triggerer's default capacity is 1,000, so this calendar needs "
        f"{-(-sum(waiting) // 1000)} triggerer(s) and [live_provider] max_active_event_runs "
        f">= {len(planned):,}"
    )


def at_scale(instances: int = 5_000) -> None:
    """A planner run with ``instances`` new instances: chunks, time, and XCom bytes moved."""
    import pendulum

    from airflow_live_provider.events.calendar import parse_calendar
    from airflow_live_provider.events.planner import PLAN_CHUNK, plan_chunks, plan_event_runs

    header(f"Planning {instances:,} new instances in one planner run (chunked mapping)")
    now = pendulum.now("UTC")
    raw = calendar(now, instances)
    started = time.perf_counter()
    planned = plan_event_runs(
        parse_calendar(raw), now, timedelta(hours=24), calendar="@planner", output_dir=""
    )
    chunks = plan_chunks(planned)
    elapsed = time.perf_counter() - started
    sizes = [len(json.dumps(chunk).encode()) for chunk in chunks]
    keys = len(json.dumps([f"chunk-{i:04d}" for i in range(len(chunks))]).encode())
    moved = 2 * sum(sizes) + keys * (1 + len(chunks))  # pushed once, each chunk pulled once
    whole = len(json.dumps(planned).encode())
    print(
        f"{len(planned):,} instances: validate + plan + chunk {elapsed:.2f} s; {len(chunks)} chunk(s) of "
        f"<= {PLAN_CHUNK} (mapped task instances; [core] max_map_length 1,024); XCom moved "
        f"{moved / 2**20:.1f} MB ({moved / len(planned):.0f} bytes per instance, linear in N); one "
        f"mapped task per instance pulling the whole list would move "
        f"{whole * (len(planned) + 1) / 2**30:.1f} GB "
        f"(N², and refused past 1,024)"
    )


if __name__ == "__main__":
    main()
    at_scale()
