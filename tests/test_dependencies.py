"""The Airflow floor in pyproject.toml is a version the suite runs on, not an untested promise."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent


def test_the_airflow_floor_is_the_version_ci_tests() -> None:
    """`make test` (CI) installs AIRFLOW_VERSION from the Makefile; the lowest version pip may
    pick for a user must be that one (triggers fetch connections from worker threads, which
    raced on triggerers before a 2026 fix: an older Airflow is not known to work)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    [airflow] = [Requirement(d) for d in project["dependencies"] if Requirement(d).name == "apache-airflow"]
    floors = [Version(s.version) for s in airflow.specifier if s.operator == ">="]
    tested = re.search(r"^AIRFLOW_VERSION \?= (\S+)$", (ROOT / "Makefile").read_text(), re.M)
    assert tested is not None
    assert floors == [Version(tested.group(1))], f"floor {airflow.specifier} vs CI's {tested.group(1)}"
