"""The event planner: one ``live_event`` DAG run per definition of an event instance.

An instance is the event's ``id`` plus, for a series, which occurrence it is (its date), so
moving, extending or re-staffing it edits the *same* instance. Its run id is that identity, its
start and a short hash of its definition (:func:`definition_hash`: start instant, duration, vendor
sections, never formatting), so Airflow's uniqueness of run ids does the deduplication: planning
twice makes nothing twice, and an edited instance gets a new run at once (the planner runs on
every calendar change). The new run reuses what the instance already holds (run sheets'
``issued/`` records) and issues only what the edit needs; the old run finds out at its next step
that it was superseded and issues nothing more.

Pure calendar arithmetic: nothing here calls a vendor or Airflow, fast enough to plan thousands of
instances in a planner run that ends in seconds.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

import pendulum

from airflow_live_provider.events.calendar import (
    GO_LIVE_WATCH_BEFORE,
    event_slug,
    find_instance,
    instance_definition,
    select_upcoming,
    validate_event,
)
from airflow_live_provider.events.notes import run_note
from airflow_live_provider.exceptions import LiveApiInputError
from airflow_live_provider.times import parse_instant

#: The DAG every instance runs in (``dags/live_event.py``).
EVENT_DAG_ID = "live_event"
#: How often the planner runs (its DAG's schedule): an instance must be planned this long before
#: its first step is due, so the lead window must cover it.
PLANNER_INTERVAL = timedelta(hours=1)
#: Longest readable part of a run id (Airflow keeps run ids up to 250 characters).
RUN_ID_NAME_CHARS = 80


def definition_hash(instance: dict[str, Any]) -> str:
    """Eight hex digits that change whenever the instance's identity or definition changes, and
    never for formatting alone (an offset written instead of a ``timezone``, a renamed event)."""
    canonical = json.dumps(
        {"instance": event_slug(instance), **instance_definition(instance)},
        sort_keys=True,
        ensure_ascii=True,
        separators=(",", ":"),
    )
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
    return pendulum.instance(parse_instant(instance["start"]))


def steps_ahead(event: dict[str, Any]) -> timedelta:
    """How long before its start an instance's earliest time-bound step is due (a token moment
    or the go-live watch); the same for every occurrence of a series."""
    leads = [
        timedelta(seconds=(event.get(v) or {}).get("token_lead_seconds") or 0) for v in ("polyv", "isdp")
    ]
    if event.get("volcengine"):
        leads.append(GO_LIVE_WATCH_BEFORE)
    return max(leads, default=timedelta(0))


def check_lead_covers(events: Iterable[dict[str, Any]], lead: timedelta) -> None:
    """Refuse a lead window too short for an hourly planner to plan every instance before its
    earliest step (else tokens would be issued after the start)."""
    worst = max(events, key=steps_ahead, default=None)
    if worst is None:
        return
    ahead = steps_ahead(worst)
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
    still running), soonest first. ``calendar`` is what the run's steps read the calendar from
    when they check their instance is current: a pinned location, or ``@planner`` (wherever the
    planner reads it at that moment)."""
    check_lead_covers(events, lead)
    planned = []
    for instance in select_upcoming(events, now, lead):
        conf = {
            "event": instance,
            "definition": definition_hash(instance),
            "calendar": calendar,
            "output_dir": output_dir or "",
        }
        planned.append({"trigger_run_id": instance_run_id(instance), "conf": conf, "note": run_note(conf)})
    return planned


#: Instances per planner chunk: each chunk is one mapped task instance that asks Airflow for its
#: runs, and one XCom of its own, so data moved grows with N (not N²) and 1,024 chunks
#: (``[core] max_map_length``) hold half a million instances.
PLAN_CHUNK = 500


def plan_chunks(planned: list[dict[str, Any]], size: int = PLAN_CHUNK) -> list[list[dict[str, Any]]]:
    """The planned runs in chunks of at most ``size``, soonest first."""
    return [planned[offset : offset + size] for offset in range(0, len(planned), size)]


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
    for key, what in (("output_dir", "a path or URI"), ("calendar", "a path, URI or @planner")):
        if conf.get(key) is not None and not isinstance(conf[key], str):
            raise LiveApiInputError(
                f"dag_run.conf.{key}", f"{conf[key]!r} is a {type(conf[key]).__name__}, not text ({what})"
            )
    definition = conf.get("definition")
    if definition is not None and not (
        isinstance(definition, str)
        and len(definition) == 8
        and all(c in "0123456789abcdef" for c in definition)
    ):
        raise LiveApiInputError(
            "dag_run.conf.definition",
            f"{definition!r} is not the planner's 8-hex definition hash; leave it out of a run made by hand",
        )
    return validate_event(conf["event"], 0)


def calendar_verdict(
    conf: dict[str, Any], instance: dict[str, Any], events: list[dict[str, Any]]
) -> tuple[str, str, dict[str, Any] | None]:
    """Whether the calendar's ``events`` still hold this run's instance as defined.

    ``(verdict, detail, current)``: ``current``; ``changed`` (the same instance, another
    definition: the run for that one takes over, reusing what was issued); or ``cancelled`` (the
    instance is gone from the calendar, or marked ``cancelled``).
    """
    found = find_instance(events, instance)
    if found is None:
        return "cancelled", "the calendar no longer has it", None
    if found.get("cancelled"):
        return "cancelled", "the calendar marks it cancelled", found
    if definition_hash(found) == conf.get("definition", definition_hash(instance)):
        return "current", "", found
    return "changed", f"now starts {found['start']} (run {instance_run_id(found)})", found
