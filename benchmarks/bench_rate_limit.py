"""Sustained DescribeAuth throughput against the simulator's 10 requests/s quota.

The client spaces calls with a token bucket (10/s, burst 1); the simulator answers 429
FlowLimitExceeded past 10/s. Target: >= 9.5 calls/s with no 429.
"""

from __future__ import annotations

import time

from _common import header, simulator_with_connections

CALLS = 60


def main() -> None:
    from airflow_live_provider.hooks.volcengine import VolcengineLiveHook
    from airflow_live_provider.simulator.volcengine import DEMO_VHOST

    header("Rate limiting: DescribeAuth against a 10 requests/s quota")
    with simulator_with_connections() as server:
        hook = VolcengineLiveHook()
        hook.describe_auth("push", vhost=DEMO_VHOST)  # connection + session warm-up
        server.clear_requests()
        started = time.perf_counter()
        for _ in range(CALLS):
            hook.describe_auth("push", vhost=DEMO_VHOST)
        elapsed = time.perf_counter() - started
        statuses = [r.status for r in server.requests]
    throttled = statuses.count(429)
    # N calls spaced 1/rate apart span (N - 1) intervals.
    print(f"{CALLS} calls in {elapsed:.2f} s: {(CALLS - 1) / elapsed:.2f} calls/s sustained (target >= 9.5)")
    print(f"requests sent: {len(statuses)}, answered 429: {throttled} (target 0)")


if __name__ == "__main__":
    main()
