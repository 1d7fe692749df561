"""The note each planned ``live_event`` run carries in Airflow (its runs list and run page show it).

Airflow-free and pure: the planner's trigger task passes ``run_note(conf)`` with the run's
``conf`` when it asks for the run, so the runs list reads "**Keynote** · Tue 01 Dec 2026 19:30
(Asia/Shanghai) · 11:30 UTC · Polyv, Volcengine Live" instead of a run id's hash. Airflow renders
notes as Markdown: the event name is escaped, so it is shown as written.
"""

from __future__ import annotations

import re
from typing import Any

import pendulum

from airflow_live_provider.times import parse_instant

#: Airflow's own cap on a run note's length.
MAX_NOTE_CHARS = 1000
#: Longest event name kept in a note (names are not capped by the calendar).
MAX_NAME_CHARS = 200
#: The vendors as the crew knows them, in the order the run's steps go.
VENDOR_LABELS = {"volcengine": "Volcengine Live", "polyv": "Polyv", "isdp": "Huawei ISDP"}
#: What Markdown would read as markup within a line (the note is one line starting with ``**``,
#: so ``-``, ``+`` or ``1.`` never start a list): emphasis, code, links, HTML, headings, tables.
_MARKDOWN = re.compile(r"([\\`*_\[\]<>#|~])")


def markdown_text(text: str) -> str:
    """``text`` shown as written by a Markdown renderer (its special characters escaped, line
    breaks as spaces)."""
    return _MARKDOWN.sub(r"\\\1", " ".join(text.split()))


def run_note(conf: Any) -> str:
    """The note for a run started with ``conf`` (``{"event": <instance>, ...}``, as the planner
    builds it): event name, start in the event's own zone (and UTC), vendors. Never raises: a
    conf it cannot read gets a note saying so, and the run's first step names the problem."""
    event = conf.get("event") if isinstance(conf, dict) else None
    if not isinstance(event, dict):
        return "Live event run (no event in its conf)"
    name = str(event.get("name") or "unnamed event").strip()
    if len(name) > MAX_NAME_CHARS:
        name = name[: MAX_NAME_CHARS - 1] + "…"
    parts = [f"**{markdown_text(name)}**", start_text(event.get("start"), event.get("timezone"))]
    vendors = [label for key, label in VENDOR_LABELS.items() if event.get(key)]
    parts.append(", ".join(vendors) if vendors else "no vendor")
    return " · ".join(parts)[:MAX_NOTE_CHARS]


def start_text(start: Any, zone: Any) -> str:
    """``Tue 01 Dec 2026 19:30 (Asia/Shanghai) · 11:30 UTC``; the start as given when unreadable."""
    try:
        moment = pendulum.instance(parse_instant(start, "start", vendor="calendar"))
        utc = moment.in_timezone("UTC")
        if zone:
            local = moment.in_timezone(str(zone))
            return f"{local.strftime('%a %d %b %Y %H:%M')} ({markdown_text(str(zone))}) · {utc:%H:%M} UTC"
        return f"{utc.strftime('%a %d %b %Y %H:%M')} UTC"
    except Exception:  # noqa: BLE001 - a note never fails the run's creation
        return f"starts {markdown_text(str(start))[:100]}"
