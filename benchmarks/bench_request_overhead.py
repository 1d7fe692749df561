"""Per-request overhead: our hook vs a bare requests.Session loop vs Airflow's HttpHook.

All three send the same signed Polyv group page requests (``pageSize=1``, one page each) to the
simulator running in its own process; only the client side differs. The hand-written loops sign
with the same ``polyv_sign``. Target: our hook <= 1.1x the bare loop.
"""

from __future__ import annotations

import json
import os
import time

import requests
from _common import header, median_seconds, simulator_process

REQUESTS = 200
REPEATS = 7


def main() -> None:
    from airflow_live_provider.hooks.polyv import PolyvHook
    from airflow_live_provider.simulator.polyv import DEMO_GROUP_APP_ID, DEMO_GROUP_APP_SECRET
    from airflow_live_provider.vendors.polyv import GROUP_PACKAGE_LIST_PATH, polyv_sign

    header(
        f"Per-request overhead: {REQUESTS} signed Polyv page requests, median of {REPEATS} interleaved runs"
    )
    with simulator_process("--polyv-sub-accounts", str(REQUESTS), "--no-polyv-ip-limit") as (base_url, _env):
        url = base_url + GROUP_PACKAGE_LIST_PATH

        def signed(page: int) -> dict[str, str]:
            params = {
                "appId": DEMO_GROUP_APP_ID,
                "timestamp": str(int(time.time() * 1000)),
                "pageNumber": str(page),
                "pageSize": "1",
            }
            params["sign"] = polyv_sign(params, DEMO_GROUP_APP_SECRET)
            return params

        def bare_loop() -> None:
            with requests.Session() as session:
                for page in range(1, REQUESTS + 1):
                    body = session.get(url, params=signed(page), timeout=(10, 30)).json()
                    assert body["code"] == 200, body

        def our_hook() -> None:
            count = sum(1 for _ in PolyvHook("polyv_group_default").iter_sub_accounts(page_size=1))
            assert count == REQUESTS, count

        os.environ["AIRFLOW_CONN_HTTP_POLYV_BENCH"] = json.dumps({"conn_type": "http", "host": base_url})

        def http_hook() -> None:
            from airflow.providers.http.hooks.http import HttpHook

            hook = HttpHook(method="GET", http_conn_id="http_polyv_bench")
            for page in range(1, REQUESTS + 1):
                body = hook.run(GROUP_PACKAGE_LIST_PATH, data=signed(page)).json()
                assert body["code"] == 200, body

        bare, ours, airflow_http = median_seconds(bare_loop, our_hook, http_hook, repeats=REPEATS)
    per = 1000 / REQUESTS
    print(f"bare requests.Session loop : {bare * per:6.2f} ms/request")
    print(
        f"PolyvHook.iter_sub_accounts: {ours * per:6.2f} ms/request  ratio {ours / bare:.2f}x (target <= 1.1)"
    )
    print(
        f"HttpHook + manual signing  : {airflow_http * per:6.2f} ms/request  ratio {airflow_http / bare:.2f}x"
    )


if __name__ == "__main__":
    main()
