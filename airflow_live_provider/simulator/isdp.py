"""The Isdp part of the vendor simulator (endpoints added by the Isdp issue)."""

from __future__ import annotations

from airflow_live_provider.simulator.base import VendorSimulator


class IsdpSimulator(VendorSimulator):
    pass
