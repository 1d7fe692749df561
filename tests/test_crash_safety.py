"""A snapshot killed with SIGKILL half-way (no cleanup can run) leaves no partial file behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from airflow_live_provider.assets import SNAPSHOT_PREFIX, SNAPSHOT_SUFFIX
from airflow_live_provider.reports.snapshot_report import previous_snapshot_name
from airflow_live_provider.reports.trend import snapshot_names
from airflow_live_provider.simulator import SimulatorServer

ROOT = Path(__file__).resolve().parents[1]
SNAPSHOT = """
import sys
from airflow_live_provider.operators.polyv import PolyvSubAccountSnapshotOperator
PolyvSubAccountSnapshotOperator(task_id="snapshot", output_uri=sys.argv[1]).execute({})
"""


def test_sigkill_mid_snapshot_leaves_the_final_name_untouched(
    sim_connections: SimulatorServer, tmp_path: Path
) -> None:
    sim_connections.polyv.set_sub_account_count(60_000)
    sim_connections.polyv.qps_window = None
    yesterday = tmp_path / f"{SNAPSHOT_PREFIX}20261129T000000{SNAPSHOT_SUFFIX}"
    yesterday.write_text('{"userId": "u1", "snapshotTime": "2026-11-29T00:00:00Z"}\n')
    today = tmp_path / f"{SNAPSHOT_PREFIX}20261130T000000{SNAPSHOT_SUFFIX}"
    today.write_text("an earlier attempt of today's run\n")  # a re-run must not destroy it either
    env = {
        **os.environ,
        **sim_connections.connection_env(),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    proc = subprocess.Popen([sys.executable, "-c", SNAPSHOT, str(today)], env=env)
    try:
        deadline = time.monotonic() + 120
        temporaries: list[Path] = []
        while time.monotonic() < deadline and proc.poll() is None:
            temporaries = [p for p in tmp_path.iterdir() if p.name.startswith(".")]
            if temporaries and temporaries[0].stat().st_size > 2_000_000:  # well into the 60,000 rows
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the snapshot finished before it could be killed"
        assert temporaries, "no temporary file seen"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert today.read_text() == "an earlier attempt of today's run\n"
    names = [p.name for p in tmp_path.iterdir()]
    assert any(n.startswith(".") for n in names)  # the killed write's temporary: a dot-file
    # Readers never take the temporary for a snapshot: the report's "previous" and the trend.
    tomorrow = f"{SNAPSHOT_PREFIX}20261201T000000{SNAPSHOT_SUFFIX}"
    assert (
        previous_snapshot_name(tomorrow, names, prefix=SNAPSHOT_PREFIX, suffix=SNAPSHOT_SUFFIX) == today.name
    )
    assert snapshot_names(names, prefix=SNAPSHOT_PREFIX, suffix=SNAPSHOT_SUFFIX, last=30) == [
        yesterday.name,
        today.name,
    ]
