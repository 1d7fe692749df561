"""The operators' shared output helpers: one timestamp format."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from airflow_live_provider.operators.common import utc_iso


def test_utc_iso_is_utc_to_the_second_with_z() -> None:
    beijing = timezone(timedelta(hours=8))
    assert utc_iso(datetime(2026, 11, 23, 18, 0, 5, 999_999, tzinfo=beijing)) == "2026-11-23T10:00:05Z"
    now = datetime.fromisoformat(utc_iso().replace("Z", "+00:00"))
    assert now.tzinfo is not None and abs(datetime.now(UTC) - now) < timedelta(minutes=1)
