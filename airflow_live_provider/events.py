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
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

import pendulum

from airflow_live_provider.exceptions import LiveApiInputError

VENDOR_SECTIONS = ("volcengine", "polyv", "isdp")
_VIEWER_KEYS = frozenset({"viewerId", "nickname", "avatar", "openid", "actor"})

#: Polyv: receive channels per transmit channel (documented limit).
MAX_RECEIVERS_PER_TRANSMIT = 500


def _err(where: str, problem: str) -> LiveApiInputError:
    return LiveApiInputError(where, problem, vendor="calendar")


def _text(section: dict[str, Any], key: str, where: str, *, required: bool = True) -> str | None:
    value = section.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise _err(f"{where}.{key}", "is missing; add it to the calendar")
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise _err(f"{where}.{key}", f"must be a string, not {type(value).__name__}")
    return value.strip()


def _text_list(section: dict[str, Any], key: str, where: str, *, required: bool = True) -> list[str]:
    value = section.get(key)
    if value is None and not required:
        return []
    if not isinstance(value, list) or (required and not value):
        raise _err(f"{where}.{key}", "must be a non-empty list of strings")
    out = []
    for index, item in enumerate(value):
        if isinstance(item, int) and not isinstance(item, bool):
            item = str(item)
        if not isinstance(item, str) or not item.strip():
            raise _err(f"{where}.{key}[{index}]", "must be a non-empty string")
        out.append(item.strip())
    if len(set(out)) != len(out):
        raise _err(f"{where}.{key}", "lists the same value twice; remove the duplicate")
    return out


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


def _viewers(section: dict[str, Any], where: str) -> list[str | dict[str, str]]:
    value = section.get("viewers", [])
    if not isinstance(value, list):
        raise _err(f"{where}.viewers", "must be a list of viewer ids or {viewerId, nickname?, ...} objects")
    out: list[str | dict[str, str]] = []
    for index, item in enumerate(value):
        spot = f"{where}.viewers[{index}]"
        if isinstance(item, str | int) and not isinstance(item, bool):
            viewer_id: str | None = str(item).strip()
            entry: str | dict[str, str] = str(viewer_id)
        elif isinstance(item, dict):
            unknown = set(item) - _VIEWER_KEYS
            if unknown:
                raise _err(spot, f"unknown keys {sorted(unknown)}; allowed: {sorted(_VIEWER_KEYS)}")
            viewer_id = _text(item, "viewerId", spot)
            entry = {k: str(v) for k, v in item.items() if v is not None}
        else:
            raise _err(spot, "must be a viewer id string or an object with viewerId")
        if not viewer_id or len(viewer_id) > 64:
            raise _err(spot, "viewerId must be 1 to 64 characters")
        out.append(entry)
    return out


def validate_event(raw: Any, index: int) -> dict[str, Any]:
    """One calendar entry as a JSON-ready dict (``start`` normalised to ISO-8601 with offset)."""
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
        duration = volc.get("valid_duration")
        if duration is not None and (
            not isinstance(duration, int) or isinstance(duration, bool) or duration <= 0
        ):
            raise _err(f"{spot}.valid_duration", "must be a positive number of seconds")
        event["volcengine"] = {
            "vhost": _text(volc, "vhost", spot),
            "app": _text(volc, "app", spot),
            "stream": _text(volc, "stream", spot),
            "domain": _text(volc, "domain", spot, required=False),
            "valid_duration": duration,
        }
    if polyv := raw.get("polyv"):
        spot = f"{where}.polyv"
        names = _text_list(polyv, "receive_channel_names", spot, required=False)
        if len(names) > MAX_RECEIVERS_PER_TRANSMIT:
            # The hook creates in calls of 100; a transmit channel holds at most 500 receivers.
            raise _err(
                f"{spot}.receive_channel_names",
                f"has {len(names)} names; a Polyv transmit channel has at most {MAX_RECEIVERS_PER_TRANSMIT}",
            )
        event["polyv"] = {
            "channel_id": _text(polyv, "channel_id", spot),
            "watch_channel_id": _text(polyv, "watch_channel_id", spot, required=False),
            "receive_channel_names": names,
            "viewers": _viewers(polyv, spot),
        }
    if isdp := raw.get("isdp"):
        spot = f"{where}.isdp"
        role = isdp.get("role", 1)
        if not isinstance(role, int) or isinstance(role, bool):
            raise _err(f"{spot}.role", "must be an integer (1 = audience)")
        event["isdp"] = {
            "channel_ids": _text_list(isdp, "channel_ids", spot),
            "user_account": _text(isdp, "user_account", spot),
            "role": role,
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
