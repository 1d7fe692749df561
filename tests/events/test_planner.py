"""The planner: one run id per instance (readable, stable, changed by any edit), the lead window
check, and whether a run's instance is still current."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pendulum
import pytest

from airflow_live_provider.events.calendar import parse_calendar
from airflow_live_provider.events.planner import (
    PLAN_CHUNK,
    calendar_verdict,
    definition_hash,
    event_from_conf,
    plan_chunks,
    plan_event_runs,
)
from airflow_live_provider.exceptions import LiveApiInputError

NOW = pendulum.datetime(2026, 12, 1, 10, 0, tz="UTC")
AIRFLOW_RUN_ID = re.compile(r"^[A-Za-z0-9_.~:+-]+$")  # [scheduler] allowed_run_id_pattern


def calendar(**changes: Any) -> list[dict[str, Any]]:
    raw = [
        {
            "name": "Daily standup",
            "start": "2026-11-01T18:30:00",
            "timezone": "Asia/Shanghai",
            "rrule": "FREQ=DAILY",
            "isdp": {"channel_ids": ["10882"], "user_account": "135965565"},
        },
        {
            "name": "发布会",
            "start": "2026-12-01T11:10:00Z",
            "polyv": {"channel_id": "3151318", "viewers": ["v1"]},
        },
        {
            "name": "Running",
            "start": "2026-12-01T09:30:00Z",
            "isdp": {"channel_ids": ["1"], "user_account": "u"},
        },
        {
            "name": "Next week",
            "start": "2026-12-08T10:00:00Z",
            "isdp": {"channel_ids": ["1"], "user_account": "u"},
        },
    ]
    for index, change in changes.items():
        raw[int(index.removeprefix("e"))].update(change)
    return parse_calendar(raw)


def plan(events: list[dict[str, Any]], lead: float = 24) -> list[dict[str, Any]]:
    return plan_event_runs(
        events, NOW, timedelta(hours=lead), calendar="/cal.json", output_dir="s3://b/sheets"
    )


def test_one_readable_run_id_per_instance_soonest_first() -> None:
    planned = plan(calendar())
    ids = [p["trigger_run_id"] for p in planned]
    assert len(ids) == len(set(ids)) == 3  # running, 发布会, today's standup; next week is outside
    assert ids[0].startswith("event__running__20261201T093000Z__")
    assert ids[1].startswith("event__daily-standup-2026-12-01__20261201T103000Z__")
    assert ids[2].startswith("event__event__20261201T111000Z__")  # a Chinese name keeps start and hash
    for run_id in ids:
        assert AIRFLOW_RUN_ID.match(run_id) and len(run_id) <= 250, run_id
    conf = planned[1]["conf"]
    assert conf["event"]["occurrence"] == "2026-12-01" and conf["calendar"] == "/cal.json"
    assert conf["output_dir"] == "s3://b/sheets" and conf["definition"] == definition_hash(conf["event"])
    assert event_from_conf(json.loads(json.dumps(conf)))["start"] == conf["event"]["start"]  # survives JSON


def test_planning_twice_gives_the_same_ids_and_an_edit_a_new_one() -> None:
    first = [p["trigger_run_id"] for p in plan(calendar())]
    assert [p["trigger_run_id"] for p in plan(calendar())] == first
    edited = [
        p["trigger_run_id"] for p in plan(calendar(e2={"isdp": {"channel_ids": ["2"], "user_account": "u"}}))
    ]
    assert edited[0] != first[0] and edited[0].rsplit("__", 1)[0] == first[0].rsplit("__", 1)[0]
    assert edited[1:] == first[1:]


def test_two_occurrences_of_a_series_get_their_own_runs() -> None:
    ids = [p["trigger_run_id"] for p in plan(calendar(), lead=48)]
    standups = [i for i in ids if "daily-standup" in i]
    assert len(standups) == 2 and standups[0] != standups[1]


@pytest.mark.parametrize("lead", [0.5, 1.0, 1.1])
def test_a_lead_window_shorter_than_the_planners_hour_plus_a_token_lead_is_refused(lead: float) -> None:
    with pytest.raises(
        LiveApiInputError, match=r"lead_hours: .* too short: the planner runs every 1 h .*'发布会'"
    ):
        plan(calendar(), lead=lead)
    assert plan(calendar(), lead=1.2)  # an hour plus the 600 s Polyv lead fits


def test_an_instance_is_current_changed_or_cancelled() -> None:
    raw = {
        "name": "Launch",
        "start": "2026-12-01T11:00:00Z",
        "isdp": {"channel_ids": ["1"], "user_account": "u"},
    }
    [conf] = [
        p["conf"]
        for p in plan_event_runs(
            parse_calendar([raw]), NOW, timedelta(hours=24), calendar="@planner", output_dir=""
        )
    ]
    assert calendar_verdict(conf, conf["event"], parse_calendar([raw]))[:2] == ("current", "")
    # The same instant written in another form is no change.
    same = {**raw, "start": "2026-12-01T19:00:00", "timezone": "Asia/Shanghai"}
    assert calendar_verdict(conf, conf["event"], parse_calendar([same]))[0] == "current"
    verdict, detail, found = calendar_verdict(
        conf, conf["event"], parse_calendar([{**raw, "start": "2026-12-01T10:30:00Z"}])
    )
    assert verdict == "changed" and "event__launch__20261201T103000Z__" in detail
    assert found is not None and found["start"] == "2026-12-01T10:30:00+00:00"
    assert calendar_verdict(conf, conf["event"], parse_calendar([{**raw, "name": "Other"}]))[0] == "cancelled"
    assert (
        calendar_verdict(conf, conf["event"], parse_calendar([{**raw, "cancelled": True}]))[0] == "cancelled"
    )


def test_two_events_with_the_same_definition_get_different_run_ids() -> None:
    """The hash covers the instance's identity: two Chinese-named events at one start, with the
    same sections, used to share a run id (both reduce to 'event')."""
    body = {"start": "2026-12-01T11:00:00Z", "isdp": {"channel_ids": ["1"], "user_account": "u"}}
    events = parse_calendar([{"name": "发布会", **body}, {"name": "直播间", **body}])
    ids = [p["trigger_run_id"] for p in plan(events)]
    assert len(set(ids)) == 2, ids


def test_5000_new_instances_plan_in_chunks_within_max_map_length() -> None:
    raw = [
        {
            "name": f"E{i}",
            "start": f"2026-12-01T{10 + i // 3600 % 10:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z",
            "isdp": {"channel_ids": ["1"], "user_account": "u"},
        }
        for i in range(5000)
    ]
    planned = plan_event_runs(
        parse_calendar(raw), NOW, timedelta(hours=24), calendar="@planner", output_dir=""
    )
    chunks = plan_chunks(planned)
    assert len(planned) == 5000 and len(chunks) == 5000 // PLAN_CHUNK <= 1024
    assert [p for chunk in chunks for p in chunk] == planned  # every instance once, in order
    assert max(len(json.dumps(chunk)) for chunk in chunks) < 1_000_000
