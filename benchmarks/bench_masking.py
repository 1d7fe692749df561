"""Masking returned credentials: time per secret must stay flat as their number grows.

1. ``redaction.mask_all`` (one batch, one compile) for 200 / 500 / 1,000 / 2,000 fresh values,
   each in a fresh masker: milliseconds per secret.
2. Airflow's own ``mask_secret`` one value at a time for 200 and 400 values: the quadratic cost
   the provider avoids (the supervisor registers batches this way too, which is why the provider
   does not send it returned credentials; see ``mask_all``).
3. A 10,000-account snapshot with ``include_secrets=True`` (50,000 secret values kept in the
   file) against the same snapshot with secrets stripped, operator end to end against the simulator.
4. The price of a registered secret afterwards: every later log line of the task is matched
   against all of them. Time to mask one typical log line after registering 0 / 1,000 / 10,000 /
   50,000 values; then after the 10,000-account ``include_secrets=True`` snapshot as it is now
   (registers none of the values it writes to the file) and as it was before 2026-12-01 (all
   50,000, reproduced by registering the file's secret values).

Printed, never asserted. Run: ``.venv/bin/python benchmarks/bench_masking.py``.
"""

from __future__ import annotations

import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import header, simulator_process  # noqa: E402

from airflow_live_provider.redaction import mask_all  # noqa: E402

#: A typical task log line (what every line pays for masking).
LOG_LINE = (
    "[2026-12-01T08:00:00.000+0000] {polyv.py:213} INFO - Wrote 10000 Polyv sub-account(s) to "
    "file:///opt/airflow/live_provider/snapshots/polyv_subaccounts_20261201T020000.jsonl"
)


def fresh_masker() -> None:
    from airflow.sdk._shared.secrets_masker import _secrets_masker

    _secrets_masker().reset_masker()


def per_secret_ms(count: int, one_by_one: bool = False) -> float:
    values = [secrets.token_urlsafe(24) for _ in range(count)]
    fresh_masker()
    started = time.perf_counter()
    if one_by_one:
        from airflow.sdk.log import mask_secret

        for value in values:
            mask_secret(value)
    else:
        mask_all(values)
    return (time.perf_counter() - started) / count * 1000


def snapshot_seconds(tmp: Path, include_secrets: bool) -> float:
    from airflow_live_provider.operators.polyv import PolyvSubAccountSnapshotOperator

    fresh_masker()
    op = PolyvSubAccountSnapshotOperator(
        task_id="snap", output_uri=f"file://{tmp}/s-{include_secrets}.jsonl", include_secrets=include_secrets
    )
    started = time.perf_counter()
    op.execute({"run_id": "bench"})
    return time.perf_counter() - started


def per_line_ms(lines: int = 20) -> float:
    """Median time to mask :data:`LOG_LINE` with the masker as it stands."""
    from airflow.sdk._shared.secrets_masker import _secrets_masker

    masker = _secrets_masker()
    samples = []
    for _ in range(lines):
        started = time.perf_counter()
        masker.redact(LOG_LINE)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


def per_line_after(count: int) -> float:
    fresh_masker()
    mask_all(secrets.token_urlsafe(24) for _ in range(count))
    return per_line_ms()


def file_secrets(path: Path) -> list[str]:
    import json

    from airflow_live_provider.redaction import SECRET_KEYS, secret_values

    with path.open(encoding="utf-8") as fh:
        return [v for line in fh for v in secret_values(json.loads(line), SECRET_KEYS)]


def pattern_count() -> int:
    from airflow.sdk._shared.secrets_masker import _secrets_masker

    return len(_secrets_masker().patterns)


def main() -> int:
    header("Masking returned credentials")
    batch = {n: statistics.median(per_secret_ms(n) for _ in range(5)) for n in (200, 500, 1000, 2000)}
    print(
        "mask_all, one batch (median of 5): "
        + " | ".join(f"{n:,} values {ms:.3f} ms/secret" for n, ms in batch.items())
        + f" | 2,000 vs 200: {batch[2000] / batch[200]:.2f}x per secret (flat = linear)"
    )
    single = {n: per_secret_ms(n, one_by_one=True) for n in (200, 400)}
    print(
        "mask_secret, one by one:           "
        + " | ".join(f"{n:,} values {ms:.3f} ms/secret" for n, ms in single.items())
        + f" | 400 vs 200: {single[400] / single[200]:.2f}x per secret (grows: quadratic)"
    )
    per_line = {n: per_line_after(n) for n in (0, 1_000, 10_000, 50_000)}
    print(
        "one log line masked after registering: "
        + " | ".join(f"{n:,} values {ms:.3f} ms" for n, ms in per_line.items())
        + " (every later line of the task pays this)"
    )
    with tempfile.TemporaryDirectory(prefix="mask-bench-") as tmpdir:
        with simulator_process("--polyv-sub-accounts", "10000", "--no-polyv-ip-limit"):
            stripped = snapshot_seconds(Path(tmpdir), include_secrets=False)
            kept = snapshot_seconds(Path(tmpdir), include_secrets=True)
        now_patterns, now_line = pattern_count(), per_line_ms()
        values = file_secrets(Path(tmpdir) / "s-True.jsonl")
        mask_all(values)  # what the operator registered before 2026-12-01
        before_line = per_line_ms()
    print(
        f"10,000-account snapshot: secrets stripped {stripped:.2f} s | include_secrets=True "
        f"({len(values):,} values kept in the file) {kept:.2f} s"
    )
    print(
        f"a log line after that include_secrets=True snapshot: {now_line:.3f} ms "
        f"({now_patterns} patterns: the connection's own) | before 2026-12-01, "
        f"all {len(values):,} values registered: {before_line:.3f} ms"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
