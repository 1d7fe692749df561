"""Shared fixtures: an isolated AIRFLOW_HOME and the vendor simulator on an ephemeral port."""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterator

# Before anything imports airflow: a throwaway home, no examples, no DB needed for hooks.
_HOME = tempfile.mkdtemp(prefix="live-provider-airflow-home-")
os.environ["AIRFLOW_HOME"] = _HOME
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "True"
for _name in list(os.environ):
    if _name.startswith("AIRFLOW_CONN_"):
        del os.environ[_name]

import pytest  # noqa: E402

from airflow_live_provider.simulator import SimulatorServer  # noqa: E402


@pytest.fixture
def simulator() -> Iterator[SimulatorServer]:
    """A fresh simulator with demo data, listening on 127.0.0.1:<ephemeral>."""
    with SimulatorServer() as server:
        yield server


@pytest.fixture
def sim_connections(simulator: SimulatorServer, monkeypatch: pytest.MonkeyPatch) -> SimulatorServer:
    """The simulator plus ``AIRFLOW_CONN_*`` env vars pointing the default conn ids at it."""
    for name, value in simulator.connection_env().items():
        monkeypatch.setenv(name, value)
    return simulator


@pytest.fixture
def all_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Capture every log record at DEBUG and up, from every logger."""
    caplog.set_level(logging.DEBUG)
    return caplog
