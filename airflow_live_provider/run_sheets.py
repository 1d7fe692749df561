"""Run sheets: what the crew opens before a live event, as JSON and as a phone-sized HTML page.

Layout (kept stable: users' automation reads it)::

    <output_dir>/<event slug>/<run id>.json   one per run (history)
    <output_dir>/<event slug>/latest.json     the newest state of the event instance
    <output_dir>/<event slug>/latest.html     the same, readable on a phone

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

from airflow_live_provider.events import event_end, event_slug
from airflow_live_provider.html_pages import document
from airflow_live_provider.outputs import (
    default_output_root,
    output_path,
    parse_time,
    path_segment,
    utc_iso,
    write_json,
    write_text,
)

LATEST = "latest"
#: ``justInTime.status`` values.
PENDING, ISSUED = "pending", "issued"
#: Where a vendor section keeps its just-in-time credentials.
JIT_KEY = {"polyv": "watchTokens", "isdp": "tokens"}


def event_folder(output_dir: str | None, event: dict[str, Any]) -> str:
    """``<output_dir>/<event slug>``; default output_dir ``$AIRFLOW_HOME/live_provider/run_sheets``."""
    root = (output_dir or "").strip().rstrip("/") or f"{default_output_root()}/run_sheets"
    return f"{root}/{event_slug(event)}"


def sheet_uri(folder: str, run_id: str | None) -> str:
    return f"{folder}/{path_segment(run_id or 'manual')}.json"


def latest_uri(folder: str, suffix: str = ".json") -> str:
    return f"{folder}/{LATEST}{suffix}"


def read_sheet(uri: str) -> dict[str, Any] | None:
    """A sheet written earlier, or None when there is none (a first run, another event instance)."""
    path = output_path(uri, "output_dir")
    try:
        if not path.exists():
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


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
    from airflow_live_provider.steps import push_url_secrets

    found = list(secret_values(sheet, SECRET_KEYS))
    found.extend(push_url_secrets((sheet.get("volcengine") or {}).get("push") or {}))
    return sorted({s for s in found if s})


def write_sheet(folder: str, run_id: str | None, sheet: dict[str, Any]) -> dict[str, str]:
    """The run's sheet, then ``latest.json`` and ``latest.html``; returns their URIs."""
    run_path = output_path(sheet_uri(folder, run_id), "output_dir")
    written = {"run_sheet": write_json(run_path, sheet)}
    written["latest_sheet"] = write_json(output_path(latest_uri(folder), "output_dir"), sheet)
    written["latest_page"] = write_text(
        output_path(latest_uri(folder, ".html"), "output_dir"), render_html(sheet)
    )
    return written


# -- the HTML page (head, viewport and base style from html_pages; this page's own look here) ------
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
    if jit.get("status") == ISSUED:
        return ""
    return (
        f'<div class="card pending">{html.escape(what)} will be issued just in time, at '
        f"<b>{html.escape(_local(jit.get('issueAt'), zone))}</b>, by the run whose hour contains "
        "that moment. Open this page again after it.</div>"
    )


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
    return document(f"{sheet['event']}: run sheet", parts, css=_CSS)
