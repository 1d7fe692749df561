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
from datetime import datetime, timedelta
from typing import Any, TypeVar

import pendulum

from airflow_live_provider.exceptions import LiveApiInputError
from airflow_live_provider.vendors import isdp as isdp_api
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
#: Recurrences finer than daily would make every hourly run provision several occurrences.
_SUB_DAILY = re.compile(r"(?:^|;)\s*FREQ\s*=\s*(SECONDLY|MINUTELY|HOURLY)\b", re.IGNORECASE)

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
EVENT_KEYS = ("name", "start", "timezone", "duration_minutes", "rrule", "occurrence", *VENDOR_SECTIONS)
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
        close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(allowed)}"
        raise _err(f"{where}.{key}" if where else str(key), f"is not a calendar key; {hint}")


def _present(section: dict[str, Any], key: str, where: str) -> Any:
    """A required calendar key: its absence is reported as such, not as a vendor format error."""
    value = section.get(key)
    if value is None or (isinstance(value, str | list) and not value):
        raise _err(f"{where}.{key}", "is missing; add it to the calendar")
    return value


def parse_start(value: Any, timezone: Any, where: str) -> pendulum.DateTime:
    """``start`` with an offset, or a wall-clock ``start`` plus an IANA ``timezone``."""
    if not isinstance(value, str) or not value.strip():
        raise _err(f"{where}.start", "is missing; give an ISO-8601 time such as 2026-12-01T19:30:00+08:00")
    zone = None
    if timezone is not None:
        if not isinstance(timezone, str):
            raise _err(f"{where}.timezone", "must be an IANA zone name such as Asia/Shanghai")
        try:
            zone = pendulum.timezone(timezone)
        except Exception:
            raise _err(
                f"{where}.timezone", f"{timezone!r} is not a known IANA zone (e.g. Asia/Shanghai)"
            ) from None
    try:
        parsed = pendulum.parse(value.strip(), exact=True, tz=None)
    except Exception:
        raise _err(f"{where}.start", f"{value!r} is not an ISO-8601 date-time") from None
    if not isinstance(parsed, pendulum.DateTime):
        raise _err(f"{where}.start", f"{value!r} is not a date-time (a date alone has no start time)")
    if parsed.tzinfo is None:
        if zone is None:
            raise _err(
                f"{where}.start",
                f"{value!r} has no time zone; add an offset (+08:00) or a timezone field (Asia/Shanghai)",
            )
        # A wall-clock time in a DST gap moves forward; an ambiguous one takes the first occurrence.
        return pendulum.datetime(
            parsed.year,
            parsed.month,
            parsed.day,
            parsed.hour,
            parsed.minute,
            parsed.second,
            parsed.microsecond,
            tz=zone,
        )
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
    if not isinstance(name, str) or not name.strip():
        raise _err(f"events[{index}].name", "is missing; every event needs a unique name")
    where = f"event {name.strip()!r}"
    known_keys(raw, EVENT_KEYS, where)
    for section, keys in SECTION_KEYS.items():
        if isinstance(raw.get(section), dict):
            known_keys(raw[section], keys, f"{where}.{section}")
    start = parse_start(raw.get("start"), raw.get("timezone"), where)
    event: dict[str, Any] = {
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
    if raw.get("occurrence") not in (None, ""):
        occurrence = raw["occurrence"]
        if not isinstance(occurrence, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", occurrence):
            raise _err(f"{where}.occurrence", f"{occurrence!r} is not a date such as 2026-12-01")
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
            "vhost": _check(spot, "vhost", volc_api.validate_host_name, _present(volc, "vhost", spot)),
            "app": _check(spot, "app", volc_api.validate_app, _present(volc, "app", spot)),
            "stream": _check(spot, "stream", volc_api.validate_stream, _present(volc, "stream", spot)),
            "domain": (
                None
                if domain in (None, "")
                else _check(
                    spot, "domain", lambda v: volc_api.validate_host_name(v, "domain", "push domain"), domain
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
                spot, "channel_id", polyv_api.validate_channel_id, _present(polyv, "channel_id", spot)
            ),
            "watch_channel_id": (
                None
                if watch in (None, "")
                else _check(spot, "watch_channel_id", polyv_api.validate_channel_id, watch)
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


def _whole_number(value: Any, where: str, low: int, high: int, unit: str) -> int | None:
    """An optional whole number in ``[low, high]`` (digit strings from templates accepted)."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _err(where, f"{value!r} is not a whole number of {unit} from {low} to {high}")
    return value


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
    """An RFC 5545 RRULE (``FREQ=WEEKLY;BYDAY=TU``), checked by expanding it with python-dateutil.

    The rule runs on the wall-clock ``start`` in the event's ``timezone``; DTSTART comes from
    ``start``, so the rule must not carry its own.
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
    if _SUB_DAILY.search(text):
        raise _err(spot, "repeats more often than daily; use FREQ=DAILY, WEEKLY, MONTHLY or YEARLY")
    try:
        _rule(text, start)
    except (ValueError, TypeError) as exc:
        hint = " (UNTIL is a local time here: drop the Z)" if "UNTIL" in str(exc) else ""
        raise _err(spot, f"{value!r} is not a valid RFC 5545 RRULE: {exc}{hint}") from None
    return text


def _rule(text: str, start: pendulum.DateTime) -> Any:
    from dateutil.rrule import rrulestr  # comes with Airflow; imported when a calendar is read

    naive = datetime(start.year, start.month, start.day, start.hour, start.minute, start.second)
    return rrulestr(text, dtstart=naive)


def event_end(event: dict[str, Any]) -> pendulum.DateTime:
    return _instant(event["start"]) + timedelta(
        minutes=event.get("duration_minutes") or DEFAULT_DURATION_MINUTES
    )


def event_slug(event: dict[str, Any]) -> str:
    """The run-sheet folder of an event instance: its name, plus the date for an occurrence."""
    base = slug(event["name"])
    return f"{base}-{event['occurrence']}" if event.get("occurrence") else base


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
    first = _instant(event["start"]).in_timezone(zone)
    rule = _rule(event["rrule"], first)
    # Local bounds a day wider than the window: exact instants are compared below.
    low = (window_start - duration).in_timezone(zone).naive() - timedelta(days=1)
    high = window_end.in_timezone(zone).naive() + timedelta(days=1)
    found = []
    for local in rule.between(low, high, inc=True):
        start = pendulum.datetime(
            local.year, local.month, local.day, local.hour, local.minute, local.second, tz=zone
        )
        if start < window_end and start + duration > window_start:
            instance = {k: v for k, v in event.items() if k != "rrule"}
            instance.update(start=start.isoformat(), occurrence=start.date().isoformat())
            found.append(instance)
    return found


def next_start(events: Iterable[dict[str, Any]], now: pendulum.DateTime) -> dict[str, Any] | None:
    """The next event instance starting at or after ``now`` (looking up to a year ahead)."""
    horizon = now + timedelta(days=366)
    upcoming = [
        instance
        for event in events
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
    """Validate a whole calendar (``{"events": [...]}`` or a bare list); names must be unique."""
    if isinstance(data, dict):
        known_keys(data, CALENDAR_KEYS, "calendar")
    raw_events = data.get("events") if isinstance(data, dict) else data
    if not isinstance(raw_events, list):
        raise _err("events", 'the calendar must be {"events": [...]} or a list of events')
    events = [validate_event(raw, index) for index, raw in enumerate(raw_events)]
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
            import yaml  # Airflow depends on PyYAML; imported only when a YAML calendar is used

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception as exc:
        raise _err("calendar", f"{source} cannot be parsed: {exc}") from None
    return parse_calendar(data)


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
    chosen = [instance for event in events for instance in occurrences(event, now, now + lead)]
    return sorted(chosen, key=lambda e: _instant(e["start"]))


def _instant(value: str) -> pendulum.DateTime:
    parsed = pendulum.parse(value)
    if not isinstance(parsed, pendulum.DateTime):
        raise _err("start", f"{value!r} is not a date-time")
    return parsed


def slug(name: str) -> str:
    """A file-name-safe form of an event name (lower-case words joined by dashes; CJK kept)."""
    return re.sub(r"\W+", "-", name.lower()).strip("-_") or "event"
