"""Wait until a Volcengine Live stream is actually live (DescribeLiveStreamState).

Succeeds when the stream is ``online``; fails at once when it is ``forbidden`` (waiting will not
lift a ban); fails at ``timeout``, measured from the first poke and kept across deferrals,
naming the stream and its last state. Poking and deferrable modes end the same way: both judge
every state with the trigger module's :func:`stream_outcome` and word it with
:func:`outcome_message`.

Hooks are imported in the methods: DAG files import this module at every parse.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue, conf
from airflow.sdk.exceptions import AirflowFailException, AirflowSensorTimeout

from airflow_live_provider.triggers.volcengine import (
    StreamTarget,
    VolcengineStreamStateTrigger,
    outcome_message,
    stream_outcome,
)


class VolcengineStreamLiveSensor(BaseSensorOperator):
    """Wait for ``app``/``stream`` on a ``vhost`` (domain space) or ``domain`` to be online.

    ``deferrable=True`` waits in the triggerer (no worker slot held) with
    :class:`~airflow_live_provider.triggers.volcengine.VolcengineStreamStateTrigger`; the default
    follows Airflow's ``[operators] default_deferrable``. Polls share the access key's 10/s quota.
    XCom: ``{"stream_state": "online", ...target}``.
    """

    template_fields: Sequence[str] = ("vhost", "domain", "app", "stream")

    def __init__(
        self,
        *,
        app: str,
        stream: str,
        vhost: str | None = None,
        domain: str | None = None,
        volcengine_conn_id: str = "volcengine_live_default",
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.app = app
        self.stream = stream
        self.vhost = vhost
        self.domain = domain
        self.volcengine_conn_id = volcengine_conn_id
        self.deferrable = deferrable
        self._deadline: float | None = None
        self._last_state: str | None = None

    @property
    def target(self) -> StreamTarget:
        return StreamTarget(
            app=self.app, stream=self.stream, vhost=self.vhost or None, domain=self.domain or None
        )

    def execute(self, context: Any) -> Any:
        from airflow_live_provider.vendors.volcengine import stream_state_query

        # Bad names fail here, before the connection is read or the vendor called.
        stream_state_query(vhost=self.vhost, domain=self.domain, app=self.app, stream=self.stream)
        self._deadline = self._deadline_for(context)
        if not self.deferrable:
            return super().execute(context)
        if self.poke(context):  # already live: no need to involve the triggerer
            return self._result()
        self.defer(
            trigger=VolcengineStreamStateTrigger(
                app=self.app,
                stream=self.stream,
                vhost=self.vhost or None,
                domain=self.domain or None,
                deadline=self._deadline,
                poke_interval=self._poke_seconds(),
                volcengine_conn_id=self.volcengine_conn_id,
            ),
            method_name="execute_complete",
        )

    def poke(self, context: Any) -> PokeReturnValue:
        from airflow_live_provider.hooks.volcengine import VolcengineLiveHook

        hook = VolcengineLiveHook(volcengine_conn_id=self.volcengine_conn_id)
        target = self.target
        state = hook.describe_live_stream_state(
            vhost=target.vhost, domain=target.domain, app=target.app, stream=target.stream
        )["stream_state"]
        self._last_state = state
        deadline = self._deadline if self._deadline is not None else time.time() + self._timeout_seconds()
        outcome = stream_outcome(state, now=time.time(), deadline=deadline)
        if outcome is None:
            self.log.info("%s is %s", target, state)
            return PokeReturnValue(is_done=False)
        self._finish(outcome, state)
        return PokeReturnValue(is_done=True, xcom_value=self._result())

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> Any:
        """Back from the triggerer with its verdict; the same outcomes as poking."""
        event = event or {}
        if event.get("outcome") == "error":
            raise AirflowFailException(f"{self.target}: {event.get('message')}")
        self._finish(str(event.get("outcome")), event.get("stream_state"))
        return self._result()

    def _finish(self, outcome: str, state: str | None) -> None:
        """Log success, or raise what the outcome means (the same in both modes)."""
        self._last_state = state
        message = outcome_message(self.target, outcome, state, self._timeout_seconds())
        if outcome == "online":
            self.log.info(message)
            return
        if outcome == "forbidden":
            raise AirflowFailException(message)
        if outcome == "timeout":
            raise AirflowSensorTimeout(message)
        raise AirflowFailException(f"{self.target}: unexpected trigger outcome {outcome!r}")

    def _result(self) -> dict[str, Any]:
        target = self.target
        return {
            "stream_state": "online",
            "app": target.app,
            "stream": target.stream,
            "vhost": target.vhost,
            "domain": target.domain,
        }

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
