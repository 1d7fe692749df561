"""What the three hooks share: Connection -> vendor client settings, built lazily and cached.

Hooks stay thin: they read the Airflow Connection, hand plain values to an Airflow-free vendor
client and expose the client's calls. No HTTP details live here.
"""

from __future__ import annotations

from typing import Any, ClassVar, Generic, TypeVar

from airflow.sdk import BaseHook

from airflow_live_provider.exceptions import LiveApiError, LiveApiInputError
from airflow_live_provider.transport import RetryPolicy, resolve_base_url

ClientT = TypeVar("ClientT")

#: Connection extras every hook understands (all optional).
TRANSPORT_EXTRAS = ("connect_timeout", "read_timeout", "max_attempts", "total_retry_seconds")


def transport_options(extra: dict[str, Any], conn_id: str) -> dict[str, Any]:
    """Timeouts and retry bounds from connection extras, validated before any request."""
    options: dict[str, Any] = {}
    for key in ("connect_timeout", "read_timeout"):
        if extra.get(key) not in (None, ""):
            options[key] = _positive_number(extra[key], f"{conn_id}.extra.{key}")
    retry: dict[str, Any] = {}
    if extra.get("max_attempts") not in (None, ""):
        retry["max_attempts"] = int(_positive_number(extra["max_attempts"], f"{conn_id}.extra.max_attempts"))
    if extra.get("total_retry_seconds") not in (None, ""):
        retry["total_seconds"] = _positive_number(
            extra["total_retry_seconds"], f"{conn_id}.extra.total_retry_seconds"
        )
    if retry:
        options["retry"] = RetryPolicy(**retry)
    return options


def _positive_number(value: Any, field: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise LiveApiInputError(field, f"must be a positive number, got {value!r}") from None
    if number <= 0:
        raise LiveApiInputError(field, f"must be a positive number, got {value!r}")
    return number


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
            base_url = resolve_base_url(conn.host, self.default_host, field_name=f"{self.conn_id}.host")
            if conn.port and "://" not in (conn.host or ""):
                base_url = f"{base_url}:{conn.port}"
            self._client = self.build_client(
                base_url=base_url,
                login=conn.login or "",
                password=conn.password or "",
                extra=extra,
                options=transport_options(extra, self.conn_id),
            )
        return self._client

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
