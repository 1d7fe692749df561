"""The snapshot report: streaming summary, comparison, HTML/SVG rendering, no secret fields."""

from __future__ import annotations

import json
import math
import re
import weakref
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from airflow_live_provider.reports.snapshot_report import (
    LIST_CAP,
    build_report,
    compare,
    iter_rows,
    previous_snapshot_name,
    summarize,
    svg_bar_chart,
)
from tests.helpers import assert_no_secret_in

SNAP = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)


def account(index: int, **overrides: object) -> dict[str, object]:
    row: dict[str, object] = {
        "userId": f"u{index}",
        "email": f"user{index}@example.com",
        "remainMinutes": 1000 + index * 10,
        "remainConcurrent": 50 + index,
        "remainFlow": 100.5 + index,
        "remainSpace": 20.0 + index,
        "status": "normal",
        "expireDate": int((SNAP + timedelta(days=365)).timestamp() * 1000),
        "snapshotTime": SNAP.isoformat(),
    }
    row.update(overrides)
    return row


def lines(rows: list[dict[str, object]]) -> list[str]:
    return [json.dumps(r) + "\n" for r in rows]


def test_summary_totals_lowest_inactive_and_expiring() -> None:
    rows = [account(i) for i in range(30)]
    rows[7]["remainMinutes"] = 3
    rows[12]["remainMinutes"] = 0
    rows[20]["status"] = "expired"
    rows[21]["status"] = "frozen"
    rows[3]["expireDate"] = int((SNAP + timedelta(days=2)).timestamp() * 1000)
    rows[4]["expireDate"] = int((SNAP + timedelta(days=6, hours=23)).timestamp() * 1000)
    rows[5]["expireDate"] = int((SNAP + timedelta(days=8)).timestamp() * 1000)  # outside 7 days
    summary = summarize(iter(rows), top_n=3, expiring_within_days=7)

    assert summary.count == 30
    assert summary.snapshot_time == SNAP
    assert summary.totals["remainMinutes"] == sum(float(r["remainMinutes"]) for r in rows)  # type: ignore[arg-type]
    assert summary.totals["remainFlow"] == pytest.approx(sum(100.5 + i for i in range(30)))
    assert [a.user_id for a in summary.lowest["remainMinutes"]] == ["u12", "u7", "u0"]
    assert [a.value for a in summary.lowest["remainMinutes"]] == [0, 3, 1000]
    assert [a.user_id for a in summary.lowest["remainSpace"]] == ["u0", "u1", "u2"]
    assert {(a["userId"], a["status"]) for a in summary.inactive} == {("u20", "expired"), ("u21", "frozen")}
    assert [a["userId"] for a in summary.expiring] == ["u3", "u4"]
    assert summary.expiring[0]["daysLeft"] == pytest.approx(2)


def test_thresholds_flag_each_field_below() -> None:
    rows = [account(0, remainMinutes=5, remainSpace=1.5), account(1), account(2, remainConcurrent=0)]
    summary = summarize(rows, thresholds={"remainMinutes": 100, "remainConcurrent": 1, "remainSpace": 2})
    assert summary.below_threshold_count == 2
    assert summary.below_threshold == [
        {"email": "user0@example.com", "userId": "u0", "fields": ["remainMinutes", "remainSpace"]},
        {"email": "user2@example.com", "userId": "u2", "fields": ["remainConcurrent"]},
    ]
    assert summarize(rows, thresholds={"remainMinutes": None}).below_threshold_count == 0


def test_lists_are_capped_but_counts_exact() -> None:
    rows = (account(i, status="frozen") for i in range(LIST_CAP + 50))
    summary = summarize(rows)
    assert summary.inactive_count == LIST_CAP + 50
    assert len(summary.inactive) == LIST_CAP


def test_summary_keeps_only_a_bounded_number_of_rows_alive() -> None:
    """Streaming, checked directly: of 5,000 rows fed in, only a few dozen may still be referenced
    at any moment (the capped lists), never all of them."""

    class Row(dict):  # type: ignore[type-arg]  # a dict that can be weakly referenced
        pass

    freed = 0
    most_alive = 0

    def count_freed() -> None:
        nonlocal freed
        freed += 1

    def rows() -> Iterator[Row]:
        nonlocal most_alive
        for i in range(5000):
            row = Row(account(i))
            weakref.finalize(row, count_freed)
            most_alive = max(most_alive, i + 1 - freed)
            yield row
            del row

    summary = summarize(rows(), top_n=5)
    assert summary.count == 5000
    assert len(summary.lowest["remainMinutes"]) == 5
    assert most_alive < 200, f"{most_alive} rows held at once: the summary is not streaming"


def test_compare_with_previous_snapshot() -> None:
    previous = [account(i, snapshotTime=(SNAP - timedelta(days=1)).isoformat()) for i in range(5)]
    current = [account(i, remainMinutes=500) for i in range(1, 6)]
    current[0]["status"] = "expired"
    change = compare(summarize(current), summarize(previous))
    assert change.count_delta == 0
    assert (change.added, change.removed) == (1, 1)
    assert change.totals_delta["remainMinutes"] == 5 * 500 - sum(1000 + i * 10 for i in range(5))
    assert change.newly_inactive == [{"id": "u1", "status": "expired"}]
    assert change.previous_time == SNAP - timedelta(days=1)


def test_bad_line_is_named_by_number_only() -> None:
    with pytest.raises(ValueError, match="line 2") as info:
        list(iter_rows(['{"a": 1}\n', '{"appSecret": "s3cr3t-value"\n']))
    assert "s3cr3t" not in str(info.value)


def test_html_report_is_self_contained_and_escaped() -> None:
    rows = [account(i) for i in range(4)]
    rows[0]["email"] = "<script>alert(1)</script>@x"
    rows[1]["appSecret"] = "leaky-app-secret-123"  # a row that somehow kept a secret
    rows[2]["status"] = "frozen"
    previous = [account(i, remainMinutes=2000) for i in range(3)]
    page, summary, change = build_report(
        lines(rows), lines(previous), snapshot_name="s2.jsonl", previous_name="s1.jsonl", top_n=3
    )
    assert page.startswith("<!DOCTYPE html>")
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page), "report must not load external assets"
    assert page.count("<svg") == 4
    assert "Change since the previous snapshot" in page and "s1.jsonl" in page
    assert change is not None and change.added == 1
    assert_no_secret_in(page, "leaky-app-secret-123")
    first, _, _ = build_report(lines(rows))
    assert "No previous snapshot" in first


def test_svg_bars_scale_to_largest_value() -> None:
    from airflow_live_provider.reports.snapshot_report import AccountValue

    svg = svg_bar_chart(
        [AccountValue("a@x", "1", 10), AccountValue("b@x", "2", 40), AccountValue("c@x", "3", 0)],
        title="t",
        threshold=20,
        width=400,
    )
    bars = re.findall(r'<rect class="bar (\w+)" [^>]*width="([\d.]+)"', svg)
    widths = [float(w) for _, w in bars]
    assert widths[1] == pytest.approx(400 - 16)
    assert widths[0] == pytest.approx(widths[1] / 4)
    assert widths[2] == 0
    # Coloured by status: only the accounts under the threshold (10 and 0, not 40) are red.
    assert [state for state, _ in bars] == ["below", "fine", "below"]
    assert svg.count('fill="#c0392b"') == 2


def test_report_reads_on_a_phone_and_says_things_once() -> None:
    """Viewport meta and scalable charts; no "None." under a zero count; the previous snapshot is
    introduced by the time it was taken; fields carry their labels, never their API names."""
    rows = [account(i) for i in range(5)]
    rows[1]["remainMinutes"] = 3
    before = [dict(r, snapshotTime=(SNAP - timedelta(hours=7, minutes=54)).isoformat()) for r in rows]
    page, summary, _ = build_report(
        lines(rows),
        lines(before),
        snapshot_name="polyv_subaccounts_20261123T000000.jsonl",
        previous_name="polyv_subaccounts_20261122T000000.jsonl",
        thresholds={"remainMinutes": 1000, "remainFlow": None},
    )
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert "max-width:100%;height:auto" in page and '<div class="scroll"><table>' in page
    assert "Newly expired or frozen: 0.</p>\n<p>None." not in page
    assert "Below threshold (1)" in page and "Live minutes &lt; 1,000" in page
    assert "Previous snapshot taken 2026-11-22 16:06 UTC" in page
    assert "remainMinutes" not in page
    assert page.count('class="bar below"') == 1  # only the one account under 1,000 minutes


def test_previous_snapshot_name_picks_latest_earlier() -> None:
    names = [
        "polyv_subaccounts_20261120T000000.jsonl",
        "polyv_subaccounts_20261122T000000.jsonl",
        "polyv_subaccounts_20261122T000000.html",
        "polyv_subaccounts_20261124T000000.jsonl",
        "other.jsonl",
    ]
    current = "polyv_subaccounts_20261123T000000.jsonl"
    kw = {"prefix": "polyv_subaccounts_", "suffix": ".jsonl"}
    assert previous_snapshot_name(current, names + [current], **kw) == names[1]
    assert previous_snapshot_name(names[0], names, **kw) is None


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "-Infinity", "1e400", float("nan"), float("inf")])
def test_non_finite_values_are_never_summed(bad: object) -> None:
    rows = [account(0), account(1, remainMinutes=bad, remainFlow=bad)]
    summary = summarize(iter(rows))
    assert summary.totals["remainMinutes"] == 1000.0
    assert summary.totals["remainFlow"] == 100.5
    assert all(math.isfinite(v) for v in summary.totals_rounded().values())
