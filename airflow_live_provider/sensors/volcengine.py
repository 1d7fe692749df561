"""Wait until a Volcengine Live stream is actually live (DescribeLiveStreamState).

Succeeds when the stream is ``online``; fails at once when it is ``forbidden``; fails at
``timeout`` naming the stream and its last state. Poking and deferring end the same way (see
:mod:`airflow_live_provider.sensors.base`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_live_provider.links.console import VolcengineStreamLink
from airflow_live_provider.sensors.base import LiveWatchSensor

if TYPE_CHECKING:  # imported where used: DAG files import the sensors at every parse
    from airflow_live_provider.triggers.volcengine import VolcengineStreamStateTrigger


class VolcengineStreamLiveSensor(LiveWatchSensor):
    """Wait for ``app``/``stream`` on a ``vhost`` (domain space) or ``domain`` to be online.

    ``deferrable=True`` waits in the triggerer (no worker slot held) with
    :class:`~airflow_live_provider.triggers.volcengine.VolcengineStreamStateTrigger`; the default
    follows Airflow's ``[operators] default_deferrable``. Polls share the access key's 10/s quota.
    XCom: ``{"stream_state": "online", "app", "stream", "vhost", "domain"}``.
    """

    template_fields: Sequence[str] = ("vhost", "domain", "app", "stream")
    operator_extra_links = (VolcengineStreamLink(),)

    def __init__(
        self,
        *,
        app: str,
        stream: str,
        vhost: str | None = None,
        domain: str | None = None,
        volcengine_conn_id: str = "volcengine_live_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.app = app
        self.stream = stream
        self.vhost = vhost
        self.domain = domain
        self.volcengine_conn_id = volcengine_conn_id

    def validate(self) -> None:
        from airflow_live_provider.vendors.volcengine import stream_state_query

        stream_state_query(vhost=self.vhost, domain=self.domain, app=self.app, stream=self.stream)

    def make_trigger(self, deadline: float) -> VolcengineStreamStateTrigger:
        from airflow_live_provider.triggers.volcengine import VolcengineStreamStateTrigger

        return VolcengineStreamStateTrigger(
            app=self.app,
            stream=self.stream,
            vhost=self.vhost or None,
            domain=self.domain or None,
            deadline=deadline,
            poke_interval=self._poke_seconds(),
            volcengine_conn_id=self.volcengine_conn_id,
        )

    def result(self) -> dict[str, Any]:
        return {"stream_state": "online", **self.make_trigger(0).target._asdict()}
