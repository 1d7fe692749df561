"""The ISDP client against the simulator: token cache, refresh, 401 recovery, envelope, inputs."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_live_provider.exceptions import (
    LiveApiAuthError,
    LiveApiError,
    LiveApiInputError,
    LiveApiRateLimitError,
)
from airflow_live_provider.redaction import REDACTED
from airflow_live_provider.simulator import SimRequest, SimResponse, SimulatorServer
from airflow_live_provider.simulator.isdp import (
    DEMO_APP_ID,
    DEMO_APP_TOKEN,
    DEMO_CHANNEL_IDS,
    DEMO_USER_ACCOUNT,
)
from airflow_live_provider.transport import RetryPolicy
from airflow_live_provider.vendors.isdp import (
    DEFAULT_TOKEN_PATH,
    GET_TOKEN_BATCH_PATH,
    GET_TOKEN_PATH,
    IsdpClient,
)
from tests.helpers import assert_no_secret_in

FAST = RetryPolicy(max_attempts=4, backoff_base=0.01, backoff_max=0.05, total_seconds=10)


class FakeClock:
    """The client's clock, moved by hand: expiry is tested without sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def client(simulator: SimulatorServer, clock: FakeClock) -> Iterator[IsdpClient]:
    c = IsdpClient(simulator.base_url, DEMO_APP_ID, DEMO_APP_TOKEN, clock=clock, retry=FAST)
    yield c
    c.close()


def statuses(server: SimulatorServer, path: str) -> list[int | str]:
    return [r.status for r in server.requests_to(path)]


def logs_text(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(r.getMessage() for r in caplog.records)


def record_bodies(server: SimulatorServer, path: str) -> list[Any]:
    """Wrap a simulator route to keep the JSON bodies it received."""
    bodies: list[Any] = []
    inner = server.routes[("POST", path)]

    def handler(req: SimRequest) -> SimResponse:
        bodies.append(req.json())
        return inner(req)

    server.routes[("POST", path)] = handler
    return bodies


# -- the token cache -----------------------------------------------------------------------------
def test_five_calls_fetch_one_token(simulator: SimulatorServer, client: IsdpClient) -> None:
    tokens = [client.get_token_batch(DEMO_CHANNEL_IDS, DEMO_USER_ACCOUNT)["token"] for _ in range(5)]
    assert statuses(simulator, DEFAULT_TOKEN_PATH) == [200]
    assert statuses(simulator, GET_TOKEN_BATCH_PATH) == [200] * 5
    assert client.token_fetches == 1 and simulator.isdp.tokens_issued == 1
    assert len(set(tokens)) == 5, "each call must return a fresh join token"


def test_token_request_is_the_documented_password_grant(
    simulator: SimulatorServer, client: IsdpClient
) -> None:
    bodies = record_bodies(simulator, DEFAULT_TOKEN_PATH)
    client.get_access_token()
    assert bodies == [
        {
            "client_id": "isdp-saas-openapi",
            "client_secret": "isdp-saas-openapi",
            "grant_type": "password",
            "username": DEMO_APP_ID,
            "password": DEMO_APP_TOKEN,
        }
    ]


def test_token_refreshed_ahead_of_expiry_without_a_failed_call(
    simulator: SimulatorServer, client: IsdpClient, clock: FakeClock
) -> None:
    first = client.get_access_token()
    client.get_token_batch(DEMO_CHANNEL_IDS, DEMO_USER_ACCOUNT)
    # 1190 s later on both clocks: 9 s before the vendor would expire the token.
    clock.now += 1190
    simulator.clock_skew += 1190
    client.get_token_batch(DEMO_CHANNEL_IDS, DEMO_USER_ACCOUNT)
    assert client.get_access_token() != first
    assert statuses(simulator, DEFAULT_TOKEN_PATH) == [200, 200]
    assert 401 not in statuses(simulator, GET_TOKEN_BATCH_PATH), "the old token was used after expiry"


def test_token_not_refreshed_while_fresh(
    simulator: SimulatorServer, client: IsdpClient, clock: FakeClock
) -> None:
    client.get_access_token()
    clock.now += 1199 - 61  # just outside the 60 s margin
    client.get_access_token()
    assert client.token_fetches == 1


def test_short_lived_token_uses_a_proportional_margin(
    simulator: SimulatorServer, client: IsdpClient, clock: FakeClock
) -> None:
    simulator.isdp.token_lifetime = 2
    first = client.get_access_token()
    assert client.token_expires_in == 2
    clock.now += 0.5
    assert client.get_access_token() == first
    clock.now += 0.6  # past half the lifetime: renew rather than race the vendor's clock
    assert client.get_access_token() != first
    assert client.token_fetches == 2


def test_expired_on_vendor_clock_is_replaced_and_the_call_succeeds(
    simulator: SimulatorServer, client: IsdpClient, all_logs: pytest.LogCaptureFixture
) -> None:
    old = client.get_access_token()
    simulator.clock_skew += 5000  # the vendor expired it; our clock thinks it is fresh
    data = client.get_token_batch(DEMO_CHANNEL_IDS, DEMO_USER_ACCOUNT)
    assert data["expirationTime"] == 120
    assert statuses(simulator, GET_TOKEN_BATCH_PATH) == [401, 200]
    assert statuses(simulator, DEFAULT_TOKEN_PATH) == [200, 200]
    # The vendor's 401 echoes the token ("Access token expired: <token>"): never logged.
    assert_no_secret_in(logs_text(all_logs), old, client.get_access_token(), DEMO_APP_TOKEN)


def test_revoked_token_recovered_with_exactly_one_refresh(
    simulator: SimulatorServer, client: IsdpClient
) -> None:
    client.get_token(DEMO_CHANNEL_IDS[0], DEMO_USER_ACCOUNT)
    assert simulator.isdp.revoke_tokens() == 1
    client.get_token(DEMO_CHANNEL_IDS[0], DEMO_USER_ACCOUNT)
    client.get_token(DEMO_CHANNEL_IDS[1], DEMO_USER_ACCOUNT)
    assert statuses(simulator, DEFAULT_TOKEN_PATH) == [200, 200]
    assert statuses(simulator, GET_TOKEN_PATH) == [200, 401, 200, 200]


def test_refused_again_after_refresh_is_raised_not_looped(
    simulator: SimulatorServer, client: IsdpClient
) -> None:
    def always_invalid(req: SimRequest) -> SimResponse:
        token = req.headers.get("authorization", "").partition(" ")[2]
        return SimResponse(
            401, {"error": "invalid_token", "error_description": f"Invalid access token: {token}"}
        )

    simulator.routes[("POST", GET_TOKEN_BATCH_PATH)] = always_invalid
    with pytest.raises(LiveApiAuthError) as info:
        client.get_token_batch(DEMO_CHANNEL_IDS, DEMO_USER_ACCOUNT)
    assert info.value.code == "invalid_token" and info.value.http_status == 401
    assert statuses(simulator, DEFAULT_TOKEN_PATH) == [200, 200], "exactly one refresh"
    assert statuses(simulator, GET_TOKEN_BATCH_PATH) == [401, 401], "exactly one retry"
    assert "Invalid access token" in str(info.value)
    assert_no_secret_in(str(info.value), client.get_access_token())


def test_401_challenge_header_without_body_also_refreshes(
    simulator: SimulatorServer, client: IsdpClient
) -> None:
    inner = simulator.routes[("POST", GET_TOKEN_BATCH_PATH)]
    refused: list[int] = []

    def bare_401_once(req: SimRequest) -> SimResponse:
        if not refused:
            refused.append(1)
            return SimResponse(401, b"", {"WWW-Authenticate": 'Bearer error="invalid_token"'})
        return inner(req)

    simulator.routes[("POST", GET_TOKEN_BATCH_PATH)] = bare_401_once
    assert client.get_token_batch(DEMO_CHANNEL_IDS, DEMO_USER_ACCOUNT)["token"]
    assert statuses(simulator, DEFAULT_TOKEN_PATH) == [200, 200]


def test_concurrent_calls_fetch_one_token(simulator: SimulatorServer, client: IsdpClient) -> None:
    simulator.isdp.token_delay = 0.3  # every thread arrives while the first fetch is in flight
    threads_n = 8
    barrier = threading.Barrier(threads_n)
    results: list[str] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            barrier.wait()
            results.append(client.get_token_batch(DEMO_CHANNEL_IDS, DEMO_USER_ACCOUNT)["token"])
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(results) == threads_n
    assert statuses(simulator, DEFAULT_TOKEN_PATH) == [200]
    assert statuses(simulator, GET_TOKEN_BATCH_PATH) == [200] * threads_n


def test_concurrent_calls_after_revoke_refresh_once(simulator: SimulatorServer, client: IsdpClient) -> None:
    client.get_access_token()
    simulator.isdp.revoke_tokens()
    barrier = threading.Barrier(6)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            barrier.wait()
            client.get_token(DEMO_CHANNEL_IDS[0], DEMO_USER_ACCOUNT)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert statuses(simulator, DEFAULT_TOKEN_PATH) == [200, 200]
    assert statuses(simulator, GET_TOKEN_PATH).count(200) == 6


# -- credentials refused -------------------------------------------------------------------------
def test_wrong_application_token_is_a_clear_error_without_the_token(
    simulator: SimulatorServer, all_logs: pytest.LogCaptureFixture
) -> None:
    wrong = "wrong-app-token-0b9d3e1f"
    client = IsdpClient(simulator.base_url, DEMO_APP_ID, wrong, retry=FAST)
    with pytest.raises(LiveApiAuthError) as info:
        client.get_token_batch(DEMO_CHANNEL_IDS, DEMO_USER_ACCOUNT)
    message = str(info.value)
    assert "application token" in message and "Bad credentials" in message
    assert info.value.code == "invalid_grant" and info.value.retryable is False
    assert statuses(simulator, DEFAULT_TOKEN_PATH) == [400], "a refused credential must not be retried"
    assert simulator.requests_to(GET_TOKEN_BATCH_PATH) == []
    assert_no_secret_in(message + repr(info.value) + logs_text(all_logs) + repr(client), wrong)


def test_wrong_client_secret_points_at_the_extras(simulator: SimulatorServer) -> None:
    client = IsdpClient(
        simulator.base_url, DEMO_APP_ID, DEMO_APP_TOKEN, client_secret="not-the-client-secret", retry=FAST
    )
    with pytest.raises(LiveApiAuthError) as info:
        client.get_access_token()
    assert info.value.code == "invalid_client" and info.value.http_status == 401
    assert "client_secret" in str(info.value)
    assert_no_secret_in(str(info.value), "not-the-client-secret", DEMO_APP_TOKEN)


def test_scrub_hides_credentials_echoed_by_the_vendor(simulator: SimulatorServer, client: IsdpClient) -> None:
    def echoing(req: SimRequest) -> SimResponse:
        body = req.json()
        return SimResponse(400, {"error": "invalid_grant", "error_description": f"bad {body['password']}"})

    simulator.routes[("POST", DEFAULT_TOKEN_PATH)] = echoing
    with pytest.raises(LiveApiAuthError) as info:
        client.get_access_token()
    assert "bad " + REDACTED in str(info.value)
    assert_no_secret_in(str(info.value), DEMO_APP_TOKEN)


# -- the envelope and retries --------------------------------------------------------------------
def test_request_body_has_clean_keys_string_ids_and_int_role(
    simulator: SimulatorServer, client: IsdpClient
) -> None:
    bodies = record_bodies(simulator, GET_TOKEN_BATCH_PATH)
    client.get_token_batch([10882, "10883", "10882"], 135965565, role="1")
    assert bodies == [{"channelIds": ["10882", "10883"], "userAccount": "135965565", "role": 1}]


def test_failure_envelope_raises_with_the_vendor_reason(
    simulator: SimulatorServer, client: IsdpClient
) -> None:
    with pytest.raises(LiveApiError) as info:
        client.get_token_batch(["99999"], DEMO_USER_ACCOUNT)
    assert "Channel does not exist: 99999" in str(info.value)
    assert info.value.code == 0 and info.value.retryable is False
    assert statuses(simulator, GET_TOKEN_BATCH_PATH) == [200], "an application error is not retried"


def test_data_as_a_list_is_accepted(simulator: SimulatorServer, client: IsdpClient) -> None:
    simulator.isdp.batch_data_as_list = True
    data = client.get_token_batch(DEMO_CHANNEL_IDS, DEMO_USER_ACCOUNT)
    assert isinstance(data, list)
    assert [item["channelId"] for item in data] == DEMO_CHANNEL_IDS
    assert all(item["token"] for item in data)


@pytest.mark.parametrize("fault", ["429", "503", "reset"])
def test_transient_failures_are_retried(simulator: SimulatorServer, client: IsdpClient, fault: str) -> None:
    simulator.faults.add(fault, path=GET_TOKEN_BATCH_PATH)
    simulator.faults.add(fault, path=DEFAULT_TOKEN_PATH)
    assert client.get_token_batch(DEMO_CHANNEL_IDS, DEMO_USER_ACCOUNT)["token"]
    assert len(simulator.requests_to(DEFAULT_TOKEN_PATH)) == 2
    assert len(simulator.requests_to(GET_TOKEN_BATCH_PATH)) == 2


def test_persistent_throttling_surfaces_as_rate_limit(simulator: SimulatorServer, client: IsdpClient) -> None:
    client.get_access_token()
    simulator.faults.add("429", path=GET_TOKEN_BATCH_PATH, times=10)
    with pytest.raises(LiveApiRateLimitError):
        client.get_token_batch(DEMO_CHANNEL_IDS, DEMO_USER_ACCOUNT)
    assert len(simulator.requests_to(GET_TOKEN_BATCH_PATH)) == FAST.max_attempts


# -- bad input, refused before any request -------------------------------------------------------
@pytest.mark.parametrize(
    ("channel_ids", "user_account", "role", "field"),
    [
        ([], DEMO_USER_ACCOUNT, 1, "channel_ids"),
        (["10882", "  "], DEMO_USER_ACCOUNT, 1, "channel_ids[1]"),
        ([None], DEMO_USER_ACCOUNT, 1, "channel_ids[0]"),
        ("10882", DEMO_USER_ACCOUNT, 1, "channel_ids"),
        ('["10882"]', DEMO_USER_ACCOUNT, 1, "channel_ids"),
        ({"10882", "10883"}, DEMO_USER_ACCOUNT, 1, "channel_ids"),
        ({"10882": 1}, DEMO_USER_ACCOUNT, 1, "channel_ids"),
        (DEMO_CHANNEL_IDS, "   ", 1, "user_account"),
        (DEMO_CHANNEL_IDS, None, 1, "user_account"),
        (DEMO_CHANNEL_IDS, DEMO_USER_ACCOUNT, "admin", "role"),
        (DEMO_CHANNEL_IDS, DEMO_USER_ACCOUNT, 1.5, "role"),
        (DEMO_CHANNEL_IDS, DEMO_USER_ACCOUNT, True, "role"),
        (DEMO_CHANNEL_IDS, DEMO_USER_ACCOUNT, -1, "role"),
    ],
)
def test_bad_input_refused_before_any_request(
    simulator: SimulatorServer, client: IsdpClient, channel_ids: Any, user_account: Any, role: Any, field: str
) -> None:
    with pytest.raises(LiveApiInputError) as info:
        client.get_token_batch(channel_ids, user_account, role)
    assert info.value.field == field
    assert str(info.value).startswith(f"[isdp] {field}: ")
    assert list(simulator.requests) == [], "no request (not even a token) may be sent"


def test_a_rendered_template_string_gets_the_fix_in_the_message(client: IsdpClient) -> None:
    with pytest.raises(LiveApiInputError, match="render_template_as_native_obj"):
        client.get_token_batch('["10882"]', DEMO_USER_ACCOUNT)


def test_get_token_refuses_blank_channel_before_any_request(
    simulator: SimulatorServer, client: IsdpClient
) -> None:
    with pytest.raises(LiveApiInputError, match="channel_id"):
        client.get_token(" ", DEMO_USER_ACCOUNT)
    assert list(simulator.requests) == []


def test_empty_credentials_refused_at_construction() -> None:
    with pytest.raises(LiveApiInputError, match="app_token"):
        IsdpClient("http://127.0.0.1:1", DEMO_APP_ID, " ")
    with pytest.raises(LiveApiInputError, match="token_path"):
        IsdpClient("http://127.0.0.1:1", DEMO_APP_ID, DEMO_APP_TOKEN, token_path="oauth?x=1")


def test_repr_shows_no_secret(client: IsdpClient) -> None:
    token = client.get_access_token()
    assert_no_secret_in(repr(client) + repr(client._token), DEMO_APP_TOKEN, token)
