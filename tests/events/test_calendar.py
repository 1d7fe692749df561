"""The live-events calendar: validation errors name the event and field; selection uses instants."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pendulum
import pytest

from airflow_live_provider.events.calendar import (
    event_slug,
    jit_moments,
    load_calendar,
    next_start,
    parse_calendar,
    select_upcoming,
    slug,
)
from airflow_live_provider.exceptions import LiveApiInputError


def event(name: str = "Launch", **overrides: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "name": name,
        "start": "2026-12-01T19:30:00+08:00",
        "volcengine": {"vhost": "live.example.com", "app": "live", "stream": "launch"},
        "polyv": {
            "channel_id": "3151318",
            "receive_channel_names": [f"{name}-cn", f"{name}-en"],
            "viewers": ["v1"],
        },
        "isdp": {"channel_ids": ["10882"], "user_account": "135965565"},
    }
    raw.update(overrides)
    return raw


def test_valid_calendar_is_normalised() -> None:
    [parsed] = parse_calendar({"events": [event(start="2026-12-01T19:30:00", timezone="Asia/Shanghai")]})
    assert parsed["start"] == "2026-12-01T19:30:00+08:00"
    assert parsed["isdp"] == {
        "channel_ids": ["10882"],
        "user_account": "135965565",
        "role": 1,
        "token_lead_seconds": 90,  # the default: below the 120 s join-token lifetime
    }
    assert parsed["polyv"]["token_lead_seconds"] == 600 and parsed["duration_minutes"] == 60
    assert parsed["polyv"]["viewers"] == [{"viewerId": "v1"}]
    assert parse_calendar([parsed]) == [parsed]  # a validated event validates to itself
    json.dumps(parsed)  # XCom-ready


def test_the_shipped_sample_calendar_is_valid() -> None:
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "dags" / "live_events.json"
    events = load_calendar(path.read_text(), source=str(path))
    assert len(events) >= 1


@pytest.mark.parametrize(
    ("overrides", "field", "hint"),
    [
        ({"start": "2026-12-01T19:30:00"}, "event 'Launch'.start", "no time zone"),
        ({"start": "next tuesday"}, "event 'Launch'.start", "ISO-8601"),
        ({"start": "2026-12-01", "timezone": "UTC"}, "event 'Launch'.start", "date-time"),
        ({"timezone": "Mars/Olympus"}, "event 'Launch'.timezone", "IANA"),
        ({"volcengine": {"vhost": "v", "app": "live"}}, "event 'Launch'.volcengine.stream", "missing"),
        ({"polyv": {"receive_channel_names": ["a"]}}, "event 'Launch'.polyv.channel_id", "missing"),
        (
            {"polyv": {"channel_id": "1", "receive_channel_names": ["a", "a"]}},
            "receive_channel_names[1]",
            "duplicates",
        ),
        (
            {"polyv": {"channel_id": "1", "receive_channel_names": [f"r{i}" for i in range(501)]}},
            "receive_channel_names",
            "at most 500",
        ),
        ({"polyv": {"channel_id": "1", "viewers": ["x" * 65]}}, "viewers[0].viewerId", "at most 64"),
        ({"polyv": {"channel_id": "1", "viewers": [{"nick": "a"}]}}, "viewers[0]", "unknown key"),
        ({"isdp": {"channel_ids": [], "user_account": "u"}}, "isdp.channel_ids", "missing"),
        # The vendors' own validators decide, exactly as the operators and hooks would.
        ({"isdp": {"channel_ids": ["1"], "user_account": "u", "role": -1}}, "isdp.role", "whole-number"),
        ({"isdp": {"channel_ids": ["1", 2.5], "user_account": "u"}}, "isdp.channel_ids[1]", "channel ID"),
        ({"polyv": {"channel_id": "abc"}}, "event 'Launch'.polyv.channel_id", "digits only"),
        ({"polyv": {"channel_id": "1", "watch_channel_id": "x1"}}, "polyv.watch_channel_id", "digits"),
        (
            {"polyv": {"channel_id": "1", "viewers": [{"viewerId": "v", "nickname": 12345}]}},
            "event 'Launch'.polyv.viewers[0].nickname",
            "must be text",
        ),
        (
            {"polyv": {"channel_id": "1", "receive_channel_names": "a,b"}},
            "polyv.receive_channel_names",
            "got a string",
        ),
        ({"volcengine": {"vhost": "v", "app": "my app", "stream": "s"}}, "volcengine.app", "letters"),
        ({"volcengine": {"vhost": "https://v", "app": "a", "stream": "s"}}, "volcengine.vhost", "bare host"),
        (
            {"volcengine": {"vhost": "v", "app": "a", "stream": "s", "domain": "p.example.com/x"}},
            "volcengine.domain",
            "bare host",
        ),
        (
            {"volcengine": {"vhost": "v", "app": "a", "stream": "s", "valid_duration": -5}},
            "volcengine.valid_duration",
            "from 1 to 31536000",
        ),
        ({"volcengine": None, "polyv": None, "isdp": None}, "event 'Launch'", "no vendor section"),
    ],
)
def test_invalid_event_names_event_and_field(overrides: dict[str, Any], field: str, hint: str) -> None:
    with pytest.raises(LiveApiInputError) as info:
        parse_calendar({"events": [event(**overrides)]})
    assert field in str(info.value)
    assert hint in str(info.value)


def test_more_than_one_create_call_of_receive_channels_is_fine() -> None:
    names = [f"r{i}" for i in range(500)]
    [parsed] = parse_calendar([event(polyv={"channel_id": "1", "receive_channel_names": names})])
    assert parsed["polyv"]["receive_channel_names"] == names


def test_duplicate_names_and_bad_shapes() -> None:
    with pytest.raises(LiveApiInputError, match="used twice"):
        parse_calendar([event("Launch"), event("Launch")])
    with pytest.raises(LiveApiInputError, match="'Launch' make the same folder name 'launch'"):
        parse_calendar([event("Launch"), event("launch")])
    with pytest.raises(LiveApiInputError, match=r"events\[1\].name"):
        parse_calendar([event("A"), {"start": "2026-12-01T00:00:00Z"}])
    with pytest.raises(LiveApiInputError, match="calendar"):
        load_calendar("{not json", source="x.json")


def test_yaml_calendar() -> None:
    yaml_text = """
events:
  - name: YAML event
    start: "2026-12-01T08:00:00Z"
    isdp: {channel_ids: ["10882"], user_account: "135965565"}
"""
    [parsed] = load_calendar(yaml_text, source="events.yaml")
    assert parsed["start"] == "2026-12-01T08:00:00+00:00"


def test_selection_compares_instants_across_zones() -> None:
    events = parse_calendar(
        [
            # 19:30 in Shanghai is 11:30 UTC: inside a 24 h window from 12:00 UTC the day before.
            event("Shanghai", start="2026-12-01T19:30:00", timezone="Asia/Shanghai"),
            # 06:00 in New York (UTC-5 in winter) is 11:00 UTC: inside as well, and sooner.
            event("New York", start="2026-12-01T06:00:00", timezone="America/New_York"),
            # 12:00 UTC on Dec 1st is exactly now + 24 h: excluded (half-open window).
            event("Edge", start="2026-12-01T12:00:00Z"),
            # Started one minute ago and still running (60 min): kept, so a late run can issue.
            event("Running", start="2026-11-30T12:59:00+01:00"),
            # Started an hour and a minute ago: over, excluded.
            event("Over", start="2026-11-30T11:59:00+01:00"),
        ]
    )
    now = pendulum.datetime(2026, 11, 30, 12, 0, tz="UTC")
    chosen = select_upcoming(events, now, timedelta(hours=24))
    assert [e["name"] for e in chosen] == ["Running", "New York", "Shanghai"]
    # The same instant expressed in another zone selects the same events.
    assert select_upcoming(events, now.in_timezone("Asia/Tokyo"), timedelta(hours=24)) == chosen
    assert [e["name"] for e in select_upcoming(events, now, timedelta(hours=1))] == ["Running"]
    with pytest.raises(LiveApiInputError, match="lead_hours"):
        select_upcoming(events, now, timedelta(0))


def test_wall_clock_time_on_a_dst_change_day() -> None:
    """New York springs forward on 2027-03-14: 09:00 local that day is 13:00 UTC, not 14:00."""
    [parsed] = parse_calendar([event(start="2027-03-14T09:00:00", timezone="America/New_York")])
    assert pendulum.parse(parsed["start"]).in_timezone("UTC").hour == 13
    before = pendulum.datetime(2027, 3, 14, 12, 30, tz="UTC")
    assert select_upcoming([parsed], before, timedelta(hours=1))  # starts 30 min later
    assert select_upcoming([parsed], before.add(hours=1), timedelta(hours=1))  # running
    assert not select_upcoming([parsed], before.add(hours=2), timedelta(hours=1))  # over


def test_slug() -> None:
    assert slug("Product Launch: Keynote!") == "product-launch-keynote"
    assert slug("发布会 2026") == "发布会-2026"
    assert slug("???") == "event"


def test_wall_clock_time_in_a_dst_gap_moves_forward() -> None:
    """02:30 does not exist in New York on 2027-03-14; it is read as 03:30 EDT (07:30 UTC)."""
    [parsed] = parse_calendar([event(start="2027-03-14T02:30:00", timezone="America/New_York")])
    assert parsed["start"] == "2027-03-14T03:30:00-04:00"


# -- recurrence, durations, just-in-time leads -----------------------------------------------------
def test_weekly_series_keeps_its_wall_clock_time_across_dst() -> None:
    """Berlin leaves summer time on 2026-10-25: 19:30 local is 17:30 UTC before, 18:30 UTC after."""
    [series] = parse_calendar(
        [
            event(
                "Webinar", start="2026-10-06T19:30:00", timezone="Europe/Berlin", rrule="FREQ=WEEKLY;BYDAY=TU"
            )
        ]
    )
    now = pendulum.datetime(2026, 10, 19, 0, 0, tz="UTC")
    found = select_upcoming([series], now, timedelta(days=14))
    assert [(e["occurrence"], pendulum.parse(e["start"]).in_timezone("UTC").hour) for e in found] == [
        ("2026-10-20", 17),
        ("2026-10-27", 18),
    ]
    assert [pendulum.parse(e["start"]).in_timezone("Europe/Berlin").hour for e in found] == [19, 19]
    assert [event_slug(e) for e in found] == ["webinar-2026-10-20", "webinar-2026-10-27"]
    # An occurrence is an ordinary event instance: it validates to itself, without the rule.
    assert "rrule" not in found[0] and parse_calendar([found[0]]) == [found[0]]
    assert next_start([series], pendulum.datetime(2026, 10, 28, tz="UTC"))["occurrence"] == "2026-11-03"


def test_sample_calendar_has_an_event_in_the_window_any_day() -> None:
    """A newcomer who unpauses the DAG today sees provisioning: the daily series is always in."""
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "dags" / "live_events.json"
    events = load_calendar(path.read_text(), source=str(path))
    for days in (0, 1, 100, 400):
        now = pendulum.now("UTC").add(days=days)
        assert select_upcoming(events, now, timedelta(hours=24)), now


@pytest.mark.parametrize(
    ("overrides", "field", "hint"),
    [
        ({"rrule": "FREQ=WEEKLY"}, "event 'Launch'.timezone", "recurring event needs"),
        ({"rrule": "FREQ=HOURLY", "timezone": "Asia/Shanghai"}, "rrule", "more often than daily"),
        ({"rrule": "FREQ=WEEKLY;BYDAY=XX", "timezone": "Asia/Shanghai"}, "rrule", "not a valid RFC 5545"),
        (
            {"rrule": "DTSTART:20260101T000000\nRRULE:FREQ=DAILY", "timezone": "Asia/Shanghai"},
            "rrule",
            "DTSTART",
        ),
        ({"rrule": "FREQ=DAILY;UNTIL=20270101T000000Z", "timezone": "Asia/Shanghai"}, "rrule", "drop the Z"),
        ({"rrule": 7, "timezone": "Asia/Shanghai"}, "rrule", "RFC 5545"),
        ({"duration_minutes": 0}, "duration_minutes", "from 1 to"),
        ({"duration_minutes": "long"}, "duration_minutes", "whole number"),
        (
            {"isdp": {"channel_ids": ["1"], "user_account": "u", "token_lead_seconds": 120}},
            "event 'Launch'.isdp.token_lead_seconds",
            "not below the isdp token lifetime of 120 s",
        ),
        (
            {"polyv": {"channel_id": "1", "viewers": ["v"], "token_lead_seconds": 5 * 3600}},
            "polyv.token_lead_seconds",
            "lifetime of 18000 s",
        ),
        ({"isdp": {"channel_ids": ["1"], "user_account": "u", "token_lead_seconds": 0}}, "lead", "from 1"),
        ({"isdp": {"channel_ids": ["1"], "user_account": "u", "token_lead_seconds": True}}, "lead", "whole"),
    ],
)
def test_invalid_recurrence_duration_and_leads(overrides: dict[str, Any], field: str, hint: str) -> None:
    with pytest.raises(LiveApiInputError) as info:
        parse_calendar([event(**overrides)])
    assert field in str(info.value) and hint in str(info.value)


def test_jit_moments_follow_the_leads() -> None:
    [parsed] = parse_calendar(
        [
            event(
                polyv={"channel_id": "1", "viewers": ["v"], "token_lead_seconds": 1800},
                isdp={"channel_ids": ["1"], "user_account": "u", "token_lead_seconds": "60"},
            )
        ]
    )
    start = pendulum.parse(parsed["start"])
    assert jit_moments(parsed) == {"polyv": start.subtract(minutes=30), "isdp": start.subtract(seconds=60)}
    # No viewers: no watch tokens to issue just in time.
    [no_viewers] = parse_calendar([event(polyv={"channel_id": "1"})])
    assert set(jit_moments(no_viewers)) == {"isdp"}


def test_two_events_cannot_claim_the_same_receive_channel() -> None:
    """Provisioned in parallel they would race to create it; occurrences of one series may."""
    with pytest.raises(LiveApiInputError) as info:
        parse_calendar(
            [
                event("A", polyv={"channel_id": "1", "receive_channel_names": ["cn", "en"]}),
                event("B", polyv={"channel_id": "1", "receive_channel_names": ["jp", "en"]}),
            ]
        )
    assert "event 'B'.polyv.receive_channel_names[1]" in str(info.value) and "claimed by event 'A'" in str(
        info.value
    )
    # Another transmit channel, or one series: fine.
    parse_calendar(
        [
            event("A", polyv={"channel_id": "1", "receive_channel_names": ["en"]}),
            event("B", polyv={"channel_id": "2", "receive_channel_names": ["en"]}),
        ]
    )
