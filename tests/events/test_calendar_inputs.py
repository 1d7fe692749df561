"""Hostile calendars: every bad rule or start is refused at once, naming the event, the field and
the fix, and nothing a user can write hangs or crashes the planner.

Each row goes through what the DAG does with a calendar (``parse_calendar``, then selecting the
instances of a day and the next start) in a forked child with a deadline, so a rule that makes
dateutil loop forever (``INTERVAL=0`` did) fails its row instead of hanging the suite.
"""

from __future__ import annotations

import multiprocessing
from datetime import timedelta
from typing import Any

import pendulum
import pytest

from airflow_live_provider.events.calendar import (
    event_slug,
    next_start,
    parse_calendar,
    select_upcoming,
)
from airflow_live_provider.exceptions import LiveApiInputError

#: Generous: every row answers in well under a second; the bugs it guards against hang forever
#: (INTERVAL=0) or take seconds per run (a never-occurring rule searched up to year 9999).
DEADLINE_SECONDS = 20.0
NOW = pendulum.datetime(2027, 1, 1, tz="UTC")


def event(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "Launch",
        "start": "2026-12-01T19:30:00",
        "timezone": "Asia/Shanghai",
        "isdp": {"channel_ids": ["10882"], "user_account": "u1"},
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def rule(text: str) -> list[dict[str, Any]]:
    return [event(rrule=text)]


def _plan(calendar: Any, conn: Any) -> None:
    """In the child: parse, select a day, find the next start; report what happened."""
    try:
        events = parse_calendar(calendar)
        select_upcoming(events, NOW, timedelta(hours=24))
        next_start(events, NOW)
        conn.send(("accepted", "", ""))
    except LiveApiInputError as exc:
        conn.send(("refused", exc.field, exc.message))
    except Exception as exc:  # a crash is a failure of the row, reported with its type
        conn.send(("crashed", type(exc).__name__, str(exc)[:300]))


def plan_in_child(calendar: Any) -> tuple[str, str, str]:
    """(outcome, field, message) of planning ``calendar``, or a test failure past the deadline."""
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_plan, args=(calendar, send), daemon=True)
    child.start()
    try:
        if not receive.poll(DEADLINE_SECONDS):
            pytest.fail(f"planning did not return within {DEADLINE_SECONDS:.0f} s: {calendar!r}")
        outcome: tuple[str, str, str] = receive.recv()
        return outcome
    finally:
        child.kill()
        child.join()


REFUSED: list[tuple[str, Any, str, tuple[str, ...]]] = [
    # -- cannot be expanded in bounded time, or would be read as something else ----------------
    ("interval 0 (hung)", rule("FREQ=DAILY;INTERVAL=0"), "rrule", ("INTERVAL=0", "from 1 to 36524")),
    ("interval negative", rule("FREQ=DAILY;INTERVAL=-1"), "rrule", ("INTERVAL=-1", "from 1 to")),
    ("interval centuries", rule("FREQ=YEARLY;INTERVAL=101"), "rrule", ("INTERVAL=101", "from 1 to 100")),
    ("interval 5000 digits", rule("FREQ=DAILY;INTERVAL=" + "9" * 5000), "rrule", ("INTERVAL=", "from 1 to")),
    ("interval full-width digit", rule("FREQ=DAILY;INTERVAL=２"), "rrule", ("INTERVAL=２", "whole number")),
    ("bymonth underscore", rule("FREQ=DAILY;BYMONTH=1_2"), "rrule", ("BYMONTH", "'1_2'", "1 to 12")),
    ("bymonth 13", rule("FREQ=DAILY;BYMONTH=13"), "rrule", ("BYMONTH", "1 to 12")),
    ("byhour 24", rule("FREQ=DAILY;BYHOUR=24"), "rrule", ("BYHOUR", "0 to 23")),
    ("bymonthday 0", rule("FREQ=MONTHLY;BYMONTHDAY=0"), "rrule", ("BYMONTHDAY", "-31 to -1 or 1 to 31")),
    ("until a year only", rule("FREQ=DAILY;UNTIL=2027"), "rrule", ("UNTIL=2027", "20271231T235959")),
    ("until a date only", rule("FREQ=DAILY;UNTIL=20271231"), "rrule", ("UNTIL=20271231", "date-time")),
    ("until 30 February", rule("FREQ=DAILY;UNTIL=20270230T000000"), "rrule", ("UNTIL", "not a real")),
    ("space inside", rule("FREQ=DAILY; COUNT=3"), "rrule", ("without spaces",)),
    ("dateutil's MO(+1)", rule("FREQ=MONTHLY;BYDAY=MO(+1)"), "rrule", ("BYDAY", "weekday such as MO, 2TU")),
    ("freq twice", rule("FREQ=DAILY;FREQ=WEEKLY"), "rrule", ("FREQ is given twice", "keep one")),
    ("freq missing", rule("BYDAY=MO"), "rrule", ("FREQ is missing", "FREQ=DAILY")),
    ("unknown part", rule("FREQ=DAILY;BYDAYS=MO"), "rrule", ("BYDAYS", "did you mean BYDAY")),
    ("dateutil's byeaster", rule("FREQ=YEARLY;BYEASTER=0"), "rrule", ("BYEASTER", "not a rule part")),
    ("empty part", rule("FREQ=DAILY;;COUNT=3"), "rrule", ("empty part", "remove it")),
    ("count and until", rule("FREQ=DAILY;COUNT=3;UNTIL=20271231T000000"), "rrule", ("COUNT and UNTIL",)),
    ("weekly 2nd tuesday", rule("FREQ=WEEKLY;BYDAY=2TU"), "rrule", ("2TU", "MONTHLY or YEARLY")),
    ("8th monday (dateutil crashed)", rule("FREQ=MONTHLY;BYDAY=8MO"), "rrule", ("'8MO'", "from 1 to 5")),
    ("byweekno monthly", rule("FREQ=MONTHLY;BYWEEKNO=1"), "rrule", ("BYWEEKNO", "FREQ=YEARLY")),
    ("bysetpos alone", rule("FREQ=MONTHLY;BYSETPOS=1"), "rrule", ("BYSETPOS needs another BY part",)),
    # -- more than one occurrence per local day: their run sheets would share one folder -------
    (
        "two hours a day",
        rule("FREQ=DAILY;BYHOUR=9,15"),
        "rrule",
        ("BYHOUR=9,15", "2 occurrences", "one local day"),
    ),
    ("half-hourly weekly", rule("FREQ=WEEKLY;BYMINUTE=0,30"), "rrule", ("BYMINUTE=0,30", "2 occurrences")),
    (
        "86,400 a day",
        rule(
            f"FREQ=DAILY;BYHOUR={','.join(map(str, range(24)))};BYMINUTE={','.join(map(str, range(60)))};"
            f"BYSECOND={','.join(map(str, range(60)))}"
        ),
        "rrule",
        ("86400 occurrences", "once a day"),
    ),
    (
        "two a day picked by bysetpos",
        rule("FREQ=MONTHLY;BYDAY=MO;BYHOUR=9,15;BYSETPOS=-1,-2"),
        "rrule",
        ("2 occurrences", "one local day"),
    ),
    # -- never occurs: accepted before, and searched up to year 9999 on every run -------------
    ("count 0", rule("FREQ=DAILY;COUNT=0"), "rrule", ("COUNT=0", "never occurs", "COUNT=1 or more")),
    (
        "until before the start",
        rule("FREQ=DAILY;UNTIL=20250101T000000"),
        "rrule",
        ("UNTIL 2025-01-01T00:00:00 is before the start 2026-12-01T19:30:00", "never occurs"),
    ),
    (
        "no wednesday before until",
        rule("FREQ=WEEKLY;BYDAY=WE;UNTIL=20261201T235959"),
        "rrule",
        ("never occurs from the start 2026-12-01T19:30:00 to UNTIL 2026-12-01T23:59:59",),
    ),
    ("30 February", rule("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"), "rrule", ("never occurs", "end of 2126")),
    ("31 April daily", rule("FREQ=DAILY;BYMONTH=4;BYMONTHDAY=31"), "rrule", ("never occurs",)),
    ("setpos past the day", rule("FREQ=DAILY;BYSETPOS=2;BYHOUR=9"), "rrule", ("never occurs",)),
    ("fifth tuesday on the 1st", rule("FREQ=MONTHLY;BYMONTHDAY=1;BYDAY=5TU"), "rrule", ("never occurs",)),
    ("week 53 in June", rule("FREQ=YEARLY;BYWEEKNO=53;BYMONTH=6"), "rrule", ("never occurs",)),
    (
        "leap day only every 100 years",
        rule("FREQ=YEARLY;INTERVAL=100;BYMONTH=2;BYMONTHDAY=29"),
        "rrule",
        ("never occurs",),
    ),
    # -- starts outside 2000-2100: year 1 and 9999 overflowed ---------------------------------
    ("year 1 wall clock", [event(start="0001-01-01T00:00:00")], "event 'Launch'.start", ("2000-2100",)),
    (
        "year 1 with offset",
        [event(start="0001-01-01T00:30:00+08:00", timezone=None)],
        "event 'Launch'.start",
        ("2000-2100", "check the year"),
    ),
    (
        "year 9999",
        [event(start="9999-12-31T23:00:00Z", timezone=None)],
        "event 'Launch'.start",
        ("2000-2100",),
    ),
    ("year 2101", [event(start="2101-01-01T10:00:00")], "event 'Launch'.start", ("2000-2100",)),
    # -- folders: a one-off named like a series' occurrence would share its run sheets --------
    (
        "one-off named like an occurrence",
        [event(name="X", rrule="FREQ=DAILY"), event(name="X 2026-12-02", start="2026-12-02T10:00:00")],
        "event 'X 2026-12-02'.name",
        ("'x-2026-12-02'", "occurrence of series 'X' on 2026-12-02", "rename one"),
    ),
    (
        "one-off listed after its series' occurrence",
        [
            event(name="Demo Day", start="2026-12-05T10:00:00", occurrence="2026-12-05"),
            event(name="demo-day", rrule="FREQ=WEEKLY"),
        ],
        "event 'Demo Day'.name",
        ("'demo-day-2026-12-05'", "series 'demo-day'", "rename one"),
    ),
]


@pytest.mark.parametrize(
    ("calendar", "field", "fragments"),
    [pytest.param(c, f, m, id=i) for i, c, f, m in REFUSED],
)
def test_bad_calendar_is_refused_in_bounded_time(
    calendar: Any, field: str, fragments: tuple[str, ...]
) -> None:
    outcome, where, message = plan_in_child(calendar)
    assert outcome == "refused", (outcome, where, message)
    assert field in where, where
    for fragment in fragments:
        assert fragment in message, (fragment, message)


@pytest.mark.parametrize(
    ("text", "first"),
    [
        ("FREQ=DAILY;BYHOUR=9", "2026-12-02T09:30:00+08:00"),  # one time a day, another hour
        ("FREQ=MONTHLY;BYDAY=-1FR", "2026-12-25T19:30:00+08:00"),
        ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO", "2044-02-29T19:30:00+08:00"),  # rare, real
        ("FREQ=DAILY;COUNT=1", "2026-12-01T19:30:00+08:00"),
        ("rrule:freq=weekly;until=20261201T193000", "2026-12-01T19:30:00+08:00"),  # UNTIL = start
    ],
)
def test_rules_that_occur_once_a_day_at_most_are_kept(text: str, first: str) -> None:
    """Guard against refusing too much: each of these occurs, at most once per local day."""
    [series] = parse_calendar([event(rrule=text)])
    day_before = pendulum.parse(first).subtract(days=1)
    assert next_start([series], day_before)["start"] == first


def test_ambiguous_local_time_is_its_first_occurrence() -> None:
    """New York repeats 01:00-02:00 on 2026-11-01: "01:30 local" is the first one, 01:30 EDT
    (05:30 UTC), for a one-off start and for a series' occurrence that falls in the fold alike;
    a time in the spring gap still moves forward (02:30 -> 03:30 EDT)."""
    [one_off] = parse_calendar([event(start="2026-11-01T01:30:00", timezone="America/New_York")])
    assert one_off["start"] == "2026-11-01T01:30:00-04:00"
    [series] = parse_calendar(
        [event(start="2026-10-30T01:30:00", timezone="America/New_York", rrule="FREQ=DAILY")]
    )
    fold = select_upcoming([series], pendulum.datetime(2026, 11, 1, 0, 0, tz="UTC"), timedelta(hours=12))
    assert [(e["occurrence"], e["start"]) for e in fold] == [("2026-11-01", "2026-11-01T01:30:00-04:00")]
    [spring] = parse_calendar(
        [event(start="2027-03-12T02:30:00", timezone="America/New_York", rrule="FREQ=DAILY")]
    )
    gap = select_upcoming([spring], pendulum.datetime(2027, 3, 14, 0, 0, tz="UTC"), timedelta(hours=12))
    assert [e["start"] for e in gap] == ["2027-03-14T03:30:00-04:00"]
    # An occurrence re-validated on its own (as each step does) keeps its instant.
    assert parse_calendar([fold[0]])[0]["start"] == fold[0]["start"]
    assert event_slug(fold[0]) == "launch-2026-11-01"
