"""ISDP token cache: N getTokenBatch calls with the shared cached token vs a token per call.

The naive pattern (password grant before every call, as a script without a cache does) doubles
the requests and hits the token endpoint N times; the client fetches once. Also: 8 threads
sharing one client, counting token fetches. The simulator runs in its own process.
"""

from __future__ import annotations

import threading

from _common import header, median_seconds, simulator_process

CALLS = 100
REPEATS = 3
THREADS = 8


def main() -> None:
    from airflow_live_provider.simulator.isdp import (
        DEMO_APP_ID,
        DEMO_APP_TOKEN,
        DEMO_CHANNEL_IDS,
        DEMO_USER_ACCOUNT,
    )
    from airflow_live_provider.vendors.isdp import IsdpClient

    header(f"ISDP token cache: {CALLS} getTokenBatch calls, median of {REPEATS} runs")
    with simulator_process() as (base_url, _env):

        def cached() -> None:
            client = IsdpClient(base_url, DEMO_APP_ID, DEMO_APP_TOKEN)
            for _ in range(CALLS):
                client.get_token_batch(DEMO_CHANNEL_IDS, DEMO_USER_ACCOUNT)
            assert client.token_fetches == 1, client.token_fetches
            client.close()

        def token_per_call() -> None:
            client = IsdpClient(base_url, DEMO_APP_ID, DEMO_APP_TOKEN)
            for _ in range(CALLS):
                client._token = None  # what a client without a cache does
                client.get_token_batch(DEMO_CHANNEL_IDS, DEMO_USER_ACCOUNT)
            client.close()

        with_cache, without = median_seconds(cached, token_per_call, repeats=REPEATS)
        print(f"cached token      : {with_cache * 1000:8.1f} ms  ({CALLS + 1} requests, 1 token fetch)")
        print(f"token per call    : {without * 1000:8.1f} ms  ({2 * CALLS} requests, {CALLS} token fetches)")
        print(f"ratio             : {without / with_cache:8.2f}x")

        client = IsdpClient(base_url, DEMO_APP_ID, DEMO_APP_TOKEN)
        barrier = threading.Barrier(THREADS)

        def work() -> None:
            barrier.wait()
            for _ in range(CALLS // THREADS):
                client.get_token_batch(DEMO_CHANNEL_IDS, DEMO_USER_ACCOUNT)

        threads = [threading.Thread(target=work) for _ in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        print(f"{THREADS} threads, one client: {client.token_fetches} token fetch(es)")
        client.close()


if __name__ == "__main__":
    main()
