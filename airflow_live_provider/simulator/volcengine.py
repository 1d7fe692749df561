"""The Volcengine part of the vendor simulator (endpoints added by the Volcengine issue)."""

from __future__ import annotations

from airflow_live_provider.simulator.base import VendorSimulator


class VolcengineSimulator(VendorSimulator):
    pass
