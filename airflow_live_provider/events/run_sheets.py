"""Run sheets: what the crew opens before a live event, as JSON and as a phone-sized HTML page.

Layout (kept stable: users' automation reads it)::

    <output_dir>/<event slug>/<run id>.json   one per run (history)
    <output_dir>/<event slug>/latest.json     the newest state of the event instance
    <output_dir>/<event slug>/latest.html     the same, readable on a phone
    <output_dir>/<event slug>/steps/<run id>/<step>.json   each step's own record

Each step of an event run writes only its own record, then the sheet is rebuilt from all of them
(:func:`publish`), so two steps finishing together never lose each other's update. A superseded
run (its instance changed in the calendar) writes only its own sheet, never ``latest``.

The event slug is the event name, plus ``-<YYYY-MM-DD>`` for an occurrence of a recurring event.
Every credential carries ``validFrom``/``validUntil`` (UTC, the one output format). A credential
issued just in time is listed with ``justInTime: {status, issueAt}`` until it is issued, so an
early sheet says what will come and when instead of showing a credential that would be dead at
the start. Files are private (0600 in 0700 folders) when local, and written atomically.
"""

from __future__ import annotations

import html
import json
from datetime import datetime
from typing import Any

import pendulum

from airflow_live_provider.events.calendar import event_end, event_slug
from airflow_live_provider.events.event_steps import LABELS, RECORDS, steps_for
from airflow_live_provider.exceptions import LiveApiError
from airflow_live_provider.outputs import (
    default_output_root,
    output_path,
    parse_time,
    path_segment,
    utc_iso,
    write_json,
    write_text,
)
from airflow_live_provider.reports.pages import document

LATEST = "latest"
#: ``justInTime.status`` values.
PENDING, ISSUED = "pending", "issued"
#: Where a vendor section keeps its just-in-time credentials.
JIT_KEY = {"polyv": "watchTokens", "isdp": "tokens"}


def sheets_root(output_dir: str | None) -> str:
    """``output_dir``, else ``$AIRFLOW_HOME/live_provider/run_sheets`` (resolved on the worker)."""
    return (output_dir or "").strip().rstrip("/") or f"{default_output_root()}/run_sheets"


def event_folder(output_dir: str | None, event: dict[str, Any]) -> str:
    """``<output_dir>/<event slug>`` (see :func:`sheets_root`)."""
    return f"{sheets_root(output_dir)}/{event_slug(event)}"


def sheet_uri(folder: str, run_id: str | None) -> str:
    return f"{folder}/{path_segment(run_id or 'manual')}.json"


def latest_uri(folder: str, suffix: str = ".json") -> str:
    return f"{folder}/{LATEST}{suffix}"


class RunSheetUnreadable(LiveApiError):
    """A run sheet or step record exists but cannot be read: never taken for "none yet" (that
    would issue credentials again, or overwrite issued ones with "pending")."""

    def __init__(self, uri: str, problem: str) -> None:
        super().__init__(
            f"{uri} cannot be read ({problem}); nothing was issued or overwritten. Fix the storage "
            "and retry the task",
            vendor="live_provider",
            code="run_sheet_unreadable",
            retryable=True,
        )


def read_record_text(uri: str) -> str | None:
    """The text of a file written earlier, or None only when there is none; any other failure
    (each store has its own errors) raises :class:`RunSheetUnreadable`: what cannot be read must
    not be taken for "nothing yet" and overwritten."""
    try:
        return output_path(uri, "output_dir").read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except Exception as exc:
        raise RunSheetUnreadable(uri, f"{type(exc).__name__}: {str(exc)[:200]}") from None


def read_sheet(uri: str) -> dict[str, Any] | None:
    """A JSON document written earlier, or None only when there is none; any other failure
    (storage error, half-readable or foreign content) raises :class:`RunSheetUnreadable`."""
    text = read_record_text(uri)
    if text is None:
        return None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise RunSheetUnreadable(uri, f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise RunSheetUnreadable(uri, f"a JSON {type(data).__name__}, not an object")
    return data


def new_sheet(event: dict[str, Any], run_id: str | None) -> dict[str, Any]:
    start = parse_time(event["start"])
    return {
        "event": event["name"],
        "occurrence": event.get("occurrence"),
        "start": event["start"],
        "startUtc": utc_iso(start),
        "end": utc_iso(event_end(event)),
        "timezone": event.get("timezone"),
        "runId": run_id,
        "generatedAt": utc_iso(),
    }


def sheet_secrets(sheet: dict[str, Any]) -> list[str]:
    """Every credential a sheet carries: tokens, push URLs, their signatures (for leak searches)."""
    from airflow_live_provider.redaction import SECRET_KEYS, secret_values
    from airflow_live_provider.vendors.volcengine import push_url_secrets

    found = list(secret_values(sheet, SECRET_KEYS))
    found.extend(push_url_secrets((sheet.get("volcengine") or {}).get("push") or {}))
    return sorted({s for s in found if s})


def write_sheet(
    folder: str, run_id: str | None, sheet: dict[str, Any], *, latest: bool = True
) -> dict[str, str]:
    """The run's sheet, then (unless the run was superseded) ``latest.json`` and ``latest.html``."""
    run_path = output_path(sheet_uri(folder, run_id), "output_dir")
    written = {"run_sheet": write_json(run_path, sheet)}
    if latest:
        written["latest_sheet"] = write_json(output_path(latest_uri(folder), "output_dir"), sheet)
        written["latest_page"] = write_text(
            output_path(latest_uri(folder, ".html"), "output_dir"), render_html(sheet)
        )
    return written


# -- step records: each step of an event run writes only its own file -----------------------------
#: The steps of an event run, in the order a sheet shows them (declared in ``event_steps``).
STEPS = RECORDS
#: Step statuses. A step that applies but has no record yet is "waiting".
DONE, FAILED, MISSED, SUPERSEDED, CANCELLED = "done", "failed", "missed", "superseded", "cancelled"
#: The record of the instance's stream sessions (written by ``live_stream_sessions``, not a step).
SESSIONS = "sessions"


def step_uri(folder: str, run_id: str | None, step: str) -> str:
    """``<folder>/steps/<run id>/<step>.json``: one writer per file, so no step loses another's
    update (two steps of one run may finish at the same moment)."""
    return f"{folder}/steps/{path_segment(run_id or 'manual')}/{step}.json"


def read_step(folder: str, run_id: str | None, step: str) -> dict[str, Any] | None:
    return read_sheet(step_uri(folder, run_id, step))


def write_step(folder: str, run_id: str | None, step: str, record: dict[str, Any]) -> dict[str, Any]:
    """Write a step's record, stamped with when; returns it as written."""
    stamped = record | {"at": utc_iso()}
    write_json(output_path(step_uri(folder, run_id, step), "output_dir"), stamped)
    return stamped


def issued_uri(folder: str, step: str) -> str:
    """``<folder>/issued/<step>.json``: what the event *instance* holds from a step, whichever of
    its runs issued it (a run made for an edited definition reuses it instead of issuing again)."""
    return f"{folder}/issued/{step}.json"


def read_issued(folder: str, step: str) -> dict[str, Any] | None:
    return read_sheet(issued_uri(folder, step))


def write_issued(folder: str, step: str, record: dict[str, Any]) -> dict[str, Any]:
    stamped = record | {"at": utc_iso()}
    write_json(output_path(issued_uri(folder, step), "output_dir"), stamped)
    return stamped


def read_steps(folder: str, run_id: str | None, event: dict[str, Any]) -> dict[str, dict[str, Any]]:
    steps = [*steps_for(event), "outcome", "superseded", SESSIONS]
    return {step: record for step in steps if (record := read_step(folder, run_id, step)) is not None}


def compose_sheet(
    event: dict[str, Any], run_id: str | None, records: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """The run sheet from the instance's definition and its steps' records (the layout users'
    automation reads: ``volcengine``, ``polyv``, ``isdp`` sections; plus ``steps``)."""
    sheet = new_sheet(event, run_id)
    if volc := event.get("volcengine"):
        sheet["volcengine"] = {k: volc.get(k) for k in ("vhost", "app", "stream", "domain")}
        sheet["volcengine"] |= (records.get("volcengine") or {}).get("result") or {}
    if polyv := event.get("polyv"):
        section: dict[str, Any] = {"transmitChannelId": polyv["channel_id"], "receiveChannels": []}
        section |= (records.get("polyv_channels") or {}).get("result") or {}
        if polyv.get("viewers"):
            section |= _jit(event, "polyv", records.get("polyv_tokens"))
        sheet["polyv"] = section
    if event.get("isdp"):
        sheet["isdp"] = _jit(event, "isdp", records.get("isdp_tokens"))
    sheet["steps"] = {
        step: {k: v for k, v in (records.get(step) or {"status": "waiting"}).items() if k != "result"}
        for step in [*steps_for(event), "outcome"]
    }
    if superseded := records.get("superseded"):
        sheet["superseded"] = superseded
    if sessions := (records.get(SESSIONS) or {}).get("sessions"):
        sheet["sessions"] = sessions
    return sheet


def _jit(event: dict[str, Any], vendor: str, record: dict[str, Any] | None) -> dict[str, Any]:
    """A just-in-time vendor section: what it is for, its credentials once issued, else when."""
    from airflow_live_provider.events.calendar import jit_moments

    if vendor == "polyv":
        polyv = event["polyv"]
        inputs: dict[str, Any] = {
            "watchChannelId": polyv.get("watch_channel_id") or polyv["channel_id"],
            "viewers": [v["viewerId"] for v in polyv["viewers"]],
        }
    else:
        inputs = {k: event["isdp"][k] for k in ("channel_ids", "user_account", "role")}
    issue_at = utc_iso(jit_moments(event)[vendor])
    if record and record.get("status") == DONE:
        result = record.get("result") or {}
        return inputs | {
            JIT_KEY[vendor]: result.get(JIT_KEY[vendor]) or [],
            "justInTime": {
                "status": ISSUED,
                "issueAt": issue_at,
                "issuedAt": record.get("at"),
                "issuedBy": record.get("runId"),
            },
        }
    jit: dict[str, Any] = {"status": PENDING, "issueAt": issue_at}
    if record:  # failed, missed or superseded: say so instead of "pending"
        jit = {"status": record.get("status"), "issueAt": issue_at, "error": record.get("error")}
    return inputs | {JIT_KEY[vendor]: [], "justInTime": jit}


def publish(folder: str, run_id: str | None, event: dict[str, Any], *, latest: bool = True) -> dict[str, str]:
    """Rebuild the run sheet from every step's record and write it (and ``latest.*``).

    The records are read again after writing: a step that recorded meanwhile is composed in on a
    second pass, so a sheet never stays without a step's update.
    """
    records = read_steps(folder, run_id, event)
    for _ in range(3):
        written = write_sheet(folder, run_id, compose_sheet(event, run_id, records), latest=latest)
        again = read_steps(folder, run_id, event)
        if again == records:
            return written
        records = again
    return written


# -- the HTML page (head, viewport and base style from reports.pages; this page's own look here) ---
_CSS = """
body{font:16px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;padding:16px;color:#1d2733;
background:#f5f7fa;max-width:760px}
h1{font-size:1.35rem;margin:0 0 4px}h2{font-size:1.1rem;margin:20px 0 8px}
.when{font-size:1.05rem;margin:0 0 4px}.muted{color:#5b6776;font-size:.9rem}
.card{background:#fff;border:1px solid #dde3ea;border-radius:8px;padding:10px 12px;margin:8px 0}
.secret{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.85rem;word-break:break-all;
background:#f0f3f7;border-radius:4px;padding:4px 6px;display:block;margin:4px 0}
.ok{color:#17663a}.warn{color:#9a5b00}.bad{color:#b3261e}
.pending{border-left:4px solid #d08a00}.issued{border-left:4px solid #2e8b57}
.failed{border-left:4px solid #b3261e}
"""


def _local(value: str | None, zone: str | None) -> str:
    """A UTC/offset timestamp shown in the event's own zone, e.g. ``Tue 1 Dec 19:30:00 (Asia/Shanghai)``."""
    if not value:
        return "unknown"
    moment = pendulum.instance(parse_time(value))
    if zone:
        moment = moment.in_timezone(zone)
    label = zone or moment.strftime("UTC%z")
    return f"{moment.strftime('%a %d %b %Y %H:%M:%S')} ({label})"


#: The same, for the Live events pages (one way to show a time in an event's zone).
local_time = _local


def _validity(item: dict[str, Any], zone: str | None, start: datetime) -> str:
    until = item.get("validUntil")
    state = ""
    if until:
        end = parse_time(until)
        state = (
            ' <span class="ok">valid at the start</span>'
            if end >= start
            else ' <span class="bad">expires before the start</span>'
        )
    return (
        f'<div class="muted">valid {html.escape(_local(item.get("validFrom"), zone))} &rarr; '
        f"{html.escape(_local(until, zone) if until else 'vendor default')}{state}</div>"
    )


def _pending(section: dict[str, Any], what: str, zone: str | None) -> str:
    jit = section.get("justInTime") or {}
    status = jit.get("status")
    if status == ISSUED:
        return ""
    if status in (FAILED, MISSED, SUPERSEDED, CANCELLED):
        return (
            f'<div class="card failed">{html.escape(what)} were <b>not issued</b> ({html.escape(status)}): '
            f"{html.escape(str(jit.get('error') or ''))}</div>"
        )
    return (
        f'<div class="card pending">{html.escape(what)} will be issued just in time, at '
        f"<b>{html.escape(_local(jit.get('issueAt'), zone))}</b>, by this event's run. "
        "Open this page again after it.</div>"
    )


#: How a sheet names its steps.
STEP_LABELS = LABELS


def _steps(sheet: dict[str, Any], zone: str | None) -> list[str]:
    """Where each step stands: waiting, done (when), failed or missed (why)."""
    rows = []
    for step, record in (sheet.get("steps") or {}).items():
        status = str(record.get("status") or "waiting")
        css = {DONE: "ok", FAILED: "bad", MISSED: "bad", SUPERSEDED: "warn", CANCELLED: "warn"}.get(
            status, "muted"
        )
        if step == "go_live" and status == DONE:
            status = "live at"
        when = record.get("liveAt") or record.get("at")
        detail = f" {_local(when, zone)}" if when else ""
        error = f"<div class='muted'>{html.escape(str(record['error']))}</div>" if record.get("error") else ""
        rows.append(
            f"<div class='card'>{html.escape(STEP_LABELS.get(step, step))}: "
            f"<b class='{css}'>{html.escape(status)}</b>{html.escape(detail)}{error}</div>"
        )
    return ["<h2>Steps</h2>", *rows] if rows else []


def _minutes(seconds: Any) -> str:
    if not isinstance(seconds, int | float):
        return ""
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


def _sessions(sheet: dict[str, Any], zone: str | None) -> list[str]:
    """The stream's sessions (from the session watchers): when live, for how long."""
    rows = []
    for session in sheet.get("sessions") or []:
        ended = _local(session.get("ended"), zone) if session.get("ended") else "still live"
        length = _minutes(session.get("durationSeconds"))
        rows.append(
            f"<div class='card'>{html.escape(str(session.get('stream')))}<br>"
            f"<b>{html.escape(_local(session.get('started'), zone))}</b> to <b>{html.escape(ended)}</b>"
            f"{html.escape(f' ({length})' if length else '')}</div>"
        )
    return ["<h2>Stream sessions</h2>", *rows] if rows else []


def render_html(sheet: dict[str, Any]) -> str:
    """A self-contained page (no scripts, no external assets) for the crew's phones."""
    zone = sheet.get("timezone")
    start = parse_time(sheet["start"])
    esc = html.escape
    parts = [
        f"<h1>{esc(sheet['event'])}</h1>",
        f"<p class='when'>Starts <b>{esc(_local(sheet['start'], zone))}</b></p>",
        f"<p class='muted'>{esc(sheet['startUtc'].replace('T', ' ').rstrip('Z'))} UTC · ends "
        f"{esc(_local(sheet.get('end'), zone))}</p>",
        f"<p class='muted'>Updated {esc(_local(sheet.get('generatedAt'), zone))} by run "
        f"{esc(str(sheet.get('runId')))}. Private: these are credentials.</p>",
    ]
    if superseded := sheet.get("superseded"):
        if superseded.get("status") == CANCELLED:
            parts.append(
                "<div class='card failed'><b>Cancelled</b>: this event was cancelled or removed in the "
                f"calendar ({esc(str(superseded.get('detail') or ''))}). Nothing more is issued.</div>"
            )
        else:
            parts.append(
                "<div class='card failed'><b>Superseded</b>: this event was changed in the calendar "
                f"({esc(str(superseded.get('detail') or ''))}). A newer run takes over and keeps what "
                "this one issued; open the event's latest page.</div>"
            )
    if volc := sheet.get("volcengine"):
        parts.append(f"<h2>Push ({esc(volc.get('vhost') or '')}/{esc(volc.get('app') or '')})</h2>")
        push = volc.get("push") or {}
        urls = [d.get("URL") for d in push.get("PushURLListDetail") or [] if isinstance(d, dict)]
        urls = [u for u in urls if u] or list(push.get("PushURLList") or [])
        for url in urls:
            parts.append(f"<div class='card'><span class='secret'>{esc(str(url))}</span>")
            parts.append(_validity(volc, zone, start) + "</div>")
    if polyv := sheet.get("polyv"):
        parts.append(f"<h2>Polyv transmit channel {esc(str(polyv.get('transmitChannelId')))}</h2>")
        for channel in polyv.get("receiveChannels") or []:
            parts.append(
                f"<div class='card'>Receive channel <b>{esc(str(channel.get('name')))}</b>: "
                f"{esc(str(channel.get('channelId')))}</div>"
            )
        if polyv.get("viewers"):
            parts.append(f"<h2>Watch tokens (channel {esc(str(polyv.get('watchChannelId')))})</h2>")
            parts.append(_pending(polyv, "Watch tokens", zone))
            for token in polyv.get(JIT_KEY["polyv"]) or []:
                parts.append(
                    f"<div class='card issued'>Viewer <b>{esc(str(token.get('viewerId')))}</b>"
                    f"<span class='secret'>{esc(str(token.get('token')))}</span>"
                    f"{_validity(token, zone, start)}</div>"
                )
    if isdp := sheet.get("isdp"):
        parts.append(f"<h2>ISDP join tokens (user {esc(str(isdp.get('user_account')))})</h2>")
        parts.append(_pending(isdp, "Join tokens", zone))
        for token in isdp.get(JIT_KEY["isdp"]) or []:
            channels = ", ".join(str(c) for c in token.get("channelIds") or [])
            parts.append(
                f"<div class='card issued'>Channels <b>{esc(channels)}</b>"
                f"<span class='secret'>{esc(str(token.get('token')))}</span>"
                f"{_validity(token, zone, start)}</div>"
            )
    parts.extend(_steps(sheet, zone))
    parts.extend(_sessions(sheet, zone))
    return document(f"{sheet['event']}: run sheet", parts, css=_CSS)
