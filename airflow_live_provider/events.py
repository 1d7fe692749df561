"""The live-events calendar the pre-provisioning DAG reads: parsing, validation, selection.

Airflow-free. Every problem is a :class:`LiveApiInputError` naming the event and the field, raised
before any vendor is called. Start times must carry a time zone (an ISO-8601 offset, or a
``timezone`` field with an IANA name for a local wall-clock time): a naive time would be read in
whatever zone the worker happens to run in.

Calendar format (JSON, or YAML when the file ends in ``.yaml``/``.yml``)::

    {"events": [{
        "name": "Product launch",
        "start": "2026-12-01T19:30:00", "timezone": "Asia/Shanghai",
        "volcengine": {"vhost": "live.example.com", "app": "live", "stream": "launch",
                       "domain": "push.example.com", "valid_duration": 86400},
        "polyv": {"channel_id": "3151318", "receive_channel_names": ["launch-cn", "launch-en"],
                  "viewers": ["viewer-1", {"viewerId": "viewer-2", "nickname": "Ann"}]},
        "isdp": {"channel_ids": ["10882"], "user_account": "135965565", "role": 1}
    }]}

Each vendor section is optional; an event with none of them is an error.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any, TypeVar

import pendulum

from airflow_live_provider.exceptions import LiveApiInputError
from airflow_live_provider.vendors import isdp as isdp_api
from airflow_live_provider.vendors import polyv as polyv_api
from airflow_live_provider.vendors import volcengine as volc_api

VENDOR_SECTIONS = ("volcengine", "polyv", "isdp")

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
        return parsed.in_timezone(zone)
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
    start = parse_start(raw.get("start"), raw.get("timezone"), where)
    event: dict[str, Any] = {"name": name.strip(), "start": start.isoformat()}
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
        }
    return event


def parse_calendar(data: Any) -> list[dict[str, Any]]:
    """Validate a whole calendar (``{"events": [...]}`` or a bare list); names must be unique."""
    raw_events = data.get("events") if isinstance(data, dict) else data
    if not isinstance(raw_events, list):
        raise _err("events", 'the calendar must be {"events": [...]} or a list of events')
    events = [validate_event(raw, index) for index, raw in enumerate(raw_events)]
    seen: set[str] = set()
    for event in events:
        key = slug(event["name"])
        if key in seen:
            raise _err(f"event {event['name']!r}.name", "is used twice (names must be unique); rename one")
        seen.add(key)
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


def select_upcoming(
    events: Iterable[dict[str, Any]], now: pendulum.DateTime, lead: timedelta
) -> list[dict[str, Any]]:
    """Events starting in ``[now, now + lead)``, soonest first; instants compared, not wall clocks."""
    if lead <= timedelta(0):
        raise _err("lead_hours", "must be a positive number of hours")
    end = now + lead
    chosen = [e for e in events if now <= _instant(e["start"]) < end]
    return sorted(chosen, key=lambda e: _instant(e["start"]))


def _instant(value: str) -> pendulum.DateTime:
    parsed = pendulum.parse(value)
    if not isinstance(parsed, pendulum.DateTime):
        raise _err("start", f"{value!r} is not a date-time")
    return parsed


def slug(name: str) -> str:
    """A file-name-safe form of an event name (lower-case words joined by dashes; CJK kept)."""
    return re.sub(r"\W+", "-", name.lower()).strip("-_") or "event"
