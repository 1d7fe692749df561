"""The one check for text that goes into a vendor request: names, IDs, e-mails, hosts.

Control characters (a newline in a push URL), format characters such as the zero-width space
(invisible in the UI, different to the vendor) and surrounding spaces are refused, as is a value
that is not text at all: an ``int`` viewer ID used to be reported as "is empty".
"""

from __future__ import annotations

import unicodedata
from typing import Any

from airflow_live_provider.exceptions import LiveApiInputError


def invisible_characters(text: str) -> bool:
    """Control (Cc) or format (Cf: zero-width space, BOM, direction marks) characters."""
    return any(unicodedata.category(ch) in ("Cc", "Cf") for ch in text)


def plain_text(
    value: Any, field: str, *, vendor: str, what: str, max_len: int, allow_int: bool = False
) -> str:
    """``value`` as a non-blank, printable string of at most ``max_len`` characters."""
    if allow_int and isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        shown = "nothing" if value is None else f"a {type(value).__name__} ({str(value)[:40]!r})"
        raise LiveApiInputError(field, f"must be text (the {what}), got {shown}", vendor=vendor)
    if not value.strip():
        raise LiveApiInputError(field, f"is empty; give the {what}", vendor=vendor)
    if invisible_characters(value):
        raise LiveApiInputError(
            field,
            f"contains an invisible or control character (line break, zero-width space...): {value[:40]!r}",
            vendor=vendor,
        )
    if value != value.strip():
        raise LiveApiInputError(field, f"has leading or trailing spaces: {value[:40]!r}", vendor=vendor)
    if len(value) > max_len:
        raise LiveApiInputError(
            field, f"has {len(value)} characters; the {what} has at most {max_len}", vendor=vendor
        )
    return value
