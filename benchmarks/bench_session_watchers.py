"""Session watchers at scale: N watched streams on one connection, run by Airflow's own shared-stream
manager as in one triggerer, against the simulator (which enforces the vendors' limits).

Volcengine: 2,000 watchers of one vhost/app while 10,000 streams of it are online (1,000 of the
watched ones among them): one DescribeLiveStreamInfoByPage listing per poll for all of them,
ceil(10,000 / 1,000) = 10 pages plus the empty page that ends an exact multiple. Polyv: 500 watched
channels, 20 a call: 25 calls per poll. Printed: requests per poll and in the busiest second and
10 s against each vendor's quota, "started" events (each live stream exactly once), CPU time per
poll (the poll and its fan-out to every watcher, simulator included) and event-loop lag. Then the
same 2,000 streams and 500 channels watched by one scope watcher each (the sample DAG's way: the
watch list in the watcher's asset state, here an in-memory store).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from typing import Any

from _common import header, loop_lag, simulator_with_connections

VOLC_WATCHERS = 2_000
VOLC_ONLINE = 10_000
POLYV_WATCHERS = 500
POLLS = 5
POLL_INTERVAL = 1.0


async def run_group(triggers: list[Any], polls: int) -> tuple[list[dict[str, Any]], list[float]]:
    """Subscribe every trigger through Airflow's SharedStreamManager until ``polls`` polls reached all."""
    from airflow.triggers.shared_stream import SharedStreamManager

    manager = SharedStreamManager()
    fired: list[dict[str, Any]] = []
    seen = [0] * len(triggers)

    async def consume(index: int, trigger: Any) -> None:
        key = trigger.shared_stream_key()
        shared = manager.subscribe(trigger_id=index, trigger=trigger, key=key)

        async def counted() -> Any:
            async for item in shared:
                seen[index] += 1
                yield item

        try:
            async for event in trigger.filter_shared_stream(counted()):
                fired.append(event.payload)
        finally:
            await manager.unsubscribe(index, key)

    stop, lags = asyncio.Event(), []
    probe = asyncio.create_task(loop_lag(stop, lags))
    tasks = [asyncio.create_task(consume(i, t)) for i, t in enumerate(triggers)]
    while min(seen) < polls:
        await asyncio.sleep(0.05)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await manager.stop_all()
    stop.set()
    await probe
    return fired, lags


def measure(server: Any, triggers: list[Any], is_poll_request: Any, polls: int) -> dict[str, Any]:
    before = len(server.requests)
    cpu, wall = os.times(), time.monotonic()
    fired, lags = asyncio.run(run_group(triggers, polls))
    cpu_used = sum(os.times()[:2]) - sum(cpu[:2])
    requests = [r for r in list(server.requests)[before:] if is_poll_request(r)]
    return {
        "requests": len(requests),
        "statuses": sorted({str(r.status) for r in requests}),
        "busiest_1s": server.max_requests_in_window(is_poll_request, 1.0),
        "busiest_10s": server.max_requests_in_window(is_poll_request, 10.0),
        "fired": fired,
        "cpu_per_poll_ms": 1000 * cpu_used / polls,
        "wall": time.monotonic() - wall,
        "lag_median_ms": 1000 * statistics.median(lags) if lags else 0.0,
        "lag_max_ms": 1000 * max(lags) if lags else 0.0,
    }


def bare_listing_cpu_ms(vhost: str, app: str) -> float:
    """CPU time of one whole listing through the client, no watcher (median of 3): the part of a
    poll that is the vendor call itself (here the simulator's too: it runs in this process)."""
    from airflow_live_provider.hooks.volcengine import VolcengineLiveHook

    client = VolcengineLiveHook().client
    samples = []
    for _ in range(3):
        started = time.process_time()
        sum(1 for _ in client.iter_online_streams(vhost=vhost, app=app))
        samples.append(1000 * (time.process_time() - started))
        time.sleep(1.2)  # the 10/s bucket refills: the next listing is not paced
    client.close()
    return statistics.median(samples)


class MemoryStore:
    """The asset state store as a watcher sees it (``aget``/``aset``)."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    async def aget(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    async def aset(self, key: str, value: Any) -> None:
        self.data[key] = value


def scope_watcher(trigger: Any, targets: list[dict[str, str]]) -> Any:
    trigger.asset_state_store = MemoryStore({"watch_list": {"targets": targets}})
    return trigger


def main() -> None:
    from airflow_live_provider.simulator.volcengine import DEMO_VHOST
    from airflow_live_provider.triggers.polyv import PolyvChannelSessionTrigger
    from airflow_live_provider.triggers.volcengine import VolcengineStreamSessionTrigger

    header(f"Session watchers: one shared poll per group, {POLLS} polls each {POLL_INTERVAL:g} s apart")
    with simulator_with_connections() as server:
        app = "bench"
        for n in range(VOLC_ONLINE):  # streams 0-9,999 online; watched: 9,000-10,999
            server.volcengine.start_session(DEMO_VHOST, app, f"s{n}")
        volc = [
            VolcengineStreamSessionTrigger(
                vhost=DEMO_VHOST,
                app=app,
                stream=f"s{n}",
                poll_interval=POLL_INTERVAL,
                offline_grace_seconds=0,
            )
            for n in range(VOLC_ONLINE - VOLC_WATCHERS // 2, VOLC_ONLINE + VOLC_WATCHERS // 2)
        ]
        listing = "DescribeLiveStreamInfoByPage"
        bare = bare_listing_cpu_ms(DEMO_VHOST, app)
        v = measure(server, volc, lambda r: r.query.get("Action") == listing, POLLS)
        started = sum(1 for e in v["fired"] if e["kind"] == "started")
        online_watched = sum(1 for t in volc if int(t.stream[1:]) < VOLC_ONLINE)
        print(
            f"Volcengine, {VOLC_WATCHERS:,} watchers, {VOLC_ONLINE:,} streams online: "
            f"{v['requests']} listings in {POLLS} polls ({v['requests'] / POLLS:.1f} per poll; "
            f"ceil({VOLC_ONLINE:,}/1,000) + 1 = {VOLC_ONLINE // 1000 + 1}), busiest 1 s {v['busiest_1s']} "
            f"(quota 10), HTTP {v['statuses']}; 'started' {started} for {online_watched} live watched "
            f"streams; CPU {v['cpu_per_poll_ms']:.0f} ms per poll (the listing alone, simulator included: "
            f"{bare:.0f} ms); loop lag median "
            f"{v['lag_median_ms']:.1f} ms, max {v['lag_max_ms']:.0f} ms"
        )

        channels = [server.polyv.add_channel(f"Watched {n}") for n in range(POLYV_WATCHERS)]
        for channel in channels[::10]:
            server.polyv.go_live(channel)
        polyv = [
            PolyvChannelSessionTrigger(channel_id=c, poll_interval=POLL_INTERVAL, offline_grace_seconds=0)
            for c in channels
        ]
        p = measure(server, polyv, lambda r: r.path == "/live/v2/channels/live-status", POLLS)
        started = sum(1 for e in p["fired"] if e["kind"] == "started")
        print(
            f"Polyv, {POLYV_WATCHERS} watched channels: {p['requests']} live-status calls in {POLLS} polls "
            f"({p['requests'] / POLLS:.1f} per poll; {POLYV_WATCHERS}/20 = {POLYV_WATCHERS // 20}), "
            f"busiest 10 s {p['busiest_10s']} (quota 1,500), HTTP {p['statuses']}; 'started' {started} for "
            f"{len(channels[::10])} live channels; CPU {p['cpu_per_poll_ms']:.0f} ms per poll; "
            f"loop lag median {p['lag_median_ms']:.1f} ms, max {p['lag_max_ms']:.0f} ms"
        )

        from airflow_live_provider.triggers.polyv import PolyvSessionScopeTrigger
        from airflow_live_provider.triggers.volcengine import VolcengineSessionScopeTrigger

        targets = [{"vhost": t.vhost, "app": app, "stream": t.stream} for t in volc]
        scope = scope_watcher(
            VolcengineSessionScopeTrigger(poll_interval=POLL_INTERVAL, offline_grace_seconds=0), targets
        )
        v = measure(server, [scope], lambda r: r.query.get("Action") == listing, POLLS)
        started = sum(1 for e in v["fired"] if e["kind"] == "started")
        print(
            f"Volcengine, one scope watcher, {VOLC_WATCHERS:,} streams on its watch list: {v['requests']} "
            f"listings in {POLLS} polls ({v['requests'] / POLLS:.1f} per poll), "
            f"busiest 1 s {v['busiest_1s']}, HTTP {v['statuses']}; "
            f"'started' {started} for {online_watched} live watched streams; "
            f"CPU {v['cpu_per_poll_ms']:.0f} ms per poll; "
            f"loop lag median {v['lag_median_ms']:.1f} ms, max {v['lag_max_ms']:.0f} ms"
        )
        scope = scope_watcher(
            PolyvSessionScopeTrigger(poll_interval=POLL_INTERVAL, offline_grace_seconds=0),
            [{"channel_id": c} for c in channels],
        )
        p = measure(server, [scope], lambda r: r.path == "/live/v2/channels/live-status", POLLS)
        started = sum(1 for e in p["fired"] if e["kind"] == "started")
        print(
            f"Polyv, one scope watcher, {POLYV_WATCHERS} channels on its watch list: {p['requests']} "
            f"live-status calls in {POLLS} polls ({p['requests'] / POLLS:.1f} per poll), "
            f"HTTP {p['statuses']}; 'started' {started} for "
            f"{len(channels[::10])} live channels; CPU {p['cpu_per_poll_ms']:.0f} ms per poll; "
            f"loop lag median {p['lag_median_ms']:.1f} ms, max {p['lag_max_ms']:.0f} ms"
        )


if __name__ == "__main__":
    main()
