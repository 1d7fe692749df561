"""Where the events calendar is, and its text: one answer for every DAG and every event step.

"The calendar" is whatever the planner reads *now*: the planner's ``calendar_path`` param when a
run was given one, else the Variable ``live_events_calendar``, else ``live_events.json`` in the
DAGs folder. An event run's steps ask again at their own moment (never a path copied when the run
was made), so switching the Variable to another file cancels the runs of events the new file does
not have.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

#: The Variable holding the calendar's location (a path or any ObjectStoragePath URI).
CALENDAR_VARIABLE = "live_events_calendar"
#: File name of the default calendar, in the DAGs folder.
DEFAULT_CALENDAR_FILE = "live_events.json"
#: What an event run's ``conf["calendar"]`` holds when the planner was not given a path: "ask
#: where the planner reads now".
PLANNER_CALENDAR = "@planner"


def calendar_location(pinned: str | None = None) -> str:
    """``pinned`` (a planner run's ``calendar_path``; blank counts as none), else the Variable, else
    the DAGs folder's file."""
    pinned = (pinned or "").strip()
    if pinned and pinned != PLANNER_CALENDAR:
        return pinned
    from airflow.sdk import Variable, conf

    found = Variable.get(CALENDAR_VARIABLE, default=None)
    if found:
        return str(found)
    return str(Path(conf.get("core", "dags_folder")).expanduser() / DEFAULT_CALENDAR_FILE)


def read_calendar_text(location: str) -> str:
    """The calendar file's text from a path or any ObjectStoragePath URI."""
    from airflow.sdk import ObjectStoragePath

    uri = location if "://" in location else f"file://{Path(location).expanduser().resolve()}"
    return ObjectStoragePath(uri).read_text(encoding="utf-8")


def content_digest(location: str, text: str) -> str:
    """What a calendar change is detected by: its location and content."""
    return hashlib.sha256(f"{location}\0{text}".encode("utf-8", "surrogatepass")).hexdigest()
