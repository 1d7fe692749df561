"""Stream sessions as Airflow events: a run each time a watched stream goes live and each time it ends.

Scheduled on one asset per vendor connection (``stream-sessions/volcengine/volcengine_live_default``
and ``stream-sessions/polyv/polyv_default``), each with one session watcher in the triggerer that
polls the streams on its watch list: the Volcengine streams and Polyv channels of the events
calendar, as the planner (``live_event_preprovision``, task ``publish_watch_list``) read it from its
param, the Variable ``live_events_calendar`` or an object store, written into the asset's state at
every planner run. Nothing is read at parse time (no file, connection, Variable or network). Any of
them firing starts a run (``AssetAny``); each event names its stream (``asset_uri``, ``target``).

``record`` writes each event as a line of ``<output_dir>/sessions/<YYYY-MM>.jsonl`` (stream,
started, ended, duration; a replayed event is not written twice) and, when a session ended, adds it
to the run sheet of the calendar's event instance on that stream (its ``latest.html`` and the Live
events page show it). Replay by hand: trigger with conf ``{"events": [<session event>, ...]}``;
however many events a run holds, each month's file is written and each sheet published once.
One run at a time, so two runs never rewrite the same month's file together.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import DAG, AssetAny, Param, task

from airflow_live_provider.assets import sample_session_scope_assets

# Each Param declares JSON Schema draft-07: Airflow validates every Param at each parse (in DAG()),
# and jsonschema first checks the schema against its draft's metaschema, which for the default
# draft (2020-12) costs about twice as much. The keywords used here mean the same in both drafts.
DRAFT_07 = {"$schema": "http://json-schema.org/draft-07/schema#"}

CALENDAR_VARIABLE = "live_events_calendar"

# How often to poll, how long offline means ended: [live_provider] session_poll_seconds (30) and
# session_offline_grace_seconds (60).
watched = sample_session_scope_assets()

with DAG(
    dag_id="live_stream_sessions",
    description="Record every live stream session (started, ended) and put it on its event's run sheet",
    schedule=AssetAny(*watched),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["live", "polyv", "volcengine", "sessions"],
    params={
        "output_dir": Param(
            "",
            type=["null", "string"],
            title="Run sheet folder",
            description="Where the event runs write their sheets (sessions go to its sessions/ folder); "
            "empty means $AIRFLOW_HOME/live_provider/run_sheets.",
            **DRAFT_07,
        ),
        "calendar_path": Param(
            "",
            type=["null", "string"],
            title="Events calendar",
            description=f"To find an ended session's event. Empty: the Variable {CALENDAR_VARIABLE}, "
            "else live_events.json in the DAGs folder.",
            **DRAFT_07,
        ),
    },
    doc_md=__doc__,
) as dag:

    @task
    def record(
        triggering_asset_events: Any = None, dag_run: Any = None, params: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The run's session events on record (JSON Lines, and ended sessions on their run sheets)."""
        from airflow_live_provider.calendar_source import calendar_location
        from airflow_live_provider.events.session_records import record_sessions, session_events

        params = params or {}
        events = session_events(triggering_asset_events, getattr(dag_run, "conf", None))
        calendar = calendar_location(params.get("calendar_path"))
        summary = record_sessions(
            events,
            output_dir=params.get("output_dir"),
            calendar=calendar,
            run_id=getattr(dag_run, "run_id", None),
        )
        for event in summary["events"]:
            print(f"{event['kind']}: {event['stream']} session {event['sessionId'] or event['started']}")
        return summary

    record()
