"""The one check for text that goes into a vendor request: names, IDs, e-mails, hosts.

Control characters (a newline in a push URL), format characters such as the zero-width space
(invisible in the UI, different to the vendor) and surrounding spaces are refused, as is a value
that is not text at all: an ``int`` viewer ID used to be reported as "is empty". Nothing is
stripped or converted on the way: a value is sent as given or refused.

Also here, so every module words them alike: host names, e-mail addresses, whole numbers from
templates, and the "did you mean" suggestion for an unknown key.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
import unicodedata
from collections.abc import Sequence
from typing import Any

from airflow_live_provider.exceptions import LiveApiInputError


def invisible_characters(text: str) -> bool:
    """Control (Cc) or format (Cf: zero-width space, BOM, direction marks) characters."""
    return any(unicodedata.category(ch) in ("Cc", "Cf") for ch in text)


#: Past this many digits an int is shown by its size: ``str()`` of one over 4,300 digits raises.
_SHOWN_DIGITS = 40


def shown(value: Any, limit: int = 40) -> str:
    """``value`` for an error message: its ``repr`` cut to ``limit`` characters, safe for an int
    of any size (``repr(10**5000)`` raises ``ValueError``)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**_SHOWN_DIGITS:
        return f"a {'negative ' if value < 0 else ''}number of more than {_SHOWN_DIGITS} digits"
    return repr(value)[:limit]


def control_characters(text: str) -> bool:
    """Control (Cc) characters only: CR, LF, NUL, TAB, DEL... (format characters may be part of
    a name, as the joiner inside an emoji). Unicode's Cc is exactly these two ranges; one regex
    search instead of a category lookup per character (every request's query goes through here)."""
    return _CONTROL.search(text) is not None


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def plain_text(
    value: Any, field: str, *, vendor: str, what: str, max_len: int, allow_int: bool = False
) -> str:
    """``value`` as a non-blank, printable string of at most ``max_len`` characters."""
    if allow_int and isinstance(value, int) and not isinstance(value, bool):
        if abs(value) >= 10**max_len:
            raise LiveApiInputError(
                field, f"has more than {max_len} digits; the {what} has at most {max_len}", vendor=vendor
            )
        value = str(value)
    if not isinstance(value, str):
        got = "nothing" if value is None else f"a {type(value).__name__} ({shown(value)})"
        raise LiveApiInputError(field, f"must be text (the {what}), got {got}", vendor=vendor)
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


def did_you_mean(key: str, allowed: Sequence[str]) -> str:
    """The fix for an unknown key: the closest known one, else the list of known keys."""
    close = difflib.get_close_matches(str(key), list(allowed), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(allowed)}"


#: A DNS label: 1-63 letters, digits, '-' (not first or last) and '_' (Docker service names).
_LABEL = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?")
MAX_HOST_NAME_LENGTH = 253


def host_name_problem(value: str, *, allow_ip: bool = True) -> str | None:
    """Why ``value`` is not a host name (or an IP address), or None if it is one."""
    if allow_ip:
        try:
            ipaddress.ip_address(value[1:-1] if value.startswith("[") else value)
            return None
        except ValueError:
            pass
    if len(value) > MAX_HOST_NAME_LENGTH:
        return f"has {len(value)} characters; a host name has at most {MAX_HOST_NAME_LENGTH}"
    if not value.isascii():
        return "is not ASCII; write an international domain in its xn-- (punycode) form"
    if not all(_LABEL.fullmatch(label) for label in value.split(".")):
        return (
            f"{value[:60]!r} is not a bare host name: dot-separated labels of 1-63 letters, digits, "
            "'-' or '_' (no scheme, port, path, empty label, '*', ';' or space)"
        )
    return None


def host_name(value: Any, field: str, *, vendor: str, what: str = "host name", allow_ip: bool = True) -> str:
    """A bare host name such as ``push.example.com`` (or an IP address if ``allow_ip``)."""
    plain_text(value, field, vendor=vendor, what=what, max_len=MAX_HOST_NAME_LENGTH)
    problem = host_name_problem(value, allow_ip=allow_ip)
    if problem:
        raise LiveApiInputError(field, f"{problem}; give the {what}, e.g. 'push.example.com'", vendor=vendor)
    return str(value)


_EMAIL_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")


def email_address(value: Any, field: str, *, vendor: str) -> str:
    """``local@domain.tld``: one '@', a dot-atom local part (<= 64) and a host name with a dot."""
    plain_text(value, field, vendor=vendor, what="e-mail address", max_len=254)
    local, at, domain = str(value).rpartition("@")
    if (
        not at
        or len(local) > 64
        or not _EMAIL_LOCAL.fullmatch(local)
        or "." not in domain
        or host_name_problem(domain, allow_ip=False)
    ):
        raise LiveApiInputError(
            field, f"{str(value)[:60]!r} is not an e-mail address such as 'a@example.com'", vendor=vendor
        )
    return str(value)


def whole_number(
    value: Any, field: str, *, vendor: str, low: int, high: int, example: str, what: str = "number"
) -> int:
    """An int ``low..high``, a float with no fraction (``60.0``: what JSON writers may give), or
    a string of ASCII digits (a rendered template) with nothing around it: ``"３６００"``,
    ``"60٠"``, ``"²"`` and ``" 10\\n"`` are refused, not converted. The one number check of the
    provider: vendor arguments, calendar values and connection fields alike. ``what``: a noun
    ("role": "a whole-number role") or a unit ("minutes": "a whole number of minutes")."""
    if isinstance(value, str) and value.isascii() and value.isdigit():
        if len(value) > 40:  # past 4,300 digits int() raises a bare ValueError
            raise LiveApiInputError(
                field,
                f"has {len(value)} digits; give {_whole(what)} from {low} to {high} (e.g. {example})",
                vendor=vendor,
            )
        value = int(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        got = "nothing" if value is None else f"a {type(value).__name__} ({shown(value)})"
        raise LiveApiInputError(
            field,
            f"must be {_whole(what)} from {low} to {high} (e.g. {example}), got {got}",
            vendor=vendor,
        )
    if not low <= value <= high:
        raise LiveApiInputError(
            field,
            f"{shown(value)} is not {_whole(what)} from {low} to {high} (e.g. {example})",
            vendor=vendor,
        )
    return value


def _whole(what: str) -> str:
    return f"a whole number of {what}" if what in _UNITS else f"a whole-number {what}"


_UNITS = ("seconds", "minutes", "hours", "days")


#: Ours: account IDs (a Polyv appId, a Volcengine Access Key ID, ISDP application and client
#: IDs) are a few dozen characters; a longer value is a paste gone wrong, not an ID.
MAX_ID_SETTING_LENGTH = 128
#: Ours: secrets and tokens (a Volcengine STS session token runs to a few KB).
MAX_SECRET_SETTING_LENGTH = 8192


def setting_problem(text: str, *, max_len: int, word: bool = False) -> str | None:
    """Why a (stripped) client setting cannot be used, or None. Never quotes the value: it may
    be a secret. ``word``: an ID, so no space inside either."""
    if len(text) > max_len:
        return f"has {len(text)} characters; at most {max_len} are accepted"
    if invisible_characters(text):
        return "contains a control or invisible character (a line break?); remove it"
    if word and any(ch.isspace() for ch in text):
        return "contains a space; an ID is one word (copy it again from the vendor's console)"
    return None


def setting_text(
    value: Any,
    field: str,
    *,
    vendor: str,
    what: str,
    max_len: int = MAX_SECRET_SETTING_LENGTH,
    word: bool = False,
) -> str:
    """A client setting (a credential, a region): text that is not blank, surrounding spaces
    dropped (as the connection form does), at most ``max_len`` characters, no control character
    (and no space inside if ``word``). The value is never echoed: it may be a secret."""
    if not isinstance(value, str):
        shown = "nothing" if value is None else f"a {type(value).__name__}"
        raise LiveApiInputError(field, f"must be text (the {what}), got {shown}", vendor=vendor)
    if not value.strip():
        raise LiveApiInputError(field, f"is empty; set the {what}", vendor=vendor)
    text = value.strip()
    problem = setting_problem(text, max_len=max_len, word=word)
    if problem:
        raise LiveApiInputError(field, f"{problem} (the {what})", vendor=vendor)
    return text
