"""Stream sessions as Airflow events: a run each time a watched stream goes live and each time it ends.

Scheduled on one asset per stream of the events calendar (``live_events.json`` next to this file,
read at parse time: a local file, never a connection, Variable or the network): each Volcengine
stream is ``volclive://<vhost>/<app>/<stream>`` and each Polyv channel
``polyv://polyv_default/channels/<id>``, each with a session watcher in the triggerer (one shared
poll per connection, see the README). Any of them firing starts a run (``AssetAny``).

``record`` writes each event as a line of ``<output_dir>/sessions/<YYYY-MM>.jsonl`` (stream,
started, ended, duration; a replayed event is not written twice) and, when a session ended, adds it
to the run sheet of the calendar's event instance on that stream (its ``latest.html`` and the Live
events page show it). Replay by hand: trigger with conf ``{"events": [<session event>, ...]}``.
One run at a time, so two runs never rewrite the same month's file together.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import DAG, AssetAny, Param, conf, task

from airflow_live_provider.assets import polyv_channel_asset, volcengine_stream_asset
from airflow_live_provider.events.session_records import watched_streams

CALENDAR = Path(__file__).with_name("live_events.json")
CALENDAR_VARIABLE = "live_events_calendar"

# How often to poll, how long offline means ended: [live_provider] session_poll_seconds (30) and
# session_offline_grace_seconds (60).
timing = {
    "poll_interval": conf.getint("live_provider", "session_poll_seconds", fallback=30),
    "offline_grace_seconds": conf.getint("live_provider", "session_offline_grace_seconds", fallback=60),
}
streams, channels = watched_streams(CALENDAR.read_text(encoding="utf-8"))
watched = [volcengine_stream_asset(vhost, app, stream, **timing) for vhost, app, stream in streams]
watched += [polyv_channel_asset(channel_id, **timing) for channel_id in channels]

with DAG(
    dag_id="live_stream_sessions",
    description="Record every live stream session (started, ended) and put it on its event's run sheet",
    schedule=AssetAny(*watched) if watched else None,
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
        ),
        "calendar_path": Param(
            "",
            type=["null", "string"],
            title="Events calendar",
            description=f"To find an ended session's event. Empty: the Variable {CALENDAR_VARIABLE}, "
            "else live_events.json next to this DAG file.",
        ),
    },
    doc_md=__doc__,
) as dag:

    @task
    def record(
        triggering_asset_events: Any = None, dag_run: Any = None, params: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The run's session events on record (JSON Lines, and ended sessions on their run sheets)."""
        from airflow.sdk import Variable

        from airflow_live_provider.events.session_records import record_sessions, session_events

        params = params or {}
        events = session_events(triggering_asset_events, getattr(dag_run, "conf", None))
        calendar = (
            params.get("calendar_path") or Variable.get(CALENDAR_VARIABLE, default=None) or str(CALENDAR)
        )
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
