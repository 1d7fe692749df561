"""The just-in-time step of a live event: wait in the triggerer, then issue short-lived credentials.

Airflow's own :class:`~airflow.providers.standard.triggers.temporal.DateTimeTrigger` does the
waiting (no worker slot is held, no trigger of ours to register). Logic lives in
:mod:`airflow_live_provider.preprovision`; this operator only decides when to run it.

Imports of the workflow happen inside the methods: DAG files import this module at every parse.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pendulum
from airflow.sdk import BaseOperator


class EventJustInTimeCredentialsOperator(BaseOperator):
    """Issue an event instance's Polyv watch tokens and ISDP join tokens at ``start - lead``.

    ``live_event`` is one validated calendar instance (as ``select_events`` returns it). Only
    credentials due before the next scheduled run (``run_window`` after this run's time) are
    handled here: a future moment is waited for by deferring, a past one is issued at once, and
    credentials already issued for the instance (``latest.json``) are never issued again. XCom:
    a secret-free summary ``{event, occurrence, start, issued: {vendor: {count, valid_until}},
    waited_for, latest_sheet, ...}``.
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
        from airflow_live_provider.outputs import utc_iso
        from airflow_live_provider.preprovision import due_credentials

        dag_run = context.get("dag_run")
        run_time = getattr(dag_run, "run_after", None) or datetime.now(UTC)
        due = due_credentials(
            self.live_event,
            output_dir=self.output_dir,
            run_time=pendulum.instance(run_time),
            run_window=self.run_window,
        )
        name = self.live_event.get("name")
        if not due:
            self.log.info("event %r: no just-in-time credential is due before the next run", name)
            return {"event": name, "start": self.live_event.get("start"), "issued": {}, "waited_for": []}
        run_id = str(context.get("run_id") or "manual")
        return self._issue_or_wait(
            run_id, {vendor: utc_iso(moment) for vendor, moment in due.items()}, {}, []
        )

    def resume(
        self,
        context: Any,
        event: Any = None,
        due: dict[str, str] | None = None,
        issued: dict[str, Any] | None = None,
        waited_for: list[str] | None = None,
    ) -> dict[str, Any]:
        """Back from the triggerer (``event`` is the trigger's payload, the moment reached)."""
        run_id = str(context.get("run_id") or "manual")
        return self._issue_or_wait(run_id, due or {}, issued or {}, waited_for or [])

    def _issue_or_wait(
        self, run_id: str, due: dict[str, str], issued: dict[str, Any], waited_for: list[str]
    ) -> dict[str, Any]:
        from airflow.providers.standard.triggers.temporal import DateTimeTrigger

        from airflow_live_provider.outputs import parse_time
        from airflow_live_provider.preprovision import issue_just_in_time

        now = datetime.now(UTC)
        ready = [vendor for vendor, at in due.items() if parse_time(at) <= now]
        result: dict[str, Any] = {}
        if ready:
            result = issue_just_in_time(
                self.live_event,
                ready,
                output_dir=self.output_dir,
                run_id=run_id,
                polyv_conn_id=self.polyv_conn_id,
                isdp_conn_id=self.isdp_conn_id,
            )
            issued = issued | result["issued"]
            for vendor in ready:
                self.log.info("event %r: %s issued: %s", self.live_event.get("name"), vendor, issued[vendor])
        later = {vendor: at for vendor, at in due.items() if vendor not in ready}
        if later:
            vendor, at = min(later.items(), key=lambda item: item[1])
            self.log.info(
                "event %r: waiting in the triggerer until %s to issue %s",
                self.live_event.get("name"),
                at,
                vendor,
            )
            self.defer(
                trigger=DateTimeTrigger(moment=parse_time(at)),
                method_name="resume",
                kwargs={"due": later, "issued": issued, "waited_for": [*waited_for, at]},
            )
        return {
            "event": self.live_event.get("name"),
            "occurrence": self.live_event.get("occurrence"),
            "start": self.live_event.get("start"),
            "issued": issued,
            "waited_for": waited_for,
        } | {k: v for k, v in result.items() if k.endswith(("_sheet", "_page"))}
