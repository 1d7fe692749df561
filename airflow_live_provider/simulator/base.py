"""What the server and the vendor parts of the simulator share: requests, responses, the base.

Vendor modules import only this module; the server imports them. (No import cycle.)
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qsl


@dataclass
class SimRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    raw_query: str = ""
    #: ``time.monotonic()`` when it arrived: what a vendor's requests-per-interval quota counts.
    received_at: float = field(default_factory=time.monotonic)

    @property
    def form(self) -> dict[str, str]:
        """Form fields of an ``application/x-www-form-urlencoded`` body."""
        if "application/x-www-form-urlencoded" not in self.headers.get("content-type", ""):
            return {}
        return dict(parse_qsl(self.body.decode("utf-8"), keep_blank_values=True))

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


@dataclass
class SimResponse:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)

    def encode(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        return json.dumps(self.body, ensure_ascii=False).encode("utf-8")


Handler = Callable[[SimRequest], SimResponse]


class SimulatorClock(Protocol):
    """What a vendor part needs from the server: its clock (with any injected skew)."""

    def now(self) -> float: ...


class VendorSimulator:
    """Base: state lives on the instance; the server routes requests to :meth:`routes`."""

    def __init__(self, server: SimulatorClock) -> None:
        self.server = server

    def routes(self) -> dict[tuple[str, str], Handler]:
        """``{(METHOD, path): handler}``."""
        return {}

    def seed_demo(self) -> None:
        """Fill in the demo data that ``make demo`` and the sample DAGs expect."""

    def connections(self, base_url: str) -> dict[str, dict[str, Any]]:
        """``{conn_id: connection JSON}`` for Airflow, with this vendor's demo credentials."""
        return {}

    def secrets(self) -> list[str]:
        """Every credential this vendor part holds or has issued (for leak searches in tests)."""
        return []
