"""The shared multi-call steps: validity of every credential, concurrency under the vendor quota."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow_live_provider.steps import token_entries, token_expiry


def test_token_expiry_rules() -> None:
    requested = datetime(2026, 11, 23, 3, 0, 0, tzinfo=UTC)
    assert token_expiry(
        {"expirationTime": 120, "tokenEnd": "2030-01-01T00:00:00"}, requested
    ) == requested + timedelta(seconds=120)
    # tokenEnd without an offset is the vendor's Beijing time: 11:02 +08:00 is 03:02 UTC.
    end = token_expiry({"tokenEnd": "2026-11-23T11:02:00"}, requested)
    assert end == datetime(2026, 11, 23, 3, 2, 0, tzinfo=UTC)
    assert token_expiry({"tokenEnd": "2026-11-23T03:05:00Z"}, requested) == datetime(
        2026, 11, 23, 3, 5, tzinfo=UTC
    )
    assert token_expiry({"token": "x"}, requested) is None
    [entry] = token_entries({"token": "t", "expirationTime": "60"}, ["1"], requested)
    assert (entry["validFrom"], entry["validUntil"]) == ("2026-11-23T03:00:00Z", "2026-11-23T03:01:00Z")
    # tokenBegin, Beijing time like tokenEnd, is the start of validity when the vendor gives it.
    [entry] = token_entries({"token": "t", "tokenBegin": "2026-11-23T10:59:58"}, ["1"], requested)
    assert (entry["validFrom"], entry["validUntil"]) == ("2026-11-23T02:59:58Z", None)
