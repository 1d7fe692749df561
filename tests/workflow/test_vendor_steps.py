"""The shared multi-call steps: validity of every credential, concurrency under the vendor quota."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from airflow.sdk.log import _secrets_masker

from airflow_live_provider.exceptions import LiveApiError
from airflow_live_provider.hooks.polyv import PolyvHook
from airflow_live_provider.simulator import SimulatorServer
from airflow_live_provider.simulator import polyv as polyv_sim
from airflow_live_provider.vendors.polyv import WATCH_TOKEN_PATH
from airflow_live_provider.workflow.vendor_steps import issue_watch_tokens, token_entries, token_expiry
from tests.helpers import assert_no_secret_in


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
    # Neither: the vendor example's 120 s, never "no expiry" (a token kept forever is handed out dead).
    assert token_expiry({"token": "x"}, requested) == requested + timedelta(seconds=120)
    [entry] = token_entries({"token": "t", "expirationTime": "60"}, ["1"], requested)
    assert (entry["validFrom"], entry["validUntil"]) == ("2026-11-23T03:00:00Z", "2026-11-23T03:01:00Z")
    # tokenBegin, Beijing time like tokenEnd, is the start of validity when the vendor gives it.
    [entry] = token_entries({"token": "t", "tokenBegin": "2026-11-23T10:59:58"}, ["1"], requested)
    assert (entry["validFrom"], entry["validUntil"]) == ("2026-11-23T02:59:58Z", "2026-11-23T03:02:00Z")


def test_watch_tokens_are_issued_concurrently_under_the_vendor_quota(
    sim_connections: SimulatorServer, all_logs: pytest.LogCaptureFixture
) -> None:
    """400 viewers at 20 ms per request: several in flight, never over Polyv's 150 requests/s.

    The simulator enforces the quota at a one-second grain here (150 per 1 s instead of 1,500 per
    10 s): stricter, so a client that bursts is caught within the test's few seconds.
    """
    sim_connections.latency = 0.02
    sim_connections.polyv.qps_window = (150, 1.0)
    viewers = [{"viewerId": f"viewer-{i:03d}"} for i in range(400)]
    issued = issue_watch_tokens(PolyvHook(), polyv_sim.DEMO_CHANNEL_ID, viewers)

    assert [t["viewerId"] for t in issued.tokens] == [v["viewerId"] for v in viewers]  # viewer order
    held = sim_connections.polyv.watch_tokens
    assert all(held[t["token"]]["viewerId"] == t["viewerId"] for t in issued.tokens)
    statuses = Counter(r.status for r in sim_connections.requests_to(WATCH_TOKEN_PATH, "POST"))
    assert statuses == {200: 400}, "throttled or retried: the client-side limit did not hold"
    assert sim_connections.max_in_flight > 1, "issued one at a time"
    assert issued.expires_at == min(t["validUntil"] for t in issued.tokens)
    # Masked in one batch: every token is redacted from logs.
    assert all(t["token"] not in _secrets_masker().redact(f"x {t['token']}") for t in issued.tokens)
    assert_no_secret_in(all_logs.text, *(t["token"] for t in issued.tokens))


def test_a_vendor_refusal_fails_the_whole_step(sim_connections: SimulatorServer) -> None:
    viewers = [{"viewerId": "ok-1"}, {"viewerId": "x" * 64}, {"viewerId": "ok-2"}]
    sim_connections.polyv.channels.pop(polyv_sim.DEMO_CHANNEL_ID)  # the watch channel is gone
    with pytest.raises(LiveApiError, match="illegal channel id"):
        issue_watch_tokens(PolyvHook(), polyv_sim.DEMO_CHANNEL_ID, viewers)
