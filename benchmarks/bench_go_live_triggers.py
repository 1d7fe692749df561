"""Go-live watch at scale: 200 stream triggers polling in one event loop, as in one triggerer.

Each trigger polls DescribeLiveStreamState every 2 s for 20 s (streams stay offline). The
vendor allows 10 requests/s per user, so together they must stay at or under 10/s with no 429,
and the event loop must stay responsive: a probe coroutine measures how late its 50 ms sleeps
wake up (a blocked loop shows as lag). CPU time is the process's user + system time.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections import Counter

from _common import header, loop_lag, simulator_with_connections

TRIGGERS = 200
WATCH_SECONDS = 20.0
POKE_INTERVAL = 2.0


async def watch(server_streams: int) -> tuple[list[str], list[float], float]:
    from airflow_live_provider.simulator.volcengine import DEMO_APP, DEMO_VHOST
    from airflow_live_provider.triggers.volcengine import VolcengineStreamStateTrigger

    deadline = time.time() + WATCH_SECONDS
    triggers = [
        VolcengineStreamStateTrigger(
            app=DEMO_APP, stream=f"s{i}", vhost=DEMO_VHOST, deadline=deadline, poke_interval=POKE_INTERVAL
        )
        for i in range(server_streams)
    ]

    async def first(trigger: VolcengineStreamStateTrigger) -> str:
        async for event in trigger.run():
            return str(event.payload["outcome"])
        return "none"

    stop, lags = asyncio.Event(), []
    probe = asyncio.create_task(loop_lag(stop, lags))
    outcomes = await asyncio.gather(*(first(t) for t in triggers))
    verdicts_at = time.time()
    stop.set()
    await probe
    return outcomes, lags, verdicts_at - deadline


def main() -> None:
    header(f"Go-live watch: {TRIGGERS} triggers in one event loop, polling every {POKE_INTERVAL:g} s")
    with simulator_with_connections() as server:
        cpu_before, wall_before = os.times(), time.monotonic()
        outcomes, lags, late = asyncio.run(watch(TRIGGERS))
        cpu_after, elapsed = os.times(), time.monotonic() - wall_before
        polls = [r for r in server.requests if r.query.get("Action") == "DescribeLiveStreamState"]
    statuses = Counter(r.status for r in polls)
    cpu = (cpu_after.user - cpu_before.user) + (cpu_after.system - cpu_before.system)
    print(
        f"{len(polls)} polls in {elapsed:.1f} s = {len(polls) / elapsed:.2f} requests/s "
        f"(quota 10/s); answered 429: {statuses.get(429, 0)} (target 0); outcomes {dict(Counter(outcomes))}, "
        f"the last {late:.1f} s after the deadline"
    )
    print(
        f"CPU {cpu:.1f} s over {elapsed:.1f} s ({100 * cpu / elapsed:.0f}% of one core, simulator included); "
        f"event-loop lag median {1000 * statistics.median(lags):.1f} ms, max {1000 * max(lags):.0f} ms"
    )


if __name__ == "__main__":
    main()
