"""Resource trend over many snapshots: wall time and peak memory of the trend DAG's work.

Snapshots are written the way the snapshot operator writes them (the simulator's sub-account
records, secrets stripped, ``snapshotTime`` added), one per day, with usage in between; then
``build_trend`` reads them (streaming, oldest first) and the page is rendered.

1. Wall time for 50,000 accounts x 5 snapshots (read, arithmetic, page).
2. Peak Python memory (tracemalloc) for 10,000 x 5, 50,000 x 2 and 50,000 x 5: a fixed record per
   account, so the figure grows with accounts (~0.3 KB each), not with snapshots or row width.

Printed, never asserted. Run: ``.venv/bin/python benchmarks/bench_resource_trend.py``.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import header  # noqa: E402

from airflow_live_provider.assets import SNAPSHOT_PREFIX, SNAPSHOT_SUFFIX  # noqa: E402
from airflow_live_provider.redaction import SECRET_KEYS, strip_secrets  # noqa: E402
from airflow_live_provider.reports.trend import build_trend, render_trend_html  # noqa: E402
from airflow_live_provider.simulator import SimulatorServer  # noqa: E402

START = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)


def write_snapshots(folder: Path, accounts: int, snapshots: int) -> list[Path]:
    """One snapshot a day; every 7th account uses live minutes, every 11th VOD flow."""
    paths = []
    with SimulatorServer() as server:
        polyv = server.polyv
        polyv.set_sub_account_count(accounts)
        for day in range(snapshots):
            taken = (START + timedelta(days=day)).isoformat()
            path = folder / f"{SNAPSHOT_PREFIX}{START + timedelta(days=day):%Y%m%dT%H%M%S}{SNAPSHOT_SUFFIX}"
            with path.open("w", encoding="utf-8") as fh:
                for index in range(accounts):
                    row = strip_secrets(polyv.sub_account(index), SECRET_KEYS)
                    row["snapshotTime"] = taken
                    fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            for index in range(0, accounts, 7):
                polyv.use_resources(index, remainMinutes=20 + index % 50)
            for index in range(0, accounts, 11):
                polyv.use_resources(index, remainFlow=0.5)
            paths.append(path)
    return paths


def trend_of(paths: list[Path]) -> str:
    trend = build_trend([(p.name, lambda p=p: p.open("r", encoding="utf-8")) for p in paths])
    return render_trend_html(trend)


def peak_mb(paths: list[Path]) -> float:
    tracemalloc.start()
    tracemalloc.reset_peak()
    trend_of(paths)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 1e6


def main() -> int:
    header("Resource trend (build_trend + page), snapshots one day apart")
    with tempfile.TemporaryDirectory(prefix="trend-bench-") as tmpdir:
        big, small = Path(tmpdir) / "50k", Path(tmpdir) / "10k"
        big.mkdir()
        small.mkdir()
        paths = write_snapshots(big, 50_000, 5)
        small_paths = write_snapshots(small, 10_000, 5)
        size = sum(p.stat().st_size for p in paths) / 1e6
        started = time.perf_counter()
        page = trend_of(paths)
        wall = time.perf_counter() - started
        print(
            f"50,000 accounts x 5 snapshots ({size:.0f} MB of JSON Lines): {wall:.2f} s, "
            f"page {len(page) / 1e3:.0f} kB"
        )
        figures = [
            ("10,000 x 5", peak_mb(small_paths), 10_000),
            ("50,000 x 2", peak_mb(paths[:2]), 50_000),
            ("50,000 x 5", peak_mb(paths), 50_000),
        ]
        print(
            "peak memory (tracemalloc): "
            + " | ".join(f"{label} {mb:.1f} MB ({mb * 1e6 / n:.0f} B/account)" for label, mb, n in figures)
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
