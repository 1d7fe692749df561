"""The run sheet as a phone-sized HTML page (``latest.html``, and the Live events page's sheet tab).

Self-contained: no scripts, no external assets. The head, viewport and base style are the ones
every page shares (:mod:`airflow_live_provider.reports.pages`); this page's own look is here.
Times are shown in the event's own zone (:func:`local_time`, also used by the Live events pages).
"""

from __future__ import annotations

import html
from datetime import datetime
from typing import Any

import pendulum

from airflow_live_provider.events.event_steps import LABELS
from airflow_live_provider.events.run_records import (
    CANCELLED,
    DONE,
    FAILED,
    ISSUED,
    JIT_KEY,
    MISSED,
    SUPERSEDED,
)
from airflow_live_provider.reports.pages import document
from airflow_live_provider.times import parse_instant

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


def local_time(value: str | None, zone: str | None) -> str:
    """A UTC/offset timestamp shown in the event's own zone, e.g. ``Tue 1 Dec 19:30:00 (Asia/Shanghai)``."""
    if not value:
        return "unknown"
    moment = pendulum.instance(parse_instant(value))
    if zone:
        moment = moment.in_timezone(zone)
    label = zone or moment.strftime("UTC%z")
    return f"{moment.strftime('%a %d %b %Y %H:%M:%S')} ({label})"


def _validity(item: dict[str, Any], zone: str | None, start: datetime) -> str:
    until = item.get("validUntil")
    state = ""
    if until:
        end = parse_instant(until)
        state = (
            ' <span class="ok">valid at the start</span>'
            if end >= start
            else ' <span class="bad">expires before the start</span>'
        )
    return (
        f'<div class="muted">valid {html.escape(local_time(item.get("validFrom"), zone))} &rarr; '
        f"{html.escape(local_time(until, zone) if until else 'vendor default')}{state}</div>"
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
        f"<b>{html.escape(local_time(jit.get('issueAt'), zone))}</b>, by this event's run. "
        "Open this page again after it.</div>"
    )


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
        detail = f" {local_time(when, zone)}" if when else ""
        error = f"<div class='muted'>{html.escape(str(record['error']))}</div>" if record.get("error") else ""
        rows.append(
            f"<div class='card'>{html.escape(LABELS.get(step, step))}: "
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
        ended = local_time(session.get("ended"), zone) if session.get("ended") else "still live"
        length = _minutes(session.get("durationSeconds"))
        rows.append(
            f"<div class='card'>{html.escape(str(session.get('stream')))}<br>"
            f"<b>{html.escape(local_time(session.get('started'), zone))}</b> to <b>{html.escape(ended)}</b>"
            f"{html.escape(f' ({length})' if length else '')}</div>"
        )
    return ["<h2>Stream sessions</h2>", *rows] if rows else []


def render_html(sheet: dict[str, Any]) -> str:
    """A self-contained page (no scripts, no external assets) for the crew's phones."""
    zone = sheet.get("timezone")
    start = parse_instant(sheet["start"])
    esc = html.escape
    parts = [
        f"<h1>{esc(sheet['event'])}</h1>",
        f"<p class='when'>Starts <b>{esc(local_time(sheet['start'], zone))}</b></p>",
        f"<p class='muted'>{esc(sheet['startUtc'].replace('T', ' ').rstrip('Z'))} UTC · ends "
        f"{esc(local_time(sheet.get('end'), zone))}</p>",
        f"<p class='muted'>Updated {esc(local_time(sheet.get('generatedAt'), zone))} by run "
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
