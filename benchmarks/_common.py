"""What the benchmarks share: an isolated Airflow home, the simulator, medians, the machine line.

Benchmarks print figures; they never assert. Run them all with ``make bench``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="live-provider-bench-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
# Benchmarks print figures: task-log lines (operators run outside a task runner, a line per poll
# or per file) would bury them.
os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "ERROR")
# One INFO line per request is right in a task log, noise in a benchmark.
logging.getLogger("airflow_live_provider").setLevel(logging.WARNING)

from airflow_live_provider.simulator import SimulatorServer  # noqa: E402


@contextmanager
def simulator_with_connections() -> Iterator[SimulatorServer]:
    """The simulator on an ephemeral loopback port, with AIRFLOW_CONN_* pointing at it."""
    with SimulatorServer() as server:
        saved = {name: os.environ.get(name) for name in server.connection_env()}
        os.environ.update(server.connection_env())
        try:
            yield server
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


@contextmanager
def simulator_process(*args: str) -> Iterator[tuple[str, dict[str, str]]]:
    """The simulator in its own process (so its CPU time is not the client's): base URL + conn env."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "airflow_live_provider.simulator", "--port", "0", *args],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        base_url = first.rsplit("clients use ", 1)[1].strip().rstrip(")")
        env: dict[str, str] = {}
        for line in iter(proc.stdout.readline, ""):
            if line.startswith("export "):
                name, _, value = line[len("export ") :].strip().partition("=")
                env[name] = shlex.split(value)[0]
            if len(env) == 4:
                break
        saved = {name: os.environ.get(name) for name in env}
        os.environ.update(env)
        try:
            yield base_url, env
        finally:
            for name, old in saved.items():
                if old is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = old
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def median_seconds(*funcs: Callable[[], object], repeats: int = 5) -> list[float]:
    """Median wall time of each function over ``repeats`` runs (after one warm-up each).

    Runs are interleaved (a, b, c, a, b, c, ...) so a busy neighbour on a shared machine slows
    every contender alike instead of whichever happened to run during the burst.
    """
    for func in funcs:
        func()
    samples: list[list[float]] = [[] for _ in funcs]
    for _ in range(repeats):
        for func, times in zip(funcs, samples, strict=True):
            started = time.perf_counter()
            func()
            times.append(time.perf_counter() - started)
    return [statistics.median(times) for times in samples]


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def header(title: str) -> None:
    print(f"\n== {title} ==  ({machine()})", flush=True)


async def loop_lag(stop: asyncio.Event, lags: list[float]) -> None:
    """How late 50 ms sleeps wake up until ``stop``: a blocked event loop shows as lag."""
    while not stop.is_set():
        started = time.monotonic()
        await asyncio.sleep(0.05)
        lags.append(time.monotonic() - started - 0.05)
