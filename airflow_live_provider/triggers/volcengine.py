"""Wait in the triggerer for a Volcengine Live stream to go online (DescribeLiveStreamState).

Polls share the access key's process-wide 10 requests/s bucket, so many triggers in one
triggerer stay under the vendor's quota. See :mod:`airflow_live_provider.triggers.base`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from airflow_live_provider.triggers.base import LiveWatchTrigger


@dataclass(frozen=True)
class StreamTarget:
    """One stream: ``app``/``stream`` on a domain space (``vhost``) or a push/pull ``domain``."""

    app: str
    stream: str
    vhost: str | None = None
    domain: str | None = None

    def __str__(self) -> str:
        where = f"vhost {self.vhost!r}" if self.vhost else f"domain {self.domain!r}"
        return f"stream {self.app}/{self.stream} on {where}"


class VolcengineStreamStateTrigger(LiveWatchTrigger):
    """Until the stream's ``stream_state`` is ``online`` (done) or ``forbidden`` (never)."""

    online_state = "online"
    forbidden_state = "forbidden"

    def __init__(
        self,
        *,
        app: str,
        stream: str,
        deadline: float,
        poke_interval: float,
        vhost: str | None = None,
        domain: str | None = None,
        volcengine_conn_id: str = "volcengine_live_default",
    ) -> None:
        super().__init__(deadline=deadline, poke_interval=poke_interval)
        self.target = StreamTarget(app=app, stream=stream, vhost=vhost, domain=domain)
        self.volcengine_conn_id = volcengine_conn_id

    def __str__(self) -> str:
        return str(self.target)

    def target_kwargs(self) -> dict[str, Any]:
        return {**asdict(self.target), "volcengine_conn_id": self.volcengine_conn_id}

    def make_client(self) -> Any:
        from airflow_live_provider.hooks.volcengine import VolcengineLiveHook

        return VolcengineLiveHook(volcengine_conn_id=self.volcengine_conn_id).client

    def poll(self) -> str:
        target = self.target
        result = self.client().describe_live_stream_state(
            vhost=target.vhost, domain=target.domain, app=target.app, stream=target.stream
        )
        return str(result["stream_state"])
