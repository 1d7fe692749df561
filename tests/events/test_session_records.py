"""Session events on record: JSON Lines once per event, ended sessions on their event's run sheet."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pendulum
import pytest

from airflow_live_provider.events.calendar import load_calendar
from airflow_live_provider.events.run_records import RunSheetUnreadable
from airflow_live_provider.events.session_records import record_sessions, session_events, watch_lists
from airflow_live_provider.exceptions import LiveApiInputError

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_CALENDAR = ROOT / "dags" / "live_events.json"
VOLC_URI = "volclive://live.demo.example.com/live/daily-demo"
TARGET = {"vhost": "live.demo.example.com", "app": "live", "stream": "daily-demo"}


def volc_event(kind: str, started: str, ended: str | None = None, session: str = "7@1") -> dict[str, Any]:
    payload: dict[str, Any] = {
        "kind": kind,
        "vendor": "volcengine",
        "conn_id": "volcengine_live_default",
        "asset_uri": VOLC_URI,
        "target": TARGET,
        "session_id": session,
        "started_at": started,
        "first_seen_live_at": started,
        "observed_at": ended or started,
    }
    if ended:
        payload |= {"ended_at": ended, "last_seen_live_at": ended, "duration_seconds": 1.0}
    return payload


def from_trigger(*payloads: dict[str, Any]) -> dict[Any, list[Any]]:
    """What Airflow hands a run: asset -> its events, each with the trigger's payload in ``extra``."""
    return {VOLC_URI: [SimpleNamespace(extra={"from_trigger": True, "payload": p}) for p in payloads]}


def lines(folder: Path) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for f in sorted((folder / "sessions").glob("*.jsonl"))
        for line in f.read_text().splitlines()
    ]


def test_the_sample_calendar_watches_each_stream_and_channel_once() -> None:
    events = load_calendar(SAMPLE_CALENDAR.read_text(), source="live_events.json")
    lists = watch_lists(events, calendar="live_events.json", published_at="2026-12-01T10:00:00Z")
    assert lists["volcengine"] == {
        "targets": [
            {"vhost": "live.demo.example.com", "app": "live", "stream": "daily-demo"},
            {"vhost": "live.demo.example.com", "app": "live", "stream": "launch-keynote"},
        ],
        "calendar": "live_events.json",
        "published_at": "2026-12-01T10:00:00Z",
    }
    assert lists["polyv"]["targets"] == [{"channel_id": "3151318"}]  # two events share it: watched once


def test_events_come_from_the_trigger_else_from_conf_and_bad_ones_name_the_field() -> None:
    started = volc_event("started", "2026-12-01T12:00:00Z")
    assert session_events(from_trigger(started), None)[0]["stream"] == VOLC_URI
    assert session_events({}, {"events": [started]})[0]["kind"] == "started"
    with pytest.raises(LiveApiInputError, match="triggering_asset_events"):
        session_events({}, {})
    with pytest.raises(LiveApiInputError, match=r"conf.events\[0\].kind"):
        session_events({}, {"events": [started | {"kind": "paused"}]})
    with pytest.raises(LiveApiInputError, match=r"payload.ended_at"):
        session_events(from_trigger(volc_event("ended", "2026-12-01T12:00:00Z") | {"ended_at": None}), None)
    with pytest.raises(LiveApiInputError, match="before started_at"):
        session_events({}, {"events": [volc_event("ended", "2026-12-01T12:00:00Z", "2026-12-01T11:00:00Z")]})
    with pytest.raises(LiveApiInputError, match="asset_uri"):
        session_events({}, {"events": [started | {"asset_uri": "polyv://x/channels/1"}]})


def test_a_session_is_recorded_once_and_lands_on_its_event_run_sheet(tmp_path: Path) -> None:
    # 2026-12-01 20:00 Asia/Shanghai is the daily demo's occurrence: 12:00 UTC, 45 minutes.
    started = volc_event("started", "2026-12-01T11:58:30.250Z")
    ended = volc_event("ended", "2026-12-01T11:58:30.250Z", "2026-12-01T12:44:00Z")
    out = str(tmp_path)
    first = record_sessions(
        session_events(from_trigger(started), None),
        output_dir=out,
        calendar=str(SAMPLE_CALENDAR),
        run_id="r1",
    )
    assert first["added"] == 1 and first["sheets"] == []  # a start is not on the sheet yet
    second = record_sessions(
        session_events(from_trigger(ended), None), output_dir=out, calendar=str(SAMPLE_CALENDAR), run_id="r2"
    )
    assert second["added"] == 1
    [sheet_ref] = second["sheets"]
    assert sheet_ref["event_run_id"].startswith("event__daily-product-demo-2026-12-01__20261201T120000Z__")
    recorded = lines(tmp_path)
    assert [(r["kind"], r["durationSeconds"]) for r in recorded] == [("started", None), ("ended", 2729.75)]
    assert {r["stream"] for r in recorded} == {VOLC_URI}

    # Delivered again (a triggerer restart, a replay by hand): nothing new anywhere.
    again = record_sessions(
        session_events({}, {"events": [started, ended]}),
        output_dir=out,
        calendar=str(SAMPLE_CALENDAR),
        run_id="r3",
    )
    assert again["added"] == 0 and again["duplicates"] == 2
    assert len(lines(tmp_path)) == 2

    folder = tmp_path / "daily-product-demo-2026-12-01"
    latest = json.loads((folder / "latest.json").read_text())
    assert latest["sessions"] == [
        {
            "stream": VOLC_URI,
            "sessionId": "7@1",
            "started": "2026-12-01T11:58:30.250Z",
            "ended": "2026-12-01T12:44:00Z",
            "durationSeconds": 2729.75,
        }
    ]
    page = (folder / "latest.html").read_text()
    assert "Stream sessions" in page and "19:58:30" in page and "45 min" in page  # in the event's zone


def test_a_session_off_any_event_is_recorded_but_on_no_sheet(tmp_path: Path) -> None:
    ended = volc_event("ended", "2026-12-01T03:00:00Z", "2026-12-01T03:10:00Z")  # 11:00 local: no demo
    summary = record_sessions(
        [*session_events({}, {"events": [ended]})],
        output_dir=str(tmp_path),
        calendar=str(SAMPLE_CALENDAR),
        run_id="r",
    )
    assert summary["added"] == 1 and summary["sheets"][0]["event_run_id"] is None
    assert not [p for p in tmp_path.iterdir() if p.name != "sessions"]


def test_an_unreadable_sessions_file_is_never_rewritten(tmp_path: Path) -> None:
    month = tmp_path / "sessions" / "2026-12.jsonl"
    month.parent.mkdir()
    month.write_text('{"stream": "x", "kind": "started", "started": "2026-12-01T00:00:00Z"}\nnot json\n')
    before = month.read_text()
    with pytest.raises(RunSheetUnreadable, match="line 2"):
        record_sessions(
            session_events({}, {"events": [volc_event("started", "2026-12-01T11:00:00Z")]}),
            output_dir=str(tmp_path),
            calendar=None,
            run_id="r",
        )
    assert month.read_text() == before


def test_a_session_goes_on_the_sheet_of_the_run_that_has_it_not_over_it(tmp_path: Path) -> None:
    """The instance's run was started by hand (its own run id, not the planner's): the session is
    added to that run's sheet, which keeps its steps, instead of a new empty sheet taking
    ``latest``."""
    from airflow_live_provider.events.calendar import load_calendar, occurrences
    from airflow_live_provider.events.run_records import event_folder, write_step
    from airflow_live_provider.events.run_sheets import publish
    from airflow_live_provider.times import parse_instant

    events = load_calendar(SAMPLE_CALENDAR.read_text())
    start = pendulum.instance(parse_instant("2026-12-01T12:00:00Z"))
    [instance] = [
        i for e in events for i in occurrences(e, start, start + timedelta(minutes=1)) if e.get("volcengine")
    ]
    folder = event_folder(str(tmp_path), instance)
    write_step(folder, "manual__by-hand", "volcengine", {"status": "done", "result": {"push": {}}})
    publish(folder, "manual__by-hand", instance)

    ended = volc_event("ended", "2026-12-01T11:58:30Z", "2026-12-01T12:40:00Z")
    summary = record_sessions(
        session_events({}, {"events": [ended]}),
        output_dir=str(tmp_path),
        calendar=str(SAMPLE_CALENDAR),
        run_id="r",
    )
    assert summary["sheets"][0]["event_run_id"] == "manual__by-hand"
    latest = json.loads(Path(folder.removeprefix("file://"), "latest.json").read_text())
    assert latest["runId"] == "manual__by-hand"
    assert latest["steps"]["volcengine"]["status"] == "done"  # not "waiting": the run's own records
    assert [s["sessionId"] for s in latest["sessions"]] == ["7@1"]
