"""The transport against a real local server (the simulator with a test route)."""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
import requests

from airflow_live_provider.exceptions import (
    LiveApiConnectionError,
    LiveApiError,
    LiveApiInputError,
    LiveApiRateLimitError,
    LiveApiResponseError,
)
from airflow_live_provider.simulator import SimRequest, SimResponse, SimulatorServer
from airflow_live_provider.transport import (
    HttpRequest,
    RateLimiter,
    RetryPolicy,
    Transport,
    is_retryable_status,
    json_body,
    resolve_base_url,
    transport_settings,
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


@dataclass
class FakeClock:
    """Injected as ``sleep``/``monotonic``: time moves only when the code under test sleeps, and
    every sleep is recorded, so tests assert the waits asked for instead of wall time."""

    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def make_transport(server: SimulatorServer, clock: FakeClock | None = None, **kwargs: Any) -> Transport:
    kwargs.setdefault("retry", FAST)
    clock = clock or FakeClock()
    return Transport("test", server.base_url, sleep=clock.sleep, monotonic=clock.monotonic, **kwargs)


def counting_build(path: str = "/echo", method: str = "GET", **params: str):
    calls: list[int] = []

    def build() -> HttpRequest:
        calls.append(1)
        return HttpRequest(method, path, params={"sign": f"{SECRET}-{len(calls)}", **params})

    return build, calls


def test_429_with_retry_after_then_success(echo: SimulatorServer) -> None:
    echo.faults.add("429", path="/echo", retry_after=0.3)
    build, calls = counting_build()
    clock = FakeClock()
    body = make_transport(echo, clock).request(build, parse_json)
    assert clock.sleeps == [0.3], "Retry-After must replace the backoff, exactly once"
    assert len(calls) == 2
    assert body["query"]["sign"] == f"{SECRET}-2", "second attempt must be re-signed"
    assert [r.status for r in echo.requests_to("/echo")] == [429, 200]


@pytest.mark.parametrize("told", ["inf", "nan", "Infinity"])
def test_a_retry_after_that_is_no_finite_time_is_ignored_for_the_backoff(
    echo: SimulatorServer, told: str
) -> None:
    """``Retry-After: inf`` parses as a float: taken as given, the next attempt would wait forever
    (or the call would give up at once). It is ignored: the ordinary backoff applies."""

    def handler(req: SimRequest) -> SimResponse:
        if len(echo.requests_to("/inf")) == 0:
            return SimResponse(503, {"error": "busy"}, {"Retry-After": told})
        return SimResponse(200, {"ok": True})

    echo.routes[("GET", "/inf")] = handler
    clock = FakeClock()
    build, calls = counting_build("/inf")
    make_transport(echo, clock).request(build, parse_json)
    assert len(calls) == 2
    assert len(clock.sleeps) == 1 and 0 <= clock.sleeps[0] < 60, clock.sleeps


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
    clock = FakeClock()
    with pytest.raises(LiveApiError) as info:
        make_transport(echo, clock, retry=policy).request(build, parse_json)
    assert info.value.http_status == 503
    assert sum(clock.sleeps) <= policy.total_seconds, "slept past the total-time budget"
    assert all(0.025 <= s <= 0.2 for s in clock.sleeps), "sleeps must follow the backoff policy"
    assert len(calls) == len(clock.sleeps) + 1, "one request per attempt, a sleep between each"
    assert 2 <= len(calls) < 1000


def test_a_shared_deadline_bounds_two_requests_of_one_call(echo: SimulatorServer) -> None:
    """A caller that sends a call twice (fresh timestamp, fresh token) keeps one budget."""
    policy = RetryPolicy(max_attempts=1000, backoff_base=0.05, backoff_max=0.2, total_seconds=10.0)
    clock = FakeClock()
    transport = make_transport(echo, clock, retry=policy)
    deadline = transport.deadline()
    build, _ = counting_build(status="503")
    for _ in range(2):
        with pytest.raises(LiveApiError):
            transport.request(build, parse_json, deadline=deadline)
    assert sum(clock.sleeps) <= policy.total_seconds, "the second request must not get a fresh budget"


def test_retry_after_beyond_the_time_budget_gives_up_at_once(echo: SimulatorServer) -> None:
    echo.faults.add("429", path="/echo", retry_after=60)
    build, calls = counting_build()
    clock = FakeClock()
    with pytest.raises(LiveApiRateLimitError) as info:
        make_transport(echo, clock, retry=RetryPolicy(total_seconds=2)).request(build, parse_json)
    assert info.value.retry_after == 60
    assert clock.sleeps == [], "waiting 60 s could never fit a 2 s budget"
    assert len(calls) == 1


def test_connection_refused_is_a_live_api_error_without_the_query(all_logs: pytest.LogCaptureFixture) -> None:
    with SimulatorServer() as server:
        url = server.base_url
    clock = FakeClock()
    transport = Transport(
        "test",
        url,
        retry=RetryPolicy(max_attempts=2, backoff_base=0.01),
        sleep=clock.sleep,
        monotonic=clock.monotonic,
    )
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
    clock = FakeClock()
    limiter = RateLimiter(rate=20, burst=1, sleep=clock.sleep, monotonic=clock.monotonic)
    granted = []
    for _ in range(6):
        limiter.acquire()
        granted.append(clock.now)
    # 1 immediate + 5 each 1/20 s after the previous one, all by (fake) sleeping.
    assert granted[0] == 1000.0
    gaps = [later - earlier for earlier, later in zip(granted[:-1], granted[1:], strict=True)]
    assert gaps == [pytest.approx(1 / 20, abs=1e-6)] * 5
    assert sum(clock.sleeps) == pytest.approx(5 / 20, abs=1e-6)


def test_rate_limiter_lets_a_burst_through_then_waits() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=2, burst=3, sleep=clock.sleep, monotonic=clock.monotonic)
    waits = [limiter.acquire() for _ in range(4)]
    assert waits[:3] == [0.0, 0.0, 0.0], "a full bucket must not wait"
    assert waits[3] == pytest.approx(0.5) and sum(clock.sleeps) == pytest.approx(0.5)


def test_transport_rate_limiter_runs_before_every_attempt(echo: SimulatorServer) -> None:
    echo.faults.add("503", path="/echo", times=2)
    clock = FakeClock()
    limiter = RateLimiter(rate=10, burst=1, sleep=clock.sleep, monotonic=clock.monotonic)
    policy = RetryPolicy(max_attempts=5, backoff_base=0.001, backoff_max=0.001)
    build, calls = counting_build()
    make_transport(echo, clock, retry=policy, rate_limiter=limiter).request(build, parse_json)
    assert len(calls) == 3
    # Each backoff (<= 1 ms) is shorter than the limiter's 100 ms spacing, so it tops up the rest.
    assert sum(clock.sleeps) == pytest.approx(0.2, abs=1e-6)


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


def test_credentials_in_the_host_are_refused_without_echoing_them() -> None:
    with pytest.raises(LiveApiInputError, match="user name or password") as info:
        resolve_base_url(f"https://user:{SECRET}@h.example.com", "default.example.com")
    assert_no_secret_in(str(info.value), SECRET)


def test_retry_after_as_an_http_date_is_honoured(echo: SimulatorServer) -> None:
    when = datetime.now(UTC) + timedelta(seconds=30)

    def handler(req: SimRequest) -> SimResponse:
        if len(echo.requests_to("/dated")) == 0:
            return SimResponse(503, {"error": "busy"}, {"Retry-After": format_datetime(when, usegmt=True)})
        return SimResponse(200, {"ok": True})

    echo.routes[("GET", "/dated")] = handler
    clock = FakeClock()
    build, calls = counting_build("/dated")
    make_transport(echo, clock, retry=RetryPolicy(total_seconds=120)).request(build, parse_json)
    assert len(calls) == 2
    assert len(clock.sleeps) == 1 and 25 <= clock.sleeps[0] <= 31, clock.sleeps


def test_urllib3_warnings_carry_no_query_string(all_logs: pytest.LogCaptureFixture) -> None:
    """urllib3 warns 'Failed to parse headers (url=...)' with the full URL on a malformed header
    (a misbehaving proxy is enough); a signed Polyv query replayed from a log leaks secrets."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def serve_one_malformed_response() -> None:
        conn, _ = listener.accept()
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nbroken header line\r\n\r\n{}")
        conn.close()

    thread = threading.Thread(target=serve_one_malformed_response, daemon=True)
    thread.start()
    try:
        transport = Transport("test", f"http://127.0.0.1:{listener.getsockname()[1]}", retry=FAST)
        transport.request(lambda: HttpRequest("GET", "/page", params={"sign": SECRET}), parse_json)
    finally:
        thread.join(timeout=5)
        listener.close()
    warnings = [r for r in all_logs.records if r.name.startswith("urllib3") and r.levelname == "WARNING"]
    assert warnings, "the malformed header must have produced urllib3's warning (else this proves nothing)"
    assert_no_secret_in(all_logs.text, SECRET)


def test_host_header_keeps_non_default_port_only() -> None:
    assert Transport("t", "https://live.volcengineapi.com").host_header == "live.volcengineapi.com"
    assert Transport("t", "https://live.volcengineapi.com:443").host_header == "live.volcengineapi.com"
    assert Transport("t", "http://127.0.0.1:8999").host_header == "127.0.0.1:8999"


def settings(host: str | None, port: int | None = None, **extra: Any) -> tuple[str, dict[str, Any]]:
    return transport_settings(host, port, extra, default_host="api.polyv.net", field_prefix="polyv_default")


@pytest.mark.parametrize(
    ("host", "port", "expected"),
    [
        ("api.polyv.net", None, "https://api.polyv.net"),
        ("", None, "https://api.polyv.net"),
        (None, 8443, "https://api.polyv.net:8443"),
        ("live.example.com", 8443, "https://live.example.com:8443"),
        ("live.example.com:8443", 8443, "https://live.example.com:8443"),
        ("http://127.0.0.1:8999/", None, "http://127.0.0.1:8999"),
        # The port field is used with a URL too (it used to be dropped), path kept after it.
        ("http://127.0.0.1", 1234, "http://127.0.0.1:1234"),
        ("http://127.0.0.1:1234", 1234, "http://127.0.0.1:1234"),
        ("http://[::1]/prefix", "8999", "http://[::1]:8999/prefix"),
    ],
)
def test_transport_settings_base_url(host: str | None, port: int | str | None, expected: str) -> None:
    assert settings(host, port) == (expected, {})


def test_a_port_field_that_contradicts_the_url_is_refused() -> None:
    with pytest.raises(
        LiveApiInputError, match="port: is 1234 but the host already says port 8999; keep one"
    ):
        settings("http://127.0.0.1:8999", 1234)


def test_transport_settings_parse_extras_into_transport_kwargs() -> None:
    base_url, options = settings(
        "api.polyv.net",
        connect_timeout="5",
        read_timeout=7.5,
        max_attempts="3",
        total_retry_seconds=60,
        signature_method="MD5",
    )
    assert options == {
        "connect_timeout": 5.0,
        "read_timeout": 7.5,
        "retry": RetryPolicy(max_attempts=3, total_seconds=60.0),
    }
    transport = Transport("polyv", base_url, **options)
    assert (transport.connect_timeout, transport.read_timeout) == (5.0, 7.5)
    assert transport.retry.max_attempts == 3 and isinstance(transport.retry.max_attempts, int)


def test_transport_settings_ignore_empty_extras() -> None:
    """The UI form saves untouched fields as empty strings or nulls: defaults apply."""
    assert settings("api.polyv.net", read_timeout="", max_attempts=None) == ("https://api.polyv.net", {})


@pytest.mark.parametrize("value", ["-1", 0, "abc", [], True, "nan", "inf"])
def test_transport_settings_name_the_bad_timeout_field(value: object) -> None:
    with pytest.raises(LiveApiInputError, match=r"polyv_default\.extra\.read_timeout: must be a number > 0"):
        settings("api.polyv.net", read_timeout=value)


@pytest.mark.parametrize("value", ["0", 0.5, "2.5", -3, "x", False])
def test_transport_settings_reject_bad_max_attempts(value: object) -> None:
    with pytest.raises(LiveApiInputError) as info:
        settings("api.polyv.net", max_attempts=value)
    assert info.value.field == "polyv_default.extra.max_attempts"
    assert "whole number >= 1" in str(info.value)


def test_transport_settings_accept_a_whole_float_for_max_attempts() -> None:
    assert settings("api.polyv.net", max_attempts=4.0)[1] == {"retry": RetryPolicy(max_attempts=4)}


@pytest.mark.parametrize(
    ("host", "port", "field_name"),
    [
        ("ftp://api.polyv.net", None, "polyv_default.host"),
        ("live.example.com:8443", 9000, "polyv_default.port"),
        ("live.example.com", 70000, "polyv_default.port"),
    ],
)
def test_transport_settings_name_the_bad_host_or_port(host: str, port: int | None, field_name: str) -> None:
    with pytest.raises(LiveApiInputError) as info:
        settings(host, port)
    assert info.value.field == field_name


# -- hostile answers: whole-answer deadline, size cap, JSON we can handle, scrub by value ---------
def json_parse(resp: requests.Response) -> tuple[Any, str | None]:
    try:
        return json_body(resp), None
    except ValueError as exc:
        raise LiveApiError(f"bad JSON: {exc}", vendor="test") from None


@pytest.mark.parametrize("kind", ["trickle", "trickle_headers"])
def test_a_trickled_answer_is_cut_at_read_timeout(echo: SimulatorServer, kind: str) -> None:
    """One byte every 0.5 s keeps each read under read_timeout: only a deadline on the whole
    answer ends it. (The echo body is ~60 bytes: ~30 s if read to the end.)"""
    echo.faults.add(kind, path="/echo", times=5)
    build, calls = counting_build()
    transport = make_transport(echo, read_timeout=1.0, retry=RetryPolicy(max_attempts=1, total_seconds=30))
    started = time.monotonic()
    with pytest.raises(LiveApiConnectionError) as info:
        transport.request(build, parse_json)
    assert time.monotonic() - started < 10, "the attempt must end near read_timeout, not at the body's end"
    assert info.value.code == "answer_too_slow"
    assert "not complete within 1 s" in str(info.value)
    assert SECRET not in str(info.value)


def test_a_trickled_answer_is_cut_at_the_call_budget(echo: SimulatorServer) -> None:
    """total_retry_seconds bounds the answer too: read_timeout 30, budget 1.5 s."""
    echo.faults.add("trickle", path="/echo", times=5)
    build, _ = counting_build()
    transport = Transport(
        "test", echo.base_url, read_timeout=30, retry=RetryPolicy(max_attempts=3, total_seconds=1.5)
    )
    started = time.monotonic()
    with pytest.raises(LiveApiConnectionError):
        transport.request(build, parse_json)
    assert time.monotonic() - started < 10


def test_an_endless_body_stops_at_the_size_cap(echo: SimulatorServer) -> None:
    echo.faults.add("endless", path="/echo")
    build, calls = counting_build()
    transport = make_transport(echo, max_body_bytes=1_000_000)
    started = time.monotonic()
    with pytest.raises(LiveApiConnectionError) as info:
        transport.request(build, parse_json)
    assert time.monotonic() - started < 20
    assert info.value.code == "answer_too_large"
    assert not info.value.retryable and len(calls) == 1, "the same oversized answer would come again"


def test_a_declared_oversized_body_is_not_read(echo: SimulatorServer) -> None:
    echo.routes[("GET", "/big")] = lambda req: SimResponse(200, b"x" * 5000)
    with pytest.raises(LiveApiConnectionError, match="declares 5000 bytes"):
        make_transport(echo, max_body_bytes=1000).request(lambda: HttpRequest("GET", "/big"), parse_json)


def test_after_a_cut_answer_the_connection_is_not_reused_half_read(echo: SimulatorServer) -> None:
    echo.faults.add("endless", path="/echo")
    transport = make_transport(echo, max_body_bytes=200_000)
    build, _ = counting_build()
    with pytest.raises(LiveApiConnectionError):
        transport.request(build, parse_json)
    body = transport.request(build, parse_json)
    assert body["query"]["sign"].startswith(SECRET)


@pytest.mark.parametrize(
    ("kind", "problem"), [("deep_json", "nested deeper than"), ("not_json", "is not JSON")]
)
def test_json_body_refuses_what_would_crash_later(echo: SimulatorServer, kind: str, problem: str) -> None:
    echo.faults.add(kind, path="/echo")
    build, _ = counting_build()
    with pytest.raises(LiveApiError, match=problem):
        make_transport(echo).request(build, json_parse)


def test_json_body_refuses_moderate_nesting(echo: SimulatorServer) -> None:
    """40 levels parse, but recursive code downstream (redaction, reports) must never see them."""
    echo.routes[("GET", "/deep")] = lambda req: SimResponse(200, b"[" * 40 + b"]" * 40)
    transport = make_transport(echo)
    with pytest.raises(LiveApiError, match="deeper than 32"):
        transport.request(lambda: HttpRequest("GET", "/deep"), json_parse)


def test_a_parser_crash_becomes_a_response_error(echo: SimulatorServer) -> None:
    """A parser that did not foresee a shape raises TypeError: the caller gets a LiveApiError."""
    echo.routes[("GET", "/list")] = lambda req: SimResponse(200, [1, 2])

    def naive(resp: requests.Response) -> tuple[Any, str | None]:
        return resp.json()["data"], None

    with pytest.raises(LiveApiResponseError, match=r"GET /list answered in a shape that could not be read"):
        make_transport(echo).request(lambda: HttpRequest("GET", "/list"), naive)


def test_errors_are_scrubbed_of_secrets_by_value(echo: SimulatorServer) -> None:
    """A vendor echoing a credential with no key name in front of it."""

    def parse(resp: requests.Response) -> tuple[Any, str | None]:
        raise LiveApiError(f"bad request {SECRET} rejected", vendor="test", code=SECRET, request_id=SECRET)

    transport = make_transport(echo, secrets=lambda: (SECRET, None, ""))
    build, _ = counting_build()
    with pytest.raises(LiveApiError) as info:
        transport.request(build, parse)
    assert_no_secret_in(str(info.value), SECRET)
    assert_no_secret_in(repr(info.value.args), SECRET)
