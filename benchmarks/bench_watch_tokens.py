"""Just-in-time throughput: 2,000 Polyv watch tokens at 50 ms round trip, against the quota floor.

Issuing is one request per viewer, and Polyv allows 1,500 requests per 10 s per IP (150/s), so
2,000 tokens cannot take less than 2,000 / 150 = 13.3 s. The step issues them concurrently under
one shared client-side limit (145/s, a little under the quota). Target: <= 1.25x the floor, no
throttled request. The simulator (in this process) answers every request after 50 ms.
"""

from __future__ import annotations

import time
from collections import Counter

from _common import header, simulator_with_connections

VIEWERS = 2000
LATENCY = 0.050
QUOTA_PER_SECOND = 150


def main() -> None:
    from airflow_live_provider.hooks.polyv import PolyvHook
    from airflow_live_provider.simulator.polyv import DEMO_CHANNEL_ID
    from airflow_live_provider.vendors.polyv import WATCH_TOKEN_PATH
    from airflow_live_provider.workflow.vendor_steps import WATCH_TOKEN_CONCURRENCY, issue_watch_tokens

    header(f"Just in time: {VIEWERS} Polyv watch tokens at {LATENCY * 1000:.0f} ms round trip")
    with simulator_with_connections() as server:
        server.latency = LATENCY
        viewers = [{"viewerId": f"viewer-{i:05d}"} for i in range(VIEWERS)]
        started = time.perf_counter()
        issued = issue_watch_tokens(PolyvHook(), DEMO_CHANNEL_ID, viewers)
        elapsed = time.perf_counter() - started
        statuses = Counter(r.status for r in server.requests_to(WATCH_TOKEN_PATH, "POST"))
        in_flight = server.max_in_flight
    floor = VIEWERS / QUOTA_PER_SECOND
    print(
        f"{len(issued.tokens)} tokens in {elapsed:.2f} s = {elapsed / floor:.2f}x the quota floor of "
        f"{floor:.1f} s (target <= 1.25x); {VIEWERS / elapsed:.0f} tokens/s"
    )
    print(
        f"requests: {sum(statuses.values())}, throttled or failed: {sum(statuses.values()) - statuses[200]} "
        f"(target 0); at most {in_flight} in flight (pool of {WATCH_TOKEN_CONCURRENCY}); "
        "masking included (one batch)"
    )


if __name__ == "__main__":
    main()
