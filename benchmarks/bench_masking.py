"""Masking returned credentials: time per secret must stay flat as their number grows.

1. ``redaction.mask_all`` (one batch, one compile) for 200 / 500 / 1,000 / 2,000 fresh values,
   each in a fresh masker: milliseconds per secret.
2. Airflow's own ``mask_secret`` one value at a time for 200 and 400 values: the quadratic cost
   the provider avoids (the supervisor registers batches this way too, which is why the provider
   does not send it returned credentials; see ``mask_all``).
3. A 10,000-account snapshot with ``include_secrets=True`` (50,000 secret values kept, masked)
   against the same snapshot with secrets stripped, operator end to end against the simulator.

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
    with tempfile.TemporaryDirectory(prefix="mask-bench-") as tmpdir:
        with simulator_process("--polyv-sub-accounts", "10000", "--no-polyv-ip-limit"):
            stripped = snapshot_seconds(Path(tmpdir), include_secrets=False)
            kept = snapshot_seconds(Path(tmpdir), include_secrets=True)
    print(
        f"10,000-account snapshot: secrets stripped {stripped:.2f} s | include_secrets=True "
        f"(50,000 values masked) {kept:.2f} s | "
        f"keeping and masking adds {(kept - stripped) / 50_000 * 1000:.3f} ms/secret"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
