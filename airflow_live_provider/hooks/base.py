"""What the three hooks share: Connection -> vendor client settings, built lazily and cached.

Hooks stay thin: they read the Airflow Connection, hand plain values to an Airflow-free vendor
client and expose the client's calls. No HTTP details live here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Generic, TypeVar

from airflow.sdk import BaseHook

from airflow_live_provider.exceptions import LiveApiError, LiveApiInputError
from airflow_live_provider.transport import transport_settings

ClientT = TypeVar("ClientT")


class LiveBaseHook(BaseHook, Generic[ClientT]):
    """Base for the vendor hooks: subclasses implement :meth:`build_client`."""

    default_host: ClassVar[str] = ""

    def __init__(self, conn_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.conn_id = conn_id
        self._client: ClientT | None = None

    @property
    def client(self) -> ClientT:
        """The vendor client, built once from the connection on first use."""
        if self._client is None:
            conn = self.get_connection(self.conn_id)
            extra = conn.extra_dejson or {}
            base_url, options = transport_settings(
                conn.host, conn.port, extra, default_host=self.default_host, field_prefix=self.conn_id
            )
            self._client = self.build_client(
                base_url=base_url,
                login=conn.login or "",
                password=conn.password or "",
                extra=extra,
                options=options,
            )
        return self._client

    def give_up_at(self, moment: datetime | None) -> None:
        """No call of this hook keeps retrying past ``moment`` (e.g. an event's start)."""
        transport = self.client.transport  # type: ignore[attr-defined]
        transport.give_up_at(None if moment is None else moment.timestamp())

    def build_client(
        self, *, base_url: str, login: str, password: str, extra: dict[str, Any], options: dict[str, Any]
    ) -> ClientT:
        raise NotImplementedError

    def _require(self, value: str, field: str, what: str) -> str:
        """Fail fast, naming the connection field, when a credential is missing."""
        if not value.strip():
            raise LiveApiInputError(f"{self.conn_id}.{field}", f"is empty; set it to the {what}")
        return value.strip()

    def test_connection(self) -> tuple[bool, str]:
        try:
            return True, self.probe()
        except LiveApiError as exc:
            return False, str(exc)

    def probe(self) -> str:
        """A cheap read-only call; returns a short success message."""
        raise NotImplementedError
