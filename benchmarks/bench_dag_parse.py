"""Parse time of each sample DAG file vs a bare DAG file (target: at most 1.2x the bare file).

Airflow 3's DAG processor parses each file in a fresh child process that already has Airflow
imported, so what a DAG file costs is its first import with Airflow warm: our modules, their
imports (requests, the vendor clients) and the DAG objects. Each sample is therefore a new
process that imports Airflow as the processor's child has it (the SDK, and the processor module
with the DAG serializer it imports), builds an empty DagBag, then times
``DagBag.process_file(file)``. Measured as CPU time of that one call (wall time on this shared
machine moved by +-50% between runs), with bytecode caches written as in a deployment (the first
round warms them), in rounds that alternate the bare file and each DAG file. Printed, never
asserted. A second table shows where the time goes: the import of each provider module the DAG
files pull in, measured the same way (fresh process, Airflow warm).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from _common import ROOT, header

SAMPLES = 9
IMPORT_SAMPLES = 5
DAG_FILES = (
    "polyv_subaccount_snapshot.py",
    "polyv_resource_trend.py",
    "live_event_preprovision.py",
    "live_event.py",
    "live_stream_sessions.py",
)

BARE_DAG = textwrap.dedent(
    '''
    """A bare DAG: one task, nothing imported beyond the SDK."""
    import pendulum
    from airflow.sdk import DAG, task

    with DAG("bare", schedule="@daily", start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False):

        @task
        def hello() -> str:
            return "hello"

        hello()
    '''
)

TIMER = textwrap.dedent(
    """
    import json, sys, tempfile, time
    from airflow.models import DagBag
    import airflow.sdk  # warm, as in the DAG processor
    # The processor's child runs its entry point from this module, so it (and the DAG serializer
    # it imports, which Airflow's trigger base class needs too) is loaded before any DAG file.
    import airflow.dag_processing.processor
    bag = DagBag(dag_folder=tempfile.mkdtemp())
    started = time.process_time()  # CPU time: a busy neighbour on a shared machine does not count
    found = bag.process_file(sys.argv[1])
    elapsed = time.process_time() - started
    print("RESULT" + json.dumps({"seconds": elapsed, "dags": len(found), "errors": len(bag.import_errors)}))
    """
)


def parse_once(path: Path, env_home: str) -> float:
    """One fresh process: Airflow warm, then one ``process_file`` of ``path``."""
    import os

    env = {**os.environ, "AIRFLOW_HOME": env_home, "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = {k: v for k, v in env.items() if not k.startswith("AIRFLOW_CONN_")}
    # Bytecode caches as a deployed Airflow has them (pip writes them; a DAG processor reuses
    # them): without, every import compiles its source, and a parse measures the compiler.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    out = subprocess.run(
        [sys.executable, "-c", TIMER, str(path)], env=env, capture_output=True, text=True, check=True
    ).stdout
    result = json.loads(next(x for x in out.splitlines() if x.startswith("RESULT"))[6:])
    if result["errors"] or not result["dags"]:
        raise RuntimeError(f"{path.name} did not parse cleanly: {result}")
    return float(result["seconds"])


def paired_ratios(
    bare: Path, files: list[Path], env_home: str
) -> tuple[list[float], dict[Path, list[float]]]:
    """Rounds of bare, file 1, bare, file 2, ...: each file is compared with the bare run just
    before it, so a busy neighbour slows both sides of a ratio alike (this machine is shared)."""
    bare_times: list[float] = []
    ratios: dict[Path, list[float]] = {path: [] for path in files}
    parse_once(bare, env_home)  # warm the OS caches once
    for _ in range(SAMPLES):
        for path in files:
            base = parse_once(bare, env_home)
            bare_times.append(base)
            ratios[path].append(parse_once(path, env_home) / base)
    return bare_times, ratios


IMPORT_TIMER = textwrap.dedent(
    """
    import json, sys, time
    from airflow.models import DagBag
    import airflow.dag_processing.processor  # loaded in the DAG processor's child (see TIMER)
    import airflow.sdk
    started = time.perf_counter()
    __import__(sys.argv[1])
    print("RESULT" + json.dumps({"seconds": time.perf_counter() - started,
                                 "requests": "requests" in sys.modules}))
    """
)
PROVIDER_MODULES = (
    "airflow_live_provider.operators.polyv_snapshot",  # the snapshot DAG's operator
    "airflow_live_provider.retry_policy",  # LiveRetryPolicy: snapshot and live_event
    "airflow_live_provider.triggers.volcengine",  # the session watchers (live_stream_sessions)
    "airflow_live_provider.triggers.polyv",
    "airflow.sdk.definitions.retry_policy",  # Airflow's, which LiveRetryPolicy no longer loads at parse
    "airflow_live_provider.operators.polyv",
    "airflow_live_provider.transport",
    "requests",
)


def import_seconds(module: str, env_home: str) -> tuple[float, bool]:
    """Median import time of ``module`` in fresh processes (Airflow warm, as in ``parse_once``),
    and whether it pulled in requests."""
    import os

    env = {**os.environ, "AIRFLOW_HOME": env_home, "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as in parse_once
    samples, loads_requests = [], False
    for _ in range(IMPORT_SAMPLES):
        out = subprocess.run(
            [sys.executable, "-c", IMPORT_TIMER, module], env=env, capture_output=True, text=True, check=True
        ).stdout
        result = json.loads(next(x for x in out.splitlines() if x.startswith("RESULT"))[6:])
        samples.append(result["seconds"])
        loads_requests = result["requests"]
    return statistics.median(samples), loads_requests


def main() -> None:
    header(f"Sample DAG parse time vs a bare DAG file (median of {SAMPLES} paired fresh-process runs)")
    home = tempfile.mkdtemp(prefix="live-provider-bench-parse-")
    bare = Path(tempfile.mkdtemp()) / "bare_dag.py"
    bare.write_text(BARE_DAG)
    files = [ROOT / "dags" / name for name in DAG_FILES]
    bare_times, ratios = paired_ratios(bare, files, home)
    print(f"{'bare DAG file':34s} {statistics.median(bare_times) * 1000:8.1f} ms   1.00x")
    for path in files:
        ratio = statistics.median(ratios[path])
        spread = f"{min(ratios[path]):.2f}-{max(ratios[path]):.2f}"
        verdict = "ok" if ratio <= 1.2 else "over the 1.2x target"
        print(f"{path.name:34s} {'':11s} {ratio:.2f}x  (rounds {spread}; {verdict})")
    print("where the time goes (import with Airflow already loaded):")
    for module in PROVIDER_MODULES:
        seconds, loads_requests = import_seconds(module, home)
        note = "imports requests" if loads_requests else "no requests"
        print(f"  {module:46s} {seconds * 1000:8.2f} ms   ({note})")


if __name__ == "__main__":
    main()
