"""Stream sessions on record: what ``live_stream_sessions`` does with each "started"/"ended" event.

Events come from the session watchers (:mod:`airflow_live_provider.triggers.stream_sessions`) as
asset events whose ``extra`` is ``{"from_trigger": true, "payload": <event>}``, or from a run's
``conf`` (``{"events": [<event>, ...]}``: a replay by hand). Each event becomes one line of
``<output_dir>/sessions/<YYYY-MM>.jsonl`` (the month of the session's start, UTC): stream,
started, ended, duration. A line already there (same stream, kind and session) is not written
again, so a replayed or twice-delivered event changes nothing. An "ended" session is also written
into the run sheet of the calendar's event instance on that stream (the one whose start is nearest,
within :data:`MATCH_MARGIN` of its window), and that sheet and its page are republished. A run
with many events (a replay, a backlog) costs linear time: each month file is read and written once
per run, each instance's sessions record read and written once, its sheet published once.

Light at import: ``json`` only. :func:`watch_lists` says what the session scope watchers watch: the
calendar's streams (the planner publishes them).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

#: How far before an event's start or after its end a session still belongs to it (rehearsals,
#: overruns).
MATCH_MARGIN = timedelta(hours=2)
KINDS = ("started", "ended")
VENDORS = {"volcengine": "volclive://", "polyv": "polyv://"}
SESSIONS_FOLDER = "sessions"
#: Longest text accepted from an event (they come from a vendor answer, via the triggerer).
MAX_TEXT = 1000


def watch_lists(
    events: Iterable[Mapping[str, Any]], *, calendar: str, published_at: str
) -> dict[str, dict[str, Any]]:
    """What each vendor's session scope watcher watches: the streams and channels of the calendar's
    events (validated by :func:`~airflow_live_provider.events.calendar.load_calendar`), each once, in
    calendar order: ``{"volcengine": {"targets": [{vhost, app, stream}, ...], "calendar",
    "published_at"}, "polyv": {"targets": [{channel_id}, ...], ...}}``. The planner writes each
    under ``watch_list`` in its scope asset's state (see the README, Stream sessions)."""
    streams: dict[tuple[str, str, str], None] = {}
    channels: dict[str, None] = {}
    for event in events:
        volc = event.get("volcengine")
        if isinstance(volc, Mapping) and all(
            isinstance(volc.get(k), str) for k in ("vhost", "app", "stream")
        ):
            streams[(volc["vhost"].lower(), volc["app"], volc["stream"])] = None
        polyv = event.get("polyv")
        if isinstance(polyv, Mapping) and isinstance(polyv.get("channel_id"), str | int):
            channels[str(polyv["channel_id"])] = None
    about = {"calendar": calendar, "published_at": published_at}
    return {
        "volcengine": {
            "targets": [{"vhost": v, "app": a, "stream": s} for v, a, s in streams],
            **about,
        },
        "polyv": {"targets": [{"channel_id": c} for c in channels], **about},
    }


# -- the events a run was given --------------------------------------------------------------------
def _bad(where: str, problem: str) -> Exception:
    from airflow_live_provider.exceptions import LiveApiInputError

    return LiveApiInputError(where, problem)


def _text(payload: Mapping[str, Any], key: str, where: str, *, required: bool = True) -> str | None:
    value = payload.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or len(value) > MAX_TEXT:
        raise _bad(f"{where}.{key}", f"must be text of 1 to {MAX_TEXT} characters, got {str(value)[:80]!r}")
    return value


def _time(payload: Mapping[str, Any], key: str, where: str, *, required: bool = True) -> datetime | None:
    from airflow_live_provider.times import parse_instant

    value = _text(payload, key, where, required=required)
    if value is None:
        return None
    try:
        return parse_instant(value)
    except ValueError:
        raise _bad(
            f"{where}.{key}", f"must be an ISO-8601 time with Z or an offset, got {value[:80]!r}"
        ) from None


def check_event(payload: Any, where: str) -> dict[str, Any]:
    """One session event, checked: refused with the field named rather than recorded half."""
    if not isinstance(payload, Mapping):
        raise _bad(where, f"must be a session event object, got {type(payload).__name__}")
    kind = payload.get("kind")
    if kind not in KINDS:
        raise _bad(f"{where}.kind", f"must be one of {', '.join(KINDS)}, got {str(kind)[:40]!r}")
    vendor = payload.get("vendor")
    if vendor not in VENDORS:
        raise _bad(f"{where}.vendor", f"must be one of {', '.join(VENDORS)}, got {str(vendor)[:40]!r}")
    uri = _text(payload, "asset_uri", where)
    assert uri is not None
    if not uri.startswith(VENDORS[vendor]):
        raise _bad(
            f"{where}.asset_uri", f"a {vendor} session's stream starts with {VENDORS[vendor]}, got {uri!r}"
        )
    target = payload.get("target")
    if not isinstance(target, Mapping) or not target:
        raise _bad(f"{where}.target", "must be the watched stream ({vhost, app, stream} or {channel_id})")
    started = _time(payload, "started_at", where)
    ended = _time(payload, "ended_at", where, required=kind == "ended")
    if started and ended and ended < started:
        raise _bad(
            f"{where}.ended_at", f"is before started_at ({payload['ended_at']} < {payload['started_at']})"
        )
    return {
        "kind": kind,
        "vendor": vendor,
        "stream": uri,
        "target": {str(k): str(v)[:MAX_TEXT] for k, v in target.items()},
        "sessionId": _text(payload, "session_id", where, required=False),
        "started": payload["started_at"],
        "ended": payload.get("ended_at") if kind == "ended" else None,
        # Ours, not the event's: the two times are what was observed.
        "durationSeconds": round((ended - started).total_seconds(), 3) if started and ended else None,
        "observedAt": _text(payload, "observed_at", where, required=False),
    }


def session_events(triggering_asset_events: Any, conf: Any) -> list[dict[str, Any]]:
    """The checked events of a run, oldest observation first: from its triggering asset events,
    else from ``conf["events"]``. A run with neither is refused (nothing to record)."""
    found: list[tuple[str, Any]] = []
    for asset, events in (triggering_asset_events or {}).items():
        for index, event in enumerate(events or []):
            extra = getattr(event, "extra", None) or {}
            if isinstance(extra, Mapping) and extra.get("from_trigger") and "payload" in extra:
                found.append(
                    (f"asset event {getattr(asset, 'uri', asset)}[{index}].payload", extra["payload"])
                )
    if not found and isinstance(conf, Mapping) and conf.get("events") is not None:
        replay = conf["events"]
        if not isinstance(replay, list) or not replay:
            raise _bad("dag_run.conf.events", "must be a non-empty list of session events")
        found = [(f"dag_run.conf.events[{i}]", payload) for i, payload in enumerate(replay)]
    if not found:
        raise _bad(
            "triggering_asset_events",
            "holds no session event; this DAG runs when a watched stream starts or ends, or by hand "
            'with conf {"events": [<session event>, ...]}',
        )
    checked = [check_event(payload, where) for where, payload in found]
    return sorted(checked, key=lambda e: e["observedAt"] or e["ended"] or e["started"])


# -- the JSON Lines record -----------------------------------------------------------------------
def identity(record: Mapping[str, Any]) -> tuple[str, str, str]:
    """What makes a line unique: the stream, the kind, and the session (its id, else its start)."""
    return record["stream"], record["kind"], record.get("sessionId") or record["started"]


def sessions_file(output_dir: str, started: str) -> str:
    """``<output_dir>/sessions/<YYYY-MM>.jsonl`` (the session's start month, UTC)."""
    from airflow_live_provider.times import parse_instant, utc_iso

    return f"{output_dir}/{SESSIONS_FOLDER}/{utc_iso(parse_instant(started))[:7]}.jsonl"


def _read_lines(uri: str) -> list[dict[str, Any]]:
    """The records of a sessions file; none when it does not exist. Any other failure raises
    (:class:`~airflow_live_provider.events.run_records.RunSheetUnreadable`): rewriting the file from what
    could not be read would lose its sessions."""
    from airflow_live_provider.events.run_records import RunSheetUnreadable, read_record_text

    text = read_record_text(uri)
    if text is None:
        return []
    records = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            raise RunSheetUnreadable(uri, f"line {number} is not JSON") from None
        if not isinstance(record, dict) or not {"stream", "kind", "started"} <= set(record):
            raise RunSheetUnreadable(uri, f"line {number} is not a session record")
        records.append(record)
    return records


def append_records(output_dir: str, records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Add the records not already on file, one rewrite per month file (written atomically)."""
    from airflow_live_provider.outputs import output_path, write_text

    by_file: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_file.setdefault(sessions_file(output_dir, record["started"]), []).append(record)
    added, duplicates = 0, 0
    for uri, new in by_file.items():
        lines = _read_lines(uri)
        seen = {identity(r) for r in lines}
        fresh = []
        for record in new:
            if identity(record) in seen:
                duplicates += 1
                continue
            seen.add(identity(record))
            fresh.append(record)
        if fresh:
            body = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in [*lines, *fresh])
            write_text(output_path(uri, "output_dir"), body)
            added += len(fresh)
    return {"files": sorted(by_file), "added": added, "duplicates": duplicates}


# -- the event's run sheet ------------------------------------------------------------------------
def _on_stream(instance: Mapping[str, Any], record: Mapping[str, Any]) -> bool:
    target = record["target"]
    if record["vendor"] == "volcengine":
        volc = instance.get("volcengine") or {}
        return all(str(volc.get(k)) == target.get(k) for k in ("vhost", "app", "stream"))
    polyv = instance.get("polyv") or {}
    ids = {str(polyv.get("channel_id")), str(polyv.get("watch_channel_id"))}
    return target.get("channel_id") in ids


def matching_instance(events: list[dict[str, Any]], record: Mapping[str, Any]) -> dict[str, Any] | None:
    """The calendar instance a session belongs to: on its stream, the session starting within
    :data:`MATCH_MARGIN` of the instance's window; the nearest start wins."""
    import pendulum

    from airflow_live_provider.events.calendar import event_end, occurrences
    from airflow_live_provider.times import parse_instant

    started = pendulum.instance(parse_instant(record["started"]))
    candidates = [
        instance
        for event in events
        if _on_stream(event, record)
        for instance in occurrences(event, started - MATCH_MARGIN, started + MATCH_MARGIN)
        if parse_instant(instance["start"]) - MATCH_MARGIN <= started <= event_end(instance) + MATCH_MARGIN
    ]
    return min(
        candidates, key=lambda i: abs((parse_instant(i["start"]) - started).total_seconds()), default=None
    )


def sheet_entry(record: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("stream", "sessionId", "started", "ended", "durationSeconds")
    return {k: record.get(k) for k in keys}


def record_on_sheets(
    output_dir: str, events: list[dict[str, Any]], records: list[dict[str, Any]]
) -> list[str | None]:
    """Write ended sessions into their instances' run sheets; per record, the run id of the sheet
    it is on, or None when no instance of the calendar is on that stream at that time.

    However many sessions a run brings (a replay, a backlog), each instance's sessions record is
    read and written once and its sheet published once: N sessions cost N, not N squared. The
    sessions record is written before the sheet is published, and the sheet is published even when
    every session was already on record, so a run stopped between the two (or anywhere) is
    completed by the next run with the same events (a retry, a re-delivery, a replay).
    """
    from airflow_live_provider.events.run_records import event_folder

    run_ids: list[str | None] = [None] * len(records)
    groups: dict[tuple[str, str], tuple[dict[str, Any], list[int]]] = {}
    for index, record in enumerate(records):
        instance = matching_instance(events, record)
        if instance is not None:
            key = (event_folder(output_dir, instance), str(instance["start"]))
            groups.setdefault(key, (instance, []))[1].append(index)
    for (folder, _start), (instance, indexes) in groups.items():
        run_id = _record_on_instance(folder, instance, [records[i] for i in indexes])
        for index in indexes:
            run_ids[index] = run_id
    return run_ids


def _record_on_instance(folder: str, instance: dict[str, Any], records: list[dict[str, Any]]) -> str:
    """Add sessions to one instance's sessions record (one read, at most one write) and republish
    its sheet once; the run id.

    The run is the one whose sheet is the instance's ``latest.json`` (a run started by hand has
    its own run id, and republishing under the planner's id would replace that sheet with an
    empty one); without one, the planner's run id for the instance.
    """
    from airflow_live_provider.events.planner import instance_run_id
    from airflow_live_provider.events.run_records import (
        SESSIONS,
        latest_uri,
        read_sheet,
        read_step,
        write_step,
    )
    from airflow_live_provider.events.run_sheets import publish
    from airflow_live_provider.times import parse_instant, utc_iso

    latest = read_sheet(latest_uri(folder)) or {}
    same_instance = latest.get("startUtc") == utc_iso(parse_instant(instance["start"]))
    run_id = str(latest["runId"]) if same_instance and latest.get("runId") else instance_run_id(instance)
    held = (read_step(folder, run_id, SESSIONS) or {}).get("sessions") or []
    known = {(s.get("stream"), s.get("sessionId") or s.get("started")) for s in held}
    fresh = []
    for record in records:
        entry = sheet_entry(record)
        key = (entry["stream"], entry["sessionId"] or entry["started"])
        if key not in known:
            known.add(key)
            fresh.append(entry)
    if fresh:
        sessions = sorted([*held, *fresh], key=lambda s: str(s.get("started")))
        write_step(folder, run_id, SESSIONS, {"status": "done", "sessions": sessions})
    publish(folder, run_id, instance)
    return run_id


def record_sessions(
    events: list[dict[str, Any]], *, output_dir: str | None, calendar: str | None, run_id: str | None
) -> dict[str, Any]:
    """Record a run's session events (JSON Lines, and ended ones on their run sheets); a
    secret-free summary for XCom. An unreadable calendar costs the sheets, not the records."""
    from airflow_live_provider.events.run_records import sheets_root
    from airflow_live_provider.outputs import OUTPUT_ROOT_FIELD, check_output_location, writable_output
    from airflow_live_provider.times import utc_iso

    given = check_output_location(output_dir, "output_dir", folder=True, optional=True)
    output_dir = sheets_root(given)
    now = utc_iso()
    records = [event | {"recordedAt": now, "runId": run_id} for event in events]
    # The pre-flight of an event run: a bad location is an input error, before anything is read.
    for uri in sorted({sessions_file(output_dir, r["started"]) for r in records}):
        writable_output(uri, "output_dir" if given else OUTPUT_ROOT_FIELD)
    summary = append_records(output_dir, records)
    sheets: list[dict[str, Any]] = []
    ended = [r for r in records if r["kind"] == "ended"]
    if ended and calendar:
        from airflow_live_provider.events.calendar import read_calendar

        try:
            calendar_events = read_calendar(calendar)
        except Exception as exc:  # read, parse or validation: the sessions are on record anyway
            summary["calendar_error"] = f"{type(exc).__name__}: {str(exc)[:300]}"
            calendar_events = []
        run_ids = record_on_sheets(output_dir, calendar_events, ended)
        sheets = [
            {"stream": record["stream"], "started": record["started"], "event_run_id": event_run}
            for record, event_run in zip(ended, run_ids, strict=True)
        ]
    summary["events"] = [
        {k: r[k] for k in ("kind", "stream", "sessionId", "started", "ended", "durationSeconds")}
        for r in records
    ]
    summary["sheets"] = sheets
    return summary
