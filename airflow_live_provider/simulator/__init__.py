"""Local simulator of the Polyv, Volcengine Live and Huawei ISDP APIs (loopback only)."""

from airflow_live_provider.simulator.server import (
    FAULT_KINDS,
    HOSTILE_FAULT_KINDS,
    SimRequest,
    SimResponse,
    SimulatorServer,
)

__all__ = ["FAULT_KINDS", "HOSTILE_FAULT_KINDS", "SimRequest", "SimResponse", "SimulatorServer"]
