"""Polyv sub-account snapshot: our stack against a bare ``requests.Session`` loop, and its memory.

1. Wall time for 10,000 sub-accounts (100 signed page requests of 100), simulator in its own
   process: (a) ``PolyvClient.iter_sub_accounts`` vs a bare loop doing the same signed requests
   and JSON parsing; (b) the whole ``PolyvSubAccountSnapshotOperator`` (secrets stripped, JSON
   Lines written, summary computed) vs the bare loop also writing every row. Target ratio <= 1.1.
2. Peak Python memory (tracemalloc) of the operator for 1,000 / 10,000 / 50,000 accounts:
   streaming means the figures should stay flat (1,000 vs 10,000 far less than 10 MB apart).

Printed, never asserted. Run: ``.venv/bin/python benchmarks/bench_polyv_snapshot.py``.
"""

from __future__ import annotations

import json
import logging
import sys
import tempfile
import time
import tracemalloc
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import header, median_seconds, simulator_process  # noqa: E402

from airflow_live_provider.operators.polyv import PolyvSubAccountSnapshotOperator  # noqa: E402
from airflow_live_provider.redaction import SECRET_KEYS, strip_secrets  # noqa: E402
from airflow_live_provider.simulator.polyv import DEMO_GROUP_APP_ID, DEMO_GROUP_APP_SECRET  # noqa: E402
from airflow_live_provider.vendors.polyv import GROUP_PACKAGE_LIST_PATH, PolyvClient, polyv_sign  # noqa: E402

PAGE_SIZE = 100
CONTEXT: dict[str, Any] = {"run_id": "bench", "ts_nodash": "20260101T000000"}


def bare_loop(base_url: str, out: Path | None = None) -> int:
    """What someone would write by hand: one session, sign, GET, parse, next page."""
    count = 0
    with requests.Session() as session, out.open("w", encoding="utf-8") if out else nullcontext() as fh:
        page = 1
        while True:
            params = {
                "appId": DEMO_GROUP_APP_ID,
                "timestamp": str(int(time.time() * 1000)),
                "pageNumber": str(page),
                "pageSize": str(PAGE_SIZE),
            }
            params["sign"] = polyv_sign(params, DEMO_GROUP_APP_SECRET)
            data = session.get(base_url + GROUP_PACKAGE_LIST_PATH, params=params, timeout=30).json()["data"]
            for account in data["contents"]:
                count += 1
                if fh is not None:
                    row = strip_secrets(account, SECRET_KEYS)
                    row["snapshotTime"] = "now"
                    fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            if page >= data["totalPages"]:
                return count
            page += 1


def client_loop(base_url: str) -> int:
    client = PolyvClient(base_url, DEMO_GROUP_APP_ID, DEMO_GROUP_APP_SECRET)
    try:
        return sum(1 for _ in client.iter_sub_accounts(page_size=PAGE_SIZE))
    finally:
        client.close()


def operator_run(out: Path) -> dict[str, Any]:
    op = PolyvSubAccountSnapshotOperator(
        task_id="snapshot", output_uri=f"file://{out}", min_remaining_minutes=100
    )
    return op.execute(CONTEXT)


def peak_memory_mb(count: int, tmp: Path) -> tuple[float, int]:
    with simulator_process("--polyv-sub-accounts", str(count), "--no-polyv-ip-limit"):
        operator_run(tmp / "warmup.jsonl")  # imports and caches outside the measurement
        tracemalloc.start()
        tracemalloc.reset_peak()
        summary = operator_run(tmp / f"mem_{count}.jsonl")
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return peak / 1e6, summary["count"]


def main() -> int:
    logging.getLogger("airflow.task").setLevel(logging.ERROR)  # "outside the Task Runner" noise
    header("Polyv sub-account snapshot (10,000 accounts, simulator in its own process)")
    with tempfile.TemporaryDirectory(prefix="polyv-bench-") as tmpdir:
        tmp = Path(tmpdir)
        with simulator_process("--polyv-sub-accounts", "10000", "--no-polyv-ip-limit") as (base_url, _env):
            assert client_loop(base_url) == bare_loop(base_url) == 10_000
            bare, ours = median_seconds(lambda: bare_loop(base_url), lambda: client_loop(base_url), repeats=7)
            print(
                f"fetch+parse   bare loop {bare:6.2f} s | PolyvClient {ours:6.2f} s | ratio {ours / bare:.2f}"
            )
            bare_w, op = median_seconds(
                lambda: bare_loop(base_url, tmp / "bare.jsonl"),
                lambda: operator_run(tmp / "op.jsonl"),
                repeats=7,
            )
            print(
                f"full snapshot bare loop {bare_w:6.2f} s | operator    {op:6.2f} s | ratio {op / bare_w:.2f}"
            )
        peaks = [peak_memory_mb(count, tmp) for count in (1_000, 10_000, 50_000)]
        print(
            "peak memory (tracemalloc, operator): "
            + " | ".join(f"{n:,} accounts {mb:.2f} MB" for mb, n in peaks)
            + f" | 1,000 -> 10,000 difference {peaks[1][0] - peaks[0][0]:+.2f} MB (target < 10 MB, flat)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
