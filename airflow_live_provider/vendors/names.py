"""The vendors' documented naming rules, checked before any request and at DAG parse time.

Light on purpose (an asset URI handler and the session watchers' constructors run at every parse
of a DAG file): the vendor clients import these, never the other way round.
"""

from __future__ import annotations

from typing import Any

from airflow_live_provider.exceptions import LiveApiInputError
from airflow_live_provider.validation import host_name, plain_text

VOLCENGINE = "volcengine"
POLYV = "polyv"
#: What Volcengine app and stream names are made of. A set, not a regex: compiling one cost 0.1 ms
#: of every parse of a DAG that builds session watchers.
_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")


# -- Volcengine Live -----------------------------------------------------------------------------
def _name(value: Any, field: str, max_len: int, what: str) -> str:
    if not isinstance(value, str):
        shown = "nothing" if value is None else f"a {type(value).__name__}"
        raise LiveApiInputError(field, f"must be text (the {what}), got {shown}", vendor=VOLCENGINE)
    if not value.strip():
        raise LiveApiInputError(field, f"is empty; give the {what}", vendor=VOLCENGINE)
    if len(value) > max_len or not _NAME_CHARS.issuperset(value):
        raise LiveApiInputError(
            field,
            f"{value!r} is not a valid {what}: use 1-{max_len} characters of letters, digits, '_', '-', '.'",
            vendor=VOLCENGINE,
        )
    return value


def validate_app(app: Any, field: str = "app") -> str:
    """App names: 1-30 of ``[A-Za-z0-9_.-]`` (DescribeAuth / GeneratePushURL docs)."""
    return _name(app, field, 30, "application name")


def validate_stream(stream: Any, field: str = "stream") -> str:
    """Stream names: 1-100 of ``[A-Za-z0-9_.-]`` (GeneratePushURL docs)."""
    return _name(stream, field, 100, "stream name")


def volcengine_host_name(value: Any, field: str, what: str) -> str:
    """A bare DNS name (no scheme, port, path, wildcard or ';'): 253 characters at most."""
    return host_name(value, field, vendor=VOLCENGINE, what=what, allow_ip=False)


def validate_host_name(value: Any, field: str = "vhost", what: str = "domain space (Vhost)") -> str:
    """A bare host name (vhost or push domain): no scheme, path, port or spaces."""
    return volcengine_host_name(value, field, what)


# -- Polyv ---------------------------------------------------------------------------------------
def validate_channel_id(value: Any, field: str = "channel_id") -> str:
    """Polyv channel IDs are numbers; templates render them as digit strings. Both are accepted,
    as given: a trailing line break or space is refused, not stripped, ``"３６００"`` (non-ASCII
    digits) is refused, not converted, and 0 (``"000"``) or a negative number is refused."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        shown = "nothing" if value is None else f"a {type(value).__name__}"
        raise LiveApiInputError(
            field,
            f"must be a channel ID as text or a whole number, such as '2094979', got {shown}",
            vendor=POLYV,
        )
    text = plain_text(
        value, field, vendor=POLYV, what="Polyv channel ID (digits)", max_len=32, allow_int=True
    )
    if (isinstance(value, int) and value <= 0) or (text.isdigit() and not text.strip("0")):
        raise LiveApiInputError(
            field,
            f"{text!r} is not a channel ID: Polyv channel IDs are positive, e.g. '2094979'",
            vendor=POLYV,
        )
    if not text.isdigit() or not text.isascii():
        raise LiveApiInputError(
            field, f"{text!r} is not a channel ID: use digits only, e.g. '2094979'", vendor=POLYV
        )
    return text
