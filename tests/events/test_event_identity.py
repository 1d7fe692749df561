"""An event instance's identity survives edits: a stable id (default: from the name), the
occurrence's date for a series (iCalendar's RECURRENCE-ID), and a definition that ignores
formatting."""

from __future__ import annotations

from typing import Any

import pendulum
import pytest

from airflow_live_provider.events.calendar import (
    event_slug,
    find_instance,
    instance_definition,
    occurrences,
    parse_calendar,
    select_upcoming,
    validate_event,
)
from airflow_live_provider.exceptions import LiveApiInputError

ISDP = {"channel_ids": ["10882"], "user_account": "135965565"}


def raw(**overrides: Any) -> dict[str, Any]:
    return {"name": "Keynote", "start": "2026-12-01T19:30:00+08:00", "isdp": ISDP} | overrides


def test_the_default_id_is_the_name_based_folder_and_an_explicit_id_survives_a_rename() -> None:
    [default] = parse_calendar([raw()])
    assert default["id"] == "keynote" and event_slug(default) == "keynote"
    [named] = parse_calendar([raw(id="kn-2026")])
    [renamed] = parse_calendar([raw(id="kn-2026", name="Opening keynote")])
    assert event_slug(named) == event_slug(renamed) == "kn-2026"
    assert find_instance([renamed], named) == renamed


@pytest.mark.parametrize("bad", ["Key Note", "kn/../x", "-kn", 7, "KN"])
def test_an_id_not_in_folder_form_is_refused_naming_the_field(bad: Any) -> None:
    with pytest.raises(LiveApiInputError, match=r"event 'Keynote'\.id: .*lower-case letters"):
        parse_calendar([raw(id=bad)])


def test_two_events_with_one_id_are_refused() -> None:
    with pytest.raises(LiveApiInputError, match="kn"):
        parse_calendar([raw(id="kn"), raw(name="Other", id="kn")])


def test_formatting_and_renaming_do_not_change_the_definition() -> None:
    [offset] = parse_calendar([raw()])
    [zoned] = parse_calendar([raw(start="2026-12-01T19:30:00", timezone="Asia/Shanghai")])
    [utc] = parse_calendar([raw(start="2026-12-01T11:30:00Z", timezone="Asia/Shanghai")])
    [renamed] = parse_calendar([raw(name="KEYNOTE")])
    assert instance_definition(offset) == instance_definition(zoned) == instance_definition(utc)
    assert instance_definition(renamed) == instance_definition(offset)
    [moved] = parse_calendar([raw(start="2026-12-01T19:00:00+08:00")])
    [more] = parse_calendar([raw(isdp=ISDP | {"channel_ids": ["10882", "10883"]})])
    assert instance_definition(moved) != instance_definition(offset) != instance_definition(more)


def test_a_moved_one_off_is_found_as_the_same_instance() -> None:
    [old] = parse_calendar([raw()])
    [new] = parse_calendar([raw(start="2026-12-03T09:00:00+08:00")])
    assert find_instance([new], old) == new
    assert find_instance([], old) is None
    assert find_instance(parse_calendar([raw(name="Other")]), old) is None


def test_an_occurrence_keeps_its_identity_when_the_series_time_moves() -> None:
    series = raw(start="2026-12-01T19:30:00", timezone="Asia/Shanghai", rrule="FREQ=DAILY")
    [old_event] = parse_calendar([series])
    window = (pendulum.datetime(2026, 12, 3, tz="UTC"), pendulum.datetime(2026, 12, 4, tz="UTC"))
    [old] = occurrences(old_event, *window)
    [moved_series] = parse_calendar([series | {"start": "2026-12-01T08:00:00"}])
    found = find_instance([moved_series], old)
    assert found is not None and found["occurrence"] == old["occurrence"] == "2026-12-03"
    assert found["start"] == "2026-12-03T08:00:00+08:00"


def test_a_series_starting_in_a_dst_gap_moves_only_the_occurrence_in_the_gap() -> None:
    """02:30 on 2027-03-14 does not exist in New York: that occurrence is at 03:30, the next
    days' stay at 02:30 (they used to follow the first one to 03:30 for good)."""
    [series] = parse_calendar(
        [raw(start="2027-03-14T02:30:00", timezone="America/New_York", rrule="FREQ=DAILY;COUNT=3")]
    )
    found = occurrences(
        series, pendulum.datetime(2027, 3, 13, tz="UTC"), pendulum.datetime(2027, 3, 18, tz="UTC")
    )
    assert [i["start"] for i in found] == [
        "2027-03-14T03:30:00-04:00",
        "2027-03-15T02:30:00-04:00",
        "2027-03-16T02:30:00-04:00",
    ]
    assert [i["occurrence"] for i in found] == ["2027-03-14", "2027-03-15", "2027-03-16"]
    assert validate_event(series, 0) == series  # the validated form validates to itself


def test_a_cancelled_event_is_never_planned_but_is_still_found() -> None:
    [cancelled] = parse_calendar([raw(cancelled=True)])
    now = pendulum.datetime(2026, 12, 1, tz="UTC")
    assert select_upcoming([cancelled], now, pendulum.duration(days=2)) == []
    found = find_instance([cancelled], parse_calendar([raw()])[0])
    assert found is not None and found["cancelled"] is True
    with pytest.raises(LiveApiInputError, match=r"\.cancelled: 'yes' is not true or false"):
        parse_calendar([raw(cancelled="yes")])
