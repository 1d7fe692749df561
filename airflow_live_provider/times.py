"""Times: the one way a time given by a user or a vendor is read, and the one way ours are written.

Every time that enters the provider (a calendar ``start``, a session's vendor start, a token's
``validUntil``, a snapshot's ``expireDate``, our own records read back) goes through
:func:`parse_instant`, so they all accept the same thing:

- text in ISO 8601's extended form: ``YYYY-MM-DD``, ``T`` or one space, ``HH:MM`` with optional
  ``:SS`` and fraction, then ``Z`` or an offset ``+HH:MM`` (``+HHMM`` too); ASCII digits only
  (full-width or Arabic-Indic digits are refused, never converted);
- without an offset only where the caller says which zone the text is in (``naive_zone``: ISDP's
  Beijing wall clock, or ``naive_ok`` for a calendar's wall-clock start with its own timezone);
- an aware ``datetime`` (a YAML date-time written unquoted);
- epoch numbers only where a vendor documents them (``epoch=True``): seconds, or milliseconds
  above 10^11; never a bool, NaN or infinity;
- and always inside the years :data:`FIRST_YEAR`..:data:`LAST_YEAR`. Go's zero time
  (``0001-01-01T00:00:00Z``) and "never" (``9999-12-31``) are placeholders, not instants: date
  arithmetic on them overflows, and no live event or credential lives then.

Words such as ``now`` or ``today``, dates without a time, week dates and ISO's basic form
(``20261201T193000``) are refused: each is read differently by different libraries (``now``
is another instant at every read).

Airflow-free (the domain packages and the vendor clients use it).
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from typing import Any

from airflow_live_provider.exceptions import LiveApiInputError
from airflow_live_provider.validation import shown

#: The years a time may fall in (both included).
FIRST_YEAR, LAST_YEAR = 2000, 2100
_EARLIEST = datetime(FIRST_YEAR, 1, 1, tzinfo=UTC)
_LATEST = datetime(LAST_YEAR + 1, 1, 1, tzinfo=UTC)
#: Epoch numbers above this are milliseconds (10^11 s is the year 5138).
_MILLISECONDS_ABOVE = 1e11
EXAMPLE = "2026-12-01T19:30:00+08:00"

_ISO = re.compile(
    r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})[Tt ]"
    r"(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2})(?::(?P<second>[0-9]{2})(?:[.,](?P<fraction>[0-9]{1,9}))?)?"
    r"(?P<zone>[Zz]|[+-][0-9]{2}:?[0-9]{2})?",
    re.ASCII,
)


class _Problem(Exception):
    """Why a value is not a time (the caller names the field)."""


def parse_instant(
    value: Any,
    field: str = "time",
    *,
    vendor: str = "live_provider",
    naive_zone: tzinfo | None = None,
    naive_ok: bool = False,
    epoch: bool = False,
) -> datetime:
    """``value`` as an aware datetime (its own offset kept), or LiveApiInputError naming ``field``.

    ``naive_zone``: the zone a time without an offset is in. ``naive_ok``: return such a time
    naive (the caller places it, e.g. a calendar wall clock in the event's timezone).
    """
    try:
        return _parse(value, naive_zone=naive_zone, naive_ok=naive_ok, epoch=epoch)
    except _Problem as problem:
        raise LiveApiInputError(field, str(problem), vendor=vendor) from None


def optional_instant(value: Any, field: str = "time", **how: Any) -> datetime | None:
    """:func:`parse_instant` for a time that may be absent: None for None or blank text."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return parse_instant(value, field, **how)


def instant_or_none(value: Any, *, naive_zone: tzinfo | None = None, epoch: bool = False) -> datetime | None:
    """A vendor's optional time hint as an aware datetime, or None when it is absent or not a
    time (Go's zero time, garbage): the caller falls back to what it knows itself."""
    try:
        return _parse(value, naive_zone=naive_zone, naive_ok=False, epoch=epoch)
    except _Problem:
        return None


def utc_iso(moment: datetime | None = None, *, milliseconds: bool = False) -> str:
    """The one format of the times we write: UTC ISO 8601, ``Z``-suffixed, to the second
    (``2026-11-23T10:00:00Z``; truncating makes expiry times err early, never late) or to the
    millisecond as Volcengine writes session starts. A naive datetime is taken as UTC."""
    moment = moment or datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    spec = "milliseconds" if milliseconds else "seconds"
    return moment.astimezone(UTC).isoformat(timespec=spec).replace("+00:00", "Z")


def _parse(value: Any, *, naive_zone: tzinfo | None, naive_ok: bool, epoch: bool) -> datetime:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise _Problem(f"is missing; give an ISO-8601 time such as {EXAMPLE}")
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        raise _Problem(f"{value.isoformat()} is a date without a time; add the time")
    elif isinstance(value, bool):
        raise _Problem(f"{value!r} is a bool, not a time such as {EXAMPLE}")
    elif isinstance(value, int | float):
        if not epoch:
            raise _Problem(
                f"{shown(value)} is a {type(value).__name__}, not an ISO-8601 time such as {EXAMPLE} "
                "(epoch numbers are not accepted here)"
            )
        return _from_epoch(value)
    elif isinstance(value, str):
        text = value.strip()
        if epoch and text.isascii() and text.isdigit():
            return _from_epoch(int(text) if len(text) <= 20 else math.inf)
        moment = _from_text(text)
    else:
        raise _Problem(f"is a {type(value).__name__}, not an ISO-8601 time such as {EXAMPLE}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        if naive_ok:
            if not FIRST_YEAR <= moment.year <= LAST_YEAR:
                raise _out_of_range(value)
            return moment
        if naive_zone is None:
            raise _Problem(f"{_shown(value)} has no time zone; add an offset such as +08:00 or Z")
        moment = moment.replace(tzinfo=naive_zone)
    if not _EARLIEST <= moment < _LATEST:
        raise _out_of_range(value)
    return moment


def _from_text(text: str) -> datetime:
    match = _ISO.fullmatch(text)
    if match is None:
        raise _Problem(f"{_shown(text)} is not an ISO-8601 date-time such as {EXAMPLE}")
    fraction = (match["fraction"] or "").ljust(6, "0")[:6]
    try:
        day = date.fromisoformat(match["date"])
        zone: tzinfo | None = None
        if match["zone"] in ("Z", "z"):
            zone = UTC
        elif match["zone"]:
            sign = -1 if match["zone"][0] == "-" else 1
            digits = match["zone"][1:].replace(":", "")
            zone = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
            if int(digits[2:]) >= 60:
                raise ValueError("offset minutes")
        return datetime(
            day.year,
            day.month,
            day.day,
            int(match["hour"]),
            int(match["minute"]),
            int(match["second"] or 0),
            int(fraction),
            tzinfo=zone,
        )
    except ValueError:  # 2026-13-45, 25:00, an offset of 24 h or more
        raise _Problem(
            f"{_shown(text)} is not a real date and time (check month, day, hour, offset)"
        ) from None


def _from_epoch(number: float) -> datetime:
    if isinstance(number, int) and abs(number) > 10**20:  # float() of it may overflow
        number = math.inf if number > 0 else -math.inf
    if not math.isfinite(number) or number <= 0:
        raise _Problem(f"{number!r} is not a time (epoch seconds or milliseconds after 1970)")
    seconds = number / 1000 if number > _MILLISECONDS_ABOVE else number
    if not _EARLIEST.timestamp() <= seconds < _LATEST.timestamp():
        raise _out_of_range(number)
    return datetime.fromtimestamp(seconds, tz=UTC)


def _out_of_range(value: Any) -> _Problem:
    return _Problem(
        f"{_shown(value)} is outside the years {FIRST_YEAR}-{LAST_YEAR} (a placeholder such as "
        "0001-01-01 or 9999-12-31 is not a time); check the year"
    )


def _shown(value: Any) -> str:
    return shown(value.isoformat() if isinstance(value, datetime) else value, 60)
