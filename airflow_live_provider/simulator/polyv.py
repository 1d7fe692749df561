"""The Polyv part of the vendor simulator (endpoints added by the Polyv issue)."""

from __future__ import annotations

from airflow_live_provider.simulator.base import VendorSimulator


class PolyvSimulator(VendorSimulator):
    pass
