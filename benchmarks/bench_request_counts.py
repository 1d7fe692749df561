"""Request counts: the pre-provisioning of 500 receive channels and a 10,000-account snapshot
use the minimum number of requests the vendors' APIs allow.

Formulas (documented limits: 100 names per batch-create, 100 accounts per page):
- snapshot of N accounts: ceil(N / 100) page requests;
- create R receive channels on an empty transmit channel: 1 get-associations + ceil(R / 100)
  batch-creates (no channel name lookups: there are no receivers to name);
- the same call again (everything exists): 1 get-associations + ceil(R / 1000) channel-list pages
  (names of the existing receivers) + 0 creates.
Counted from the simulator's request log; printed, never asserted.
"""

from __future__ import annotations

import math
from collections import Counter

from _common import header, simulator_with_connections

ACCOUNTS = 10_000
CHANNELS = 500


def main() -> None:
    from airflow_live_provider.hooks.polyv import PolyvHook
    from airflow_live_provider.simulator.polyv import DEMO_TRANSMIT_CHANNEL_ID

    header("Request counts")
    with simulator_with_connections() as server:
        server.polyv.qps_window = None  # the count, not the vendor's IP limit, is measured here
        server.polyv.set_sub_account_count(ACCOUNTS)
        server.clear_requests()
        rows = sum(1 for _ in PolyvHook("polyv_group_default").iter_sub_accounts(page_size=100))
        sent = len(server.requests)
        print(
            f"snapshot of {rows:,} accounts: {sent} requests (minimum ceil({ACCOUNTS}/100) = "
            f"{math.ceil(ACCOUNTS / 100)})"
        )

        names = [f"receiver-{i:03d}" for i in range(CHANNELS)]
        hook = PolyvHook()
        for label, expected in (
            (
                "first run ",
                f"1 read + ceil({CHANNELS}/100) creates + 2 read back (receivers, names) = "
                f"{3 + math.ceil(CHANNELS / 100)}",
            ),
            ("second run", f"1 + ceil({CHANNELS}/1000) + 0 creates = {1 + math.ceil(CHANNELS / 1000)}"),
        ):
            server.clear_requests()
            result = hook.create_transmit_channels(DEMO_TRANSMIT_CHANNEL_ID, names)
            by_path = Counter(
                r.path.rsplit("/", 2)[-2] + "/" + r.path.rsplit("/", 1)[-1] for r in server.requests
            )
            created = sum(1 for r in result if r["created"])
            print(
                f"{CHANNELS} receive channels, {label}: {len(server.requests)} requests "
                f"(minimum {expected}); created {created}; {dict(by_path)}"
            )


if __name__ == "__main__":
    main()
