"""One declaration of an event run's steps: the DAG, the run sheets and the page read it."""

from __future__ import annotations

from airflow.sdk import DAG

from airflow_live_provider.events.calendar import parse_calendar
from airflow_live_provider.events.event_steps import EVENT_STEPS, JIT_STEP, LABELS, RECORDS, TASK_IDS
from airflow_live_provider.events.run_sheet_page import render_html
from airflow_live_provider.events.run_sheets import compose_sheet
from airflow_live_provider.operators.events import event_step_tasks
from airflow_live_provider.plugins import live_events_app
from airflow_live_provider.workflow.event_timeline import JIT_WHAT

#: An instance with every section, so every declared step applies.
EVERY_VENDOR = {
    "name": "Launch",
    "start": "2030-01-01T10:00:00+08:00",
    "timezone": "Asia/Shanghai",
    "volcengine": {"vhost": "live.example.com", "app": "live", "stream": "launch"},
    "polyv": {"channel_id": "3151318", "receive_channel_names": ["launch-cn"], "viewers": ["v-1"]},
    "isdp": {"channel_ids": ["100001"], "user_account": "crew"},
}


def test_the_dag_the_sheets_and_the_page_follow_the_declaration() -> None:
    with DAG(dag_id="steps", schedule=None) as dag:
        event_step_tasks()
    assert sorted(dag.task_ids) == sorted(TASK_IDS)
    summary = dag.get_task("summary")
    assert summary.upstream_task_ids == set(TASK_IDS) - {"summary"}
    assert RECORDS[-1] == "outcome"
    [event] = parse_calendar([EVERY_VENDOR])
    sheet = compose_sheet(event, "manual", {})
    assert tuple(sheet["steps"]) == RECORDS  # the sheet lists every declared record, in order
    page = render_html(sheet)
    assert all(LABELS[name] in page for name in RECORDS)
    assert live_events_app.TASKS == TASK_IDS
    assert live_events_app.TOKEN_TASKS == {"polyv_tokens": "polyv", "isdp_tokens": "isdp"}
    assert set(JIT_STEP) == set(JIT_WHAT)
    assert all(LABELS[step.task_id] and LABELS[step.record_name] for step in EVENT_STEPS)
