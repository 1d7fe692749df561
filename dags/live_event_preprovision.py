"""Hourly event timeline: provision ahead, then issue short-lived credentials just in time.

``select_events`` reads the events calendar (param ``calendar_path``, else the Variable
``live_events_calendar``, else ``live_events.json`` next to this file), validates it (errors name
the event and the field), expands recurring events (``rrule``) into occurrences, and keeps the
event instances starting within ``lead_hours`` of the run or still running. Each instance gets a
mapped task group ``event``:

1. ``provision`` (every run in the lead window, idempotent): Volcengine push-auth check (fails
   before anything is created), push URLs valid through the event's end, Polyv receive channels.
   The run sheet lists the just-in-time credentials still to come, and when.
2. ``issue_tokens`` (just in time): Polyv watch tokens and ISDP join tokens issued at
   ``start - token_lead_seconds`` (defaults 600 s and 90 s), so they are valid when the event
   starts. Only the run whose hour contains that moment waits for it, deferred to the triggerer
   (no worker slot held); a run after the moment issues at once; nothing is issued twice.
3. ``go_live`` (events with a Volcengine stream): from ``start - 5 min`` until ``start +
   volcengine.go_live_grace_minutes`` (default 10), waits in the triggerer for the stream to be
   online (DescribeLiveStreamState); fails the event's group clearly if it is forbidden or still
   not live at the end. Runs outside that window skip it.

Run sheets: ``<output_dir>/<event>/<run id>.json`` plus ``latest.json`` and ``latest.html`` (a
phone-sized page) per event instance; keep them private. XCom holds only summaries; every secret
is masked in the logs. Nothing here looks up a connection or touches the network at parse time.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import DAG, Param, task, task_group

from airflow_live_provider.operators.events import EventGoLiveSensor, EventJustInTimeCredentialsOperator

DEFAULT_CALENDAR = str(Path(__file__).with_name("live_events.json"))
CALENDAR_VARIABLE = "live_events_calendar"
#: The schedule's interval: a run waits only for just-in-time moments before the next run.
RUN_WINDOW = timedelta(hours=1)


def _read_text(location: str) -> str:
    from airflow.sdk import ObjectStoragePath

    uri = location if "://" in location else f"file://{Path(location).expanduser().resolve()}"
    return ObjectStoragePath(uri).read_text(encoding="utf-8")


with DAG(
    dag_id="live_event_preprovision",
    description="Provision live events ahead and issue their short-lived tokens just in time",
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
            description="Provision events starting within this many hours of the run.",
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
    def select_events(params: dict[str, Any] | None = None, dag_run: Any = None) -> list[dict[str, Any]]:
        """Load and validate the calendar; keep the event instances in the lead window."""
        from airflow.sdk import Variable

        from airflow_live_provider.events import lead_window, load_calendar, next_start, select_upcoming

        params = params or {}
        location = (
            params.get("calendar_path") or Variable.get(CALENDAR_VARIABLE, default=None) or DEFAULT_CALENDAR
        )
        events = load_calendar(_read_text(location), source=location)
        run_time = getattr(dag_run, "run_after", None) or pendulum.now("UTC")
        now = pendulum.instance(run_time).in_timezone("UTC")
        lead = lead_window(params.get("lead_hours") or 24)
        chosen = select_upcoming(events, now, lead)
        print(
            f"calendar {location}: {len(events)} event(s), {len(chosen)} instance(s) starting between "
            f"{now.isoformat()} and {(now + lead).isoformat()} or running: "
            f"{[(e['name'], e['start']) for e in chosen]}"
        )
        if not chosen:
            upcoming = next_start(events, now)
            print(
                f"next event: {upcoming['name']!r} at {upcoming['start']}"
                if upcoming
                else "no event starts within the next year"
            )
        return chosen

    # One at a time: two occurrences of a series in one run share their receive channels, and
    # creating the same names in parallel would race (the creates are idempotent, not atomic).
    @task(map_index_template="{{ event_name }}", multiple_outputs=False, max_active_tis_per_dagrun=1)
    def provision(
        live_event: dict[str, Any], params: dict[str, Any] | None = None, run_id: str | None = None
    ) -> dict[str, Any]:
        """Push auth, push URLs, receive channels; the run sheet (secret-free summary as XCom)."""
        from airflow.sdk import get_current_context

        from airflow_live_provider.preprovision import provision_ahead

        get_current_context()["event_name"] = live_event["name"]  # type: ignore[typeddict-unknown-key]
        summary = provision_ahead(live_event, output_dir=(params or {}).get("output_dir"), run_id=run_id)
        print(
            f"event {live_event['name']!r}: run sheet {summary['run_sheet']}, page {summary['latest_page']}"
        )
        return summary

    @task_group(group_id="event")
    def event_timeline(live_event: dict[str, Any]) -> None:
        """One event instance: provisioning ahead; short-lived credentials just in time; go-live."""
        ahead = provision(live_event)
        ahead >> EventJustInTimeCredentialsOperator(
            task_id="issue_tokens",
            live_event=live_event,
            output_dir="{{ params.output_dir or '' }}",
            run_window=RUN_WINDOW,
            map_index_template="{{ task.live_event['name'] }}",
        )
        ahead >> EventGoLiveSensor(
            task_id="go_live",
            live_event=live_event,
            run_window=RUN_WINDOW,
            poke_interval=15,
            map_index_template="{{ task.live_event['name'] }}",
            # To hear about an event that is not live, attach a notifier from a provider you
            # already run (this package adds no dependency), e.g. with apache-airflow-providers-slack:
            #   from airflow.providers.slack.notifications.slack import SlackNotifier
            #   on_failure_callback=SlackNotifier(
            #       slack_conn_id="slack", channel="#live-ops",
            #       text="{{ task.live_event['name'] }}: {{ exception }}"),
            # or any callable taking the task context: on_failure_callback=page_the_crew.
        )

    event_timeline.expand(live_event=select_events())
