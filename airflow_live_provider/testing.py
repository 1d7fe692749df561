"""A pytest plugin: the vendor simulator as fixtures, so you test your own DAGs offline.

Installed with the package (entry point ``pytest11``), like moto for AWS users. Fixtures:

- ``live_simulator``: a running simulator on 127.0.0.1 (an ephemeral port) with the demo
  accounts, channels and credentials; ``.faults`` injects 429/503/resets, ``.clock_skew`` skews
  its clock, ``.latency`` delays answers, ``.polyv`` / ``.volcengine`` / ``.isdp`` hold state.
- ``live_connections``: the same simulator, with ``AIRFLOW_CONN_*`` for every default connection
  id (``polyv_default``, ``polyv_group_default``, ``volcengine_live_default``, ``isdp_default``)
  pointing at it for the test's duration.
- ``live_connection_env``: just those ``AIRFLOW_CONN_*`` values, for subprocesses
  (``airflow dags test``).

Nothing is imported until a fixture is used: the plugin loads in every pytest run of the
environment and must stay free.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from airflow_live_provider.simulator import SimulatorServer


@pytest.fixture
def live_simulator() -> Iterator[SimulatorServer]:
    """The vendor simulator, seeded with the demo data, stopped after the test."""
    from airflow_live_provider.simulator import SimulatorServer

    with SimulatorServer() as server:
        yield server


@pytest.fixture
def live_connection_env(live_simulator: SimulatorServer) -> dict[str, str]:
    """``{"AIRFLOW_CONN_POLYV_DEFAULT": ..., ...}`` pointing every default connection id at it."""
    return live_simulator.connection_env()


@pytest.fixture
def live_connections(
    live_simulator: SimulatorServer, live_connection_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> SimulatorServer:
    """The simulator, with the default connection ids pointing at it in this process."""
    for name, value in live_connection_env.items():
        monkeypatch.setenv(name, value)
    return live_simulator
