"""Run records: where an event's run sheets and step records live, and reading and writing them.

Layout (kept stable: users' automation reads it)::

    <output_dir>/<event slug>/<run id>.json   one per run (history)
    <output_dir>/<event slug>/latest.json     the newest state of the event instance
    <output_dir>/<event slug>/latest.html     the same, readable on a phone
    <output_dir>/<event slug>/steps/<run id>/<step>.json   each step's own record
    <output_dir>/<event slug>/issued/<step>.json           what the instance holds from a step

Each step of an event run writes only its own record (one writer per file, so two steps finishing
together never lose each other's update); :mod:`~airflow_live_provider.events.run_sheets` composes
the sheet from them. What the instance holds (``issued/``) is kept whichever of its runs issued it.
A file that exists but cannot be read raises :class:`RunSheetUnreadable`: only "not found" means
"nothing yet". Files are private (0600 in 0700 folders) when local, and written atomically.

The event slug is the event name, plus ``-<YYYY-MM-DD>`` for an occurrence of a recurring event.
"""

from __future__ import annotations

import json
from typing import Any

from airflow_live_provider.events.calendar import event_slug
from airflow_live_provider.events.event_steps import steps_for
from airflow_live_provider.exceptions import LiveApiError
from airflow_live_provider.outputs import default_output_root, output_path, path_segment, write_json
from airflow_live_provider.times import utc_iso

LATEST = "latest"
#: Step statuses. A step that applies but has no record yet is "waiting".
DONE, FAILED, MISSED, SUPERSEDED, CANCELLED = "done", "failed", "missed", "superseded", "cancelled"
#: The record of the instance's stream sessions (written by ``live_stream_sessions``, not a step).
SESSIONS = "sessions"
#: ``justInTime.status`` values (a sheet's just-in-time vendor section).
PENDING, ISSUED = "pending", "issued"
#: Where a sheet's vendor section keeps its just-in-time credentials.
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
