"""`make demo`: start the simulator and show what the provider registers.

The sample DAGs are run here once they exist (issue: sample DAGs); until then this says so.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    home = ROOT / ".demo" / "airflow-home"
    home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    from airflow_live_provider.simulator import SimulatorServer

    with SimulatorServer() as server:
        env.update(server.connection_env())
        print(f"simulator running on {server.base_url}")
        airflow = str(Path(sys.executable).with_name("airflow"))
        subprocess.run([airflow, "providers", "list"], env=env, check=True)
        dags = sorted((ROOT / "dags").glob("*.py"))
        if not dags:
            print("No sample DAGs yet: nothing else to run.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
