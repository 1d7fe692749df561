"""One live event instance, on its own clock (started by ``live_event_preprovision``).

The run's ``conf`` is the instance (``{"event": {...}, "definition", "calendar", "output_dir"}``);
its run id names it (``event__<name>__<start UTC>__<hash>``), so "tonight's keynote" is one row in
the Grid. Steps depend only on what they need:

- ``volcengine`` (as soon as the run starts): push auth must be enabled, then push URLs valid
  through the event's end (+1 h). A failure here blocks nothing else.
- ``polyv_channels`` (as soon as the run starts): Polyv receive channels, idempotent.
- ``polyv_tokens`` / ``isdp_tokens``: each vendor's short-lived credentials at ``start -
  token_lead_seconds`` (defaults 600 s and 90 s), deferred to that moment in the triggerer (no
  worker slot held); issued once per run; a step woken after the event's end fails as missed.
- ``go_live`` (events with a Volcengine stream): from ``start - 5 min`` until ``start +
  volcengine.go_live_grace_minutes`` waits in the triggerer for the stream to be online; fails
  clearly if it is forbidden or still not live at the end.
- ``summary`` (after all of them): what happened, on the run sheet; fails the run naming every
  failed step.

Each step first asks the calendar (where the planner reads it now): a step of a run whose instance
was edited since issues nothing (the edit's own run takes over, keeping what was issued), one of a
cancelled or removed instance issues nothing and the run ends as cancelled. What an instance holds
is never issued again by a clear, a retry or an edit's run.

Run sheets: ``<output_dir>/<event>/<run id>.json`` plus ``latest.json`` and ``latest.html`` (a
phone-sized page); keep them private. XCom holds only summaries.

``max_active_runs`` is ``[live_provider] max_active_event_runs`` (default 256): every instance
waiting for its moments is an active run, so it must exceed the instances of the busiest lead
window. Each waiting run holds up to three triggers (two token moments and the go-live watch);
a triggerer runs ``[triggerer] capacity`` (default 1,000) of them.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG, conf

from airflow_live_provider.notifications import live_ops_failure_callback
from airflow_live_provider.operators.events import (
    EventCredentialsOperator,
    EventGoLiveSensor,
    EventProvisionOperator,
    EventSummaryOperator,
)
from airflow_live_provider.retry_policy import LiveRetryPolicy

with DAG(
    dag_id="live_event",
    description="One live event instance: provision ahead, tokens just in time, go-live, summary",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    # Only the planner starts runs of this DAG: paused, it would leave every event queued.
    is_paused_upon_creation=False,
    max_active_runs=conf.getint("live_provider", "max_active_event_runs", fallback=256),
    # Transient failures (a vendor's 5xx or throttling, storage or a calendar being rewritten) are
    # retried; final ones (bad credentials, refused input, missed) fail at once. A retry re-reads
    # the calendar and reuses what the instance holds: it never issues twice.
    default_args={
        "retries": 3,
        "retry_delay": timedelta(seconds=20),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(minutes=2),
        # A vendor's throttling waits at least its Retry-After; other transient vendor errors back
        # off at the same pace (jittered).
        "retry_policy": LiveRetryPolicy(base_delay=timedelta(seconds=20), max_delay=timedelta(minutes=2)),
        # The crew is told of each failed step when [live_provider] live_ops_conn_id names a
        # webhook connection (an HTTP connection).
        "on_failure_callback": live_ops_failure_callback(),
    },
    tags=["live", "polyv", "volcengine", "isdp"],
    doc_md=__doc__,
) as dag:
    steps = [
        EventProvisionOperator(task_id="volcengine", step="volcengine"),
        EventProvisionOperator(task_id="polyv_channels", step="polyv_channels"),
        EventCredentialsOperator(task_id="polyv_tokens", vendor="polyv"),
        EventCredentialsOperator(task_id="isdp_tokens", vendor="isdp"),
        EventGoLiveSensor(
            task_id="go_live",
            poke_interval=15,
            # To hear about an event that is not live, attach a notifier from a provider you
            # already run (this package adds no dependency), e.g. with apache-airflow-providers-slack:
            #   from airflow.providers.slack.notifications.slack import SlackNotifier
            #   on_failure_callback=SlackNotifier(
            #       slack_conn_id="slack", channel="#live-ops",
            #       text="{{ dag_run.run_id }}: {{ exception }}"),
            # or any callable taking the task context: on_failure_callback=page_the_crew.
        ),
    ]
    steps >> EventSummaryOperator(task_id="summary")
