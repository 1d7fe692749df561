"""`make bench`: run every ``benchmarks/bench_*.py`` in its own process and print the figures."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    print(f"airflow-live-provider benchmarks, {time.strftime('%Y-%m-%d %H:%M %Z')}")
    failed = []
    for script in sorted(HERE.glob("bench_*.py")):
        result = subprocess.run([sys.executable, str(script)], cwd=HERE)
        if result.returncode:
            failed.append(script.name)
    if failed:
        print(f"\nbenchmarks that crashed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
