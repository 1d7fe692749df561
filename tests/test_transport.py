"""The transport against a real local server (the simulator with a test route)."""

from __future__ import annotations

import json
import time

import pytest
import requests

from airflow_live_provider.exceptions import (
    LiveApiConnectionError,
    LiveApiError,
    LiveApiInputError,
    LiveApiRateLimitError,
)
from airflow_live_provider.simulator import SimRequest, SimResponse, SimulatorServer
from airflow_live_provider.transport import (
    HttpRequest,
    RateLimiter,
    RetryPolicy,
    Transport,
    is_retryable_status,
    resolve_base_url,
)
from tests.helpers import assert_no_secret_in

FAST = RetryPolicy(max_attempts=5, backoff_base=0.01, backoff_max=0.05, total_seconds=10)
SECRET = "s3cr3t-app-secret-value"


def parse_json(resp: requests.Response) -> tuple[dict, str | None]:
    rid = resp.headers.get("X-Request-Id")
    if resp.status_code == 429:
        raise LiveApiRateLimitError("throttled", vendor="test", http_status=429, request_id=rid)
    if resp.status_code >= 400:
        raise LiveApiError(
            "failed",
            vendor="test",
            http_status=resp.status_code,
            request_id=rid,
            retryable=is_retryable_status(resp.status_code),
        )
    return resp.json(), rid


@pytest.fixture
def echo(simulator: SimulatorServer) -> SimulatorServer:
    def handler(req: SimRequest) -> SimResponse:
        status = int(req.query.get("status", "200"))
        return SimResponse(status, {"query": req.query}, {"X-Request-Id": "rid-42"})

    simulator.routes[("GET", "/echo")] = handler
    simulator.routes[("POST", "/create")] = handler
    return simulator


def make_transport(server: SimulatorServer, **kwargs: object) -> Transport:
    kwargs.setdefault("retry", FAST)
    return Transport("test", server.base_url, **kwargs)  # type: ignore[arg-type]


def counting_build(path: str = "/echo", method: str = "GET", **params: str):
    calls: list[int] = []

    def build() -> HttpRequest:
        calls.append(1)
        return HttpRequest(method, path, params={"sign": f"{SECRET}-{len(calls)}", **params})

    return build, calls


def test_429_with_retry_after_then_success(echo: SimulatorServer) -> None:
    echo.faults.add("429", path="/echo", retry_after=0.3)
    build, calls = counting_build()
    started = time.monotonic()
    body = make_transport(echo).request(build, parse_json)
    assert time.monotonic() - started >= 0.3, "Retry-After was not honoured"
    assert len(calls) == 2
    assert body["query"]["sign"] == f"{SECRET}-2", "second attempt must be re-signed"
    assert [r.status for r in echo.requests_to("/echo")] == [429, 200]


def test_503_then_success(echo: SimulatorServer) -> None:
    echo.faults.add("503", path="/echo", times=2)
    build, calls = counting_build()
    make_transport(echo).request(build, parse_json)
    assert len(calls) == 3
    assert [r.status for r in echo.requests_to("/echo")] == [503, 503, 200]


def test_connection_reset_is_retried_for_idempotent_calls(echo: SimulatorServer) -> None:
    echo.faults.add("reset", path="/echo")
    build, calls = counting_build()
    make_transport(echo).request(build, parse_json)
    assert len(calls) == 2


def test_reset_on_non_idempotent_call_is_raised_for_the_caller_to_reconcile(echo: SimulatorServer) -> None:
    echo.faults.add("lost_after_commit", path="/create")
    build, calls = counting_build("/create", "POST")
    with pytest.raises(LiveApiConnectionError) as info:
        make_transport(echo).request(build, parse_json, idempotent=False)
    assert info.value.retryable
    assert len(calls) == 1, "a create whose outcome is unknown must not be blindly re-sent"


def test_429_on_non_idempotent_call_is_resent(echo: SimulatorServer) -> None:
    echo.faults.add("429", path="/create")
    build, calls = counting_build("/create", "POST")
    make_transport(echo).request(build, parse_json, idempotent=False)
    assert len(calls) == 2


def test_400_is_not_retried(echo: SimulatorServer) -> None:
    build, calls = counting_build(status="400")
    with pytest.raises(LiveApiError) as info:
        make_transport(echo).request(build, parse_json)
    assert len(calls) == 1
    assert info.value.http_status == 400
    assert info.value.request_id == "rid-42"
    assert not info.value.retryable


def test_signing_callback_runs_once_per_attempt(echo: SimulatorServer) -> None:
    echo.faults.add("503", path="/echo", times=3)
    build, calls = counting_build()
    make_transport(echo).request(build, parse_json)
    assert len(calls) == len(echo.requests_to("/echo")) == 4


def test_max_attempts_bound(echo: SimulatorServer) -> None:
    build, calls = counting_build(status="503")
    with pytest.raises(LiveApiError) as info:
        make_transport(echo, retry=RetryPolicy(max_attempts=3, backoff_base=0.01)).request(build, parse_json)
    assert info.value.http_status == 503
    assert len(calls) == 3


def test_total_time_bound_stops_a_server_that_always_answers_503(echo: SimulatorServer) -> None:
    policy = RetryPolicy(max_attempts=1000, backoff_base=0.05, backoff_max=0.2, total_seconds=1.0)
    build, calls = counting_build(status="503")
    started = time.monotonic()
    with pytest.raises(LiveApiError):
        make_transport(echo, retry=policy).request(build, parse_json)
    elapsed = time.monotonic() - started
    assert elapsed < 5, f"total-time bound ignored ({elapsed:.1f}s)"
    assert 2 <= len(calls) < 1000


def test_retry_after_beyond_the_time_budget_gives_up_at_once(echo: SimulatorServer) -> None:
    echo.faults.add("429", path="/echo", retry_after=60)
    build, calls = counting_build()
    started = time.monotonic()
    with pytest.raises(LiveApiRateLimitError):
        make_transport(echo, retry=RetryPolicy(total_seconds=2)).request(build, parse_json)
    assert time.monotonic() - started < 2
    assert len(calls) == 1


def test_connection_refused_is_a_live_api_error_without_the_query(all_logs: pytest.LogCaptureFixture) -> None:
    with SimulatorServer() as server:
        url = server.base_url
    transport = Transport("test", url, retry=RetryPolicy(max_attempts=2, backoff_base=0.01))
    build, calls = counting_build()
    with pytest.raises(LiveApiConnectionError) as info:
        transport.request(build, parse_json)
    assert len(calls) == 2
    assert_no_secret_in(str(info.value), SECRET)
    assert_no_secret_in(all_logs.text, SECRET)


def test_one_log_line_per_request_without_query_headers_or_body(
    echo: SimulatorServer, all_logs: pytest.LogCaptureFixture
) -> None:
    echo.faults.add("503", path="/echo")

    def build() -> HttpRequest:
        return HttpRequest(
            "GET",
            "/echo",
            params={"appSecret": SECRET},
            headers={"Authorization": f"Bearer {SECRET}"},
        )

    make_transport(echo).request(build, parse_json)
    lines = [r for r in all_logs.records if r.name == "airflow_live_provider.transport"]
    assert len(lines) == 2
    assert "/echo" in lines[0].getMessage() and "503" in lines[0].getMessage()
    assert "rid-42" in lines[1].getMessage() and "200" in lines[1].getMessage()
    everything = all_logs.text + json.dumps([r.__dict__ for r in all_logs.records], default=str)
    assert_no_secret_in(everything, SECRET)


def test_rate_limiter_spaces_requests() -> None:
    limiter = RateLimiter(rate=20, burst=1)
    started = time.monotonic()
    for _ in range(6):
        limiter.acquire()
    # 1 immediate + 5 spaced by 1/20 s: at least 0.2 s. Not a speed assertion: a lower bound
    # the limiter must impose however fast the machine is.
    assert time.monotonic() - started >= 0.2


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("api.polyv.net", "https://api.polyv.net"),
        ("http://127.0.0.1:8999/", "http://127.0.0.1:8999"),
        ("", "https://default.example.com"),
        (None, "https://default.example.com"),
    ],
)
def test_resolve_base_url(host: str | None, expected: str) -> None:
    assert resolve_base_url(host, "default.example.com") == expected


@pytest.mark.parametrize("host", ["ftp://x.example.com", "http://", "https://h.example.com/?a=1"])
def test_resolve_base_url_rejects_bad_hosts(host: str) -> None:
    with pytest.raises(LiveApiInputError, match="host"):
        resolve_base_url(host, "default.example.com")


def test_host_header_keeps_non_default_port_only() -> None:
    assert Transport("t", "https://live.volcengineapi.com").host_header == "live.volcengineapi.com"
    assert Transport("t", "https://live.volcengineapi.com:443").host_header == "live.volcengineapi.com"
    assert Transport("t", "http://127.0.0.1:8999").host_header == "127.0.0.1:8999"
