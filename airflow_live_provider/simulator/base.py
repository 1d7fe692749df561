"""What every vendor part of the simulator provides to the server."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_live_provider.simulator.server import Handler, SimulatorServer


class VendorSimulator:
    """Base: state lives on the instance; the server routes requests to :meth:`routes`."""

    def __init__(self, server: SimulatorServer) -> None:
        self.server = server

    def routes(self) -> dict[tuple[str, str], Handler]:
        """``{(METHOD, path): handler}``."""
        return {}

    def seed_demo(self) -> None:
        """Fill in the demo data that ``make demo`` and the sample DAGs expect."""

    def connections(self, base_url: str) -> dict[str, dict[str, Any]]:
        """``{conn_id: connection JSON}`` for Airflow, with this vendor's demo credentials."""
        return {}
