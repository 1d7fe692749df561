"""Session event triggers against the simulator, driven as the triggerer drives a shared stream:
one ``open_shared_stream`` loop per group, its polls fanned out to every trigger's
``filter_shared_stream``. The world (sessions starting and stopping, vendor faults) changes
between polls; assertions count events and requests, never time."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
from collections.abc import Callable, Sequence
from contextlib import aclosing
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from airflow.sdk.module_loading import import_string

from airflow_live_provider.exceptions import LiveApiError
from airflow_live_provider.simulator import SimulatorServer
from airflow_live_provider.simulator import polyv as polyv_sim
from airflow_live_provider.simulator import volcengine as volc_sim
from airflow_live_provider.simulator.server import LoggedRequest
from airflow_live_provider.triggers import stream_sessions
from airflow_live_provider.triggers.base import MAX_BACKOFF_SECONDS
from airflow_live_provider.triggers.polyv import PolyvChannelSessionTrigger, PolyvSessionScopeTrigger
from airflow_live_provider.triggers.stream_sessions import PollSnapshot, StreamSessionTrigger, next_pause
from airflow_live_provider.triggers.volcengine import (
    VolcengineSessionScopeTrigger,
    VolcengineStreamSessionTrigger,
)
from tests.helpers import assert_no_secret_in

VHOST, APP = volc_sim.DEMO_VHOST, volc_sim.DEMO_APP
LISTING = "DescribeLiveStreamInfoByPage"
POLYV_STATUS_PATH = "/live/v2/channels/live-status"


class MemoryStore:
    """The asset state store as a trigger sees it (``aget``/``aset``), JSON round-tripped."""

    def __init__(self, data: dict[str, Any] | None = None) -> None:
        self.data: dict[str, Any] = {} if data is None else data
        self.writes = 0

    async def aget(self, key: str, default: Any = None) -> Any:
        return json.loads(json.dumps(self.data[key])) if key in self.data else default

    async def aset(self, key: str, value: Any) -> None:
        self.data[key] = json.loads(json.dumps(value))
        self.writes += 1


@pytest.fixture
def sim(simulator: SimulatorServer, monkeypatch: pytest.MonkeyPatch) -> SimulatorServer:
    """The simulator's connections, with one attempt per call: a vendor error reaches the trigger."""
    for name, value in simulator.connection_env().items():
        conn = json.loads(value)
        conn["extra"] = {**(conn.get("extra") or {}), "max_attempts": 1}
        monkeypatch.setenv(name, json.dumps(conn))
    return simulator


def volc(stream: str, **kwargs: Any) -> VolcengineStreamSessionTrigger:
    kwargs = {"poll_interval": 0.01, "offline_grace_seconds": 0, **kwargs}
    return VolcengineStreamSessionTrigger(vhost=VHOST, app=APP, stream=stream, **kwargs)


def polyv(channel_id: str, **kwargs: Any) -> PolyvChannelSessionTrigger:
    kwargs = {"poll_interval": 0.01, "offline_grace_seconds": 0, **kwargs}
    return PolyvChannelSessionTrigger(channel_id=channel_id, **kwargs)


def as_triggerer(trigger: StreamSessionTrigger, store: MemoryStore | None) -> StreamSessionTrigger:
    """Rebuilt from its serialized form with a state store injected, as the triggerer does."""
    classpath, kwargs = trigger.serialize()
    rebuilt = cast(StreamSessionTrigger, import_string(classpath)(**kwargs))
    rebuilt.asset_state_store = cast(Any, store)
    return rebuilt


async def settle(queues: Sequence[asyncio.Queue[Any]]) -> None:
    """Until every trigger has taken its snapshot and finished with it."""
    while any(not q.empty() for q in queues):
        await asyncio.sleep(0)
    for _ in range(20):
        await asyncio.sleep(0)


def watch(
    triggers: Sequence[StreamSessionTrigger],
    script: Sequence[Callable[[], Any] | None],
    *,
    stores: Sequence[MemoryStore | None] | None = None,
    until_polls: int | None = None,
) -> tuple[list[list[dict[str, Any]]], list[PollSnapshot]]:
    """Run the group's shared poll; before poll N run ``script[N]`` (None: nothing). Polls (failed
    ones too) until the script is done, or ``until_polls`` successful polls after it. Returns each
    trigger's event payloads and the snapshots."""
    stores = stores or [MemoryStore() for _ in triggers]
    watched = [as_triggerer(t, s) for t, s in zip(triggers, stores, strict=True)]
    events: list[list[dict[str, Any]]] = [[] for _ in watched]
    snapshots: list[PollSnapshot] = []

    async def main() -> None:
        queues: list[asyncio.Queue[Any]] = [asyncio.Queue() for _ in watched]

        async def feed(queue: asyncio.Queue[Any]) -> Any:
            while (item := await queue.get()) is not None:
                yield item

        async def consume(index: int) -> None:
            async for event in watched[index].filter_shared_stream(feed(queues[index])):
                events[index].append(event.payload)

        consumers = [asyncio.create_task(consume(i)) for i in range(len(watched))]
        await settle(queues)  # every trigger has joined before the first poll
        cls = type(watched[0])
        step = 0
        if script and script[0]:
            script[0]()
        extra_ok = until_polls or 0
        async with aclosing(cls.open_shared_stream(watched[0].serialize()[1])) as polls:
            async for snapshot in polls:
                snapshots.append(snapshot)
                for queue in queues:
                    queue.put_nowait(snapshot)
                await settle(queues)
                step += 1
                if step < len(script):
                    action = script[step]
                    if action:
                        action()
                    continue
                if snapshot.error is None:
                    if extra_ok <= 0:
                        break
                    extra_ok -= 1
        for queue in queues:
            queue.put_nowait(None)
        await asyncio.gather(*consumers)

    async def bounded() -> None:  # a safety net (a bug must not hang the suite), never asserted on
        await asyncio.wait_for(main(), timeout=120)

    asyncio.run(bounded())
    return events, snapshots


def kinds(events: list[dict[str, Any]]) -> list[str]:
    return [e["kind"] for e in events]


def listings(sim: SimulatorServer) -> list[LoggedRequest]:
    return [r for r in sim.requests if r.query.get("Action") == LISTING]


# -- Volcengine ------------------------------------------------------------------------------------
def test_a_session_starts_and_ends_once_each(sim: SimulatorServer) -> None:
    started: list[str] = []
    script = [
        None,
        lambda: started.append(sim.volcengine.start_session(VHOST, APP, "keynote")),
        None,
        None,
        lambda: sim.volcengine.stop_session(VHOST, APP, "keynote"),
        None,
    ]
    (events,), _ = watch([volc("keynote")], script)
    assert kinds(events) == ["started", "ended"]
    first, last = events
    assert first["session_id"] == last["session_id"] == started[0]
    assert first["vendor"] == "volcengine" and first["conn_id"] == "volcengine_live_default"
    assert first["asset_uri"] == f"volclive://{VHOST}/{APP}/keynote"
    assert first["target"] == {"vhost": VHOST, "app": APP, "stream": "keynote"}
    assert first["started_at"] == started[0].split("@", 1)[1]  # the vendor's SessionStartTime
    assert last["duration_seconds"] >= 0 and last["ended_at"] >= last["last_seen_live_at"]
    assert_no_secret_in(json.dumps(events), *sim.secrets())


def test_a_new_session_without_an_offline_poll_ends_the_old_and_starts_the_new(sim: SimulatorServer) -> None:
    ids: list[str] = []
    push = lambda: ids.append(sim.volcengine.start_session(VHOST, APP, "keynote"))  # noqa: E731
    (events,), _ = watch([volc("keynote", offline_grace_seconds=3600)], [push, None, push, None])
    assert [(e["kind"], e["session_id"]) for e in events] == [
        ("started", ids[0]),
        ("ended", ids[0]),
        ("started", ids[1]),
    ]


def test_a_stream_that_stops_inside_the_grace_fires_no_end(sim: SimulatorServer) -> None:
    script = [
        lambda: sim.volcengine.start_session(VHOST, APP, "keynote"),
        None,
        lambda: sim.volcengine.stop_session(VHOST, APP, "keynote"),
        None,
        None,
    ]
    (events,), snapshots = watch([volc("keynote", offline_grace_seconds=3600)], script)
    assert kinds(events) == ["started"]
    assert snapshots[-1].result == {}  # it was seen offline


def test_vendor_errors_fire_nothing_and_lose_no_change(sim: SimulatorServer) -> None:
    """503s (retryable) while the session starts and while it ends, 403s (InvalidTimestamp: not
    retryable) in the middle of it: no event for an error, each change reported once after."""

    def fail_then(change: Callable[[], Any]) -> Callable[[], None]:
        def act() -> None:
            sim.faults.add("503", path="/", times=3)
            change()

        return act

    def skew() -> None:
        sim.clock_skew = 3600.0  # every signature "expired": 403 InvalidTimestamp

    def unskew() -> None:
        sim.clock_skew = 0.0

    start = fail_then(lambda: sim.volcengine.start_session(VHOST, APP, "keynote"))
    stop = fail_then(lambda: sim.volcengine.stop_session(VHOST, APP, "keynote"))
    script = [None, start, None, None, None, None, skew, None, None, unskew, stop, None, None, None]
    (events,), snapshots = watch([volc("keynote")], script)
    errors = [s.error for s in snapshots if s.error]
    assert sum("503" in e for e in errors) == 6
    assert sum("InvalidTimestamp" in e for e in errors) == 3
    assert kinds(events) == ["started", "ended"]
    assert_no_secret_in(json.dumps(errors), *sim.secrets())


def test_throttling_backs_off_and_the_change_is_reported_once(sim: SimulatorServer) -> None:
    """The simulator's per-key limit on the listing (tightened here to 2/s so a test hits it;
    10/s as documented otherwise) answers 429 FlowLimitExceeded: polls back off, the start is
    reported once."""
    sim.volcengine.quotas[LISTING] = (2.0, 1.0)
    script = [lambda: sim.volcengine.start_session(VHOST, APP, "keynote")] + [None] * 12
    (events,), snapshots = watch([volc("keynote")], script, until_polls=2)
    throttled = [r for r in listings(sim) if r.status == 429]
    assert throttled, "the test never hit the simulator's limit"
    assert all("FlowLimitExceeded" in (s.error or "FlowLimitExceeded") for s in snapshots)
    assert kinds(events) == ["started"]


def test_500_streams_on_one_vhost_app_cost_one_request_per_poll(sim: SimulatorServer) -> None:
    streams = [f"s{n:03d}" for n in range(500)]
    on_air = streams[::50]  # 10 of them live
    start = lambda: [sim.volcengine.start_session(VHOST, APP, s) for s in on_air]  # noqa: E731
    events, snapshots = watch([volc(s) for s in streams], [start, None, None])
    assert len(snapshots) == 3
    assert len(listings(sim)) == 3  # one listing per poll for the 500 watchers
    print(f"\n500 Volcengine watchers on one vhost/app: {len(listings(sim))} requests in 3 polls")
    fired = {s: kinds(e) for s, e in zip(streams, events, strict=True) if e}
    assert fired == {s: ["started"] for s in on_air}


def test_a_restart_mid_session_fires_nothing(sim: SimulatorServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Once its events were handed on (here: at the next poll), a restarted watcher fires nothing."""
    monkeypatch.setattr(stream_sessions, "HANDOVER_SECONDS", 0.0)
    stores = [MemoryStore(), MemoryStore()]
    start = lambda: sim.volcengine.start_session(VHOST, APP, "keynote")  # noqa: E731
    triggers = [volc("keynote"), volc("quiet")]
    events, _ = watch(triggers, [start, None], stores=stores)
    assert [kinds(e) for e in events] == [["started"], []]
    # Written before the event (with it pending) and once it was handed on; nothing for "quiet".
    assert stores[0].writes == 2 and stores[1].writes == 0
    assert stores[0].data["stream_session"]["pending"] == []
    # The triggerer restarts: new trigger objects, a new poll loop, the same stored state.
    events, _ = watch(triggers, [None, None, None], stores=stores)
    assert events == [[], []]
    stop = lambda: sim.volcengine.stop_session(VHOST, APP, "keynote")  # noqa: E731
    events, _ = watch(triggers, [None, stop, None], stores=stores)
    assert [kinds(e) for e in events] == [["ended"], []]


def test_run_without_a_shared_stream_or_a_store(sim: SimulatorServer) -> None:
    """``run()`` (no shared stream, no asset state store) fires the same event, and closes its
    poll loop when the consumer stops."""
    sim.volcengine.start_session(VHOST, APP, "keynote")
    trigger = volc("keynote")

    async def first() -> dict[str, Any]:
        async with aclosing(cast(Any, trigger.run())) as events:
            async for event in events:
                return cast(dict[str, Any], event.payload)
        raise AssertionError("no event")

    assert asyncio.run(first())["kind"] == "started"


# -- Polyv -------------------------------------------------------------------------------------------
def test_500_polyv_channels_cost_25_requests_per_poll(sim: SimulatorServer) -> None:
    channels = [sim.polyv.add_channel(f"Watched {n}") for n in range(500)]
    live = channels[::100]
    events, snapshots = watch(
        [polyv(c) for c in channels], [lambda: [sim.polyv.go_live(c) for c in live], None, None]
    )
    assert len(snapshots) == 3
    calls = sim.requests_to(POLYV_STATUS_PATH)
    assert len(calls) == 3 * math.ceil(500 / 20)  # 25 per poll
    print(f"\n500 Polyv watchers: {len(calls)} requests in 3 polls (25 per poll)")
    fired = {c: kinds(e) for c, e in zip(channels, events, strict=True) if e}
    assert fired == {c: ["started"] for c in live}
    first = events[channels.index(live[0])][0]
    assert first["session_id"] == first["started_at"] and first["target"] == {"channel_id": live[0]}
    assert first["asset_uri"] == f"polyv://polyv_default/channels/{live[0]}"


def test_a_flapping_polyv_channel_fires_once_per_session(sim: SimulatorServer) -> None:
    channel = polyv_sim.DEMO_CHANNEL_ID
    up = lambda: sim.polyv.go_live(channel)  # noqa: E731
    down = lambda: sim.polyv.end_live(channel)  # noqa: E731
    (events,), _ = watch([polyv(channel, offline_grace_seconds=3600)], [up, down, up, down, up, None])
    assert kinds(events) == ["started"]
    (events,), _ = watch([polyv(channel)], [up, down, None])  # no grace: the end counts
    assert kinds(events) == ["started", "ended"]


def test_a_polyv_group_forgets_channels_whose_triggers_left(sim: SimulatorServer) -> None:
    from airflow_live_provider.triggers import polyv as polyv_triggers

    watch([polyv(polyv_sim.DEMO_CHANNEL_ID)], [None])
    assert polyv_triggers._WATCHED == {}


# -- the pieces ------------------------------------------------------------------------------------
def test_serialize_returns_every_constructor_argument() -> None:
    trigger = volc("keynote", volcengine_conn_id="volc_eu", poll_interval=15, offline_grace_seconds=90)
    classpath, kwargs = trigger.serialize()
    assert kwargs == {
        "vhost": VHOST,
        "app": APP,
        "stream": "keynote",
        "volcengine_conn_id": "volc_eu",
        "poll_interval": 15.0,
        "offline_grace_seconds": 90.0,
    }
    assert import_string(classpath)(**kwargs).serialize() == (classpath, kwargs)
    classpath, kwargs = polyv("123", polyv_conn_id="polyv_eu").serialize()
    assert kwargs == {
        "channel_id": "123",
        "polyv_conn_id": "polyv_eu",
        "poll_interval": 0.01,
        "offline_grace_seconds": 0.0,
    }


def test_groups_share_by_connection_vhost_app_and_interval() -> None:
    assert volc("a").shared_stream_key() == volc("b").shared_stream_key()
    assert volc("a").shared_stream_key() != volc("a", poll_interval=30).shared_stream_key()
    assert volc("a").shared_stream_key() != volc("a", volcengine_conn_id="other").shared_stream_key()
    assert polyv("1").shared_stream_key() == polyv("2").shared_stream_key()
    assert polyv("1").shared_stream_key() != volc("a").shared_stream_key()


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: volc("key note"), "stream"),
        (lambda: volc("a" * 101), "stream"),
        (lambda: VolcengineStreamSessionTrigger(vhost="live/x", app=APP, stream="s"), "vhost"),
        (lambda: volc("s", poll_interval=0), "poll_interval"),
        (lambda: volc("s", offline_grace_seconds=-1), "offline_grace_seconds"),
        (lambda: polyv("12a"), "channel_id"),
    ],
)
def test_bad_input_is_refused_before_any_poll(make: Callable[[], Any], field: str) -> None:
    with pytest.raises(LiveApiError) as err:
        make()
    assert getattr(err.value, "field", None) == field


def test_backoff_doubles_with_jitter_up_to_a_cap_and_errors_that_retrying_cannot_fix_wait_long() -> None:
    throttled = LiveApiError("slow down", vendor="v", retryable=True)
    pauses = [next_pause(throttled, 2.0**n, 1.0) for n in range(12)]
    assert all(min(MAX_BACKOFF_SECONDS, 2.0 ** (n + 1)) / 2 <= p for n, p in enumerate(pauses))
    assert all(p <= MAX_BACKOFF_SECONDS for p in pauses)
    assert len({round(p, 6) for p in pauses[:5]}) == 5  # jittered, not a fixed ladder
    told = LiveApiError("slow down", vendor="v", retryable=True, retry_after=3.5)
    assert next_pause(told, 1.0, 1.0) == 3.5  # the vendor's Retry-After wins (within 5 intervals)
    denied = LiveApiError("forbidden", vendor="v", retryable=False)
    assert next_pause(denied, 1.0, 1.0) == 10.0
    assert next_pause(denied, 30.0, 30.0) == MAX_BACKOFF_SECONDS


def test_airflow_shared_stream_manager_runs_one_poll_for_the_group(sim: SimulatorServer) -> None:
    """With the triggerer's own SharedStreamManager: three watchers of one vhost/app subscribe,
    one listing per poll serves them, and the watcher of the live stream fires."""
    from airflow.triggers.shared_stream import SharedStreamManager

    sim.volcengine.start_session(VHOST, APP, "keynote")
    triggers = [as_triggerer(volc(s), MemoryStore()) for s in ("keynote", "quiet", "other")]

    seen = [0, 0, 0]  # snapshots each trigger received

    async def main() -> list[dict[str, Any]]:
        manager = SharedStreamManager()
        fired: list[dict[str, Any]] = []

        async def consume(trigger_id: int, trigger: StreamSessionTrigger) -> None:
            key = trigger.shared_stream_key()
            shared = manager.subscribe(trigger_id=trigger_id, trigger=trigger, key=key)

            async def counted() -> Any:
                async for item in shared:
                    seen[trigger_id] += 1
                    yield item

            try:
                async for event in trigger.filter_shared_stream(counted()):
                    fired.append(event.payload)
            finally:
                await manager.unsubscribe(trigger_id, key)

        tasks = [asyncio.create_task(consume(i, t)) for i, t in enumerate(triggers)]
        for _ in range(2000):  # until 3 polls were made (bounded: 20 s at most)
            if min(seen) >= 3:
                break
            await asyncio.sleep(0.01)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await manager.stop_all()
        return fired

    fired = asyncio.run(main())
    assert [(e["kind"], e["target"]["stream"]) for e in fired] == [("started", "keynote")]
    # One listing per poll for the three (3 per poll if each polled on its own).
    assert len(listings(sim)) <= max(seen) + 1


def test_a_deleted_polyv_channel_blinds_only_its_own_batch(sim: SimulatorServer) -> None:
    """Polyv refuses a whole call naming a channel it does not know (403, not retryable): the
    other batches of the poll still answer, and their channels' sessions are reported."""
    channels = [sim.polyv.add_channel(f"Watched {n}") for n in range(40)]
    ghost = "1"  # in the first batch of 20 (ids are polled in numeric order), with channels[:19]
    live = [channels[5], channels[-1]]
    events, snapshots = watch(
        [polyv(c) for c in [ghost, *channels]], [lambda: [sim.polyv.go_live(c) for c in live], None]
    )
    assert all(s.error is None for s in snapshots)
    assert any(r.status == 403 for r in sim.requests_to(POLYV_STATUS_PATH))
    fired = {c: kinds(e) for c, e in zip([ghost, *channels], events, strict=True) if e}
    assert fired == {channels[-1]: ["started"]}  # channels[5] shares the ghost's batch: unknown


# -- never silent ----------------------------------------------------------------------------------
@pytest.mark.parametrize("retry_after", [math.inf, math.nan, -5.0, 86400.0, 1e308])
def test_a_retry_after_is_capped_at_five_poll_intervals_and_only_finite_ones_count(
    retry_after: float,
) -> None:
    told = LiveApiError("slow down", vendor="v", retryable=True, retry_after=retry_after)
    pause = next_pause(told, 30.0, 30.0)
    assert math.isfinite(pause) and 0 < pause <= 5 * 30.0
    denied = LiveApiError("no", vendor="v", retryable=False, retry_after=retry_after)
    assert math.isfinite(next_pause(denied, 30.0, 30.0))


def test_a_retry_after_of_inf_does_not_silence_the_group(
    sim: SimulatorServer, caplog: pytest.LogCaptureFixture
) -> None:
    """The listing answers 429 with ``Retry-After: inf`` (then a day): the group polls again within
    five intervals each time, and the session that started meanwhile is reported."""
    caplog.set_level(logging.WARNING, logger=stream_sessions.__name__)

    def throttle(retry_after: float) -> Callable[[], None]:
        return lambda: sim.faults.add("429", path="/", times=1, retry_after=retry_after)

    start = lambda: sim.volcengine.start_session(VHOST, APP, "keynote")  # noqa: E731
    (events,), snapshots = watch(
        [volc("keynote", poll_interval=0.02)], [throttle(math.inf), throttle(86400), start]
    )
    throttled = [r for r in listings(sim) if r.status == 429]
    assert len(throttled) == 2
    assert sum(1 for s in snapshots if s.error) == 2
    waits = [float(m) for m in re.findall(r"next poll in ([0-9.]+|inf) s", caplog.text)]
    assert len(waits) == 2 and all(w <= 5 * 0.02 + 0.05 for w in waits)  # what the log says it waits
    assert kinds(events) == ["started"]


def test_a_listing_without_stream_info_list_is_a_failed_poll_not_all_offline(
    sim: SimulatorServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A live session; then the listing answers ``{}`` (no StreamInfoList) for several polls, past
    the grace: no "ended" (the streams are unknown, not offline), each such poll is an error; then
    the listing is back and still shows the session: nothing fires."""
    caplog.set_level(logging.WARNING, logger=stream_sessions.__name__)
    listing = sim.routes[("GET", "/")]

    def empty_answer(req: Any) -> Any:
        from airflow_live_provider.simulator.server import SimResponse

        return SimResponse(200, {"ResponseMetadata": {"RequestId": "rid-empty"}, "Result": {}})

    def broken() -> None:
        sim.routes[("GET", "/")] = empty_answer

    def fixed() -> None:
        sim.routes[("GET", "/")] = listing

    start = lambda: sim.volcengine.start_session(VHOST, APP, "keynote")  # noqa: E731
    (events,), snapshots = watch([volc("keynote")], [start, None, broken, None, None, None, fixed, None])
    assert kinds(events) == ["started"]
    errors = [s.error for s in snapshots if s.error]
    assert len(errors) == 4 and all("StreamInfoList" in e for e in errors)
    assert "3 polls in a row failed" in caplog.text  # the group says so at ERROR
    assert any(r.levelno == logging.ERROR and "StreamInfoList" in r.getMessage() for r in caplog.records)
    assert "polling again after 4 failed polls in a row" in caplog.text


def test_a_group_failing_polls_in_a_row_says_so_with_the_vendors_message_scrubbed(
    sim: SimulatorServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Every signature refused (403 InvalidTimestamp) for six polls: an ERROR at the 3rd and the
    6th naming the vendor's code, never a credential; warnings for the others."""
    caplog.set_level(logging.WARNING, logger=stream_sessions.__name__)

    def skew() -> None:
        sim.clock_skew = 3600.0

    def unskew() -> None:
        sim.clock_skew = 0.0

    watch([volc("keynote")], [skew, None, None, None, None, None, unskew, None])
    mine = [r for r in caplog.records if r.name == stream_sessions.__name__]
    alerts = [r.getMessage() for r in mine if r.levelno == logging.ERROR]
    assert len(alerts) == 2
    assert "3 polls in a row failed" in alerts[0] and "6 polls in a row failed" in alerts[1]
    assert all("InvalidTimestamp" in a and "VolcengineStreamSessionTrigger group" in a for a in alerts)
    assert_no_secret_in(caplog.text, *sim.secrets())


def test_a_listing_stops_at_the_page_cap(sim: SimulatorServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """1,000 streams online fill page 1, so the listing asks for page 2: with a cap of one page the
    poll fails (unknown) instead of paging on; with the cap back the stream is seen live."""
    monkeypatch.setattr(stream_sessions, "MAX_POLL_PAGES", 1)
    start = lambda: [sim.volcengine.start_session(VHOST, APP, f"s{n:04d}") for n in range(1000)]  # noqa: E731
    uncap = lambda: monkeypatch.setattr(stream_sessions, "MAX_POLL_PAGES", 2)  # noqa: E731
    (events,), snapshots = watch([volc("s0001")], [start, None, uncap])
    assert [s.error is not None for s in snapshots] == [True, True, False]
    assert all("more than 1 pages" in (s.error or "") for s in snapshots[:2])
    assert len(listings(sim)) == 2 + 2  # one page for each capped poll, then both pages
    assert kinds(events) == ["started"]


@pytest.mark.parametrize("watcher", ["volcengine", "polyv"])
def test_a_poll_past_its_deadline_is_a_failed_poll(
    sim: SimulatorServer, monkeypatch: pytest.MonkeyPatch, watcher: str
) -> None:
    """With a deadline already passed when the poll begins, the poll fails (its streams unknown,
    the session not reported); with the deadline back the session is reported."""
    monkeypatch.setattr(stream_sessions, "MIN_POLL_DEADLINE_SECONDS", -1.0)
    monkeypatch.setattr(stream_sessions, "POLL_DEADLINE_INTERVALS", 0)
    restore = lambda: monkeypatch.setattr(stream_sessions, "MIN_POLL_DEADLINE_SECONDS", 30.0)  # noqa: E731
    channel = polyv_sim.DEMO_CHANNEL_ID
    if watcher == "volcengine":
        trigger: StreamSessionTrigger = volc("keynote")
        start = lambda: sim.volcengine.start_session(VHOST, APP, "keynote")  # noqa: E731
    else:
        trigger = polyv(channel)
        start = lambda: sim.polyv.go_live(channel)  # noqa: E731
    (events,), snapshots = watch([trigger], [start, None, restore])
    assert [s.error is not None for s in snapshots] == [True, True, False]
    assert all("passed its deadline" in (s.error or "") for s in snapshots[:2])
    assert kinds(events) == ["started"]


def test_a_polyv_status_polyv_does_not_document_is_unknown_not_offline(sim: SimulatorServer) -> None:
    channel = polyv_sim.DEMO_CHANNEL_ID
    trigger = polyv(channel)
    state = None
    snapshot = PollSnapshot(datetime.now(UTC), {channel: "waiting"})
    assert trigger.seen(snapshot, state).live is None
    snapshot = PollSnapshot(snapshot.observed_at, {channel: "end"})
    assert trigger.seen(snapshot, state).live is False


# -- one watcher per vendor scope, its watch list in its asset state --------------------------------
def volc_scope(**kwargs: Any) -> VolcengineSessionScopeTrigger:
    return VolcengineSessionScopeTrigger(**{"poll_interval": 0.01, "offline_grace_seconds": 0, **kwargs})


def polyv_scope(**kwargs: Any) -> PolyvSessionScopeTrigger:
    return PolyvSessionScopeTrigger(**{"poll_interval": 0.01, "offline_grace_seconds": 0, **kwargs})


def watching(*targets: dict[str, Any]) -> MemoryStore:
    """A scope watcher's asset state with a published watch list."""
    return MemoryStore({"watch_list": {"targets": list(targets), "calendar": "test", "published_at": "now"}})


def stream(name: str, app: str = APP) -> dict[str, str]:
    return {"vhost": VHOST, "app": app, "stream": name}


def test_a_scope_watcher_watches_the_streams_on_its_watch_list_one_listing_per_app(
    sim: SimulatorServer,
) -> None:
    """Three streams on two apps listed: two listings a poll, whatever the count; a live stream off
    the list fires nothing; each event names its own stream."""
    store = watching(stream("keynote"), stream("panel"), stream("side", app="other"))
    live = [(APP, "keynote"), ("other", "side"), (APP, "unlisted")]
    start = lambda: [sim.volcengine.start_session(VHOST, a, s) for a, s in live]  # noqa: E731
    (events,), snapshots = watch([volc_scope()], [start, None, None], stores=[store])
    assert len(snapshots) == 3 and all(s.error is None for s in snapshots)
    assert len(listings(sim)) == 3 * 2  # one listing per vhost/app per poll
    assert sorted((e["kind"], e["asset_uri"]) for e in events) == [
        ("started", f"volclive://{VHOST}/{APP}/keynote"),
        ("started", f"volclive://{VHOST}/other/side"),
    ]
    first = next(e for e in events if e["target"]["stream"] == "keynote")
    assert first["target"] == stream("keynote") and first["vendor"] == "volcengine"
    assert first["session_id"].startswith("7")  # the vendor's <ID>@<SessionStartTime>
    assert store.data[f"session:volclive://{VHOST}/{APP}/keynote"]["live"] is True


def test_a_scope_watcher_follows_edits_of_its_watch_list(sim: SimulatorServer) -> None:
    """A stream added to the list is watched from the next poll; one removed is no longer polled
    (its app's listing stops) and fires nothing, even when it stops."""
    store = watching(stream("keynote"))

    def add() -> None:
        store.data["watch_list"] = {"targets": [stream("keynote"), stream("late", app="other")]}

    def remove() -> None:
        store.data["watch_list"] = {"targets": [stream("late", app="other")]}

    script = [
        lambda: [sim.volcengine.start_session(VHOST, a, s) for a, s in [(APP, "keynote"), ("other", "late")]],
        add,
        None,
        remove,
        lambda: sim.volcengine.stop_session(VHOST, APP, "keynote"),
        None,
        None,
    ]
    (events,), snapshots = watch([volc_scope()], script, stores=[store])
    assert [(e["kind"], e["target"]["stream"]) for e in events] == [
        ("started", "keynote"),
        ("started", "late"),
    ]
    apps = [r.query.get("App") for r in listings(sim)]
    assert apps[-2:] == ["other", "other"]  # after the removal only the other app is listed


def test_a_scope_watcher_without_a_watch_list_polls_nothing(sim: SimulatorServer) -> None:
    sim.volcengine.start_session(VHOST, APP, "keynote")
    (events,), snapshots = watch([volc_scope()], [None, None], stores=[MemoryStore()])
    assert events == [] and listings(sim) == [] and len(snapshots) == 2


def test_bad_watch_list_entries_are_left_out(
    sim: SimulatorServer, capsys: pytest.CaptureFixture[str]
) -> None:
    store = watching(stream("keynote"), {"vhost": VHOST, "app": APP, "stream": "key note"}, "s1")
    (events,), _ = watch(
        [volc_scope()], [lambda: sim.volcengine.start_session(VHOST, APP, "keynote"), None], stores=[store]
    )
    assert [e["target"]["stream"] for e in events] == ["keynote"]
    said = capsys.readouterr().out  # the trigger's own log (its file in the triggerer)
    assert "watch list entry 1 left out" in said and "watch list entry 2 left out" in said


def test_a_polyv_scope_watcher_asks_20_channels_a_call(sim: SimulatorServer) -> None:
    channels = [sim.polyv.add_channel(f"Watched {n}") for n in range(45)]
    store = watching(*[{"channel_id": c} for c in channels])
    live = channels[::20]
    (events,), snapshots = watch(
        [polyv_scope()], [lambda: [sim.polyv.go_live(c) for c in live], None], stores=[store]
    )
    assert len(sim.requests_to(POLYV_STATUS_PATH)) == 2 * 3  # ceil(45 / 20) a poll
    assert sorted(e["target"]["channel_id"] for e in events) == sorted(live)
    assert all(
        e["asset_uri"] == f"polyv://polyv_default/channels/{e['target']['channel_id']}" for e in events
    )
    assert all(e["session_id"] == e["started_at"] for e in events)


def test_scope_triggers_serialize_and_group_by_connection() -> None:
    classpath, kwargs = volc_scope(volcengine_conn_id="volc_eu").serialize()
    assert kwargs == {"volcengine_conn_id": "volc_eu", "poll_interval": 0.01, "offline_grace_seconds": 0.0}
    assert import_string(classpath)(**kwargs).serialize() == (classpath, kwargs)
    assert volc_scope().shared_stream_key() != volc_scope(volcengine_conn_id="other").shared_stream_key()
    assert volc_scope().shared_stream_key() != volc("a").shared_stream_key()
    assert polyv_scope().shared_stream_key() != polyv("1").shared_stream_key()
    assert volc_scope().asset_uri() == "stream-sessions/volcengine/volcengine_live_default"
