"""LiveRetryPolicy's decisions, from real errors of the vendor clients (the simulator answering).

The end-to-end proofs (a refused secret fails at the first try of a real task with retries left; a
429 is retried after at least its Retry-After) are in tests/dags/test_operations_dags.py.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from airflow.sdk import RetryDecision
from airflow.sdk.definitions.retry_policy import RetryAction

from airflow_live_provider.exceptions import (
    LiveApiAuthError,
    LiveApiConnectionError,
    LiveApiError,
    LiveApiInputError,
    LiveApiRateLimitError,
    LiveApiResponseError,
)
from airflow_live_provider.retry_policy import LiveRetryPolicy, vendor_errors
from airflow_live_provider.simulator import SimulatorServer

ROOT = Path(__file__).resolve().parent.parent
POLICY = LiveRetryPolicy(base_delay=timedelta(seconds=10), max_delay=timedelta(seconds=60))


def decide(exc: BaseException, try_number: int = 1) -> RetryDecision:
    return POLICY.evaluate(exc, try_number=try_number, max_tries=3)


def raised(call: object) -> LiveApiError:
    with pytest.raises(LiveApiError) as info:
        call()  # type: ignore[operator]
    return info.value


def with_wrong_secret(
    simulator: SimulatorServer, monkeypatch: pytest.MonkeyPatch, conn_id: str, **changes: object
) -> None:
    """Every default connection pointing at the simulator, ``conn_id`` with ``changes``."""

    for name, value in simulator.connection_env().items():
        monkeypatch.setenv(name, value)
    key = f"AIRFLOW_CONN_{conn_id.upper()}"
    conn = json.loads(simulator.connection_env()[key])
    for field, value in changes.items():
        if field.startswith("extra."):
            conn["extra"][field[6:]] = value
        else:
            conn[field] = value
    monkeypatch.setenv(key, json.dumps(conn))


def test_a_refused_secret_from_the_vendor_fails_at_once(
    simulator: SimulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Real answers: Volcengine 401 SignatureDoesNotMatch, ISDP 401 invalid_client, Polyv 403."""
    from airflow_live_provider.hooks.isdp import IsdpHook
    from airflow_live_provider.hooks.polyv import PolyvHook
    from airflow_live_provider.hooks.volcengine import VolcengineLiveHook
    from airflow_live_provider.simulator import volcengine as volc_sim

    with_wrong_secret(simulator, monkeypatch, "volcengine_live_default", password="wrong-secret-key")
    volc = raised(lambda: VolcengineLiveHook().describe_auth("push", vhost=volc_sim.DEMO_VHOST))
    with_wrong_secret(simulator, monkeypatch, "isdp_default", **{"extra.client_secret": "wrong-client"})
    isdp = raised(lambda: IsdpHook().get_access_token())
    with_wrong_secret(simulator, monkeypatch, "polyv_group_default", password="wrong-group-secret")
    polyv = raised(lambda: list(PolyvHook(polyv_conn_id="polyv_group_default").iter_sub_accounts()))
    errors = [volc, isdp, polyv]
    assert [e.http_status for e in errors] == [401, 401, 403]
    for error in errors:
        decision = decide(error)
        assert decision.action is RetryAction.FAIL, error
        assert "refused" in (decision.reason or "") and type(error).__name__ in (decision.reason or "")


@pytest.mark.parametrize(
    "error",
    [
        LiveApiInputError("channel_id", "is empty"),
        LiveApiResponseError("DescribeAuth answered in an unexpected shape", vendor="volcengine"),
        LiveApiError("channel not found", vendor="polyv", code=400, http_status=200, retryable=False),
    ],
    ids=["input", "bad answer", "business refusal"],
)
def test_what_a_retry_cannot_fix_fails_at_once(error: LiveApiError) -> None:
    assert decide(error).action is RetryAction.FAIL


def test_throttling_waits_at_least_retry_after_even_past_the_backoff_cap() -> None:
    for retry_after in (3.0, 600.0):  # 600 s: above max_delay (60 s), still honoured
        error = LiveApiRateLimitError("throttled", vendor="polyv", http_status=429, retry_after=retry_after)
        for try_number in (1, 2, 5):
            decision = decide(error, try_number)
            assert decision.action is RetryAction.RETRY
            assert decision.retry_delay is not None
            assert retry_after <= decision.retry_delay.total_seconds() <= retry_after * 1.1
            assert "Retry-After" in (decision.reason or "")


def test_throttling_without_a_hint_and_transient_errors_back_off_exponentially() -> None:
    errors = [
        LiveApiRateLimitError("qps exceeds number of calls", vendor="polyv"),
        LiveApiError("server error", vendor="isdp", http_status=503, retryable=True),
        LiveApiConnectionError("POST /x failed: ConnectionError", vendor="polyv", retryable=True),
    ]
    for error in errors:
        ceilings = []
        for try_number in (1, 2, 3, 4, 5):
            decision = decide(error, try_number)
            assert decision.action is RetryAction.RETRY and decision.retry_delay is not None
            ceilings.append(decision.retry_delay.total_seconds())
        # try 1: [5, 10] s, try 2: [10, 20], try 3: [20, 40], then capped at 60: [30, 60]
        for seconds, (low, high) in zip(
            ceilings, [(5, 10), (10, 20), (20, 40), (30, 60), (30, 60)], strict=True
        ):
            assert low <= seconds <= high, (error, ceilings)


def test_the_vendor_error_is_found_behind_wrapping_and_in_groups() -> None:
    auth = LiveApiAuthError("invalid signature.", vendor="polyv", http_status=403)
    try:
        try:
            raise auth
        except LiveApiError as exc:
            raise RuntimeError("step polyv_tokens failed") from exc
    except RuntimeError as wrapped:
        assert vendor_errors(wrapped) == [auth]
        assert decide(wrapped).action is RetryAction.FAIL
    throttled = LiveApiRateLimitError("throttled", vendor="isdp", retry_after=7)
    group = ExceptionGroup("tokens", [ValueError("x"), throttled])
    decision = decide(group)
    assert decision.action is RetryAction.RETRY and decision.retry_delay is not None
    assert decision.retry_delay.total_seconds() >= 7
    # One error that cannot pass outweighs one that could.
    assert decide(ExceptionGroup("both", [throttled, auth])).action is RetryAction.FAIL


def test_other_errors_keep_airflows_own_rules() -> None:
    assert decide(KeyError("x")).action is RetryAction.DEFAULT
    assert decide(OSError("disk full")).action is RetryAction.DEFAULT


def test_serialize_round_trip_and_bad_settings() -> None:
    again = LiveRetryPolicy.deserialize(POLICY.serialize())
    assert (again.base_delay, again.max_delay) == (POLICY.base_delay, POLICY.max_delay)
    with pytest.raises(LiveApiInputError, match="base_delay"):
        LiveRetryPolicy(base_delay=timedelta(0))
    with pytest.raises(LiveApiInputError, match="max_delay"):
        LiveRetryPolicy(base_delay=timedelta(minutes=5), max_delay=timedelta(minutes=1))


def test_it_is_an_airflow_retry_policy_that_chains() -> None:
    """A RetryPolicy (so ChainRetryPolicy, which checks, takes it) whose decisions are Airflow's
    RetryDecision."""
    from airflow.providers.common.compat.sdk import ChainRetryPolicy
    from airflow.sdk import RetryPolicy

    policy = LiveRetryPolicy()
    assert isinstance(policy, RetryPolicy) and issubclass(LiveRetryPolicy, RetryPolicy)
    chain = ChainRetryPolicy([policy])
    refused = LiveApiAuthError("invalid signature.", vendor="polyv", http_status=403)
    decision = chain.evaluate(refused, try_number=1, max_tries=3)
    assert isinstance(decision, RetryDecision) and decision.action is RetryAction.FAIL
    assert chain.evaluate(KeyError("x"), try_number=1, max_tries=3).action is RetryAction.DEFAULT
