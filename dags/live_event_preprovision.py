"""Hourly event planner: one ``live_event`` run per event instance, so no event waits for another.

``plan`` reads the events calendar (param ``calendar_path``, else the Variable
``live_events_calendar``, else ``live_events.json`` next to this file), validates it (errors name
the event and the field), expands recurring events (``rrule``) into occurrences, and keeps the
instances starting within ``lead_hours`` of the run or still running, leaving out those whose run
exists already. ``start_event_run`` (mapped, one per new instance) asks Airflow for the run: the run
id is the instance's name, start and a hash of its definition (e.g.
``event__weekly-webinar__20261201T113000Z__3fa9c2d1``), its ``conf`` the instance. A run made
meanwhile is left alone (the task is skipped), so planning every hour makes nothing twice; an edited
instance gets a new run and the old one stands down at its next step. A planner run never waits
for an event: it ends in seconds.

Each ``live_event`` run then follows its instance's own clock (see that DAG's documentation):
provisioning ahead, each vendor's short-lived tokens at their own moment, the go-live watch, and a
summary. Nothing here looks up a connection or touches the network at parse time.

``publish_watch_list`` (on its own, beside the planning) writes the calendar's Volcengine streams and
Polyv channels into the state of the session watchers' assets (``live_stream_sessions``): what they
poll from their next poll on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import DAG, Asset, Param, task

from airflow_live_provider.assets import DEFAULT_SESSION_SCOPES, session_scope_name
from airflow_live_provider.operators.event_runs import StartEventRunOperator

DEFAULT_CALENDAR = str(Path(__file__).with_name("live_events.json"))
CALENDAR_VARIABLE = "live_events_calendar"

with DAG(
    dag_id="live_event_preprovision",
    description="Plan live events: one live_event run per event instance in the lead window",
    schedule="@hourly",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["live", "polyv", "volcengine", "isdp"],
    params={
        "calendar_path": Param(
            "",
            type=["null", "string"],
            title="Events calendar",
            description="JSON or YAML file (path or URI). Empty: the Variable "
            f"{CALENDAR_VARIABLE}, else live_events.json next to this DAG file.",
        ),
        "lead_hours": Param(
            24,
            type="number",
            exclusiveMinimum=0,
            maximum=24 * 366,
            title="Lead window (hours)",
            description="Plan events starting within this many hours of the run (at least the "
            "planner's hour plus the earliest token lead).",
        ),
        "output_dir": Param(
            "",
            type=["null", "string"],
            title="Run sheet folder",
            description="Any ObjectStoragePath URI (file://, s3://...); empty means "
            "$AIRFLOW_HOME/live_provider/run_sheets.",
        ),
    },
    doc_md=__doc__,
) as dag:

    @task(multiple_outputs=False)
    def plan(
        params: dict[str, Any] | None = None, dag_run: Any = None, ti: Any = None
    ) -> list[dict[str, Any]]:
        """Load and validate the calendar; one ``{trigger_run_id, conf}`` per instance without a run."""
        from airflow.sdk import Variable, conf

        from airflow_live_provider.events.calendar import lead_window, load_calendar, next_start
        from airflow_live_provider.events.planner import (
            plan_event_runs,
            read_calendar_text,
            without_existing_runs,
        )

        params = params or {}
        location = (
            params.get("calendar_path") or Variable.get(CALENDAR_VARIABLE, default=None) or DEFAULT_CALENDAR
        )
        events = load_calendar(read_calendar_text(location), source=location)
        run_time = getattr(dag_run, "run_after", None) or pendulum.now("UTC")
        now = pendulum.instance(run_time).in_timezone("UTC")
        lead = lead_window(params.get("lead_hours") or 24)
        planned = plan_event_runs(events, now, lead, calendar=location, output_dir=params.get("output_dir"))
        new = without_existing_runs(planned, ti)
        print(
            f"calendar {location}: {len(events)} event(s), {len(planned)} instance(s) starting between "
            f"{now.isoformat()} and {(now + lead).isoformat()} or running, {len(planned) - len(new)} of "
            f"them with a live_event run already; new runs: {[p['trigger_run_id'] for p in new]}"
        )
        limit = conf.getint("live_provider", "max_active_event_runs", fallback=256)
        if len(planned) > limit:
            print(
                f"WARNING: {len(planned)} instances in the window but [live_provider] max_active_event_runs "
                f"is {limit}: the later ones queue until earlier events end, and may get their tokens "
                "late. Raise it (and run a triggerer per ~330 waiting instances) or shorten lead_hours."
            )
        if not planned:
            upcoming = next_start(events, now)
            print(
                f"next event: {upcoming['name']!r} at {upcoming['start']}"
                if upcoming
                else "no event starts within the next year"
            )
        return new

    # One mapped task per new instance; a run made meanwhile (another planner run) marks its task
    # skipped. No logical date: runs are told apart by their run id alone.
    StartEventRunOperator.partial(
        task_id="start_event_run",
        trigger_dag_id="live_event",
        map_index_template="{{ task.trigger_run_id }}",
    ).expand_kwargs(plan())

    # The session watchers' watch lists (live_stream_sessions): this calendar's streams and channels.
    @task(inlets=[Asset.ref(name=session_scope_name(v, c)) for v, c in DEFAULT_SESSION_SCOPES])
    def publish_watch_list(
        params: dict[str, Any] | None = None, asset_state_store: Any = None
    ) -> dict[str, int]:
        """Write each vendor scope's watch list into its asset's state (``watch_list``)."""
        from airflow.sdk import Variable

        from airflow_live_provider.assets import WATCH_LIST_KEY
        from airflow_live_provider.events.calendar import load_calendar
        from airflow_live_provider.events.planner import read_calendar_text
        from airflow_live_provider.events.session_records import watch_lists

        params = params or {}
        location = (
            params.get("calendar_path") or Variable.get(CALENDAR_VARIABLE, default=None) or DEFAULT_CALENDAR
        )
        events = load_calendar(read_calendar_text(location), source=location)
        lists = watch_lists(events, calendar=location, published_at=pendulum.now("UTC").isoformat())
        for vendor, conn_id in DEFAULT_SESSION_SCOPES:
            asset_state_store[Asset.ref(name=session_scope_name(vendor, conn_id))].set(
                WATCH_LIST_KEY, lists[vendor]
            )
            print(f"{vendor} sessions ({conn_id}): watching {len(lists[vendor]['targets'])} from {location}")
        return {vendor: len(lists[vendor]["targets"]) for vendor, _ in DEFAULT_SESSION_SCOPES}

    publish_watch_list()
