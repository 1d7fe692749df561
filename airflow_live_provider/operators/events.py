"""The tasks of an event instance's run (DAG ``live_event``), each on the instance's own clock.

Every operator reads its instance from the run's ``conf`` (the planner puts it there), so one DAG
serves every instance and the Grid shows one run per instance. Waiting for a moment uses
:class:`~airflow_live_provider.triggers.event_moment.EventMomentTrigger` (no worker slot is held;
it also wakes the step early when the calendar moved on, so a superseded or cancelled run ends
within a minute; a run made by hand without a calendar waits with Airflow's ``DateTimeTrigger``);
watching a stream uses this provider's trigger. The logic lives in
:mod:`airflow_live_provider.workflow.event_timeline`; these operators only decide when to run it.

Imports of the workflow happen inside the methods: DAG files import this module at every parse.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_live_provider.sensors.volcengine import VolcengineStreamWatchSensor

if TYPE_CHECKING:
    from airflow_live_provider.workflow.event_timeline import EventRun


def _event_run(context: Any) -> EventRun:
    from airflow_live_provider.workflow.event_timeline import event_run

    dag_run = context.get("dag_run")
    return event_run(getattr(dag_run, "conf", None), context.get("run_id"))


def _wait_until(run: EventRun, moment: datetime) -> Any:
    """The trigger a step waits for its moment with (see the module's docstring)."""
    if not run.conf.get("calendar"):
        from airflow.providers.standard.triggers.temporal import DateTimeTrigger

        return DateTimeTrigger(moment=moment)
    from airflow.sdk import conf

    from airflow_live_provider.triggers.event_moment import EventMomentTrigger

    return EventMomentTrigger(
        moment=moment,
        event=run.event,
        definition=str(run.conf["definition"]),
        calendar=str(run.conf["calendar"]),
        check_interval=conf.getint("live_provider", "calendar_poll_seconds", fallback=60),
    )


def _skip(message: str) -> None:
    from airflow.sdk.exceptions import AirflowSkipException

    raise AirflowSkipException(message)


class EventProvisionOperator(BaseOperator):
    """Provision ahead, as soon as the run starts: ``step="volcengine"`` (push auth, push URLs)
    or ``step="polyv_channels"`` (receive channels). Skipped when the instance has no such
    section. XCom: a secret-free summary."""

    ui_color = "#eef7ee"

    def __init__(
        self,
        *,
        step: str,
        volcengine_conn_id: str = "volcengine_live_default",
        polyv_conn_id: str = "polyv_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if step not in ("volcengine", "polyv_channels"):
            raise ValueError(f"step: {step!r} is not a provisioning step; use volcengine or polyv_channels")
        self.step = step
        self.volcengine_conn_id = volcengine_conn_id
        self.polyv_conn_id = polyv_conn_id

    def execute(self, context: Any) -> dict[str, Any]:
        from airflow_live_provider.events.event_steps import steps_for
        from airflow_live_provider.workflow.event_timeline import provision_push, provision_receivers

        run = _event_run(context)
        if self.step not in steps_for(run.event):
            _skip(f"event {run.name!r} has nothing for {self.step}")
        if self.step == "volcengine":
            return provision_push(run, volcengine_conn_id=self.volcengine_conn_id)
        return provision_receivers(run, polyv_conn_id=self.polyv_conn_id)


class EventCredentialsOperator(BaseOperator):
    """One vendor's short-lived credentials (``vendor="polyv"``: watch tokens; ``"isdp"``: join
    tokens), issued at ``start - token_lead_seconds`` so they are valid at the start.

    Before the moment the task defers to an ``EventMomentTrigger`` (a triggerer restart re-creates
    it from the database; an edit or a cancellation wakes it early); after it, it issues at once;
    after the event's end it fails as missed. What the instance holds is never issued again.
    XCom: ``{event, occurrence, start, step, vendor, issued_now, count, issued_at,
    seconds_before_start, valid_until}``.
    """

    ui_color = "#e8f0fe"

    def __init__(
        self,
        *,
        vendor: str,
        polyv_conn_id: str = "polyv_default",
        isdp_conn_id: str = "isdp_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if vendor not in ("polyv", "isdp"):
            raise ValueError(f"vendor: {vendor!r} issues nothing just in time; use polyv or isdp")
        self.vendor = vendor
        self.polyv_conn_id = polyv_conn_id
        self.isdp_conn_id = isdp_conn_id

    def execute(self, context: Any) -> dict[str, Any]:
        return self._issue_or_wait(context)

    def resume(self, context: Any, event: Any = None, **_: Any) -> dict[str, Any]:
        """Back from the triggerer: everything is worked out again from the run's records (woken
        early by a calendar edit: the calendar is asked first, and the step skips or waits again)."""
        return self._issue_or_wait(context, woken_by=event)

    def _issue_or_wait(self, context: Any, woken_by: Any = None) -> dict[str, Any]:
        from airflow_live_provider.events.event_steps import steps_for
        from airflow_live_provider.times import utc_iso
        from airflow_live_provider.workflow.event_timeline import (
            JIT_STEP,
            already_issued,
            check_current,
            credential_moment,
            issue_credentials,
        )

        run = _event_run(context)
        if JIT_STEP[self.vendor] not in steps_for(run.event):
            _skip(f"event {run.name!r} has no {self.vendor} credentials to issue")
        if isinstance(woken_by, dict) and woken_by.get("status") in ("changed", "cancelled"):
            check_current(run, JIT_STEP[self.vendor])
        moment = credential_moment(run, self.vendor)
        if not already_issued(run, self.vendor) and datetime.now(UTC) < moment:
            self.log.info("event %r: waiting in the triggerer until %s", run.name, utc_iso(moment))
            self.defer(trigger=_wait_until(run, moment), method_name="resume")
        summary = issue_credentials(
            run, self.vendor, polyv_conn_id=self.polyv_conn_id, isdp_conn_id=self.isdp_conn_id
        )
        self.log.info(
            "event %r: %s %s credential(s) issued at %s, %s s before the start",
            run.name,
            summary["count"],
            self.vendor,
            summary["issued_at"],
            summary["seconds_before_start"],
        )
        return summary


class EventGoLiveSensor(VolcengineStreamWatchSensor):
    """Watch an instance's Volcengine stream go live, in the triggerer, around its start.

    The watch runs from ``start - 5 min`` until ``start + volcengine.go_live_grace_minutes``
    (default 10): it first waits for the window to open (an ``EventMomentTrigger``), then polls
    DescribeLiveStreamState (this provider's trigger). Online: success, recorded with the time.
    Forbidden: fails at once. Still not live at the end of the window: fails, naming the stream
    and its last state. A run that starts after the window closed fails as missed. Every outcome
    is written on the run sheet.

    The stream is the instance's (``volcengine`` in the run's conf): it is known once the task
    has read its run, so the sensor takes no stream arguments and holds none at parse time
    (:meth:`watched_stream` is None until then; the console link names the stream after).
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("poke_interval", 15)
        super().__init__(deferrable=True, **kwargs)
        self._run: EventRun | None = None

    def watched_stream(self) -> dict[str, Any] | None:
        """The instance's stream once the run is read (:meth:`_load`), else None."""
        if self._run is None or not self._run.event.get("volcengine"):
            return None
        volc = self._run.event["volcengine"]
        return {"vhost": volc["vhost"], "domain": None, "app": volc["app"], "stream": volc["stream"]}

    def execute(self, context: Any) -> Any:
        from airflow.sdk.exceptions import AirflowFailException

        from airflow_live_provider.times import utc_iso
        from airflow_live_provider.workflow.event_timeline import check_current, record_go_live, reuse_go_live

        run = self._load(context)
        check_current(run, "go_live")
        if reuse_go_live(run):  # a clear, a retry or an edit's new run: live already, nothing to watch
            self.log.info("event %r: the stream was live already; nothing to watch", run.name)
            return None
        opens, closes = self._window()
        now = datetime.now(UTC)
        if now >= closes:
            message = (
                f"missed: the go-live watch of event {run.name!r} was due from {utc_iso(opens)} to "
                f"{utc_iso(closes)}; the step ran at {utc_iso(now)}"
            )
            record_go_live(run, "missed", error=message)
            raise AirflowFailException(message)
        if now < opens:
            self.log.info("event %r: waiting in the triggerer until %s to watch the stream", run.name, opens)
            self.defer(trigger=_wait_until(run, opens), method_name="watch")
        return self.watch(context)

    def watch(self, context: Any, event: Any = None) -> Any:
        """The window is open: watch the stream (deferring to this provider's trigger), unless
        the calendar moved on meanwhile (woken early: the step skips, or waits again)."""
        from airflow_live_provider.workflow.event_timeline import check_current

        run = self._load(context)
        check_current(run, "go_live")
        opens = self._window()[0]
        if datetime.now(UTC) < opens:
            self.defer(trigger=_wait_until(run, opens), method_name="watch")
        return self._recorded(lambda: super(EventGoLiveSensor, self).execute(context))

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> Any:
        self._load(context)  # a resumed task is a fresh object: read its run (and stream) again
        return self._recorded(lambda: super(EventGoLiveSensor, self).execute_complete(context, event))

    def _recorded(self, watch: Any) -> Any:
        """Run the watch; write its outcome (live at, or the failure) on the run sheet."""
        from airflow.sdk.exceptions import TaskDeferred

        from airflow_live_provider.times import utc_iso
        from airflow_live_provider.workflow.event_timeline import (
            check_current,
            record_go_live,
            refresh_current,
        )

        assert self._run is not None
        try:
            result = watch()
        except TaskDeferred:
            raise
        except Exception as exc:
            # Not live by the end of a window that an edit moved, or of a cancelled event: no failure.
            check_current(self._run, "go_live")
            record_go_live(self._run, "failed", error=str(exc))
            raise
        refresh_current(self._run)
        record_go_live(self._run, "done", live_at=utc_iso())
        return result

    def _load(self, context: Any) -> EventRun:
        from airflow_live_provider.events.event_steps import steps_for

        run = _event_run(context)
        if "go_live" not in steps_for(run.event):
            _skip(f"event {run.name!r} has no Volcengine stream to watch")
        self._run = run
        return run

    def _window(self) -> tuple[datetime, datetime]:
        from airflow_live_provider.events.calendar import go_live_window

        assert self._run is not None
        window = go_live_window(self._run.event)
        assert window is not None  # _load skipped instances without a stream
        return window

    def _deadline_for(self, context: Any) -> float:
        return self._window()[1].timestamp()

    def _timeout_seconds(self) -> float:
        opens, closes = self._window()
        return (closes - opens).total_seconds()


class EventSummaryOperator(BaseOperator):
    """After every other step (``trigger_rule="all_done"``): what happened, on the run sheet and
    as a secret-free XCom; fails the run naming each failed step and why."""

    ui_color = "#f5f0e8"

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("trigger_rule", "all_done")
        super().__init__(**kwargs)

    def execute(self, context: Any) -> dict[str, Any]:
        from airflow_live_provider.workflow.event_timeline import summarize

        return summarize(_event_run(context))


def event_step_tasks() -> list[BaseOperator]:
    """The tasks of a ``live_event`` DAG, one per declared step (``events.event_steps``), each
    step before the summary. Call it inside the DAG's context."""
    from airflow_live_provider.events.event_steps import EVENT_STEPS

    tasks: list[BaseOperator] = []
    summaries: list[BaseOperator] = []
    for step in EVENT_STEPS:
        if step.kind == "provision":
            tasks.append(EventProvisionOperator(task_id=step.task_id, step=step.task_id))
        elif step.kind == "credentials":
            tasks.append(EventCredentialsOperator(task_id=step.task_id, vendor=str(step.jit_vendor)))
        elif step.kind == "go_live":
            tasks.append(EventGoLiveSensor(task_id=step.task_id, poke_interval=15))
        else:
            summaries.append(EventSummaryOperator(task_id=step.task_id))
    for summary in summaries:
        for task in tasks:
            task >> summary
    return [*tasks, *summaries]
