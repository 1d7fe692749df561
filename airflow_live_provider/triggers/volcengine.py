"""Wait in the triggerer for a Volcengine Live stream to go online (DescribeLiveStreamState).

The trigger never blocks the triggerer's event loop: each poll runs the provider's own (sync,
signed, retrying) client in a worker thread with ``asyncio.to_thread``, one request in flight per
trigger. Polls share the process-wide 10 requests/s bucket of the access key, so many triggers in
one triggerer stay under the vendor's quota; a throttled or failed poll backs off. The deadline
is absolute (epoch seconds), so it survives the trigger being moved to another triggerer.

What a state means (:func:`stream_outcome`) and how it reads (:func:`outcome_message`) are shared
with :class:`~airflow_live_provider.sensors.volcengine.VolcengineStreamLiveSensor`, so poking and
deferring end the same way.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

#: The longest pause between polls after throttling or a transient failure.
MAX_BACKOFF_SECONDS = 60.0


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


def stream_outcome(state: str | None, *, now: float, deadline: float) -> str | None:
    """``online`` / ``forbidden`` / ``timeout`` when watching should stop, else None (keep going)."""
    if state in ("online", "forbidden"):
        return state
    return "timeout" if now >= deadline else None


def outcome_message(target: StreamTarget, outcome: str, last_state: str | None, timeout: float) -> str:
    if outcome == "online":
        return f"{target} is online"
    if outcome == "forbidden":
        return (
            f"{target} is forbidden (stream_state 'forbidden'): the vendor refuses to serve it; lift "
            "the ban in the Volcengine Live console"
        )
    return f"{target} is not live after {timeout:g} s; its last state was {last_state or 'unknown'!r}"


class VolcengineStreamStateTrigger(BaseTrigger):
    """Poll DescribeLiveStreamState every ``poke_interval`` s until online, forbidden or ``deadline``.

    Event payload: ``{"outcome": "online" | "forbidden" | "timeout" | "error", "stream_state":
    <last state>, "message": <for errors>}``; no credential is ever in it.
    """

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
        super().__init__()
        self.target = StreamTarget(app=app, stream=stream, vhost=vhost, domain=domain)
        self.deadline = float(deadline)
        self.poke_interval = float(poke_interval)
        self.volcengine_conn_id = volcengine_conn_id

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                **asdict(self.target),
                "deadline": self.deadline,
                "poke_interval": self.poke_interval,
                "volcengine_conn_id": self.volcengine_conn_id,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from airflow_live_provider.exceptions import LiveApiError
        from airflow_live_provider.hooks.volcengine import VolcengineLiveHook

        hook = VolcengineLiveHook(volcengine_conn_id=self.volcengine_conn_id)
        last: str | None = None
        pause = self.poke_interval
        while True:
            try:
                # Bounded by the deadline: with many triggers sharing the quota a poll may queue,
                # and the verdict must not come later than the deadline because of it.
                result = await asyncio.wait_for(
                    asyncio.to_thread(
                        hook.describe_live_stream_state,
                        vhost=self.target.vhost,
                        domain=self.target.domain,
                        app=self.target.app,
                        stream=self.target.stream,
                    ),
                    timeout=max(0.1, self.deadline - time.time()),
                )
                last, pause = result["stream_state"], self.poke_interval
            except TimeoutError:
                pass  # the deadline came first: judged below with the last state seen
            except LiveApiError as exc:
                if not exc.retryable:
                    yield TriggerEvent({"outcome": "error", "stream_state": last, "message": str(exc)})
                    return
                # The client's own retries are spent: throttled or the vendor is struggling.
                pause = min(MAX_BACKOFF_SECONDS, max(pause, self.poke_interval) * 2)
                self.log.warning("%s: poll failed (%s); next poll in %.0f s", self.target, exc.code, pause)
            now = time.time()
            outcome = stream_outcome(last, now=now, deadline=self.deadline)
            if outcome is not None:
                yield TriggerEvent({"outcome": outcome, "stream_state": last})
                return
            self.log.info("%s is %s; next poll in %.0f s", self.target, last or "unknown", pause)
            await asyncio.sleep(max(0.0, min(pause, self.deadline - now)))
