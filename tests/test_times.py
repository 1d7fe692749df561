"""The one time module: what every reader of a time (calendar, sessions, reports, records, the
page, the vendors' answers) accepts and refuses, and the one format we write."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest

from airflow_live_provider.exceptions import LiveApiInputError
from airflow_live_provider.times import instant_or_none, optional_instant, parse_instant, utc_iso
from airflow_live_provider.validation import whole_number

BEIJING = timezone(timedelta(hours=8))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-01T19:30:00+08:00", datetime(2026, 12, 1, 11, 30, tzinfo=UTC)),
        ("2026-12-01T11:30:00Z", datetime(2026, 12, 1, 11, 30, tzinfo=UTC)),
        ("2026-12-01t11:30:00z", datetime(2026, 12, 1, 11, 30, tzinfo=UTC)),
        ("2026-12-01 19:30+08:00", datetime(2026, 12, 1, 11, 30, tzinfo=UTC)),  # space, no seconds
        ("2026-12-01T19:30:00+0800", datetime(2026, 12, 1, 11, 30, tzinfo=UTC)),
        ("2026-12-01T11:30:00.123456789Z", datetime(2026, 12, 1, 11, 30, 0, 123456, tzinfo=UTC)),
        (" 2026-12-01T11:30:00Z\n", datetime(2026, 12, 1, 11, 30, tzinfo=UTC)),  # a record's own padding
    ],
)
def test_iso_8601_extended_times_with_an_offset_are_read(text: str, expected: datetime) -> None:
    assert parse_instant(text) == expected


def test_the_offset_given_is_kept() -> None:
    assert parse_instant("2026-12-01T19:30:00+08:00").utcoffset() == timedelta(hours=8)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("now", "not an ISO-8601 date-time"),
        ("tomorrow", "not an ISO-8601 date-time"),
        ("20261201T193000+0800", "not an ISO-8601 date-time"),  # basic form: Python reads it, pendulum too
        ("2026-W49-2T10:00:00Z", "not an ISO-8601 date-time"),  # week date
        ("２０２６-12-01T10:00:00Z", "not an ISO-8601 date-time"),  # full-width digits
        ("2026-12-01T10:00:00", "has no time zone"),
        ("2026-13-45T00:00:00Z", "not a real date and time"),
        ("2026-02-30T00:00:00Z", "not a real date and time"),
        ("2026-12-01T25:00:00Z", "not a real date and time"),
        ("2026-12-01T10:00:00+24:00", "not a real date and time"),
        ("2026-12-01T10:00:00+05:75", "not a real date and time"),
        ("0001-01-01T00:00:00Z", "outside the years 2000-2100"),  # Go's zero time
        ("9999-12-31T23:59:59Z", "outside the years 2000-2100"),  # "never"
        ("1999-12-31T23:59:59Z", "outside the years 2000-2100"),
        (date(2026, 12, 1), "a date without a time"),
        (True, "a bool"),
        (1_764_000_000, "epoch numbers are not accepted"),
        (["2026-12-01T10:00:00Z"], "is a list"),
        (None, "is missing"),
        ("  ", "is missing"),
        (datetime(2026, 12, 1), "has no time zone"),
        (datetime(1, 1, 1, tzinfo=UTC), "outside the years"),
    ],
)
def test_what_is_not_a_time_is_named_with_its_field(value: Any, problem: str) -> None:
    with pytest.raises(LiveApiInputError) as info:
        parse_instant(value, "event 'X'.start", vendor="calendar")
    assert "event 'X'.start" in str(info.value) and problem in str(info.value), str(info.value)


def test_the_edges_of_the_range_are_times() -> None:
    assert parse_instant("2000-01-01T00:00:00Z").year == 2000
    assert parse_instant("2100-12-31T23:59:59Z").year == 2100
    # The range is on the instant: 2100-12-31T23:00-02:00 is already 2101 in UTC.
    with pytest.raises(LiveApiInputError):
        parse_instant("2100-12-31T23:00:00-02:00")


def test_a_time_without_offset_is_placed_only_where_the_caller_names_its_zone() -> None:
    assert parse_instant("2026-12-01T19:30:00", naive_zone=BEIJING) == datetime(
        2026, 12, 1, 11, 30, tzinfo=UTC
    )
    wall = parse_instant("2026-03-29T02:30:00", naive_ok=True)  # a wall clock, even in a DST gap
    assert wall.tzinfo is None and wall.hour == 2
    with pytest.raises(LiveApiInputError, match="outside the years"):
        parse_instant("0001-01-01T00:00:00", naive_ok=True)


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        (1_764_583_200, datetime(2025, 12, 1, 10, 0, tzinfo=UTC)),
        (1_764_583_200_000, datetime(2025, 12, 1, 10, 0, tzinfo=UTC)),  # Polyv's milliseconds
        ("1764583200000", datetime(2025, 12, 1, 10, 0, tzinfo=UTC)),
        (1_764_583_200.5, datetime(2025, 12, 1, 10, 0, 0, 500000, tzinfo=UTC)),
    ],
)
def test_epoch_numbers_where_a_vendor_documents_them(number: Any, expected: datetime) -> None:
    assert parse_instant(number, "expireDate", epoch=True) == expected


@pytest.mark.parametrize("number", [float("inf"), float("nan"), -5, 0, 10**30, 1e999, 253402214400000, True])
def test_epoch_numbers_outside_any_real_time_are_refused_not_overflowed(number: Any) -> None:
    """OverflowError/OSError used to escape datetime.fromtimestamp for these."""
    with pytest.raises(LiveApiInputError, match="expireDate"):
        parse_instant(number, "expireDate", epoch=True)


def test_optional_and_lenient_forms() -> None:
    assert optional_instant(None) is None and optional_instant("") is None
    assert optional_instant("2026-12-01T10:00:00Z") == datetime(2026, 12, 1, 10, tzinfo=UTC)
    with pytest.raises(LiveApiInputError):
        optional_instant("garbage", "validUntil")
    for hint in (None, "", "garbage", "0001-01-01T00:00:00Z", 17, ["x"]):
        assert instant_or_none(hint) is None
    assert instant_or_none("2026-12-01T10:00:00", naive_zone=UTC) == datetime(2026, 12, 1, 10, tzinfo=UTC)


def test_the_one_format_we_write() -> None:
    moment = datetime(2026, 11, 23, 18, 0, 5, 999_999, tzinfo=BEIJING)
    assert utc_iso(moment) == "2026-11-23T10:00:05Z"  # truncated: expiries err early
    assert utc_iso(moment, milliseconds=True) == "2026-11-23T10:00:05.999Z"
    assert utc_iso(datetime(2026, 11, 23, 10, 0)) == "2026-11-23T10:00:00Z"  # naive: UTC
    assert parse_instant(utc_iso(moment)) == moment.replace(microsecond=0)


@pytest.mark.parametrize(
    "value", ["60٠", "２", "²", " 10", "10\n", "1_0", "0x10", 10.5, float("inf"), True, None]
)
def test_the_one_whole_number_check_refuses_what_is_not_ascii_digits(value: Any) -> None:
    """The calendar's own check used to read "60٠" as 600 and "２" as 2, and raise a raw
    ValueError on "²" (the Live events page's HTTP 500)."""
    with pytest.raises(LiveApiInputError, match="duration_minutes"):
        whole_number(
            value, "duration_minutes", vendor="calendar", low=1, high=10_080, example="60", what="minutes"
        )


@pytest.mark.parametrize(("value", "expected"), [(60, 60), ("60", 60), (60.0, 60)])
def test_the_one_whole_number_check_reads_ints_digit_strings_and_whole_floats(
    value: Any, expected: int
) -> None:
    assert whole_number(value, "n", vendor="calendar", low=1, high=100, example="60") == expected


def test_no_builtin_exception_escapes_the_readers_for_hostile_values() -> None:
    """Seeded fuzz: mutated ISO texts, huge and odd numbers, other types. Every value is either
    read as a time in the years 2000-2100 or refused with LiveApiInputError naming the field;
    never OverflowError, OSError, TypeError or a bare ValueError."""
    import random

    rng = random.Random(20261207)
    base = "2026-12-01T19:30:00.123+08:00"
    alphabet = "0123456789-+:TZ .,z９٠²\x00\n"
    values: list[Any] = [
        None,
        True,
        b"2026",
        {},
        [],
        1e999,
        -1e999,
        float("nan"),
        10**400,
        -(10**30),
        "9" * 5000,
    ]
    for _ in range(3000):
        text = list(base)
        for _ in range(rng.randint(1, 4)):
            position = rng.randrange(len(text))
            text[position] = rng.choice(alphabet) if rng.random() < 0.8 else ""
        values.append("".join(text))
        values.append(rng.choice([1, -1]) * 10 ** rng.randint(0, 40) * rng.random())
        values.append(rng.randint(-(10**15), 10**15))
    for value in values:
        for how in ({}, {"epoch": True}, {"naive_zone": BEIJING}, {"naive_ok": True}):
            try:
                moment = parse_instant(value, "fuzzed", **how)
            except LiveApiInputError as exc:
                assert "fuzzed" in str(exc)
                continue
            assert 2000 <= moment.year <= 2100, (value, moment)
        try:
            whole_number(value, "fuzzed", vendor="calendar", low=0, high=10**6, example="1")
        except LiveApiInputError as exc:
            assert "fuzzed" in str(exc)
