"""What metrics cost per request: Airflow's metrics off (the default) vs StatsD on.

The same 200 signed Polyv page requests as ``bench_request_overhead`` (simulator in its own
process), through ``PolyvHook`` built with ``[metrics]`` off (no observer on the transport) and
with ``statsd_on`` pointing at a UDP socket this bench opens on 127.0.0.1 (a separate
process counts the packets, as a StatsD agent would). Also the observer's own cost per attempt,
measured in a tight loop.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

from _common import header, median_seconds, simulator_process

REQUESTS = 200
REPEATS = 7
LOOP = 20_000


#: A StatsD "agent" in its own process (a thread here would fight the bench for the GIL): counts
#: packets until it receives STOP, then prints the count.
AGENT = """
import socket, sys
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
sock.bind(("127.0.0.1", 0))
print(sock.getsockname()[1], flush=True)
count = 0
while sock.recv(65535) != b"STOP":
    count += 1
print(count, flush=True)
"""


def main() -> None:
    header(f"Metrics overhead: {REQUESTS} signed Polyv page requests, median of {REPEATS} interleaved runs")
    agent = subprocess.Popen([sys.executable, "-c", AGENT], stdout=subprocess.PIPE, text=True)
    try:
        measure(agent)
    finally:
        agent.kill()
        agent.wait(timeout=10)


def measure(agent: subprocess.Popen[str]) -> None:
    from airflow.sdk.observability import stats
    from airflow.sdk.observability.metrics.stats_utils import get_stats_factory

    from airflow_live_provider.hooks.polyv import PolyvHook
    from airflow_live_provider.metrics import StatsObserver
    from airflow_live_provider.transport import HttpRequest
    from airflow_live_provider.vendors.polyv import GROUP_PACKAGE_LIST_PATH

    assert agent.stdout is not None
    port = int(agent.stdout.readline())
    on_env = {
        "AIRFLOW__METRICS__STATSD_ON": "True",
        "AIRFLOW__METRICS__STATSD_HOST": "127.0.0.1",
        "AIRFLOW__METRICS__STATSD_PORT": str(port),
    }

    def hook(metrics_on: bool) -> PolyvHook:
        """A hook whose client is built under that [metrics] setting (as in a task)."""
        for name, value in on_env.items():
            if metrics_on:
                os.environ[name] = value
            else:
                os.environ.pop(name, None)
        built = PolyvHook("polyv_group_default")
        observer = built.client.transport.observer
        assert (observer is not None) == metrics_on, observer
        return built

    with simulator_process("--polyv-sub-accounts", str(REQUESTS), "--no-polyv-ip-limit"):

        def run(metrics_on: bool) -> None:
            count = sum(1 for _ in hook(metrics_on).iter_sub_accounts(page_size=1))
            assert count == REQUESTS, count

        for name, value in on_env.items():
            os.environ[name] = value
        stats.initialize(factory=get_stats_factory(), export_legacy_names=False)
        off, on = median_seconds(lambda: run(False), lambda: run(True), repeats=REPEATS)
        transport = hook(False).client.transport

    observer = StatsObserver()
    request = HttpRequest("GET", GROUP_PACKAGE_LIST_PATH)
    started = time.perf_counter()
    for _ in range(LOOP):
        observer.attempt("polyv", request, attempt=1, seconds=0.002, error=None, quota_wait=None)
    per_attempt_on = (time.perf_counter() - started) / LOOP
    started = time.perf_counter()
    for _ in range(LOOP):
        if transport.observer is not None:  # what the transport does per attempt, metrics off
            raise AssertionError("metrics are off")
    per_attempt_off = (time.perf_counter() - started) / LOOP
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(b"STOP", ("127.0.0.1", port))
    packets = int(agent.stdout.readline()) - 2 * LOOP

    per = 1000 / REQUESTS
    print(f"metrics off (Airflow's default): {off * per:6.3f} ms/request")
    print(f"StatsD on (UDP to 127.0.0.1)   : {on * per:6.3f} ms/request  ratio {on / off:.3f}x")
    print(
        f"per attempt: StatsD on, the observer {per_attempt_on * 1e6:.1f} us (2 packets); "
        f"metrics off, the 'is None' check {per_attempt_off * 1e9:.0f} ns"
    )
    print(f"StatsD packets received during the runs: {packets} (expected {2 * REQUESTS * (REPEATS + 1)})")


if __name__ == "__main__":
    main()
