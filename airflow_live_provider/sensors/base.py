"""What the live-watch sensors share: one verdict, whether they poke or defer.

A sensor succeeds when its target is live, fails at once when the vendor says it never will be
(``forbidden``), and fails at ``timeout`` (measured from the first poke and kept across
deferrals: the trigger carries an absolute deadline), naming the target and its last state.
Both modes judge with :func:`~airflow_live_provider.triggers.base.watch_outcome` and word the
verdict with :func:`~airflow_live_provider.triggers.base.outcome_message`.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue, conf
from airflow.sdk.exceptions import AirflowFailException, AirflowSensorTimeout

if TYPE_CHECKING:  # imported where used: DAG files import the sensors at every parse
    from airflow_live_provider.triggers.base import LiveWatchTrigger


class LiveWatchSensor(BaseSensorOperator):
    """Base: subclasses say what they watch (:meth:`validate`, :meth:`make_trigger`, ...)."""

    def __init__(
        self,
        *,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.deferrable = deferrable
        self._deadline: float | None = None

    # -- what a subclass provides ---------------------------------------------------------------
    def validate(self) -> None:
        """Check the (rendered) target before the connection is read or the vendor called."""
        raise NotImplementedError

    def make_trigger(self, deadline: float) -> LiveWatchTrigger:
        raise NotImplementedError

    def result(self) -> dict[str, Any]:
        """The XCom on success (secret-free)."""
        raise NotImplementedError

    # -- the shared behaviour ----------------------------------------------------------------------
    def execute(self, context: Any) -> Any:
        self.validate()
        self._deadline = self._deadline_for(context)
        if not self.deferrable:
            return super().execute(context)
        if self.poke(context):  # already live: no need to involve the triggerer
            return self.result()
        self.defer(trigger=self.make_trigger(self._deadline), method_name="execute_complete")

    def poke(self, context: Any) -> PokeReturnValue:
        from airflow_live_provider.triggers.base import watch_outcome

        deadline = self._deadline if self._deadline is not None else time.time() + self._timeout_seconds()
        trigger = self.make_trigger(deadline)  # one read, the way the trigger reads it
        state = trigger.poll()
        outcome = watch_outcome(
            state,
            online=trigger.online_state,
            forbidden=trigger.forbidden_state,
            now=time.time(),
            deadline=deadline,
        )
        if outcome is None:
            self.log.info("%s is %s", trigger, state)
            return PokeReturnValue(is_done=False)
        self._finish(str(trigger), outcome, state)
        return PokeReturnValue(is_done=True, xcom_value=self.result())

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> Any:
        """Back from the triggerer with its verdict; the same outcomes as poking."""
        event = event or {}
        target = str(self.make_trigger(self._deadline or time.time()))
        if event.get("outcome") == "error":
            raise AirflowFailException(f"{target}: {event.get('message')}")
        self._finish(target, str(event.get("outcome")), event.get("state"))
        return self.result()

    def _finish(self, target: str, outcome: str, state: str | None) -> None:
        """Log success, or raise what the outcome means (the same in both modes)."""
        from airflow_live_provider.triggers.base import outcome_message

        message = outcome_message(target, outcome, state, self._timeout_seconds())
        if outcome == "online":
            self.log.info(message)
            return
        if outcome == "forbidden":
            raise AirflowFailException(message)
        if outcome == "timeout":
            raise AirflowSensorTimeout(message)
        raise AirflowFailException(f"{target}: unexpected trigger outcome {outcome!r}")

    def _deadline_for(self, context: Any) -> float:
        """Epoch seconds at which waiting stops: the first poke plus ``timeout``."""
        return self._first_poke_time(context) + self._timeout_seconds()

    def _first_poke_time(self, context: Any) -> float:
        """Now, or in reschedule mode the first try's start (the timeout spans the reschedules)."""
        if self.reschedule:
            first = context["ti"].get_first_reschedule_date(context)
            if first is not None:
                return float(first.timestamp())
        return time.time()

    def _timeout_seconds(self) -> float:
        timeout = self.timeout
        return timeout.total_seconds() if isinstance(timeout, timedelta) else float(timeout)

    def _poke_seconds(self) -> float:
        interval = self.poke_interval
        return interval.total_seconds() if isinstance(interval, timedelta) else float(interval)
