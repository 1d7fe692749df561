"""The event timeline's triggerer steps: short-lived credentials just in time, the go-live watch.

Waiting for a moment uses Airflow's own
:class:`~airflow.providers.standard.triggers.temporal.DateTimeTrigger` (no worker slot is held);
watching a stream uses this provider's trigger. The logic lives in
:mod:`airflow_live_provider.preprovision`; these operators only decide when to run it.

Imports of the workflow happen inside the methods: DAG files import this module at every parse.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pendulum
from airflow.sdk import BaseOperator

from airflow_live_provider.sensors.volcengine import VolcengineStreamLiveSensor


class EventJustInTimeCredentialsOperator(BaseOperator):
    """Issue an event instance's Polyv watch tokens and ISDP join tokens at ``start - lead``.

    ``live_event`` is one validated calendar instance (as ``select_events`` returns it). Only
    credentials due before the next scheduled run (``run_window`` after this run's time) are
    handled here: a future moment is waited for by deferring, a past one is issued at once, and
    credentials already issued for the instance (``latest.json``) are never issued again. XCom:
    a secret-free summary ``{event, occurrence, start, issued_now: [vendor...], waited,
    just_in_time: {vendor: {status, issue_at, count, valid_until}}, latest_sheet}``.
    """

    template_fields: Sequence[str] = ("live_event", "output_dir")
    ui_color = "#e8f0fe"

    def __init__(
        self,
        *,
        live_event: dict[str, Any],
        output_dir: str | None = None,
        run_window: timedelta = timedelta(hours=1),
        polyv_conn_id: str = "polyv_default",
        isdp_conn_id: str = "isdp_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.live_event = live_event
        self.output_dir = output_dir
        self.run_window = run_window
        self.polyv_conn_id = polyv_conn_id
        self.isdp_conn_id = isdp_conn_id

    def execute(self, context: Any) -> dict[str, Any]:
        return self._issue_or_wait(context, waited=False)

    def resume(self, context: Any, event: Any = None, **_: Any) -> dict[str, Any]:
        """Back from the triggerer (``event`` is the trigger's payload, the moment reached).

        What is still due is worked out again from ``latest.json``, not carried in the deferral:
        ``airflow dags test`` drops a deferral's kwargs, and a retried task must start over anyway.
        """
        return self._issue_or_wait(context, waited=True)

    def _issue_or_wait(self, context: Any, *, waited: bool) -> dict[str, Any]:
        from airflow.providers.standard.triggers.temporal import DateTimeTrigger

        from airflow_live_provider.outputs import utc_iso
        from airflow_live_provider.preprovision import due_credentials, issue_just_in_time, jit_status

        dag_run = context.get("dag_run")
        run_time = pendulum.instance(getattr(dag_run, "run_after", None) or datetime.now(UTC))
        name = self.live_event.get("name")
        due = due_credentials(
            self.live_event, output_dir=self.output_dir, run_time=run_time, run_window=self.run_window
        )
        now = datetime.now(UTC)
        ready = [vendor for vendor, moment in due.items() if moment <= now]
        if ready:
            issue_just_in_time(
                self.live_event,
                ready,
                output_dir=self.output_dir,
                run_id=str(context.get("run_id") or "manual"),
                polyv_conn_id=self.polyv_conn_id,
                isdp_conn_id=self.isdp_conn_id,
            )
        later = {vendor: moment for vendor, moment in due.items() if vendor not in ready}
        if later:
            vendor, moment = min(later.items(), key=lambda item: item[1])
            self.log.info(
                "event %r: waiting in the triggerer until %s to issue %s", name, utc_iso(moment), vendor
            )
            self.defer(trigger=DateTimeTrigger(moment=moment), method_name="resume")
        if not due:
            self.log.info("event %r: no just-in-time credential is due before the next run", name)
        return {
            "event": name,
            "occurrence": self.live_event.get("occurrence"),
            "start": self.live_event.get("start"),
            "issued_now": ready,
            "waited": waited,
        } | jit_status(self.live_event, output_dir=self.output_dir)


class EventGoLiveSensor(VolcengineStreamLiveSensor):
    """Watch an event instance's Volcengine stream go live, in the triggerer, around its start.

    The watch runs from ``start - 5 min`` until ``start + volcengine.go_live_grace_minutes``
    (default 10): it first waits for the window to open (a ``DateTimeTrigger``), then polls
    DescribeLiveStreamState (this provider's trigger). Online: success. Forbidden: fails at once.
    Still not live at the end of the window: fails, naming the stream and its last state. Only
    the run whose schedule interval contains the window's opening watches (or a later run while
    the window is still open); other runs skip, as do events without a Volcengine section.
    """

    template_fields: Sequence[str] = ("live_event",)

    def __init__(
        self,
        *,
        live_event: dict[str, Any],
        run_window: timedelta = timedelta(hours=1),
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("poke_interval", 15)
        super().__init__(app="", stream="", deferrable=True, **kwargs)
        self.live_event = live_event
        self.run_window = run_window

    def execute(self, context: Any) -> Any:
        from airflow.providers.standard.triggers.temporal import DateTimeTrigger
        from airflow.sdk.exceptions import AirflowSkipException

        opens, closes = self._window()
        dag_run = context.get("dag_run")
        run_time = pendulum.instance(getattr(dag_run, "run_after", None) or datetime.now(UTC))
        now = datetime.now(UTC)
        name = self.live_event.get("name")
        if now >= closes:
            raise AirflowSkipException(f"event {name!r}: the go-live window closed at {closes.isoformat()}")
        if opens >= run_time + self.run_window:
            raise AirflowSkipException(
                f"event {name!r}: the go-live watch opens at {opens.isoformat()}, in a later run"
            )
        if now < opens:
            self.log.info("event %r: waiting in the triggerer until %s to watch the stream", name, opens)
            self.defer(trigger=DateTimeTrigger(moment=opens), method_name="watch")
        return self.watch(context)

    def watch(self, context: Any, event: Any = None) -> Any:
        """The window is open: watch the stream (deferring to this provider's trigger)."""
        self._target_from_event()
        return super().execute(context)

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> Any:
        self._target_from_event()  # a resumed task is a fresh object: set the stream again
        return super().execute_complete(context, event)

    def _window(self) -> tuple[datetime, datetime]:
        from airflow_live_provider.events import go_live_window, validate_event

        window = go_live_window(validate_event(self.live_event, 0))
        if window is None:
            from airflow.sdk.exceptions import AirflowSkipException

            raise AirflowSkipException(f"event {self.live_event.get('name')!r} has no Volcengine stream")
        return window

    def _target_from_event(self) -> None:
        volc = self.live_event["volcengine"]
        self.vhost, self.app, self.stream = volc["vhost"], volc["app"], volc["stream"]

    def _deadline_for(self, context: Any) -> float:
        return self._window()[1].timestamp()

    def _timeout_seconds(self) -> float:
        opens, closes = self._window()
        return (closes - opens).total_seconds()
