"""Wait until a Volcengine Live stream is actually live (DescribeLiveStreamState).

Succeeds when the stream is ``online``; fails at once when it is ``forbidden``; fails at
``timeout`` naming the stream and its last state. Poking and deferring end the same way (see
:mod:`airflow_live_provider.sensors.base`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_live_provider.exceptions import LiveApiInputError
from airflow_live_provider.links.console import VolcengineStreamLink
from airflow_live_provider.sensors.base import LiveWatchSensor

if TYPE_CHECKING:  # imported where used: DAG files import the sensors at every parse
    from airflow_live_provider.triggers.volcengine import VolcengineStreamStateTrigger


class VolcengineStreamWatchSensor(LiveWatchSensor):
    """Base: wait for one Volcengine Live stream to be online; a subclass says which
    (:meth:`watched_stream`), whether it takes the stream as arguments or reads it at run time.

    ``deferrable=True`` waits in the triggerer (no worker slot held) with
    :class:`~airflow_live_provider.triggers.volcengine.VolcengineStreamStateTrigger`; the default
    follows Airflow's ``[operators] default_deferrable``. Polls share the access key's 10/s quota.
    XCom: ``{"stream_state": "online", "app", "stream", "vhost", "domain"}``. The console link
    points at the watched stream.
    """

    operator_extra_links = (VolcengineStreamLink(),)

    def __init__(self, *, volcengine_conn_id: str = "volcengine_live_default", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.volcengine_conn_id = volcengine_conn_id

    def watched_stream(self) -> dict[str, Any] | None:
        """``{vhost, domain, app, stream}`` of the stream watched, or None while it is not known."""
        raise NotImplementedError

    def _stream(self) -> dict[str, Any]:
        stream = self.watched_stream()
        if stream is None:
            raise LiveApiInputError(
                "stream", f"task {self.task_id!r} does not know its stream yet: nothing to watch"
            )
        return stream

    def validate(self) -> None:
        from airflow_live_provider.vendors.volcengine import stream_state_query

        stream_state_query(**self._stream())

    def make_trigger(self, deadline: float) -> VolcengineStreamStateTrigger:
        from airflow_live_provider.triggers.volcengine import VolcengineStreamStateTrigger

        stream = self._stream()
        return VolcengineStreamStateTrigger(
            app=stream["app"],
            stream=stream["stream"],
            vhost=stream["vhost"] or None,
            domain=stream["domain"] or None,
            deadline=deadline,
            poke_interval=self._poke_seconds(),
            volcengine_conn_id=self.volcengine_conn_id,
        )

    def result(self) -> dict[str, Any]:
        return {"stream_state": "online", **self.make_trigger(0).target._asdict()}


class VolcengineStreamLiveSensor(VolcengineStreamWatchSensor):
    """Wait for ``app``/``stream`` on a ``vhost`` (domain space) or ``domain`` to be online (see
    :class:`VolcengineStreamWatchSensor` for deferring, the quota and the XCom)."""

    template_fields: Sequence[str] = ("vhost", "domain", "app", "stream")

    def __init__(
        self,
        *,
        app: str,
        stream: str,
        vhost: str | None = None,
        domain: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.app = app
        self.stream = stream
        self.vhost = vhost
        self.domain = domain

    def watched_stream(self) -> dict[str, Any]:
        return {"vhost": self.vhost, "domain": self.domain, "app": self.app, "stream": self.stream}
