"""Hourly pre-provisioning of the live events that start within the lead window.

``select_events`` reads the events calendar (param ``calendar_path``, else the Variable
``live_events_calendar``, else ``live_events.json`` next to this file), validates it (errors name
the event and the field) and keeps the events starting in ``[run time, run time + lead_hours)``.
``provision`` is mapped, one instance per event:

1. Volcengine: DescribeAuth for push must be enabled (the task fails clearly if not); GeneratePushURL.
2. Polyv: create the receive channels of the transmit channel (idempotent: existing names are
   reused, never created twice) and mint a watch token per viewer.
3. ISDP: join tokens for the event's channels.
4. The run sheet (JSON, carrying the push URLs and tokens the crew needs) goes to
   ``<output_dir>/<event>/<run id>.json``; XCom holds only a summary without secrets, and every
   secret is masked in the logs.

Re-running for the same events creates nothing new and writes a fresh run sheet. Nothing here
looks up a connection or touches the network at parse time; vendor imports live in the tasks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import DAG, Param, task

DEFAULT_CALENDAR = str(Path(__file__).with_name("live_events.json"))
CALENDAR_VARIABLE = "live_events_calendar"


def _read_text(location: str) -> str:
    from airflow.sdk import ObjectStoragePath

    uri = location if "://" in location else f"file://{Path(location).expanduser().resolve()}"
    return ObjectStoragePath(uri).read_text(encoding="utf-8")


with DAG(
    dag_id="live_event_preprovision",
    description="Provision push URLs, receive channels and tokens for upcoming live events",
    schedule="@hourly",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["live", "polyv", "volcengine", "isdp"],
    params={
        "calendar_path": Param(
            "",
            type=["null", "string"],
            description="Events calendar (JSON or YAML; path or URI). Empty: the Variable "
            f"{CALENDAR_VARIABLE}, else live_events.json next to this DAG file.",
        ),
        "lead_hours": Param(24, type="number", exclusiveMinimum=0, description="Lead window in hours"),
        "output_dir": Param(
            "",
            type=["null", "string"],
            description="Folder (any ObjectStoragePath URI) for run sheets; empty means "
            "$AIRFLOW_HOME/live_provider/run_sheets.",
        ),
    },
    doc_md=__doc__,
) as dag:

    @task
    def select_events(params: dict[str, Any] | None = None, dag_run: Any = None) -> list[dict[str, Any]]:
        """Load and validate the calendar; keep the events starting within the lead window."""
        from datetime import timedelta

        from airflow.sdk import Variable

        from airflow_live_provider.events import load_calendar, select_upcoming

        params = params or {}
        location = (
            params.get("calendar_path") or Variable.get(CALENDAR_VARIABLE, default=None) or DEFAULT_CALENDAR
        )
        events = load_calendar(_read_text(location), source=location)
        run_time = getattr(dag_run, "run_after", None) or pendulum.now("UTC")
        now = pendulum.instance(run_time).in_timezone("UTC")
        lead = timedelta(hours=float(params.get("lead_hours") or 24))
        chosen = select_upcoming(events, now, lead)
        print(
            f"calendar {location}: {len(events)} event(s), {len(chosen)} starting between "
            f"{now.isoformat()} and {(now + lead).isoformat()}: {[e['name'] for e in chosen]}"
        )
        return chosen

    @task(map_index_template="{{ event_name }}")
    def provision(
        event: dict[str, Any], params: dict[str, Any] | None = None, run_id: str | None = None
    ) -> dict[str, Any]:
        """Provision one event on every vendor it names and write its run sheet (summary as XCom)."""
        from airflow.sdk import get_current_context

        from airflow_live_provider.preprovision import provision_event, run_sheet_uri

        get_current_context()["event_name"] = event["name"]  # type: ignore[typeddict-unknown-key]
        sheet_uri = run_sheet_uri((params or {}).get("output_dir"), event["name"], run_id)
        summary = provision_event(event, sheet_uri=sheet_uri)
        print(f"event {event['name']!r}: run sheet written to {summary['run_sheet']}")
        return summary

    provision.expand(event=select_events())
