"""Start the planner's new ``live_event`` runs, a chunk of instances per task instance.

The planner maps this operator over its chunks (``events.planner.plan_chunks``): each task
instance pulls only its own chunk's XCom and asks Airflow for each run with the same Task SDK
message ``TriggerDagRunOperator`` uses (an existing run id is left alone, as
``skip_when_already_exists`` does), so 5,000 new instances take 10 task instances, far inside
``[core] max_map_length``, and the data moved grows with N, not N².
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator


class PlanEventRunsOperator(BaseOperator):
    """The planner's ``plan`` task (see :func:`plan_new_runs`); XCom: the chunk keys. A plain
    operator, not ``@task``: the TaskFlow decorator's imports cost ~11 ms at every parse of the
    planner file, more than the bare DAG file itself."""

    ui_color = "#ffefeb"

    def execute(self, context: Any) -> list[str]:
        return plan_new_runs(dict(context.get("params") or {}), context.get("dag_run"), context["ti"])


class PublishWatchListsOperator(BaseOperator):
    """Write each session-watcher scope's watch list (the calendar's streams and channels, where
    the planner reads it) into the state of its asset, one of this task's ``inlets``
    (``assets.sample_session_scope_assets``). XCom: how many targets per vendor."""

    ui_color = "#ffefeb"

    def execute(self, context: Any) -> dict[str, int]:
        import pendulum

        from airflow_live_provider.asset_names import WATCH_LIST_KEY
        from airflow_live_provider.calendar_source import calendar_location
        from airflow_live_provider.events.calendar import read_calendar
        from airflow_live_provider.events.session_records import watch_lists

        params = context.get("params") or {}
        location = calendar_location(params.get("calendar_path"))
        events = read_calendar(location)
        lists = watch_lists(events, calendar=location, published_at=pendulum.now("UTC").isoformat())
        store = context["asset_state_store"]
        for asset in self.inlets:
            vendor = asset.name.split("/")[1]
            store[asset].set(WATCH_LIST_KEY, lists[vendor])
            self.log.info("%s: watching %d from %s", asset.name, len(lists[vendor]["targets"]), location)
        return {vendor: len(lists[vendor]["targets"]) for vendor in lists}


class StartEventRunsOperator(BaseOperator):
    """Ask Airflow for one run of ``trigger_dag_id`` per ``{trigger_run_id, conf}`` in the XCom
    ``chunk_key`` of task ``plan_task_id``; a run that exists already is left alone (run ids are
    unique per DAG, so a second planner never makes a second run). No logical date: event runs
    are told apart by their run id alone. XCom: ``{"started": n, "existing": n}``."""

    template_fields: Sequence[str] = ("chunk_key",)
    ui_color = "#ffefeb"

    def __init__(
        self, *, trigger_dag_id: str, chunk_key: str, plan_task_id: str = "plan", **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.trigger_dag_id = trigger_dag_id
        self.chunk_key = chunk_key
        self.plan_task_id = plan_task_id

    def execute(self, context: Any) -> dict[str, int]:
        import json

        from airflow.sdk.exceptions import AirflowException

        chunk = context["ti"].xcom_pull(task_ids=self.plan_task_id, key=self.chunk_key)
        if not isinstance(chunk, list):
            raise AirflowException(
                f"XCom {self.chunk_key!r} of task {self.plan_task_id!r} holds no planned runs; "
                "re-run the planner"
            )
        started = existing = 0
        for planned in chunk:
            json.dumps(planned["conf"])  # fails here, clearly, rather than in the API server
            if trigger_run(
                self.trigger_dag_id, planned["trigger_run_id"], planned["conf"], planned.get("note")
            ):
                started += 1
                self.log.info("started run %s", planned["trigger_run_id"])
            else:
                existing += 1
                self.log.info("run %s exists already", planned["trigger_run_id"])
        return {"started": started, "existing": existing}


def trigger_run(dag_id: str, run_id: str, conf: dict[str, Any], note: str | None = None) -> bool:
    """Ask the API server for the run, as the task runner does for ``DagRunTriggerException``.
    True when it was made now, False when it existed already; any other answer raises."""
    from airflow.sdk.exceptions import AirflowException, ErrorType
    from airflow.sdk.execution_time import task_runner
    from airflow.sdk.execution_time.comms import ErrorResponse, TriggerDagRun

    answer = task_runner.SUPERVISOR_COMMS.send(
        TriggerDagRun(
            dag_id=dag_id, run_id=run_id, conf=conf, logical_date=None, reset_dag_run=False, note=note
        )
    )
    if isinstance(answer, ErrorResponse):
        if answer.error == ErrorType.DAGRUN_ALREADY_EXISTS:
            return False
        raise AirflowException(f"run {run_id} of {dag_id} could not be made: {answer.error} {answer.detail}")
    return True


def plan_new_runs(params: dict[str, Any], dag_run: Any, ti: Any) -> list[str]:
    """The planner's ``plan`` task: the calendar where the planner reads it, its instances in the
    lead window without a run yet, pushed as chunks (XCom keys ``chunk-0000``...); returns the keys."""
    import pendulum
    from airflow.sdk import conf

    from airflow_live_provider.calendar_source import PLANNER_CALENDAR, calendar_location
    from airflow_live_provider.events.calendar import lead_window, next_start, read_calendar
    from airflow_live_provider.events.planner import plan_chunks, plan_event_runs, without_existing_runs
    from airflow_live_provider.outputs import check_output_location, worker_local_storage

    # Written into every run's conf: checked here, once, before the calendar is read.
    output_dir = check_output_location(params.get("output_dir"), "output_dir", folder=True, optional=True)
    pinned = (params.get("calendar_path") or "").strip() or None  # written in the runs' conf
    location = calendar_location(pinned)
    events = read_calendar(location)
    if warning := worker_local_storage(output_dir, "output_dir"):
        print(warning)
    run_time = getattr(dag_run, "run_after", None) or pendulum.now("UTC")
    now = pendulum.instance(run_time).in_timezone("UTC")
    lead = lead_window(params.get("lead_hours") or 24)
    planned = plan_event_runs(events, now, lead, calendar=pinned or PLANNER_CALENDAR, output_dir=output_dir)
    new = without_existing_runs(planned, ti)
    shown = [p["trigger_run_id"] for p in new[:20]] + ([f"... {len(new) - 20} more"] if len(new) > 20 else [])
    print(
        f"calendar {location}: {len(events)} event(s), {len(planned)} instance(s) starting between "
        f"{now.isoformat()} and {(now + lead).isoformat()} or running, {len(planned) - len(new)} of "
        f"them with a live_event run already; new runs: {shown}"
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
    keys = []
    for index, chunk in enumerate(plan_chunks(new)):
        key = f"chunk-{index:04d}"
        ti.xcom_push(key=key, value=chunk)
        keys.append(key)
    return keys
