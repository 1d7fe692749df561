"""Change detection for stream sessions (pure): what each sequence of polls fires, and nothing else."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from airflow_live_provider.events.sessions import OFFLINE, UNKNOWN, Seen, WatchState, observe

T0 = datetime(2026, 12, 1, 10, 0, 0, tzinfo=UTC)
GRACE = 60.0
IDENTITY = {
    "vendor": "volcengine",
    "conn_id": "volcengine_live_default",
    "asset_uri": "volclive://live.example.com/live/keynote",
    "target": {"vhost": "live.example.com", "app": "live", "stream": "keynote"},
}


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def live(
    session: str = "1@2026-12-01T09:59:00.000Z", started: str | None = "2026-12-01T09:59:00.000Z"
) -> Seen:
    return Seen(live=True, session_id=session, started_at=started)


def run(
    polls: Sequence[tuple[float, Seen]], state: WatchState | None = None
) -> tuple[WatchState, list[dict]]:
    """Feed the polls in order, as the trigger does; all events fired."""
    fired: list[dict] = []
    for seconds, seen in polls:
        state, events = observe(state, seen, at(seconds), GRACE, identity=IDENTITY)
        fired.extend(events)
    assert state is not None
    return state, fired


def test_first_sight_of_a_live_stream_is_one_started_event() -> None:
    state, fired = run([(0, live()), (30, live()), (60, live())])
    assert fired == [
        {
            **IDENTITY,
            "kind": "started",
            "session_id": "1@2026-12-01T09:59:00.000Z",
            "started_at": "2026-12-01T09:59:00.000Z",  # the vendor's SessionStartTime
            "first_seen_live_at": "2026-12-01T10:00:00.000Z",
            "observed_at": "2026-12-01T10:00:00.000Z",
        }
    ]
    assert state.live and state.last_seen_live_at == "2026-12-01T10:01:00.000Z"


def test_an_offline_stream_fires_nothing() -> None:
    assert run([(0, OFFLINE), (30, OFFLINE)])[1] == []


def test_a_blip_shorter_than_the_grace_fires_nothing() -> None:
    state, fired = run([(0, live()), (30, OFFLINE), (60, OFFLINE), (80, live()), (200, live())])
    assert [e["kind"] for e in fired] == ["started"]
    assert state.offline_since is None  # the blip is forgotten: the next outage counts afresh


def test_offline_longer_than_the_grace_ends_the_session_at_its_first_offline_poll() -> None:
    _, fired = run([(0, live()), (30, live()), (60, OFFLINE), (90, OFFLINE), (120, OFFLINE), (150, OFFLINE)])
    assert [e["kind"] for e in fired] == ["started", "ended"]
    ended = fired[1]
    assert ended == {
        **IDENTITY,
        "kind": "ended",
        "session_id": "1@2026-12-01T09:59:00.000Z",
        "started_at": "2026-12-01T09:59:00.000Z",
        "first_seen_live_at": "2026-12-01T10:00:00.000Z",
        "observed_at": "2026-12-01T10:02:00.000Z",  # the poll 60 s after the first offline one
        "last_seen_live_at": "2026-12-01T10:00:30.000Z",
        "ended_at": "2026-12-01T10:01:00.000Z",
        "duration_seconds": 120.0,  # from the vendor's start to the first offline poll
    }


def test_a_flapping_stream_fires_once_per_real_session() -> None:
    flaps: list[tuple[float, Seen]] = []
    for i in range(20):  # live 10 s, offline 10 s, for 400 s: never offline for the grace
        flaps += [(i * 20, live()), (i * 20 + 10, OFFLINE)]
    flaps += [(400 + s, OFFLINE) for s in (10, 40, 70)]  # then really offline
    flaps += [(500, live("2@2026-12-01T10:08:15.000Z", "2026-12-01T10:08:15.000Z"))]
    _, fired = run(flaps)
    assert [e["kind"] for e in fired] == ["started", "ended", "started"]
    assert fired[1]["ended_at"] == "2026-12-01T10:06:30.000Z"  # the last blip's first offline poll
    assert fired[2]["session_id"] == "2@2026-12-01T10:08:15.000Z"


def test_another_session_without_an_offline_poll_ends_the_old_then_starts_the_new() -> None:
    new = live("2@2026-12-01T10:00:45.000Z", "2026-12-01T10:00:45.000Z")
    _, fired = run([(0, live()), (30, live()), (60, new), (90, new)])
    assert [(e["kind"], e["session_id"]) for e in fired] == [
        ("started", "1@2026-12-01T09:59:00.000Z"),
        ("ended", "1@2026-12-01T09:59:00.000Z"),
        ("started", "2@2026-12-01T10:00:45.000Z"),
    ]
    assert fired[1]["ended_at"] == fired[1]["observed_at"] == "2026-12-01T10:01:00.000Z"
    assert fired[2]["started_at"] == "2026-12-01T10:00:45.000Z"


def test_a_new_session_seen_inside_the_grace_ends_the_old_at_its_first_offline_poll() -> None:
    new = live("2@2026-12-01T10:00:50.000Z", "2026-12-01T10:00:50.000Z")
    _, fired = run([(0, live()), (30, OFFLINE), (60, new)])
    assert [e["kind"] for e in fired] == ["started", "ended", "started"]
    assert fired[1]["ended_at"] == "2026-12-01T10:00:30.000Z"


def test_error_polls_are_unknown_never_offline() -> None:
    # Errors for far longer than the grace, in the middle of a session: nothing ends.
    polls = [(0, live())] + [(s, UNKNOWN) for s in range(30, 600, 30)] + [(600, live())]
    state, fired = run(polls)
    assert [e["kind"] for e in fired] == ["started"]
    # An error poll does not count as the first offline poll either: the grace starts at 630.
    polls = [(630, OFFLINE), (660, UNKNOWN), (680, OFFLINE), (700, live())]
    _, fired = run(polls, state)
    assert fired == []
    # ...and an error poll never stands in for the offline poll that decides "ended".
    _, fired = run([(630, OFFLINE), (700, UNKNOWN), (720, UNKNOWN)], state)
    assert fired == []
    _, fired = run([(630, OFFLINE), (700, UNKNOWN), (720, OFFLINE)], state)
    assert [(e["kind"], e["ended_at"]) for e in fired] == [("ended", "2026-12-01T10:10:30.000Z")]


def test_no_state_and_an_error_poll_fires_nothing_then_first_sight_counts() -> None:
    state, fired = run([(0, UNKNOWN)])
    assert fired == [] and state == WatchState()
    _, fired = run([(30, live())], state)
    assert [e["kind"] for e in fired] == ["started"]


def test_a_restart_mid_session_from_the_stored_json_fires_nothing() -> None:
    state, fired = run([(0, live()), (30, live())])
    stored = json.loads(json.dumps(state.to_json()))  # what the asset state store gives back
    restored = WatchState.from_json(stored)
    assert restored == state
    _, after = run([(90, live()), (120, live())], restored)
    assert after == []
    # ...and the session still ends once, with the times seen before the restart.
    _, after = run([(150, OFFLINE), (210, OFFLINE)], restored)
    assert [(e["kind"], e["first_seen_live_at"]) for e in after] == [("ended", "2026-12-01T10:00:00.000Z")]


def test_a_restart_mid_grace_does_not_lose_the_end() -> None:
    state, _ = run([(0, live()), (30, OFFLINE)])
    restored = WatchState.from_json(json.loads(json.dumps(state.to_json())))
    _, after = run([(95, OFFLINE)], restored)
    assert [(e["kind"], e["ended_at"]) for e in after] == [("ended", "2026-12-01T10:00:30.000Z")]


def test_polyv_without_session_ids_uses_the_first_live_poll_as_the_start_and_the_id() -> None:
    polyv = {
        "vendor": "polyv",
        "conn_id": "polyv_default",
        "asset_uri": "polyv://polyv_default/channels/1",
        "target": {"channel_id": "1"},
    }
    state, fired = observe(None, Seen(live=True), at(0), GRACE, identity=polyv)
    # The id is fixed in the state when the session starts: every event of it carries the same.
    assert fired[0]["session_id"] == state.session_id == "2026-12-01T10:00:00.000Z"
    assert fired[0]["started_at"] == fired[0]["first_seen_live_at"] == "2026-12-01T10:00:00.000Z"
    state, fired = observe(state, Seen(live=True), at(20), GRACE, identity=polyv)
    state, fired = observe(state, Seen(live=False), at(30), GRACE, identity=polyv)
    state, fired = observe(state, Seen(live=False), at(90), GRACE, identity=polyv)
    assert fired[0]["duration_seconds"] == 30.0 and fired[0]["target"] == {"channel_id": "1"}
    assert fired[0]["session_id"] == "2026-12-01T10:00:00.000Z"


def test_pending_events_survive_the_json_round_trip_and_bad_ones_are_not_ours() -> None:
    state, fired = observe(None, live(), at(0), GRACE, identity=IDENTITY)
    state = replace(state, pending=tuple(fired))
    back = WatchState.from_json(json.loads(json.dumps(state.to_json())))
    assert back == state and back.pending[0]["kind"] == "started"
    assert WatchState.from_json({**state.to_json(), "pending": "started"}) is None
    assert WatchState.from_json({**state.to_json(), "pending": ["started"]}) is None
    assert WatchState.from_json({"live": False}) == WatchState()  # stored before pending existed


def test_stored_values_not_ours_count_as_no_state() -> None:
    assert WatchState.from_json(None) is None
    assert WatchState.from_json("live") is None
    assert WatchState.from_json({"live": "yes"}) is None
    assert WatchState.from_json({"live": True, "session_id": 5}) is None
    assert WatchState.from_json({"live": False, "other": 1}) == WatchState()
