"""Planning event runs: 1,000 instances in one planner run (time, memory, XCom size) and the
triggerer load they make (triggers per waiting instance).

The planner's ``plan`` task validates the calendar and computes one ``{trigger_run_id, conf}`` per
instance in the lead window; a mapped ``TriggerDagRunOperator`` then asks Airflow for each run.
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


def calendar(now: Any) -> list[dict[str, Any]]:
    """1,000 instances in the next 24 h: 700 one-off events with every vendor, 300 ISDP-only."""
    events: list[dict[str, Any]] = []
    for n in range(INSTANCES):
        start = now.add(minutes=5 + n)  # ~one a minute, all inside the window
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


if __name__ == "__main__":
    main()
