"""Event planner: one ``live_event`` run per event instance (and per edit of it), promptly.

``plan`` reads the events calendar (param ``calendar_path``, else the Variable
``live_events_calendar``, else ``live_events.json`` in the DAGs folder; JSON or YAML), validates it
(errors name the event and the field), expands recurring events (``rrule``) into occurrences, and
keeps the instances starting within ``lead_hours`` of the run or still running, leaving out those
whose run exists already. ``start_event_runs`` (mapped, one per chunk of up to 500 new instances)
asks Airflow for each run: the run id is the instance's id, start and a hash of its definition
(e.g. ``event__weekly-webinar-2026-12-01__20261201T113000Z__3fa9c2d1``), its ``conf`` the instance.

It runs every hour **and whenever the calendar changes** (the asset ``livecalendar://planner``,
watched in the triggerer every ``[live_provider] calendar_poll_seconds``): an edited instance gets
its new run within about a minute. That run keeps what the instance was already issued and issues
only what the edit needs; the old run stands down at its next step. Nothing here looks up a
connection, reads a Variable or touches the network at parse time.

``publish_watch_list`` (on its own, beside the planning) writes the calendar's Volcengine streams and
Polyv channels into the state of the session watchers' assets (``live_stream_sessions``): what they
poll from their next poll on.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, AssetOrTimeSchedule, CronTriggerTimetable, Param, conf

from airflow_live_provider.assets import calendar_asset, sample_session_scope_assets
from airflow_live_provider.operators.event_runs import (
    PlanEventRunsOperator,
    PublishWatchListsOperator,
    StartEventRunsOperator,
)

# Each Param declares JSON Schema draft-07: Airflow validates every Param at each parse (in DAG()),
# and jsonschema first checks the schema against its draft's metaschema, which for the default
# draft (2020-12) costs about twice as much. The keywords used here mean the same in both drafts.
DRAFT_07 = {"$schema": "http://json-schema.org/draft-07/schema#"}

with DAG(
    dag_id="live_event_preprovision",
    description="Plan live events: one live_event run per event instance in the lead window",
    # Hourly for instances entering the window; at once for an edited calendar.
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("0 * * * *", timezone="UTC"),
        assets=calendar_asset(conf.getint("live_provider", "calendar_poll_seconds", fallback=60)),
    ),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    # Planning goes first: an edit's new run must not queue behind the steps of other events.
    default_args={"priority_weight": 1000},
    tags=["live", "polyv", "volcengine", "isdp"],
    params={
        "calendar_path": Param(
            "",
            type=["null", "string"],
            title="Events calendar",
            description="JSON or YAML file (path or URI). Empty: the Variable "
            "live_events_calendar, else live_events.json in the DAGs folder.",
            **DRAFT_07,
        ),
        "lead_hours": Param(
            24,
            type="number",
            exclusiveMinimum=0,
            maximum=24 * 366,
            title="Lead window (hours)",
            description="Plan events starting within this many hours of the run (at least the "
            "planner's hour plus the earliest token lead).",
            **DRAFT_07,
        ),
        "output_dir": Param(
            "",
            type=["null", "string"],
            title="Run sheet folder",
            description="Any ObjectStoragePath URI (file://, s3://...); empty means "
            "[live_provider] output_root, else $AIRFLOW_HOME/live_provider/run_sheets.",
            **DRAFT_07,
        ),
    },
    doc_md=__doc__,
) as dag:
    # Load and validate the calendar; push the new instances' runs in chunks (one XCom each).
    plan = PlanEventRunsOperator(task_id="plan")
    # One mapped task per chunk of new instances; a run made meanwhile is left alone.
    StartEventRunsOperator.partial(
        task_id="start_event_runs", trigger_dag_id="live_event", map_index_template="{{ task.chunk_key }}"
    ).expand(chunk_key=plan.output)

    # The session watchers' watch lists (live_stream_sessions): this calendar's streams and channels.
    # Inlets (never outlets: those would fire the watchers' DAG), the very assets it is scheduled on.
    PublishWatchListsOperator(task_id="publish_watch_list", inlets=sample_session_scope_assets())
