"""The live-events calendar the pre-provisioning DAG reads: parsing, validation, selection.

Airflow-free. Every problem is a :class:`LiveApiInputError` naming the event and the field, raised
before any vendor is called. Start times must carry a time zone (an ISO-8601 offset, or a
``timezone`` field with an IANA name for a local wall-clock time): a naive time would be read in
whatever zone the worker happens to run in.

Calendar format (JSON, or YAML when the file ends in ``.yaml``/``.yml``)::

    {"events": [{
        "name": "Weekly webinar",
        "start": "2026-12-01T19:30:00", "timezone": "Asia/Shanghai",
        "rrule": "FREQ=WEEKLY;BYDAY=TU", "duration_minutes": 60,
        "volcengine": {"vhost": "live.example.com", "app": "live", "stream": "webinar",
                       "domain": "push.example.com", "go_live_grace_minutes": 10},
        "polyv": {"channel_id": "3151318", "receive_channel_names": ["webinar-cn"],
                  "viewers": ["viewer-1", {"viewerId": "viewer-2", "nickname": "Ann"}],
                  "token_lead_seconds": 600},
        "isdp": {"channel_ids": ["10882"], "user_account": "135965565", "role": 1,
                 "token_lead_seconds": 90}
    }]}

Each vendor section is optional; an event with none of them is an error. ``rrule`` (RFC 5545,
daily or rarer, expanded by python-dateutil in the event's ``timezone``, so a 19:30 webinar stays
at 19:30 local time across DST changes) turns an entry into a series: each occurrence is its own
event instance (``occurrence`` = its local date) with its own run sheets and just-in-time wait.
A rule must occur, at most once per local day, and is checked before dateutil expands it (see
:func:`validate_rrule`); starts lie in the years 2000-2100.

Just-in-time credentials: Polyv watch tokens (valid 5 h) and ISDP join tokens (valid ~120 s) are
issued ``token_lead_seconds`` before the start (defaults 600 and 90), so they are valid when the
event starts; a lead at or above the vendor's lifetime is refused here, before any request.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import MAXYEAR, date, datetime, timedelta
from typing import Any, TypeVar

import pendulum

from airflow_live_provider.exceptions import LiveApiInputError
from airflow_live_provider.times import parse_instant
from airflow_live_provider.validation import did_you_mean, whole_number
from airflow_live_provider.vendors import isdp as isdp_api
from airflow_live_provider.vendors import names as vendor_names
from airflow_live_provider.vendors import polyv as polyv_api
from airflow_live_provider.vendors import volcengine as volc_api

VENDOR_SECTIONS = ("volcengine", "polyv", "isdp")
DEFAULT_DURATION_MINUTES = 60
#: The go-live watch: from this long before the start...
GO_LIVE_WATCH_BEFORE = timedelta(minutes=5)
#: ...until this many minutes after it (``volcengine.go_live_grace_minutes``).
DEFAULT_GO_LIVE_GRACE_MINUTES = 10
MAX_DURATION_MINUTES = 7 * 24 * 60
#: Seconds before the start at which just-in-time credentials are issued, per vendor.
DEFAULT_TOKEN_LEAD_SECONDS = {"polyv": 600, "isdp": 90}
#: Their documented lifetimes: a lead must stay below them, or the credential dies before the start.
TOKEN_LIFETIME_SECONDS = {
    "polyv": polyv_api.WATCH_TOKEN_TTL_SECONDS,
    "isdp": isdp_api.JOIN_TOKEN_TTL_SECONDS,
}
#: Starts must fall in these years (local date as written): a typo such as 0001 or 9999 overflows
#: date arithmetic later, and nobody schedules a live event a century ahead.
#: A rule must occur from its start to the end of the year this many years later (30 February,
#: ``COUNT=0`` or filters that exclude each other never do).
RRULE_HORIZON_YEARS = 100
#: The RFC 5545 rule parts the calendar accepts (dateutil's own extras such as BYEASTER are not).
RRULE_PARTS = (
    "FREQ", "INTERVAL", "COUNT", "UNTIL", "BYMONTH", "BYWEEKNO", "BYYEARDAY", "BYMONTHDAY", "BYDAY",
    "BYHOUR", "BYMINUTE", "BYSECOND", "BYSETPOS", "WKST",
)  # fmt: skip
#: The FREQ values accepted (daily or rarer: an occurrence's run-sheet folder is
#: ``<name>-YYYY-MM-DD``) and their largest INTERVAL, about 100 years between occurrences.
RRULE_MAX_INTERVAL = {"DAILY": 36524, "WEEKLY": 5217, "MONTHLY": 1200, "YEARLY": 100}
#: Number-list parts: (largest magnitude, negatives allowed), as RFC 5545 defines them.
_RRULE_NUMBERS = {
    "BYSECOND": (59, False),
    "BYMINUTE": (59, False),
    "BYHOUR": (23, False),
    "BYMONTHDAY": (31, True),
    "BYYEARDAY": (366, True),
    "BYWEEKNO": (53, True),
    "BYMONTH": (12, False),
    "BYSETPOS": (366, True),
}
#: Parts RFC 5545 allows only with some FREQ values (dateutil would apply or ignore them silently).
_RRULE_ONLY_WITH = {
    "BYWEEKNO": ("YEARLY",),
    "BYYEARDAY": ("YEARLY",),
    "BYMONTHDAY": ("DAILY", "MONTHLY", "YEARLY"),
}
_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_BYDAY_ITEM = re.compile(r"([+-]?)([0-9]{1,2})?(MO|TU|WE|TH|FR|SA|SU)", re.ASCII)
_INTEGER = re.compile(r"[+-]?[0-9]+", re.ASCII)
_UNTIL = re.compile(r"([0-9]{8})(?:T([0-9]{6}))?(Z?)", re.ASCII)

T = TypeVar("T")


def _err(where: str, problem: str) -> LiveApiInputError:
    return LiveApiInputError(where, problem, vendor="calendar")


def _check(where: str, key: str, check: Callable[[Any], T], value: Any) -> T:
    """Run a vendor's own validator on a calendar value, renaming its field to the calendar's.

    The vendor validators name their parameter (``names[2]``, ``valid_duration``); the calendar
    error names the event, the section and the calendar key instead (``event 'X'.polyv.
    receive_channel_names[2]``), keeping the vendor's problem text and index suffix.
    """
    try:
        return check(value)
    except LiveApiInputError as exc:
        prefix = f"{exc.field}: "
        problem = exc.message[len(prefix) :] if exc.message.startswith(prefix) else exc.message
        suffix = exc.field[exc.field.index("[") :] if "[" in exc.field else ""
        raise _err(f"{where}.{key}{suffix}", problem) from None


#: Every key the calendar understands, per level: anything else is a typo that would silently
#: skip a check (a section ``volcengin`` would skip the push-auth check meant to run first).
EVENT_KEYS = (
    "id",
    "name",
    "start",
    "timezone",
    "duration_minutes",
    "rrule",
    "occurrence",
    "cancelled",
    *VENDOR_SECTIONS,
)
SECTION_KEYS = {
    "volcengine": ("vhost", "app", "stream", "domain", "valid_duration", "go_live_grace_minutes"),
    "polyv": ("channel_id", "watch_channel_id", "receive_channel_names", "viewers", "token_lead_seconds"),
    "isdp": ("channel_ids", "user_account", "role", "token_lead_seconds"),
}
CALENDAR_KEYS = ("events",)


def known_keys(value: dict[str, Any], allowed: Sequence[str], where: str) -> None:
    """Refuse keys the calendar does not know, suggesting the closest known one."""
    for key in value:
        if key in allowed:
            continue
        raise _err(
            f"{where}.{key}" if where else str(key), f"is not a calendar key; {did_you_mean(key, allowed)}"
        )


def _present(section: dict[str, Any], key: str, where: str) -> Any:
    """A required calendar key: its absence is reported as such, not as a vendor format error."""
    value = section.get(key)
    if value is None or (isinstance(value, str | list) and not value):
        raise _err(f"{where}.{key}", "is missing; add it to the calendar")
    return value


def wall_clock(local: datetime, zone: Any) -> pendulum.DateTime:
    """A local wall-clock time in ``zone`` as an instant, the way people read "01:30 local".

    Ambiguous (the hour repeated when DST ends): the first occurrence, i.e. the earlier instant
    (pendulum's own default, ``fold=1``, takes the second). In a DST gap (the hour skipped when
    it starts): moved forward by the gap, 02:30 -> 03:30.
    """
    fields = (local.year, local.month, local.day, local.hour, local.minute, local.second, local.microsecond)
    first = pendulum.datetime(*fields, tz=zone, fold=0)
    if first.naive() == local.replace(tzinfo=None, fold=0):
        return first
    return pendulum.datetime(*fields, tz=zone, fold=1)  # in a gap pendulum's fold=1 moves forward


#: Zone names that name no place: the machine's own zone, leap-second ("right/") and POSIX-rule copies.
_NOT_PLACES = ("localtime", "right/", "posix/", "Factory")


def parse_start(value: Any, timezone: Any, where: str) -> pendulum.DateTime:
    """``start`` with an offset, or a wall-clock ``start`` plus an IANA ``timezone``."""
    zone = None
    if timezone is not None:
        if not isinstance(timezone, str) or timezone.startswith(_NOT_PLACES):
            raise _err(
                f"{where}.timezone",
                f"{timezone!r} is not a place's IANA zone; use one such as Asia/Shanghai",
            )
        try:
            zone = pendulum.timezone(timezone)
        except Exception:
            raise _err(
                f"{where}.timezone", f"{timezone!r} is not a known IANA zone (e.g. Asia/Shanghai)"
            ) from None
    given = parse_instant(value, f"{where}.start", vendor="calendar", naive_ok=True)
    if given.tzinfo is None:
        if zone is None:
            raise _err(
                f"{where}.start",
                f"{value!r} has no time zone; add an offset (+08:00) or a timezone field (Asia/Shanghai)",
            )
        return wall_clock(given, zone)
    parsed = pendulum.instance(given)
    if zone is not None:
        local = parsed.in_timezone(zone)
        # A UTC instant ("Z", +00:00) shown in the event's zone is what machines write; another
        # offset that disagrees with the zone is a human slip (+08:00 with Europe/Berlin).
        if parsed.utcoffset() and local.utcoffset() != parsed.utcoffset():
            raise _err(
                f"{where}.start",
                f"{value!r} has offset {parsed.strftime('%z')} but {timezone} is at {local.strftime('%z')} "
                "then; drop the offset (wall-clock time in the timezone) or make them agree",
            )
        return local
    return parsed


def validate_event(raw: Any, index: int) -> dict[str, Any]:
    """One calendar entry as a JSON-ready dict (``start`` normalised to ISO-8601 with offset).

    Every vendor field goes through that vendor's own validator (the ones the hooks and operators
    use), so an event that passes here cannot fail a later section's input check half-way through
    provisioning. Idempotent: a validated event validates to itself.
    """
    if not isinstance(raw, dict):
        raise _err(f"events[{index}]", "must be an object with name, start and vendor sections")
    name = raw.get("name")
    if name is None or (isinstance(name, str) and not name.strip()):
        raise _err(f"events[{index}].name", "is missing; every event needs a unique name")
    if not isinstance(name, str):
        hint = " (YAML reads yes/no/on/off as true/false)" if isinstance(name, bool) else ""
        raise _err(f"events[{index}].name", f"{name!r} is a {type(name).__name__}, not text{hint}; quote it")
    if any(ord(c) < 32 or 127 <= ord(c) < 160 for c in name):
        raise _err(f"events[{index}].name", f"{name!r} holds control characters; remove them")
    where = f"event {name.strip()!r}"
    known_keys(raw, EVENT_KEYS, where)
    for section, keys in SECTION_KEYS.items():
        if isinstance(raw.get(section), dict):
            known_keys(raw[section], keys, f"{where}.{section}")
    start = parse_start(raw.get("start"), raw.get("timezone"), where)
    event: dict[str, Any] = {
        "id": event_id(raw.get("id"), name.strip(), where),
        "name": name.strip(),
        "start": start.isoformat(),
        "duration_minutes": _whole_number(
            raw.get("duration_minutes"), f"{where}.duration_minutes", 1, MAX_DURATION_MINUTES, "minutes"
        )
        or DEFAULT_DURATION_MINUTES,
    }
    if raw.get("timezone") is not None:
        event["timezone"] = raw["timezone"]
    if raw.get("rrule") not in (None, ""):
        event["rrule"] = validate_rrule(raw["rrule"], start, raw.get("timezone"), where)
        # A series keeps the wall-clock time it was given (its anchor): only an occurrence that
        # falls in a DST gap moves, not every occurrence after a first one that did.
        event["start"] = series_anchor(raw["start"], start).isoformat()
    if raw.get("cancelled") not in (None, False):
        if raw["cancelled"] is not True:
            raise _err(f"{where}.cancelled", f"{raw['cancelled']!r} is not true or false")
        event["cancelled"] = True
    if raw.get("occurrence") not in (None, ""):
        occurrence = raw["occurrence"]
        if not isinstance(occurrence, str) or not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", occurrence):
            raise _err(f"{where}.occurrence", f"{occurrence!r} is not a date such as 2026-12-01")
        try:
            date.fromisoformat(occurrence)
        except ValueError:
            raise _err(f"{where}.occurrence", f"{occurrence!r} is not a date of the calendar") from None
        event["occurrence"] = occurrence
    if not any(raw.get(s) for s in VENDOR_SECTIONS):
        raise _err(where, f"has no vendor section; add at least one of {', '.join(VENDOR_SECTIONS)}")
    for section in VENDOR_SECTIONS:
        if raw.get(section) is not None and not isinstance(raw[section], dict):
            raise _err(f"{where}.{section}", "must be an object")
    if volc := raw.get("volcengine"):
        spot = f"{where}.volcengine"
        domain = volc.get("domain")
        event["volcengine"] = {
            "vhost": _check(spot, "vhost", vendor_names.validate_host_name, _present(volc, "vhost", spot)),
            "app": _check(spot, "app", vendor_names.validate_app, _present(volc, "app", spot)),
            "stream": _check(spot, "stream", vendor_names.validate_stream, _present(volc, "stream", spot)),
            "domain": (
                None
                if domain in (None, "")
                else _check(
                    spot,
                    "domain",
                    lambda v: vendor_names.validate_host_name(v, "domain", "push domain"),
                    domain,
                )
            ),
            "valid_duration": _check(
                spot, "valid_duration", volc_api.validate_valid_duration, volc.get("valid_duration")
            ),
            "go_live_grace_minutes": _whole_number(
                volc.get("go_live_grace_minutes"), f"{spot}.go_live_grace_minutes", 1, 24 * 60, "minutes"
            )
            or DEFAULT_GO_LIVE_GRACE_MINUTES,
        }
    if polyv := raw.get("polyv"):
        spot = f"{where}.polyv"
        names = polyv.get("receive_channel_names")
        watch = polyv.get("watch_channel_id")
        event["polyv"] = {
            "channel_id": _check(
                spot, "channel_id", vendor_names.validate_channel_id, _present(polyv, "channel_id", spot)
            ),
            "watch_channel_id": (
                None
                if watch in (None, "")
                else _check(spot, "watch_channel_id", vendor_names.validate_channel_id, watch)
            ),
            "receive_channel_names": (
                []
                if names is None or names == []
                else _check(spot, "receive_channel_names", polyv_api.validate_names, names)
            ),
            "viewers": _check(
                spot,
                "viewers",
                lambda v: polyv_api.normalize_viewers(v, "viewers", required=False),
                polyv.get("viewers"),
            ),
            "token_lead_seconds": token_lead(polyv, "polyv", spot),
        }
    if isdp := raw.get("isdp"):
        spot = f"{where}.isdp"
        event["isdp"] = {
            "channel_ids": _check(
                spot, "channel_ids", isdp_api.validate_channel_ids, _present(isdp, "channel_ids", spot)
            ),
            "user_account": _check(
                spot, "user_account", isdp_api.validate_user_account, _present(isdp, "user_account", spot)
            ),
            "role": _check(spot, "role", isdp_api.validate_role, isdp.get("role", isdp_api.DEFAULT_ROLE)),
            "token_lead_seconds": token_lead(isdp, "isdp", spot),
        }
    return event


def event_id(value: Any, name: str, where: str) -> str:
    """The event's stable identity: its ``id``, else the one its name gives (its folder name).

    An explicit id lets an event be renamed without becoming another event (another folder, other
    runs); it must already be in the folder-name form (lower-case words joined by dashes).
    """
    if value is None or value == "":
        return slug(name)
    if not isinstance(value, str) or slug(value) != value:
        raise _err(
            f"{where}.id",
            f"{value!r} is not an event id; use lower-case letters, digits and dashes, "
            f"e.g. {slug(str(value))!r}",
        )
    return value


def series_anchor(given: Any, start: pendulum.DateTime) -> datetime:
    """The local wall-clock time a series recurs at, without a zone: the ``start`` as written
    when it has no offset (even inside a DST gap), else that instant in the event's zone."""
    parsed = parse_instant(given, "start", vendor="calendar", naive_ok=True)
    return parsed if parsed.tzinfo is None else start.naive()


def _whole_number(value: Any, where: str, low: int, high: int, unit: str) -> int | None:
    """An optional whole number of ``unit`` (None when absent: the caller's default)."""
    if value is None or value == "":
        return None
    return whole_number(value, where, vendor="calendar", low=low, high=high, example=str(low), what=unit)


def token_lead(section: dict[str, Any], vendor: str, where: str) -> int:
    """``token_lead_seconds`` of a vendor section: below the credential's lifetime, or refused."""
    lifetime = TOKEN_LIFETIME_SECONDS[vendor]
    value = section.get("token_lead_seconds")
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= lifetime:
        raise _err(
            f"{where}.token_lead_seconds",
            f"{value!r} is not below the {vendor} token lifetime of {lifetime} s: a token issued that "
            f"early is dead when the event starts; use fewer seconds (default "
            f"{DEFAULT_TOKEN_LEAD_SECONDS[vendor]})",
        )
    lead = _whole_number(value, f"{where}.token_lead_seconds", 1, lifetime - 1, "seconds")
    return lead or DEFAULT_TOKEN_LEAD_SECONDS[vendor]


def validate_rrule(value: Any, start: pendulum.DateTime, timezone: Any, where: str) -> str:
    """An RFC 5545 RRULE (``FREQ=WEEKLY;BYDAY=TU``), checked part by part, then its first
    occurrence found in bounded time.

    The rule runs on the wall-clock ``start`` in the event's ``timezone``; DTSTART comes from
    ``start``, so the rule must not carry its own. Refused before dateutil expands anything: what
    it would loop on forever (``INTERVAL=0``), convert (``1_2``, full-width digits, ``UNTIL=2027``)
    or drop silently (``WEEKLY;BYDAY=2TU``); more than one occurrence per local day (``BYHOUR=9,15``:
    an occurrence's run sheets live in ``<name>-YYYY-MM-DD``). Refused after a bounded search: a
    rule with no occurrence from the start to the end of the year ``RRULE_HORIZON_YEARS`` later.
    """
    spot = f"{where}.rrule"
    if not isinstance(value, str) or not value.strip():
        raise _err(spot, "must be an RFC 5545 rule such as FREQ=WEEKLY;BYDAY=TU")
    text = value.strip()
    text = text[len("RRULE:") :] if text.upper().startswith("RRULE:") else text
    if timezone is None:
        raise _err(
            f"{where}.timezone",
            "is missing; a recurring event needs an IANA zone (e.g. Asia/Shanghai) so every "
            "occurrence keeps its wall-clock time across DST changes",
        )
    if "DTSTART" in text.upper() or "\n" in text:
        raise _err(spot, "must be one RRULE line without DTSTART (the first occurrence is 'start')")
    shown = text if len(text) <= 120 else f"{text[:100]}...({len(text)} characters)"

    def bad(problem: str) -> LiveApiInputError:
        return _err(spot, f"{shown!r} is not a valid RFC 5545 RRULE: {problem}")

    if any(char.isspace() or not char.isprintable() for char in text):
        raise bad("contains a space or control character; write it without spaces, e.g. FREQ=WEEKLY;BYDAY=TU")
    parts = _rule_parts(text, bad)
    freq = parts.get("FREQ")
    if freq is None:
        raise bad("FREQ is missing; start with FREQ=DAILY, WEEKLY, MONTHLY or YEARLY")
    if freq in ("HOURLY", "MINUTELY", "SECONDLY"):
        raise _err(spot, "repeats more often than daily; use FREQ=DAILY, WEEKLY, MONTHLY or YEARLY")
    if freq not in RRULE_MAX_INTERVAL:
        raise bad(f"FREQ={freq} is not one of DAILY, WEEKLY, MONTHLY, YEARLY")
    for name, freqs in _RRULE_ONLY_WITH.items():
        if name in parts and freq not in freqs:
            raise bad(f"{name} is not allowed with FREQ={freq}; use it with FREQ={' or '.join(freqs)}")
    highest = RRULE_MAX_INTERVAL[freq]
    if _rule_count(parts, "INTERVAL", bad, highest) == 0:
        raise bad(f"INTERVAL=0 never moves on; use a whole number from 1 to {highest}")
    if _rule_count(parts, "COUNT", bad, 999_999_999) == 0:
        raise _err(
            spot, f"{shown!r}: COUNT=0 means the series never occurs; use COUNT=1 or more, or drop COUNT"
        )
    naive_start = start.naive().replace(microsecond=0)
    until = _rule_until(parts, bad)
    if until is not None and "COUNT" in parts:
        raise bad("COUNT and UNTIL together are not allowed; keep one of them")
    if until is not None and until < naive_start:
        raise _err(
            spot,
            f"{shown!r}: UNTIL {until.isoformat()} is before the start {naive_start.isoformat()} "
            f"({timezone}), so the series never occurs; move UNTIL after the start",
        )
    numbers = {name: _rule_numbers(parts, name, bad) for name in _RRULE_NUMBERS if name in parts}
    _rule_weekdays(parts, freq, bad)
    if "BYSETPOS" in parts and not any(n.startswith("BY") and n != "BYSETPOS" for n in parts):
        raise bad("BYSETPOS needs another BY part (e.g. BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1)")
    per_day = math.prod(len(numbers.get(name, ())) or 1 for name in ("BYHOUR", "BYMINUTE", "BYSECOND"))
    if per_day > 1:
        times = ";".join(f"{n}={parts[n]}" for n in ("BYHOUR", "BYMINUTE", "BYSECOND") if n in parts)
        raise _err(
            spot,
            f"{shown!r}: {times} makes {per_day} occurrences on one local day; an event occurs at "
            "most once a day (each occurrence's run sheets live in <name>-YYYY-MM-DD): give one "
            "value each, or make one event per time of day",
        )
    try:
        rule = _rule(text, start)
        first = _first_occurrence(rule, naive_start, until)
    except (ValueError, TypeError, IndexError, OverflowError) as exc:  # dateutil's own limits
        raise bad(f"python-dateutil cannot expand it ({type(exc).__name__}: {exc})") from None
    if first is None:
        last = naive_start.year + RRULE_HORIZON_YEARS
        end = f"UNTIL {until.isoformat()}" if until and until.year <= last else f"the end of {last}"
        raise _err(
            spot,
            f"{shown!r} never occurs from the start {naive_start.isoformat()} to {end} (like 30 "
            "February, or BY parts that exclude each other); fix the rule, or make the event a one-off",
        )
    return text


def _rule_parts(text: str, bad: Callable[[str], LiveApiInputError]) -> dict[str, str]:
    """``NAME=VALUE;...`` as a dict of upper-cased names and values; unknown or repeated parts
    refused (dateutil would let the last of two FREQs win, or accept its own BYEASTER)."""
    parts: dict[str, str] = {}
    for piece in text.split(";"):
        name, sep, part = piece.partition("=")
        name, part = name.upper(), part.upper()
        if not piece:
            raise bad("an empty part (two ';' in a row, or one at the end); remove it")
        if not sep or not part:
            raise bad(f"{piece[:40]!r} is not NAME=VALUE")
        if name not in RRULE_PARTS:
            close = difflib.get_close_matches(name, RRULE_PARTS, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]}?" if close else f"known parts: {', '.join(RRULE_PARTS)}"
            raise bad(f"{name} is not a rule part; {hint}")
        if name in parts:
            raise bad(f"{name} is given twice; keep one")
        parts[name] = part
    return parts


def _rule_count(
    parts: dict[str, str], name: str, bad: Callable[[str], LiveApiInputError], high: int
) -> int | None:
    """INTERVAL or COUNT: ASCII digits from 0 to ``high`` (0 is refused by the caller, with why)."""
    raw = parts.get(name)
    if raw is None:
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > len(str(high)) or int(raw) > high:
        why = (
            f" (at most about {RRULE_HORIZON_YEARS} years between occurrences)" if name == "INTERVAL" else ""
        )
        raise bad(f"{name}={raw[:20]} must be a whole number from 1 to {high}{why}")
    return int(raw)


def _rule_numbers(parts: dict[str, str], name: str, bad: Callable[[str], LiveApiInputError]) -> set[int]:
    """A BYxxx number list in its RFC 5545 range (dateutil's ``int()`` would read ``1_2`` as 12)."""
    high, signed = _RRULE_NUMBERS[name]
    low = -high if signed else (1 if name == "BYMONTH" else 0)
    found: set[int] = set()
    for item in parts[name].split(","):
        if (
            not _INTEGER.fullmatch(item)
            or len(item) > 5
            or not low <= int(item) <= high
            or (signed and int(item) == 0)
        ):
            span = f"-{high} to -1 or 1 to {high}" if signed else f"{low} to {high}"
            raise bad(f"{name}={parts[name][:40]}: {item[:10]!r} is not a whole number from {span}")
        found.add(int(item))
    return found


def _rule_weekdays(parts: dict[str, str], freq: str, bad: Callable[[str], LiveApiInputError]) -> None:
    """BYDAY (``MO,TU``, ``-1FR``) and WKST; a numbered weekday only where RFC 5545 allows it,
    since dateutil drops the number silently elsewhere (``WEEKLY;BYDAY=2TU`` = every Tuesday)."""
    if "WKST" in parts and parts["WKST"] not in _WEEKDAYS:
        raise bad(f"WKST={parts['WKST'][:10]} is not one of {', '.join(_WEEKDAYS)}")
    for item in parts.get("BYDAY", "").split(",") if "BYDAY" in parts else ():
        match = _BYDAY_ITEM.fullmatch(item)
        if not match or (match.group(1) and not match.group(2)):
            raise bad(f"BYDAY={parts['BYDAY'][:40]}: {item[:10]!r} is not a weekday such as MO, 2TU or -1FR")
        if match.group(2) is None:
            continue
        if freq not in ("MONTHLY", "YEARLY") or "BYWEEKNO" in parts:
            raise bad(
                f"BYDAY={parts['BYDAY'][:40]}: a numbered weekday ({item}) needs FREQ=MONTHLY or "
                "YEARLY without BYWEEKNO; drop the number"
            )
        # Within a month a weekday comes at most 5 times (dateutil crashes on 8MO there).
        most = 53 if freq == "YEARLY" and "BYMONTH" not in parts else 5
        if not 1 <= int(match.group(2)) <= most:
            raise bad(
                f"BYDAY={parts['BYDAY'][:40]}: {item!r} needs a number from 1 to {most} "
                f"(or -{most} to -1) here"
            )


def _rule_until(parts: dict[str, str], bad: Callable[[str], LiveApiInputError]) -> datetime | None:
    """UNTIL as a local date-time ``YYYYMMDDTHHMMSS`` (dateutil's parser would read ``2027`` as
    today's date in 2027)."""
    raw = parts.get("UNTIL")
    if raw is None:
        return None
    match = _UNTIL.fullmatch(raw)
    if match and match.group(3):
        raise bad(
            f"UNTIL={raw} is in UTC, but UNTIL is a local time in the event's timezone here: drop the Z"
        )
    if not match or match.group(2) is None:
        raise bad(f"UNTIL={raw[:30]} is not a local date-time such as 20271231T235959")
    try:
        return datetime.strptime(raw, "%Y%m%dT%H%M%S")
    except ValueError:
        raise bad(f"UNTIL={raw} is not a real date-time (YYYYMMDDTHHMMSS)") from None


def _first_occurrence(rule: Any, start: datetime, until: datetime | None) -> datetime | None:
    """The rule's first occurrence up to the end of the year ``RRULE_HORIZON_YEARS`` after the
    start, found in bounded time; None if there is none.

    dateutil looks for the next match period after period up to year 9999: a rule that never
    occurs costs seconds (8,000 years of days), on every expansion. The Gregorian calendar
    repeats every 400 years (146,097 days, a whole number of weeks), so the rule is expanded from
    its start moved 400·k years later, near 9999, where dateutil's own end stops the search after
    at most 500 years; the match, moved back, is the real one.
    """
    last = start.year + RRULE_HORIZON_YEARS
    shift = 400 * ((MAXYEAR - last) // 400)
    moved_until = until.replace(year=until.year + shift) if until and until.year + shift <= MAXYEAR else None
    moved = rule.replace(dtstart=start.replace(year=start.year + shift), until=moved_until)
    first: datetime | None = next(iter(moved), None)
    if first is None or first.year - shift > last:
        return None
    return first.replace(year=first.year - shift)


def _rule(text: str, start: datetime) -> Any:
    from dateutil.rrule import rrulestr  # comes with Airflow; imported when a calendar is read

    naive = datetime(start.year, start.month, start.day, start.hour, start.minute, start.second)
    return rrulestr(text, dtstart=naive)


def event_end(event: dict[str, Any]) -> pendulum.DateTime:
    """When an instance ends (``start + duration_minutes``)."""
    return _instant(event["start"]) + timedelta(
        minutes=event.get("duration_minutes") or DEFAULT_DURATION_MINUTES
    )


def event_slug(event: dict[str, Any]) -> str:
    """An event instance's identity and run-sheet folder: the event's id (by default from its
    name), plus, for an occurrence of a series, its date (which occurrence it is, as iCalendar's
    RECURRENCE-ID: moving the series' time of day keeps every occurrence the same instance)."""
    base = event.get("id") or slug(event["name"])
    return f"{base}-{event['occurrence']}" if event.get("occurrence") else base


def instance_definition(instance: dict[str, Any]) -> dict[str, Any]:
    """What an instance's credentials and steps depend on, formatting aside: the start as an
    instant, the duration and the vendor sections. The same event written with an offset or with
    a ``timezone``, or renamed (same id), has the same definition."""
    return {
        "start": _instant(instance["start"]).in_timezone("UTC").isoformat(),
        "duration_minutes": instance.get("duration_minutes") or DEFAULT_DURATION_MINUTES,
        "cancelled": bool(instance.get("cancelled")),
        **{section: instance[section] for section in VENDOR_SECTIONS if instance.get(section)},
    }


def find_instance(events: Iterable[dict[str, Any]], instance: dict[str, Any]) -> dict[str, Any] | None:
    """The calendar's current version of an instance (same id, same occurrence), wherever its
    start moved; None when the calendar no longer has it."""
    identity = event_slug(instance)
    for event in events:
        if (event.get("id") or slug(event["name"])) != (instance.get("id") or slug(instance["name"])):
            continue
        if not event.get("rrule"):
            return event if not instance.get("occurrence") else None
        if not instance.get("occurrence"):
            return None
        # The occurrence on that local date, whatever time of day the series now starts at.
        year, month, day = (int(part) for part in instance["occurrence"].split("-"))
        midnight = pendulum.datetime(year, month, day, tz=pendulum.timezone(event["timezone"]))
        low, high = midnight - timedelta(days=2), midnight + timedelta(days=3)
        for candidate in occurrences(event, low, high):
            if event_slug(candidate) == identity:
                return candidate
        return None
    return None


def occurrences(
    event: dict[str, Any], window_start: pendulum.DateTime, window_end: pendulum.DateTime
) -> list[dict[str, Any]]:
    """Instances of a validated event whose ``[start, end)`` overlaps the window, soonest first.

    A one-off event is its own instance. A series yields one instance per occurrence: wall-clock
    start in the event's zone (a time in a DST gap moves forward), ``occurrence`` = local date,
    no ``rrule``.
    """
    duration = timedelta(minutes=event.get("duration_minutes") or DEFAULT_DURATION_MINUTES)
    if not event.get("rrule"):
        start = _instant(event["start"])
        return [event] if start < window_end and start + duration > window_start else []
    zone = pendulum.timezone(event["timezone"])
    anchor = _local(event["start"], zone)
    rule = _rule(event["rrule"], anchor)
    # Local bounds a day wider than the window: exact instants are compared below.
    low = (window_start - duration).in_timezone(zone).naive() - timedelta(days=1)
    high = window_end.in_timezone(zone).naive() + timedelta(days=1)
    found = []
    for local in rule.between(low, high, inc=True):
        start = wall_clock(local, zone)
        if start < window_end and start + duration > window_start:
            instance = {k: v for k, v in event.items() if k != "rrule"}
            # The occurrence is the rule's own local date (its RECURRENCE-ID), even when a DST gap
            # moved its start.
            instance.update(start=start.isoformat(), occurrence=local.date().isoformat())
            found.append(instance)
    return found


def next_start(events: Iterable[dict[str, Any]], now: pendulum.DateTime) -> dict[str, Any] | None:
    """The next event instance starting at or after ``now`` (looking up to a year ahead).

    Bounded for validated events: a series that never occurs is refused by
    :func:`validate_rrule` (dateutil would search it up to year 9999), and one that does occur
    recurs within one cycle of the 400-year Gregorian calendar (at most 146,097 of dateutil's
    daily steps), or ends by COUNT or UNTIL, so the search past the window stops there.
    """
    horizon = now + timedelta(days=366)
    upcoming = [
        instance
        for event in events
        if not event.get("cancelled")
        for instance in occurrences(event, now, horizon)
        if _instant(instance["start"]) >= now
    ]
    return min(upcoming, key=lambda e: _instant(e["start"]), default=None)


def go_live_window(event: dict[str, Any]) -> tuple[pendulum.DateTime, pendulum.DateTime] | None:
    """When to watch an instance's Volcengine stream go live: ``[start - 5 min, start + grace)``;
    None without a Volcengine section."""
    volc = event.get("volcengine")
    if not volc:
        return None
    start = _instant(event["start"])
    grace = timedelta(minutes=volc.get("go_live_grace_minutes") or DEFAULT_GO_LIVE_GRACE_MINUTES)
    return start - GO_LIVE_WATCH_BEFORE, start + grace


def jit_moments(event: dict[str, Any]) -> dict[str, pendulum.DateTime]:
    """When each just-in-time credential of an event instance is issued: ``start - lead``.

    Polyv only when the event has viewers; ISDP whenever it has an ISDP section.
    """
    start = _instant(event["start"])
    moments: dict[str, pendulum.DateTime] = {}
    polyv = event.get("polyv")
    if polyv and polyv.get("viewers"):
        moments["polyv"] = start - timedelta(seconds=polyv["token_lead_seconds"])
    if isdp := event.get("isdp"):
        moments["isdp"] = start - timedelta(seconds=isdp["token_lead_seconds"])
    return moments


def parse_calendar(data: Any) -> list[dict[str, Any]]:
    """Validate a whole calendar (``{"events": [...]}`` or a bare list); names must be unique,
    and so must run-sheet folders: a one-off "X 2026-11-02" and series X's occurrence that day
    would share ``x-2026-11-02``."""
    if isinstance(data, dict):
        known_keys(data, CALENDAR_KEYS, "calendar")
    raw_events = data.get("events") if isinstance(data, dict) else data
    if not isinstance(raw_events, list):
        raise _err("events", 'the calendar must be {"events": [...]} or a list of events')
    events = [validate_event(raw, index) for index, raw in enumerate(raw_events)]
    series = {slug(event["name"]): event["name"] for event in events if event.get("rrule")}
    seen: dict[str, str] = {}
    claimed: dict[tuple[str, str], str] = {}
    for event in events:
        key = event_slug(event)
        if key in seen:
            other = seen[key]
            problem = (
                "is used twice (names must be unique); rename one"
                if other == event["name"]
                else f"and {other!r} make the same folder name {key!r} (only letters and digits count); "
                "rename one"
            )
            raise _err(f"event {event['name']!r}.name", problem)
        seen[key] = event["name"]
        dated = re.fullmatch(r"(.+)-(\d{4}-\d{2}-\d{2})", key)
        if not event.get("rrule") and dated and dated.group(1) in series:
            # Its run sheets would land in the folder of that series' occurrence on that date.
            raise _err(
                f"event {event['name']!r}.name",
                f"makes the folder name {key!r}, the same as the occurrence of series "
                f"{series[dated.group(1)]!r} on {dated.group(2)}; rename one of them",
            )
        polyv = event.get("polyv") or {}
        for index, name in enumerate(polyv.get("receive_channel_names") or []):
            owner = claimed.setdefault((polyv["channel_id"], name), event["name"])
            if owner != event["name"]:
                # Two events provisioned in parallel would race to create the same receiver.
                raise _err(
                    f"event {event['name']!r}.polyv.receive_channel_names[{index}]",
                    f"{name!r} on transmit channel {polyv['channel_id']} is also claimed by event "
                    f"{owner!r}; give each event its own receive channel names",
                )
    return events


def load_calendar(text: str, source: str = "calendar.json") -> list[dict[str, Any]]:
    """Parse calendar text: YAML for ``.yaml``/``.yml`` sources, JSON otherwise."""
    try:
        if source.endswith((".yaml", ".yml")):
            data = _load_yaml(text)
        else:
            data = json.loads(text, object_pairs_hook=_unique_keys)
    except LiveApiInputError:
        raise
    except Exception as exc:
        raise _err("calendar", f"{source} cannot be parsed: {exc}") from None
    return parse_calendar(data)


def read_calendar(location: str) -> list[dict[str, Any]]:
    """The validated events of the calendar file at ``location`` (a path or any
    ObjectStoragePath URI), read through ``calendar_source``: every reader of the calendar."""
    from airflow_live_provider.calendar_source import read_calendar_text

    return load_calendar(read_calendar_text(location), source=location)


def _unique_keys(pairs: list[tuple[Any, Any]]) -> dict[Any, Any]:
    """A JSON or YAML object whose keys are unique: a repeated key (the last silently winning,
    e.g. a second ``timezone``) is refused, naming it."""
    found: dict[Any, Any] = {}
    for key, value in pairs:
        if key in found:
            raise _err(f"calendar key {key!r}", "is given twice in one object; keep one")
        found[key] = value
    return found


def _load_yaml(text: str) -> Any:
    import yaml  # Airflow depends on PyYAML; imported only when a YAML calendar is used

    class UniqueKeyLoader(yaml.SafeLoader):
        def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
            pairs = [
                (self.construct_object(k, deep=deep), self.construct_object(v, deep=deep))
                for k, v in node.value
            ]
            return _unique_keys(pairs)

    return yaml.load(text, Loader=UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass


MAX_LEAD_HOURS = 24 * 366


def lead_window(hours: Any) -> timedelta:
    """The ``lead_hours`` param as a window: a number of hours in (0, 8784]."""
    try:
        value = float(hours)
    except (TypeError, ValueError):
        value = math.nan
    if isinstance(hours, bool) or not math.isfinite(value) or not 0 < value <= MAX_LEAD_HOURS:
        raise _err("lead_hours", f"{hours!r} is not a number of hours above 0 and at most {MAX_LEAD_HOURS}")
    return timedelta(hours=value)


def select_upcoming(
    events: Iterable[dict[str, Any]], now: pendulum.DateTime, lead: timedelta
) -> list[dict[str, Any]]:
    """Event instances starting in ``[now, now + lead)`` or still running at ``now``, soonest
    first; instants compared, not wall clocks. A running event is kept so that a run after a
    scheduler outage still issues its just-in-time credentials."""
    if lead <= timedelta(0):
        raise _err("lead_hours", "must be a positive number of hours")
    chosen = [
        instance
        for event in events
        if not event.get("cancelled")
        for instance in occurrences(event, now, now + lead)
    ]
    return sorted(chosen, key=lambda e: _instant(e["start"]))


def _local(value: str, zone: Any) -> datetime:
    """A series' anchor (a naive wall-clock time; older validated forms carry an offset)."""
    parsed = parse_instant(value, "start", vendor="calendar", naive_ok=True)
    return parsed if parsed.tzinfo is None else pendulum.instance(parsed).in_timezone(zone).naive()


def _instant(value: str) -> pendulum.DateTime:
    return pendulum.instance(parse_instant(value, "start", vendor="calendar"))


def slug(name: str) -> str:
    """A file-name-safe form of an event name (lower-case words joined by dashes; CJK kept)."""
    return re.sub(r"\W+", "-", name.lower()).strip("-_") or "event"
