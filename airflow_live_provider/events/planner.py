"""The event planner: one ``live_event`` DAG run per event instance, named after the instance.

The hourly planner DAG expands the calendar and asks Airflow for one run of ``live_event`` per
instance in its lead window. The run id is the instance's identity plus a short hash of its
definition, so Airflow's own uniqueness of run ids does the deduplication: planning twice makes
nothing twice, and an edited instance (new start, other channels or viewers) gets a new run while
the old one finds out, at its next step, that it was superseded (:func:`current_definition`).

Nothing here calls a vendor or Airflow's database: it is pure calendar arithmetic, fast enough to
plan thousands of instances in a planner run that ends in seconds.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pendulum

from airflow_live_provider.events.calendar import (
    GO_LIVE_WATCH_BEFORE,
    event_end,
    event_slug,
    jit_moments,
    load_calendar,
    occurrences,
    select_upcoming,
    validate_event,
)
from airflow_live_provider.exceptions import LiveApiInputError
from airflow_live_provider.outputs import parse_time

#: The DAG every instance runs in (``dags/live_event.py``).
EVENT_DAG_ID = "live_event"
#: How often the planner runs (its DAG's schedule): an instance must be planned this long before
#: its first step is due, so the lead window must cover it.
PLANNER_INTERVAL = timedelta(hours=1)
#: Longest readable part of a run id (Airflow keeps run ids up to 250 characters).
RUN_ID_NAME_CHARS = 80


def read_calendar_text(location: str) -> str:
    """The calendar file's text from a path or any ObjectStoragePath URI."""
    from airflow.sdk import ObjectStoragePath

    uri = location if "://" in location else f"file://{Path(location).expanduser().resolve()}"
    return ObjectStoragePath(uri).read_text(encoding="utf-8")


def definition_hash(instance: dict[str, Any]) -> str:
    """Eight hex digits that change whenever anything about the instance changes."""
    canonical = json.dumps(instance, sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:8]


def instance_run_id(instance: dict[str, Any]) -> str:
    """``event__<name>__<start, UTC>__<hash>``: readable in the Grid, unique per definition.

    Airflow accepts ``[A-Za-z0-9_.~:+-]`` in run ids, so the name is reduced to ASCII (a Chinese
    name keeps only its hash and start, which still identify it).
    """
    name = re.sub(r"[^a-z0-9]+", "-", event_slug(instance).lower()).strip("-")[:RUN_ID_NAME_CHARS].strip("-")
    start = _start(instance).in_timezone("UTC")
    return f"event__{name or 'event'}__{start.strftime('%Y%m%dT%H%M%SZ')}__{definition_hash(instance)}"


def _start(instance: dict[str, Any]) -> pendulum.DateTime:
    return pendulum.instance(parse_time(instance["start"]))


def earliest_step(instance: dict[str, Any]) -> pendulum.DateTime:
    """When an instance's first time-bound step is due: a token moment or the go-live watch."""
    start = _start(instance)
    moments = list(jit_moments(instance).values())
    if instance.get("volcengine"):
        moments.append(start - GO_LIVE_WATCH_BEFORE)
    return min(moments, default=start)


def check_lead_covers(events: Iterable[dict[str, Any]], lead: timedelta) -> None:
    """Refuse a lead window too short for an hourly planner to plan every instance before its
    earliest step (else tokens would be issued after the start)."""
    worst = max(events, key=lambda e: _start(e) - earliest_step(e), default=None)
    if worst is None:
        return
    ahead = _start(worst) - earliest_step(worst)
    needed = PLANNER_INTERVAL + ahead
    if lead < needed:
        raise LiveApiInputError(
            "lead_hours",
            f"{lead.total_seconds() / 3600:g} h is too short: the planner runs every "
            f"{PLANNER_INTERVAL.total_seconds() / 3600:g} h and event {worst['name']!r} has a step "
            f"{int(ahead.total_seconds())} s before its start; use at least "
            f"{needed.total_seconds() / 3600:.2f}",
        )


def plan_event_runs(
    events: list[dict[str, Any]],
    now: pendulum.DateTime,
    lead: timedelta,
    *,
    calendar: str,
    output_dir: str | None,
) -> list[dict[str, Any]]:
    """One ``{trigger_run_id, conf}`` per instance starting within ``lead`` of ``now`` (or
    still running), soonest first: the arguments of the mapped ``StartEventRunOperator``."""
    check_lead_covers(events, lead)
    planned = []
    for instance in select_upcoming(events, now, lead):
        planned.append(
            {
                "trigger_run_id": instance_run_id(instance),
                "conf": {
                    "event": instance,
                    "definition": definition_hash(instance),
                    "calendar": calendar,
                    "output_dir": output_dir or "",
                },
            }
        )
    return planned


#: Run ids per state query (they travel in a URL's query string).
EXISTING_QUERY_CHUNK = 50


def without_existing_runs(planned: list[dict[str, Any]], ti: Any) -> list[dict[str, Any]]:
    """The planned runs that do not exist yet, asked of Airflow in a few queries through the task
    instance (``get_task_states``), so an hourly planner run starts a trigger task only for new
    instances. Runs created meanwhile are still caught: the trigger task skips an existing run."""
    ids = [p["trigger_run_id"] for p in planned]
    existing: set[str] = set()
    for offset in range(0, len(ids), EXISTING_QUERY_CHUNK):
        chunk = ids[offset : offset + EXISTING_QUERY_CHUNK]
        states = ti.get_task_states(dag_id=EVENT_DAG_ID, task_ids=["summary"], run_ids=chunk) or {}
        existing.update(states)
    return [p for p in planned if p["trigger_run_id"] not in existing]


def event_from_conf(conf: Any) -> dict[str, Any]:
    """The instance a ``live_event`` run was started for, validated (a run triggered by hand
    without the planner's ``conf`` is refused, naming what is missing)."""
    if not isinstance(conf, dict) or not isinstance(conf.get("event"), dict):
        raise LiveApiInputError(
            "dag_run.conf",
            "has no 'event'; live_event runs are started by the live_event_preprovision planner "
            '(or trigger one with conf {"event": <one calendar instance>})',
        )
    return validate_event(conf["event"], 0)


def current_definition(conf: dict[str, Any], instance: dict[str, Any]) -> tuple[str, str]:
    """Whether the calendar still holds this run's instance unchanged.

    Returns ``(verdict, detail)``: ``current``; ``changed`` (the same instance, another
    definition: a newer run takes over); ``removed``; or ``unknown`` when the calendar cannot be
    read or validated now (the run then goes on with its own definition: a typo elsewhere in the
    calendar must not stop this event's credentials).
    """
    location = conf.get("calendar")
    if not location:
        return "unknown", "the run has no calendar location"
    try:
        events = load_calendar(read_calendar_text(location), source=location)
    except Exception as exc:  # any reason: read error, parse error, validation error
        return "unknown", f"calendar {location} cannot be read now ({type(exc).__name__}: {str(exc)[:200]})"
    identity = event_slug(instance)
    low = _start(instance) - timedelta(days=2)
    high = event_end(instance) + timedelta(days=2)
    for event in events:
        for candidate in occurrences(event, low, high):
            if event_slug(candidate) == identity:
                if definition_hash(candidate) == conf.get("definition", definition_hash(instance)):
                    return "current", ""
                return "changed", f"now starts {candidate['start']} (run {instance_run_id(candidate)})"
    return "removed", f"calendar {location} no longer has it"
