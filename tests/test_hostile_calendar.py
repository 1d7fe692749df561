"""Hostile calendars and event-run confs, round three: wrong types named as wrong types, words
that pendulum would read as "now", impossible dates, repeated keys, zones that name no place,
full-width digits; every refusal a LiveApiInputError naming the field, never a built-in error."""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_live_provider.events.calendar import load_calendar, parse_calendar
from airflow_live_provider.events.planner import event_from_conf
from airflow_live_provider.exceptions import LiveApiInputError

ISDP = {"channel_ids": ["10882"], "user_account": "135965565"}


def entry(**overrides: Any) -> dict[str, Any]:
    return {"name": "Keynote", "start": "2026-12-01T19:30:00+08:00", "isdp": ISDP} | overrides


@pytest.mark.parametrize(
    ("overrides", "field", "says"),
    [
        ({"name": 2026}, "events[0].name", "is a int, not text"),
        ({"name": True}, "events[0].name", "YAML reads yes/no"),
        ({"name": "Key\x00note"}, "events[0].name", "control characters"),
        ({"name": "Key\nnote"}, "events[0].name", "control characters"),
        ({"start": 1764588600}, "event 'Keynote'.start", "is a int, not an ISO-8601 time"),
        ({"start": "now"}, "event 'Keynote'.start", "not an ISO-8601 date-time"),
        ({"start": "tomorrow"}, "event 'Keynote'.start", "not an ISO-8601 date-time"),
        ({"occurrence": "2026-13-45"}, "event 'Keynote'.occurrence", "not a date of the calendar"),
        (
            {"start": "2026-12-01T19:30:00", "timezone": "localtime"},
            "event 'Keynote'.timezone",
            "not a place",
        ),
        (
            {"start": "2026-12-01T19:30:00", "timezone": "right/UTC"},
            "event 'Keynote'.timezone",
            "not a place",
        ),
        ({"duration_minutes": "６０"}, "event 'Keynote'.duration_minutes", ""),
        ({"isdp": ISDP | {"token_lead_seconds": "９０"}}, "event 'Keynote'.isdp.token_lead_seconds", ""),
    ],
)
def test_a_wrong_value_is_refused_naming_the_field(overrides: dict[str, Any], field: str, says: str) -> None:
    with pytest.raises(LiveApiInputError) as raised:
        parse_calendar([entry(**overrides)])
    assert raised.value.field == field and says in raised.value.message, raised.value.message


@pytest.mark.parametrize(
    "text",
    [
        '{"events": [{"name": "Keynote", "start": "2026-12-01T19:30:00", "timezone": "Asia/Shanghai", '
        '"timezone": "Europe/Berlin", "isdp": {"channel_ids": ["1"], "user_account": "u"}}]}',
    ],
)
def test_a_key_given_twice_in_json_is_refused_not_last_one_wins(text: str) -> None:
    with pytest.raises(LiveApiInputError, match="'timezone'.*given twice"):
        load_calendar(text, source="calendar.json")


def test_a_key_given_twice_in_yaml_is_refused_and_an_unquoted_date_time_is_read() -> None:
    twice = (
        "events:\n- name: Keynote\n  start: '2026-12-01T19:30:00'\n"
        "  timezone: Asia/Shanghai\n  timezone: Europe/Berlin\n"
    )
    with pytest.raises(LiveApiInputError, match="'timezone'.*given twice"):
        load_calendar(twice + "  isdp: {channel_ids: ['1'], user_account: u}\n", source="calendar.yaml")
    unquoted = (
        "events:\n- name: Keynote\n  start: 2026-12-01T19:30:00+08:00\n"
        "  isdp: {channel_ids: ['1'], user_account: u}\n"
    )
    [event] = load_calendar(unquoted, source="calendar.yaml")
    assert event["start"] == "2026-12-01T19:30:00+08:00"
    a_date = unquoted.replace("2026-12-01T19:30:00+08:00", "2026-12-01")
    with pytest.raises(LiveApiInputError, match=r"start: 2026-12-01 is a date without a time"):
        load_calendar(a_date, source="calendar.yaml")
    yes = unquoted.replace("name: Keynote", "name: yes")
    with pytest.raises(LiveApiInputError, match=r"events\[0\]\.name: True is a bool"):
        load_calendar(yes, source="calendar.yaml")


@pytest.mark.parametrize(
    ("conf", "field"),
    [
        ({"output_dir": 7}, "dag_run.conf.output_dir"),
        ({"output_dir": ["/a"]}, "dag_run.conf.output_dir"),
        ({"calendar": {"x": 1}}, "dag_run.conf.calendar"),
        ({"definition": 12345678}, "dag_run.conf.definition"),
        ({"definition": "not-hex!"}, "dag_run.conf.definition"),
    ],
)
def test_an_event_run_conf_of_the_wrong_type_is_refused_naming_the_field(
    conf: dict[str, Any], field: str
) -> None:
    [event] = parse_calendar([entry()])
    with pytest.raises(LiveApiInputError) as raised:
        event_from_conf({"event": event, **conf})
    assert raised.value.field == field
    json.dumps(raised.value.message)


def test_credentials_for_a_vendor_the_event_lacks_or_a_list_are_refused(tmp_path: Any) -> None:
    from airflow_live_provider.workflow.event_timeline import event_run, issue_credentials

    [event] = parse_calendar([entry()])
    run = event_run({"event": event, "output_dir": str(tmp_path)}, "r")
    with pytest.raises(LiveApiInputError, match="has no polyv credentials to issue"):
        issue_credentials(run, "polyv")
    with pytest.raises(LiveApiInputError, match=r"vendor: \['isdp'\] issues nothing"):
        issue_credentials(run, ["isdp"])  # type: ignore[arg-type]


@pytest.mark.parametrize("end", ["0001-01-01T00:00:00", "9999-12-31T23:59:59", "0001-01-01T00:00:00Z"])
def test_an_isdp_token_time_at_the_ends_of_the_calendar_is_no_expiry_not_a_crash(end: str) -> None:
    """Go's zero time and a "never" date from the vendor: formatting them in UTC used to raise
    OverflowError; they are read as no known time (the step then relies on expirationTime, else
    on the vendor example's 120 s lifetime: never "no expiry")."""
    from datetime import UTC, datetime, timedelta

    from airflow_live_provider.workflow.vendor_steps import token_entries, token_expiry

    requested = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
    assert token_expiry({"tokenEnd": end}, requested) == requested + timedelta(seconds=120)
    [entry] = token_entries(
        {"token": "t", "tokenBegin": end, "tokenEnd": end, "expirationTime": 60}, ["1"], requested
    )
    assert (entry["validFrom"], entry["validUntil"]) == ("2026-11-23T03:00:00Z", "2026-11-23T03:01:00Z")
