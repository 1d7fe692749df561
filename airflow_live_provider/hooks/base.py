"""What the three hooks share: Connection -> vendor client settings, built lazily and cached.

Hooks stay thin: they read the Airflow Connection, hand plain values to an Airflow-free vendor
client and expose the client's calls. No HTTP details live here.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, ClassVar, Generic, TypeVar

from airflow.sdk import BaseHook

from airflow_live_provider.exceptions import InputProblems, LiveApiError, LiveApiInputError
from airflow_live_provider.transport import ConnectionProblemsError, transport_settings

ClientT = TypeVar("ClientT")


#: What Airflow's form shows (and saves, if the form is saved unchanged) for a secret it hides.
AIRFLOW_MASK = "***"


class LiveBaseHook(BaseHook, Generic[ClientT]):
    """Base for the vendor hooks: subclasses declare :meth:`client_settings` (validation of their
    own fields) and :meth:`make_client`. Every bad field of the connection is reported at once,
    by its form label, before any request."""

    default_host: ClassVar[str] = ""
    conn_type: ClassVar[str] = ""

    def __init__(self, conn_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.conn_id = conn_id
        self._client: ClientT | None = None

    @property
    def client(self) -> ClientT:
        """The vendor client, built once from the connection on first use."""
        if self._client is None:
            conn = self.get_connection(self.conn_id)
            problems = InputProblems()
            extra = problems.check(connection_extra, conn.extra, f"{self.conn_id}.extra") or {}
            base_url: str = ""
            options: dict[str, Any] = {}
            try:
                base_url, options = transport_settings(
                    conn.host,
                    conn.port,
                    extra,
                    default_host=self.default_host,
                    field_prefix=self.conn_id,
                    known_extras=self.known_extras(),
                )
            except ConnectionProblemsError as exc:  # every bad host/port/transport field
                problems.errors.extend(exc.errors)
            settings = self.client_settings(
                login=conn.login, password=conn.password, extra=extra, problems=problems
            )
            problems.raise_all(
                f"connection {self.conn_id!r}",
                "Fix it in Admin > Connections (or the AIRFLOW_CONN_ variable) before running again.",
                self._describe,
            )
            client = self.make_client(base_url, settings, options)
            from airflow_live_provider.metrics import transport_observer

            # Every call of every client a hook builds counts (Airflow's metrics on only).
            client.transport.observer = transport_observer()  # type: ignore[attr-defined]
            self._client = client
        return self._client

    def known_extras(self) -> list[str]:
        """Every extra this connection type has: its form fields (the transport's included) and
        the old names still read."""
        from airflow_live_provider.get_provider_info import form_labels

        return [key.removeprefix("extra.") for key in form_labels(self.conn_type) if key.startswith("extra.")]

    def _describe(self, field: str) -> str:
        """``polyv_default.extra.read_timeout`` -> ``Read timeout (s) (extra.read_timeout)``."""
        from airflow_live_provider.get_provider_info import form_labels

        key = field.removeprefix(f"{self.conn_id}.")
        label = form_labels(self.conn_type).get(key)
        return f"{label} ({key})" if label else key

    def text(
        self, value: Any, field: str, problems: InputProblems, *, what: str = "", default: str | None = None
    ) -> str | None:
        """A text field of the connection: stripped; ``what`` makes it required. Refused: not text
        (a JSON list or object in an extra), control characters, and Airflow's ``***`` mask."""
        where = f"{self.conn_id}.{field}"
        if value is None or (isinstance(value, str) and not value.strip()):
            if what:
                problems.add(where, f"is empty; set it to the {what}")
            return default
        if not isinstance(value, str):
            problems.add(where, f"must be text, got {type(value).__name__}")
            return None
        text = value.strip()
        if text == AIRFLOW_MASK:
            problems.add(
                where,
                "is '***', the mask Airflow shows for a hidden value: "
                "re-enter this value in the connection form",
            )
            return None
        if not text.isprintable():
            problems.add(where, "contains a control character (a line break?); remove it")
            return None
        return text

    def give_up_at(self, moment: datetime | None) -> None:
        """No call of this hook keeps retrying past ``moment`` (e.g. an event's start)."""
        transport = self.client.transport  # type: ignore[attr-defined]
        transport.give_up_at(None if moment is None else moment.timestamp())

    def client_settings(
        self, *, login: Any, password: Any, extra: dict[str, Any], problems: InputProblems
    ) -> dict[str, Any]:
        """Validated client arguments from the connection; problems noted, never raised."""
        raise NotImplementedError

    def make_client(self, base_url: str, settings: dict[str, Any], options: dict[str, Any]) -> ClientT:
        raise NotImplementedError

    def test_connection(self) -> tuple[bool, str]:
        try:
            return True, self.probe()
        except LiveApiError as exc:
            return False, str(exc)

    def probe(self) -> str:
        """A cheap read-only call; returns a short success message."""
        raise NotImplementedError


def connection_extra(raw: Any, field: str) -> dict[str, Any]:
    """The connection's extra as a dict: it must be a JSON object (a list or a number is refused)."""
    if raw is None or raw == "":
        return {}
    if isinstance(raw, dict):
        return raw
    try:
        value = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        raise LiveApiInputError(
            field, 'is not valid JSON; give a JSON object such as {"region": "cn-north-1"}'
        ) from None
    if not isinstance(value, dict):
        raise LiveApiInputError(field, f"must be a JSON object ({{...}}), got a JSON {type(value).__name__}")
    return value
