"""At-least-once delivery of session events, with one identity per session, through a triggerer
killed at any moment.

A model of Airflow 3.3's triggerer (``triggerer_job_runner``): a trigger's yielded event waits in
the runner's queue and is handed on only at the next sync (~1 s later), while asset state store
writes land at once. A second store model holds its writes until the next sync too, after that
sync's events were handed on (the worst order). A kill loses the queue (and held writes) and
restarts the watcher from what the store holds. Polls are real (the simulator); the world changes
between them. What is checked is what a consumer records: the session JSON Lines written by
``append_records`` (one line per stream, kind and session) must hold exactly one "started" and
one "ended" per session the world had, each pair with the same session id.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from airflow_live_provider.events.session_records import append_records, check_event
from airflow_live_provider.simulator import SimulatorServer
from airflow_live_provider.simulator import volcengine as volc_sim
from airflow_live_provider.triggers import stream_sessions
from airflow_live_provider.triggers.stream_sessions import StreamSessionTrigger
from tests.triggers.test_stream_sessions import (
    MemoryStore,
    as_triggerer,
    polyv,
    polyv_scope,
    volc,
    volc_scope,
)
from tests.triggers.test_stream_sessions import sim as sim  # noqa: F401 (the fixture)

VHOST, APP = volc_sim.DEMO_VHOST, volc_sim.DEMO_APP
POLL, SYNC, KILL = "poll", "sync", "kill"
DELIVER, LAND = "deliver", "land"  # a sync's two halves: events handed on, then held writes land


class SyncStore(MemoryStore):
    """Writes land at once (Airflow), or with ``hold`` only at the next sync (they wait till then)."""

    def __init__(self, *, hold: bool = False) -> None:
        super().__init__()
        self.hold = hold
        self.held: list[tuple[str, Any, asyncio.Future[None]]] = []

    async def aset(self, key: str, value: Any) -> None:
        if not self.hold:
            await super().aset(key, value)
            return
        landed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.held.append((key, json.loads(json.dumps(value)), landed))
        await landed

    def land(self) -> None:
        for key, value, landed in self.held:
            self.data[key] = value
            self.writes += 1
            if not landed.done():
                landed.set_result(None)
        self.held.clear()


class Triggerer:
    """One watcher run as the triggerer runs it, events handed on only at :meth:`sync`."""

    def __init__(self, template: StreamSessionTrigger, store: SyncStore) -> None:
        self.template = template
        self.store = store
        self.queued: list[dict[str, Any]] = []  # yielded, not yet handed on
        self.delivered: list[dict[str, Any]] = []
        self.restarts = 0

    async def start(self) -> None:
        self.trigger = as_triggerer(self.template, self.store)
        self.feed: asyncio.Queue[Any] = asyncio.Queue()

        async def snapshots() -> Any:
            while (item := await self.feed.get()) is not None:
                yield item

        async def consume() -> None:
            async for event in self.trigger.filter_shared_stream(snapshots()):
                self.queued.append(event.payload)

        self.task = asyncio.create_task(consume())
        self.polls = type(self.trigger).open_shared_stream(self.trigger.serialize()[1])
        await self.settle()

    async def settle(self) -> None:
        for _ in range(50):
            await asyncio.sleep(0)

    async def poll(self) -> None:
        self.feed.put_nowait(await anext(self.polls))  # type: ignore[arg-type]
        await self.settle()

    async def sync(self) -> None:
        await self.deliver()
        await self.land()

    async def deliver(self) -> None:
        self.delivered += self.queued
        self.queued.clear()

    async def land(self) -> None:
        self.store.land()
        await self.settle()

    async def kill(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        await self.polls.aclose()  # type: ignore[attr-defined]
        self.queued.clear()
        self.store.held.clear()
        self.restarts += 1
        await self.start()

    async def stop(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        await self.polls.aclose()  # type: ignore[attr-defined]


def run(triggerer: Triggerer, steps: list[Any]) -> None:
    async def main() -> None:
        await triggerer.start()
        for step in steps:
            if step == POLL:
                await triggerer.poll()
            elif step == SYNC:
                await triggerer.sync()
            elif step == KILL:
                await triggerer.kill()
            elif step == DELIVER:
                await triggerer.deliver()
            elif step == LAND:
                await triggerer.land()
            else:
                step()
        for _ in range(3):  # the world is quiet now: whatever is pending is handed on
            await triggerer.poll()
            await triggerer.sync()
        await triggerer.stop()

    asyncio.run(asyncio.wait_for(main(), timeout=120))  # a safety net, never asserted on


def recorded(tmp_path: Path, delivered: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the consumer keeps: the session JSON Lines, one line per stream, kind and session."""
    records = [check_event(e, f"event[{i}]") for i, e in enumerate(delivered)]
    if records:
        append_records(str(tmp_path), records)
    return [json.loads(line) for f in sorted(tmp_path.glob("sessions/*.jsonl")) for line in f.open()]


def assert_each_session_once(lines: list[dict[str, Any]], sessions: int) -> None:
    kinds = sorted(line["kind"] for line in lines)
    assert kinds == ["ended"] * sessions + ["started"] * sessions, lines
    by_session: dict[Any, list[str]] = {}
    for line in lines:
        by_session.setdefault(line["sessionId"], []).append(line["kind"])
    assert all(sorted(k) == ["ended", "started"] for k in by_session.values()), by_session
    assert None not in by_session


def world(
    sim: SimulatorServer, vendor: str, name: str
) -> tuple[StreamSessionTrigger, Callable[[], Any], Callable[[], Any], dict[str, Any]]:
    """The watcher of one stream (a one-stream watcher, or a scope watcher with the stream on its
    watch list), how the stream starts and stops, and the watcher's asset state to begin with."""
    if vendor.startswith("volcengine"):
        start = lambda: sim.volcengine.start_session(VHOST, APP, name)  # noqa: E731
        stop = lambda: sim.volcengine.stop_session(VHOST, APP, name)  # noqa: E731
        if vendor.endswith("scope"):
            target = {"vhost": VHOST, "app": APP, "stream": name}
            return volc_scope(), start, stop, {"watch_list": {"targets": [target]}}
        return volc(name), start, stop, {}
    channel = sim.polyv.add_channel(name)
    start, stop = lambda: sim.polyv.go_live(channel), lambda: sim.polyv.end_live(channel)
    if vendor.endswith("scope"):
        return polyv_scope(), start, stop, {"watch_list": {"targets": [{"channel_id": channel}]}}
    return polyv(channel), start, stop, {}


def store_for(seed: dict[str, Any], *, hold: bool) -> SyncStore:
    store = SyncStore(hold=hold)
    store.data.update(seed)
    return store


def two_sessions(start: Callable[[], Any], stop: Callable[[], Any]) -> list[Any]:
    """Two sessions, a poll every "30 s" with a triggerer sync after it (the sync comes ~1 s after
    an event; polls are far apart)."""
    beat = [POLL, SYNC]
    return [start, *beat, *beat, stop, *beat, *beat, start, *beat, *beat, stop, *beat, *beat]


CASES = [
    pytest.param(vendor, hold, handover, id=f"{vendor}-{'held' if hold else 'at-once'}-handover{handover:g}")
    for vendor, (hold, handover) in itertools.product(
        ("volcengine", "polyv", "volcengine-scope", "polyv-scope"),
        [(False, 0.0), (False, 10.0), (True, 10.0)],
    )
]


#: The one-kill sweep (21 runs each): both store models for the one-stream watchers, writes at
#: once for the scope watchers (the same SessionBook; held writes are covered by the next test).
SWEEP = [
    c for c in CASES if not c.id.endswith("at-once-handover10") and not ("scope" in c.id and "held" in c.id)
]


@pytest.mark.parametrize(("vendor", "hold", "handover"), SWEEP)
def test_a_kill_at_any_moment_loses_no_session_and_records_each_once(
    sim: SimulatorServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    vendor: str,
    hold: bool,
    handover: float,
) -> None:
    """One kill, at every step of two sessions in turn (before or after any poll or sync,
    including right after an event fired and before the sync that hands it on)."""
    monkeypatch.setattr(stream_sessions, "HANDOVER_SECONDS", handover, raising=False)
    length = len(two_sessions(lambda: None, lambda: None))
    for at in range(length + 1):
        trigger, start, stop, seed = world(sim, vendor, f"k{at:02d}")
        steps = two_sessions(start, stop)
        steps.insert(at, KILL)
        triggerer = Triggerer(trigger, store_for(seed, hold=hold))
        run(triggerer, steps)
        out = tmp_path / f"kill-{at}"
        assert_each_session_once(recorded(out, triggerer.delivered), sessions=2)


@pytest.mark.parametrize(("vendor", "hold", "handover"), CASES)
def test_kills_again_and_again_still_record_each_session_once(
    sim: SimulatorServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    vendor: str,
    hold: bool,
    handover: float,
) -> None:
    """A kill after every step (writes landing at once), or after every sync (held writes: a
    triggerer killed before each sync could never store anything, so that model needs one sync per
    life). Every restart re-fires what is pending; each session is still recorded once."""
    monkeypatch.setattr(stream_sessions, "HANDOVER_SECONDS", handover, raising=False)
    trigger, start, stop, seed = world(sim, vendor, "often")
    steps = [
        s for step in two_sessions(start, stop) for s in (step, KILL) if s != KILL or not hold or step == SYNC
    ]
    triggerer = Triggerer(trigger, store_for(seed, hold=hold))
    run(triggerer, steps)
    assert triggerer.restarts == steps.count(KILL) >= 8
    assert_each_session_once(recorded(tmp_path, triggerer.delivered), sessions=2)


def test_an_event_lost_in_the_queue_is_fired_again_after_the_restart(
    sim: SimulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The crash window of issue #32: the watcher fired "started" and its state says live, the
    triggerer dies before its next sync. The restarted watcher fires it again, same identity."""
    monkeypatch.setattr(stream_sessions, "HANDOVER_SECONDS", 10.0, raising=False)
    trigger, start, _, _ = world(sim, "volcengine", "keynote")
    triggerer = Triggerer(trigger, SyncStore())
    fired: list[dict[str, Any]] = []

    async def main() -> None:
        await triggerer.start()
        start()
        await triggerer.poll()
        fired.extend(triggerer.queued)  # yielded, not handed on
        await triggerer.kill()
        await triggerer.sync()
        await triggerer.stop()

    asyncio.run(main())
    assert [e["kind"] for e in fired] == ["started"]
    assert triggerer.delivered == fired  # the very same event, session id and times included


def test_a_polyv_re_fire_after_a_restart_is_recorded_once(
    sim: SimulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Polyv has no session id. Writes land at the sync, after its events: a kill between the two
    halves of a sync, then a kill after a full sync while "started" is still pending. Whatever was
    handed on before a restart and re-fired after it carries one id and start: the record holds the
    session once (a fresh "started" at the next poll, as the old watcher fired, would be another)."""
    monkeypatch.setattr(stream_sessions, "HANDOVER_SECONDS", 10.0, raising=False)
    trigger, start, stop, _ = world(sim, "polyv", "Keynote")
    triggerer = Triggerer(trigger, SyncStore(hold=True))
    steps = [start, POLL, DELIVER, KILL, POLL, SYNC, SYNC, KILL, POLL, SYNC, stop, POLL, SYNC, POLL, SYNC]
    run(triggerer, steps)
    started = [e for e in triggerer.delivered if e["kind"] == "started"]
    assert len(started) >= 2  # handed on, then fired again by the restarted watcher...
    assert len({(e["session_id"], e["started_at"]) for e in started}) == 1  # ...as the same session
    assert_each_session_once(recorded(tmp_path, triggerer.delivered), sessions=1)


def test_pending_events_are_dropped_once_handed_on(
    sim: SimulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After the hand-over time a restart fires nothing: the stored state holds no pending event."""
    monkeypatch.setattr(stream_sessions, "HANDOVER_SECONDS", 0.0)
    trigger, start, _, _ = world(sim, "volcengine", "keynote")
    store = SyncStore()
    triggerer = Triggerer(trigger, store)
    run(triggerer, [start, POLL, SYNC, POLL, SYNC, KILL, POLL, SYNC])
    assert [e["kind"] for e in triggerer.delivered] == ["started"]
    assert store.data["stream_session"]["pending"] == [] and store.data["stream_session"]["live"]
