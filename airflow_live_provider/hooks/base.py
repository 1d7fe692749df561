"""What the three hooks share: Connection -> vendor client settings, built lazily and cached.

Hooks stay thin: they read the Airflow Connection, hand plain values to an Airflow-free vendor
client and expose the client's calls. No HTTP details live here.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from typing import Any, ClassVar, Generic, TypeVar

from airflow.sdk import BaseHook, Connection
from airflow.sdk.exceptions import AirflowNotFoundException

from airflow_live_provider.exceptions import InputProblems, LiveApiError, LiveApiInputError
from airflow_live_provider.transport import ConnectionProblemsError, port_number, transport_settings
from airflow_live_provider.validation import MAX_SECRET_SETTING_LENGTH, did_you_mean, setting_problem

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
            conn = self.read_connection()
            problems = InputProblems()
            extra = problems.check(connection_extra, conn.extra, f"{self.conn_id}.extra") or {}
            base_url: str = ""
            options: dict[str, Any] = {}
            try:
                base_url, options = transport_settings(
                    conn.host,
                    given_port(self.conn_id, conn.port),
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

    def read_connection(self) -> Connection:
        """Airflow's Connection, or a clear error if ``AIRFLOW_CONN_<ID>`` is set but unreadable:
        Airflow skips such a variable and says only "The conn_id ... isn't defined"."""
        try:
            conn = self.get_connection(self.conn_id)
        except AirflowNotFoundException:
            problem_with_variable(self.conn_id, airflow_failed=True)
            raise
        problem_with_variable(self.conn_id, airflow_failed=False)
        return conn

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
        self,
        value: Any,
        field: str,
        problems: InputProblems,
        *,
        what: str = "",
        default: str | None = None,
        max_len: int = MAX_SECRET_SETTING_LENGTH,
        word: bool = False,
    ) -> str | None:
        """A text field of the connection: stripped; ``what`` makes it required. Refused: not text
        (a JSON list or object in an extra), control characters, Airflow's ``***`` mask, more than
        ``max_len`` characters and (``word``: an ID) a space inside. Never quoted: it may be a secret."""
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
        problem = setting_problem(text, max_len=max_len, word=word)
        if problem:
            problems.add(where, problem)
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


# -- AIRFLOW_CONN_<ID> variables Airflow cannot read ---------------------------------------------
#: The keys Airflow's ``Connection.from_json`` takes.
CONNECTION_JSON_KEYS = ("conn_type", "description", "host", "schema", "login", "password", "port", "extra")
_UNSET = object()


def connection_variable(conn_id: str) -> tuple[str, str] | None:
    """``(name, value)`` of the environment variable Airflow reads the connection from, if set."""
    name = f"AIRFLOW_CONN_{conn_id.upper()}"
    value = os.environ.get(name)
    return None if value is None else (name, value)


def _variable_json(value: str) -> Any:
    """The variable's JSON (``_UNSET`` if it is not JSON). Raises ``json.JSONDecodeError``
    only for a value in Airflow's JSON form (starting with ``{``)."""
    text = value.strip()
    try:
        return json.loads(text)
    except ValueError:
        if text.startswith("{"):
            raise
        return _UNSET


def _airflow_port(raw: Any) -> Any:
    """What Airflow 3.3's ``Connection.from_json`` makes of a JSON ``port`` (``int(8080.5)`` is
    8080, ``int(True)`` is 1), or ``_UNSET`` where it fails."""
    try:
        return int(raw) if raw else None
    except (TypeError, ValueError, OverflowError):
        return _UNSET


def variable_problem(conn_id: str, *, airflow_failed: bool = True) -> str | None:
    """What is wrong with ``AIRFLOW_CONN_<ID>`` (None if it is unset or readable). Never quotes
    the value: it holds the connection's secrets. ``airflow_failed``: Airflow found no connection,
    so its own reading of the variable is repeated to say why (not done otherwise: it would log
    Airflow's warnings about the value a second time)."""
    found = connection_variable(conn_id)
    if found is None:
        return None
    value = found[1].strip()
    if not value:
        return "is set but empty"
    if value.startswith("\ufeff"):
        return "starts with a byte-order mark (U+FEFF, from a text editor); save it without one"
    try:
        fields = _variable_json(value)
    except json.JSONDecodeError as exc:
        return f"is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
    if fields is _UNSET:
        return _uri_problem(value, conn_id, airflow_failed=airflow_failed)
    if not isinstance(fields, dict):
        return f'is JSON but {json_kind(fields)}, not a JSON object ({{"conn_type": ...}})'
    unknown = [key for key in fields if key not in CONNECTION_JSON_KEYS]
    if unknown:
        key = str(unknown[0])[:40]
        return f"{key!r} is not a connection field; {did_you_mean(key, CONNECTION_JSON_KEYS)}"
    for key in ("conn_type", "host", "schema", "login", "password"):
        if fields.get(key) is not None and not isinstance(fields[key], str):
            # Airflow fails on it when it builds the connection's URI (values never quoted).
            return f"{key}: must be text (a JSON string in quotes), got {json_kind(fields[key])}"
    if isinstance(fields.get("extra"), str) and fields["extra"].strip():
        try:
            json.loads(fields["extra"])
        except ValueError:
            return 'extra: is text that is not JSON; give it as a JSON object ({"key": "value"})'
    raw_port = fields.get("port")
    if _airflow_port(raw_port) is _UNSET:  # Airflow cannot read it ("1.9", NaN, 1e400)
        try:
            port_number(raw_port, "port")
        except LiveApiInputError as exc:
            return f"port: {exc.problem}"
    if not airflow_failed:
        return None
    try:
        Connection.from_json(value, conn_id=conn_id).get_uri()  # as Airflow reads (and caches) it
    except Exception as exc:  # whatever else Airflow refuses
        return f"could not be read by Airflow ({type(exc).__name__})"
    return None


def json_kind(value: Any) -> str:
    """A JSON value's kind, in words: ``a list``, ``a number``, ``null``..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    names: dict[type, str] = {str: "a string", list: "a list", dict: "an object"}
    return names.get(type(value), f"a {type(value).__name__}")


def _uri_problem(value: str, conn_id: str, *, airflow_failed: bool) -> str | None:
    """The URI form: ``conn-type://login:password@host:port/schema?extra``."""
    from urllib.parse import urlsplit

    if "://" not in value:
        return "is neither a JSON object ({...}) nor a connection URI (conn-type://login:password@host)"
    try:
        urlsplit(value).port  # noqa: B018
    except ValueError:
        return "is not a valid connection URI: its port is not a whole number 0-65535"
    if not airflow_failed:
        return None
    try:
        Connection.from_uri(value, conn_id=conn_id).get_uri()
    except Exception as exc:
        return f"is not a valid connection URI ({type(exc).__name__})"
    return None


def problem_with_variable(conn_id: str, *, airflow_failed: bool) -> None:
    """Raise a :class:`LiveApiInputError` naming ``AIRFLOW_CONN_<ID>`` if it is set but unreadable."""
    problem = variable_problem(conn_id, airflow_failed=airflow_failed)
    if problem is not None:
        name = f"AIRFLOW_CONN_{conn_id.upper()}"
        raise LiveApiInputError(
            name,
            f"{problem} (Airflow cannot read it as connection {conn_id!r}: it skips it and says the "
            f"conn_id isn't defined). Fix {name}; its value is not shown, as it holds secrets",
        )


def given_port(conn_id: str, port: Any) -> Any:
    """The port as the user wrote it: Airflow turns a JSON ``8080.5`` into 8080 and ``true``
    into 1, so when ``AIRFLOW_CONN_<ID>``'s port is what Airflow made ``port`` from, that raw value
    is checked instead."""
    found = connection_variable(conn_id)
    if found is None:
        return port
    try:
        fields = _variable_json(found[1])
    except ValueError:
        return port
    if not isinstance(fields, dict) or "port" not in fields:
        return port
    raw = fields["port"]
    return raw if _airflow_port(raw) == port else port
