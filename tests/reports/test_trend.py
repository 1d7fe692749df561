"""Resource trends: forecast arithmetic on real snapshots from the simulator, edge cases, the page."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from airflow_live_provider.assets import SNAPSHOT_PREFIX, SNAPSHOT_SUFFIX
from airflow_live_provider.operators.polyv import PolyvSubAccountSnapshotOperator
from airflow_live_provider.reports.snapshot_report import iter_rows
from airflow_live_provider.reports.trend import (
    DAY_SECONDS,
    TrendBuilder,
    build_trend,
    render_trend_html,
    runway_text,
    snapshot_names,
    trend_summary,
)
from airflow_live_provider.simulator import SimulatorServer
from tests.helpers import assert_no_secret_in

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def row(index: int, taken: datetime, **values: Any) -> dict[str, Any]:
    base = {
        "userId": f"u{index}",
        "email": f"user{index}@example.com",
        "remainMinutes": 1000,
        "remainConcurrent": 50,
        "remainFlow": 100.0,
        "remainSpace": 50.0,
        "snapshotTime": taken.isoformat(),
    }
    base.update(values)
    return base


def opener(path: Path) -> Any:
    return lambda: path.open("r", encoding="utf-8")


def write_snapshot(folder: Path, taken: datetime, rows: list[dict[str, Any]], name: str | None = None) -> str:
    name = name or f"{SNAPSHOT_PREFIX}{taken.strftime('%Y%m%dT%H%M%S')}{SNAPSHOT_SUFFIX}"
    (folder / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
    return name


def trend_of(folder: Path, *, runway_days: float = 30, last: int = 30) -> Any:
    names = snapshot_names(
        (p.name for p in folder.iterdir()), prefix=SNAPSHOT_PREFIX, suffix=SNAPSHOT_SUFFIX, last=last
    )
    return build_trend([(n, opener(folder / n)) for n in names], runway_days=runway_days)


# -- against the simulator ------------------------------------------------------------------------
def snapshot(folder: Path, stamp: str) -> tuple[str, datetime]:
    """A real snapshot through the operator and the simulator; returns its name and its time."""
    name = f"{SNAPSHOT_PREFIX}{stamp}{SNAPSHOT_SUFFIX}"
    summary = PolyvSubAccountSnapshotOperator(task_id="snap", output_uri=str(folder / name)).execute({})
    return name, datetime.fromisoformat(summary["snapshot_time"].replace("Z", "+00:00"))


def test_burn_rates_and_runways_from_simulated_usage(
    sim_connections: SimulatorServer, tmp_path: Path
) -> None:
    """Sub-account 3 uses 500 then 100 live minutes, sub-account 5 tops up its flow after using
    some; one account is removed and two are added between snapshots. Rates are per day from the
    snapshots' real times (about a second apart here: every user of minutes runs out "soon")."""
    polyv = sim_connections.polyv
    polyv.set_sub_account_count(20)
    start_minutes = polyv.sub_account(3)["remainMinutes"]
    _, t1 = snapshot(tmp_path, "20261101T000000")
    polyv.use_resources(3, remainMinutes=500)
    polyv.use_resources(5, remainFlow=10.0)
    time.sleep(1.05)  # snapshotTime has whole seconds
    _, t2 = snapshot(tmp_path, "20261102T000000")
    polyv.use_resources(3, remainMinutes=100)
    polyv.use_resources(5, remainFlow=-40.0)  # a top-up: not usage
    polyv.set_sub_account_count(22)  # two accounts added...
    time.sleep(1.05)
    _, t3 = snapshot(tmp_path, "20261103T000000")

    trend = trend_of(tmp_path, runway_days=30)
    assert [p.taken for p in trend.points] == [t1, t2, t3]
    assert trend.accounts == 22 and trend.added == 2 and trend.removed == 0
    span = (t3 - t1).total_seconds()
    minutes = next(r for r in trend.running_out if r.user_id == "u000000004" and r.field == "remainMinutes")
    assert minutes.remaining == start_minutes - 600
    assert minutes.per_day == pytest.approx(600 / span * DAY_SECONDS)
    assert minutes.days == pytest.approx(minutes.remaining / minutes.per_day)
    flow = next(r for r in trend.running_out if r.user_id == "u000000006" and r.field == "remainFlow")
    assert flow.per_day == pytest.approx(10.0 / span * DAY_SECONDS)  # the top-up is not negative usage
    listed = {(r.user_id, r.field) for r in trend.running_out}
    assert listed == {("u000000004", "remainMinutes"), ("u000000006", "remainFlow")}
    # Jump: account 3 used 100 in the last step after 500 before it: no jump (slower).
    assert trend.jumps_count == 0
    assert trend.group["remainMinutes"].per_day == pytest.approx(minutes.per_day)

    polyv.set_sub_account_count(21)  # ...then one removed
    polyv.use_resources(7, remainSpace=20.0)  # never used before...
    time.sleep(1.05)
    snapshot(tmp_path, "20261104T000000")
    later = trend_of(tmp_path)
    assert later.accounts == 21 and later.removed == 1 and later.added == 1
    # ...but its earlier rate was measured over seconds, not days: no baseline, so no jump.
    assert later.jumps_count == 0
    assert ("u000000008", "remainSpace") in {(r.user_id, r.field) for r in later.running_out}
    page = render_trend_html(later)
    assert_no_secret_in(page, *sim_connections.secrets())
    summary = trend_summary(later, page="file:///x.html")
    assert_no_secret_in(json.dumps(summary), *sim_connections.secrets())
    assert summary["worst_runways"][0]["resource"] in {"Live minutes", "VOD flow (GB)", "VOD space (GB)"}


# -- edge cases -------------------------------------------------------------------------------------
def test_one_snapshot_says_there_is_no_trend_yet(tmp_path: Path) -> None:
    write_snapshot(tmp_path, T0, [row(1, T0), row(2, T0)])
    trend = trend_of(tmp_path)
    assert len(trend.points) == 1 and trend.running_out == [] and trend.accounts == 2
    page = render_trend_html(trend)
    assert "Only one snapshot so far" in page and "no trend yet" in page
    assert page.count("<svg") == 4 and '<meta name="viewport"' in page


def test_gaps_and_minutes_apart_use_real_time(tmp_path: Path) -> None:
    """Snapshots 1 day, then 9 days apart (a gap), then 3 minutes apart: one rate over the real
    span, never a division by zero."""
    times = [T0, T0 + timedelta(days=1), T0 + timedelta(days=10), T0 + timedelta(days=10, minutes=3)]
    minutes = [1000, 900, 0 + 500, 499]
    for moment, value in zip(times, minutes, strict=True):
        write_snapshot(tmp_path, moment, [row(1, moment, remainMinutes=value)])
    trend = trend_of(tmp_path, runway_days=365)
    [runway] = [r for r in trend.running_out if r.field == "remainMinutes"]
    span_days = (times[-1] - times[0]).total_seconds() / DAY_SECONDS
    assert runway.per_day == pytest.approx(501 / span_days)
    assert runway.days == pytest.approx(499 / (501 / span_days))
    assert runway_text(runway.days).startswith("~") and "days" in runway_text(runway.days)
    # The last step used 1 minute in 3 minutes (480/day) vs 50/day before: below the floor of
    # what a step must use to be a jump (a minute is rounding, not a trend).
    assert trend.jumps == []
    assert "Usage jumped (0)" in render_trend_html(trend)


def test_duplicate_and_empty_snapshots_are_skipped_not_divided_by(tmp_path: Path) -> None:
    write_snapshot(tmp_path, T0, [row(1, T0, remainMinutes=100)])
    write_snapshot(
        tmp_path, T0, [row(1, T0, remainMinutes=50)], name=f"{SNAPSHOT_PREFIX}20261101T000001.jsonl"
    )
    write_snapshot(tmp_path, T0, [], name=f"{SNAPSHOT_PREFIX}20261101T000002.jsonl")
    (tmp_path / f".{SNAPSHOT_PREFIX}20261103T000000.jsonl.abc.tmp").write_text("{broken")  # a temporary
    later = T0 + timedelta(days=2)
    write_snapshot(tmp_path, later, [row(1, later, remainMinutes=80)])
    trend = trend_of(tmp_path)
    assert [p.name for p in trend.points] == [
        f"{SNAPSHOT_PREFIX}20261101T000000.jsonl",
        f"{SNAPSHOT_PREFIX}20261103T000000.jsonl",
    ]
    assert len(trend.skipped) == 2
    [runway] = trend.running_out
    assert runway.per_day == pytest.approx(10.0) and runway.days == pytest.approx(8.0)


def test_ran_out_not_using_and_non_finite(tmp_path: Path) -> None:
    later = T0 + timedelta(days=1)
    write_snapshot(tmp_path, T0, [row(1, T0, remainMinutes=10), row(2, T0), row(3, T0, remainFlow="NaN")])
    write_snapshot(
        tmp_path, later, [row(1, later, remainMinutes=0), row(2, later), row(3, later, remainFlow="Infinity")]
    )
    trend = trend_of(tmp_path)
    assert [(r.user_id, r.field, r.days) for r in trend.running_out] == [("u1", "remainMinutes", 0.0)]
    assert runway_text(0) == "ran out" and runway_text(math.inf) == "not running out"
    assert all(math.isfinite(v) for p in trend.points for v in p.totals.values())
    assert trend.group_runway("remainFlow") is None  # nobody uses flow: no runway


def test_snapshot_names_ignore_temporaries_and_later_files() -> None:
    names = [
        f"{SNAPSHOT_PREFIX}20261101T000000.jsonl",
        f"{SNAPSHOT_PREFIX}20261102T000000.jsonl",
        f"{SNAPSHOT_PREFIX}20261102T000000.html",
        f".{SNAPSHOT_PREFIX}20261103T000000.jsonl.x1.tmp",
        f"{SNAPSHOT_PREFIX}20261104T000000.jsonl",
        "polyv_resource_trend_20261102T000000.html",
    ]
    kw = {"prefix": SNAPSHOT_PREFIX, "suffix": SNAPSHOT_SUFFIX}
    assert snapshot_names(names, last=30, **kw) == [names[0], names[1], names[4]]
    assert snapshot_names(names, last=1, until=names[1], **kw) == [names[1]]


# -- memory --------------------------------------------------------------------------------------------
def synthetic_lines(count: int, taken: datetime, day: int) -> Iterator[str]:
    """Rows as wide as the operator writes (~0.6 KB), generated lazily from one template."""
    memo = "x" * 300
    for index in range(count):
        yield (
            f'{{"userId": "u{index}", "email": "user{index}@example.com", "phone": "138{index:08d}", '
            f'"remainMinutes": {10_000 - day * (index % 7)}, "remainConcurrent": 50, '
            f'"remainFlow": {500.0 - day * 0.5}, "remainSpace": 50.0, "memo": "{memo}", '
            f'"snapshotTime": "{taken.isoformat()}"}}'
        )


def test_memory_is_a_fixed_record_per_account_not_rows() -> None:
    """50,000 accounts x 5 snapshots: the peak is a few hundred bytes per account (a row is
    ~0.6 KB of text parsed into a dict of several KB), and snapshots 3 to 5 add nothing to the
    peak reached after 2."""
    import tracemalloc

    builder = TrendBuilder()
    tracemalloc.start()
    try:
        peaks = []
        for day in range(5):
            taken = T0 + timedelta(days=day)
            builder.add_snapshot(f"s{day}", iter_rows(synthetic_lines(50_000, taken, day)))
            if day == 1:
                peaks.append(tracemalloc.get_traced_memory()[1])
                tracemalloc.reset_peak()
        trend = builder.result()
        peaks.append(tracemalloc.get_traced_memory()[1])
    finally:
        tracemalloc.stop()
    assert trend.accounts == 50_000 and len(trend.points) == 5
    assert trend.running_out_count == 0 and trend.group["remainMinutes"].per_day > 0
    after_two, after_five = peaks
    assert after_five / 50_000 < 600, f"{after_five / 50_000:.0f} bytes per account: rows are being kept"
    assert after_five < after_two * 1.25, peaks


# -- missing values and the jump floor (issue 24) -----------------------------------------------------
def days(*offsets: float) -> list[datetime]:
    return [T0 + timedelta(days=d) for d in offsets]


def test_a_blank_latest_value_makes_no_jump_and_is_left_out_of_the_group(tmp_path: Path) -> None:
    """100 -> 70 -> blank over two days: the last step was never measured (no jump from 0 to
    30/day), the account's latest value is unknown (no runway), and the group row for that
    resource neither counts its rate nor says "ran out": it says the account was left out."""
    for moment, value in zip(days(0, 1, 2), [100, 70, ""], strict=True):
        write_snapshot(tmp_path, moment, [row(1, moment, remainMinutes=value)])
    trend = trend_of(tmp_path)
    assert trend.jumps == [] and trend.jumps_count == 0
    assert [r for r in trend.running_out if r.field == "remainMinutes"] == []
    group = trend.group["remainMinutes"]
    assert (group.counted, group.blank, group.per_day) == (0, 1, 0.0)
    assert trend.group_runway("remainMinutes") is None  # unknown, not "ran out"
    page = render_trend_html(trend)
    assert "ran out" not in page
    assert "1 account left out" in page and "latest value blank" in page


def test_group_figures_use_only_accounts_whose_latest_value_is_known(tmp_path: Path) -> None:
    """Account 1 goes blank at the end; account 2 uses 10/day and has 980 left: the group has
    980 at 10/day (98 days), not 980 at 25/day (the blank account's old rate counted)."""
    for moment, first, second in zip(days(0, 1, 2), [100, 70, ""], [1000, 990, 980], strict=True):
        write_snapshot(
            tmp_path, moment, [row(1, moment, remainMinutes=first), row(2, moment, remainMinutes=second)]
        )
    trend = trend_of(tmp_path)
    group = trend.group["remainMinutes"]
    assert (group.counted, group.blank, group.remaining) == (1, 1, 980)
    assert group.per_day == pytest.approx(10.0)
    assert trend.group_runway("remainMinutes") == pytest.approx(98.0)


def test_the_rate_counts_only_measured_steps(tmp_path: Path) -> None:
    """blank -> 100 -> 90 over two days: 10 used in the one measured day, 10/day and 9 days
    left (not 10 over two days: 5/day, 18 days)."""
    for moment, value in zip(days(0, 1, 2), ["", 100, 90], strict=True):
        write_snapshot(tmp_path, moment, [row(1, moment, remainMinutes=value)])
    trend = trend_of(tmp_path)
    [runway] = [r for r in trend.running_out if r.field == "remainMinutes"]
    assert runway.per_day == pytest.approx(10.0) and runway.days == pytest.approx(9.0)
    assert trend.group["remainMinutes"].per_day == pytest.approx(10.0)


def test_a_blank_in_the_middle_leaves_both_its_steps_unmeasured(tmp_path: Path) -> None:
    """100 -> blank -> 70 -> 60, a day apart: only the last step (10 in a day) is measured; the
    30 between 100 and 70 went in steps with an unknown end, so it is not counted."""
    for moment, value in zip(days(0, 1, 2, 3), [100, "", 70, 60], strict=True):
        write_snapshot(tmp_path, moment, [row(1, moment, remainMinutes=value)])
    [runway] = [r for r in trend_of(tmp_path).running_out if r.field == "remainMinutes"]
    assert runway.per_day == pytest.approx(10.0) and runway.days == pytest.approx(6.0)


def test_a_little_use_after_an_idle_stretch_is_not_a_jump(tmp_path: Path) -> None:
    """Nine idle days then one live minute: not a jump (below the floor of what a step must use).
    Two hours in a day after the same nine idle days is one."""
    minutes = [1000] * 10 + [999]
    for offset, value in enumerate(minutes):
        moment = T0 + timedelta(days=offset)
        write_snapshot(tmp_path, moment, [row(1, moment, remainMinutes=value)])
    assert trend_of(tmp_path).jumps_count == 0
    moment = T0 + timedelta(days=11)
    write_snapshot(tmp_path, moment, [row(1, moment, remainMinutes=999 - 120)])
    trend = trend_of(tmp_path)
    [jump] = trend.jumps
    assert (jump.field, jump.per_day_latest) == ("remainMinutes", pytest.approx(120.0))
    page = render_trend_html(trend)  # the page states the floor it applied
    assert "Usage jumped (1)" in page and "over at least 3 days" in page and "Live minutes 60" in page


def test_a_jump_needs_an_earlier_rate_measured_over_days(tmp_path: Path) -> None:
    """Two snapshots an hour apart, then two hours used in the next hour: the rate before was
    measured over an hour, too short to call the next step a jump."""
    times = [T0, T0 + timedelta(hours=1), T0 + timedelta(hours=2)]
    for moment, value in zip(times, [1000, 1000, 880], strict=True):
        write_snapshot(tmp_path, moment, [row(1, moment, remainMinutes=value)])
    assert trend_of(tmp_path).jumps_count == 0
