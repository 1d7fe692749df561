"""Volcengine signer (official SDK vectors) and client against the simulator."""

from __future__ import annotations

import calendar
import logging
import time
from collections.abc import Callable
from typing import Any

import pytest

from airflow_live_provider.exceptions import (
    LiveApiAuthError,
    LiveApiError,
    LiveApiInputError,
    LiveApiRateLimitError,
    LiveApiResponseError,
)
from airflow_live_provider.redaction import REDACTED
from airflow_live_provider.simulator import SimRequest, SimResponse, SimulatorServer
from airflow_live_provider.simulator.volcengine import (
    DEMO_ACCESS_KEY_ID,
    DEMO_APP,
    DEMO_PULL_DOMAIN,
    DEMO_PUSH_AUTH_KEY,
    DEMO_SECRET_ACCESS_KEY,
    DEMO_VHOST,
)
from airflow_live_provider.transport import RetryPolicy
from airflow_live_provider.vendors import volcengine as volcengine_module
from airflow_live_provider.vendors.volcengine import (
    OnlineStream,
    VolcengineLiveClient,
    canonical_query,
    describe_auth_body,
    encode_body,
    is_read_action,
    sign_request,
)
from tests.helpers import assert_no_secret_in

FAST = RetryPolicy(max_attempts=5, backoff_base=0.05, backoff_max=0.2, total_seconds=10)
ONCE = RetryPolicy(max_attempts=1)

# The two vectors in VENDOR-NOTES, computed with the official SDK (volcengine 1.0.229).
VECTOR_TIME = calendar.timegm((2026, 11, 23, 10, 0, 0))
VECTOR_QUERY = {"Action": "DescribeAuth", "Version": "2023-01-01"}
PUSH_BODY = b'{"Vhost":"push.example.com","App":"live","SceneType":"push"}'
PUSH_SHA = "30277973d7c5a1f144366a10ae1e22b794707f4ef6e5f3f2d03487fd255895cd"
PUSH_SIG = "f5cd248a981c8a343f13b914a3abc301f3bc7774e7322dce402b039f49599177"
PULL_BODY = b'{"Domain":"pull.example.com","App":"live","SceneType":"pull"}'
PULL_SHA = "d982eac727cd18102f0fa42b9b37182aa1d56be3fa3c4a2a06b84a7dd89fb056"
PULL_SIG = "09d610be4ffce02fda7952484f987216d754ef25867804fa33f4d7fd4e4120ca"


def _vector_headers(body: bytes, token: str | None) -> dict[str, str]:
    return sign_request(
        "POST",
        VECTOR_QUERY,
        {"Host": "live.volcengineapi.com", "Content-Type": "application/json"},
        body,
        "AKTEST",
        "SKTEST",
        "cn-north-1",
        "live",
        "20261123T100000Z",
        token,
    )


def test_signer_matches_sdk_vector_push() -> None:
    headers = _vector_headers(PUSH_BODY, None)
    assert headers["X-Content-Sha256"] == PUSH_SHA
    assert headers["X-Date"] == "20261123T100000Z"
    assert "X-Security-Token" not in headers
    assert headers["Authorization"] == (
        "HMAC-SHA256 Credential=AKTEST/20261123/cn-north-1/live/request, "
        f"SignedHeaders=content-type;host;x-content-sha256;x-date, Signature={PUSH_SIG}"
    )


def test_signer_matches_sdk_vector_pull_with_sts_token() -> None:
    headers = _vector_headers(PULL_BODY, "STSTOKENEXAMPLE")
    assert headers["X-Content-Sha256"] == PULL_SHA
    assert headers["X-Security-Token"] == "STSTOKENEXAMPLE"
    assert headers["Authorization"] == (
        "HMAC-SHA256 Credential=AKTEST/20261123/cn-north-1/live/request, "
        f"SignedHeaders=content-type;host;x-content-sha256;x-date;x-security-token, Signature={PULL_SIG}"
    )


@pytest.mark.parametrize(
    ("kwargs", "token", "sha", "sig"),
    [
        ({"scene_type": "push", "vhost": "push.example.com", "app": "live"}, None, PUSH_SHA, PUSH_SIG),
        (
            {"scene_type": "pull", "domain": "pull.example.com", "app": "live"},
            "STSTOKENEXAMPLE",
            PULL_SHA,
            PULL_SIG,
        ),
    ],
)
def test_client_builds_the_vector_request_with_a_frozen_clock(
    kwargs: dict[str, Any], token: str | None, sha: str, sig: str
) -> None:
    """The client's own body encoding, Host and clock produce the SDK's bytes and signature."""
    client = VolcengineLiveClient(
        "https://live.volcengineapi.com", "AKTEST", "SKTEST", session_token=token, clock=lambda: VECTOR_TIME
    )
    body = encode_body(describe_auth_body(**kwargs))
    req = client.build_request("DescribeAuth", body, "2023-01-01")
    assert req.method == "POST" and req.path == "/"
    assert dict(req.params or {}) == VECTOR_QUERY
    assert req.data == body
    assert req.headers["Host"] == "live.volcengineapi.com"
    assert req.headers["X-Content-Sha256"] == sha
    assert req.headers["Authorization"].endswith(f"Signature={sig}")


@pytest.mark.parametrize(
    ("base_url", "host"),
    [
        ("http://127.0.0.1:8999", "127.0.0.1:8999"),
        ("https://live.volcengineapi.com:443", "live.volcengineapi.com"),
        ("http://live.example.com:80", "live.example.com"),
        ("https://live.example.com:8443", "live.example.com:8443"),
    ],
)
def test_signed_host_is_the_host_sent(base_url: str, host: str) -> None:
    client = VolcengineLiveClient(base_url, "AK", "SK", clock=lambda: VECTOR_TIME)
    req = client.build_request("DescribeAuth", b"{}", "2023-01-01")
    assert req.headers["Host"] == host
    assert "host" in req.headers["Authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")


def test_canonical_query_encoding() -> None:
    assert canonical_query({"b": "x y", "a": "~-_.", "c": "é/+"}) == "a=~-_.&b=x%20y&c=%C3%A9%2F%2B"


def test_read_actions_are_idempotent_others_are_not() -> None:
    assert is_read_action("DescribeAuth") and is_read_action("ListDomainDetail")
    assert is_read_action("GeneratePushURL")
    assert not is_read_action("CreateDomain") and not is_read_action("UpdateAuthKey")


# -- against the simulator ----------------------------------------------------------------------
def make_client(server: SimulatorServer, **kwargs: Any) -> VolcengineLiveClient:
    kwargs.setdefault("retry", FAST)
    return VolcengineLiveClient(
        server.base_url,
        kwargs.pop("ak", DEMO_ACCESS_KEY_ID),
        kwargs.pop("sk", DEMO_SECRET_ACCESS_KEY),
        **kwargs,
    )


@pytest.mark.parametrize("version", ["2023-01-01", "2020-08-01"])
def test_describe_auth_both_versions(simulator: SimulatorServer, version: str) -> None:
    auth = make_client(simulator).describe_auth("push", vhost=DEMO_VHOST, app=DEMO_APP, version=version)
    assert len(auth) == 1
    item = auth[0]
    assert item["Vhost"] == DEMO_VHOST and item["SceneType"] == "push" and item["AuthStatus"] is True
    assert item["AuthDetailList"][0]["SecretKey"] == DEMO_PUSH_AUTH_KEY
    if version == "2023-01-01":
        assert "TimeStampBase" in item and "AuthType" in item["AuthDetailList"][0]
    else:
        assert "TimeStampBase" not in item and "AuthType" not in item["AuthDetailList"][0]
    [logged] = simulator.requests_to("/", "POST")
    assert logged.query == {"Action": "DescribeAuth", "Version": version}
    assert logged.status == 200


def test_describe_auth_by_domain(simulator: SimulatorServer) -> None:
    [item] = make_client(simulator).describe_auth("pull", domain=DEMO_PULL_DOMAIN)
    assert item["Domain"] == DEMO_PULL_DOMAIN and item["AuthStatus"] is False


def test_generate_push_url(simulator: SimulatorServer) -> None:
    result = make_client(simulator).generate_push_url(DEMO_VHOST, DEMO_APP, "event-1", valid_duration=3600)
    [detail] = result["PushURLListDetail"]
    assert detail["URL"].startswith("rtmp://push.demo.example.com/live/event-1?")
    assert "volcSecret=" in detail["StreamSign"]
    assert result["PushURLList"] == [detail["URL"]]
    expires = int(detail["StreamSign"].split("volcTime=")[1].split("&")[0])
    assert abs(expires - (simulator.now() + 3600)) < 60


def test_429_then_success_is_resigned(simulator: SimulatorServer) -> None:
    simulator.faults.add("429", path="/")
    stamps: list[float] = []

    def clock() -> float:
        stamps.append(time.time())
        return stamps[-1]

    auth = make_client(simulator, clock=clock).describe_auth("push", vhost=DEMO_VHOST)
    assert auth[0]["Vhost"] == DEMO_VHOST
    assert [r.status for r in simulator.requests_to("/")] == [429, 200]
    assert len(stamps) == 2, "each attempt must be dated and signed again"


def test_flow_limit_exceeded_is_rate_limit_error(simulator: SimulatorServer) -> None:
    simulator.volcengine.quotas["DescribeAuth"] = (0.01, 1.0)
    client = make_client(simulator, retry=ONCE, rate_limits={})
    client.describe_auth("push", vhost=DEMO_VHOST)
    with pytest.raises(LiveApiRateLimitError) as info:
        client.describe_auth("push", vhost=DEMO_VHOST)
    err = info.value
    assert err.code == "FlowLimitExceeded" and err.http_status == 429 and err.retryable
    assert err.request_id


def test_flow_limit_then_success(simulator: SimulatorServer) -> None:
    simulator.volcengine.quotas["DescribeAuth"] = (20.0, 1.0)
    client = make_client(simulator, rate_limits={})
    for _ in range(3):
        client.describe_auth("push", vhost=DEMO_VHOST)
    statuses = [r.status for r in simulator.requests_to("/")]
    assert 429 in statuses, "the simulator quota did not throttle"
    assert statuses.count(200) == 3


def test_503_then_success(simulator: SimulatorServer) -> None:
    simulator.faults.add("503", path="/", times=2)
    make_client(simulator).describe_auth("push", vhost=DEMO_VHOST)
    assert [r.status for r in simulator.requests_to("/")] == [503, 503, 200]


@pytest.mark.parametrize("version", ["2023-01-01", "2020-08-01"])
def test_wrong_secret_key_one_request_no_key_in_error(
    simulator: SimulatorServer, all_logs: pytest.LogCaptureFixture, version: str
) -> None:
    wrong = "wrong-secret-access-key-0123456789"
    with pytest.raises(LiveApiAuthError) as info:
        make_client(simulator, sk=wrong).describe_auth("push", vhost=DEMO_VHOST, version=version)
    err = info.value
    assert err.code == "SignatureDoesNotMatch" and err.http_status == 401 and not err.retryable
    assert err.request_id, "request id must be reported (RequestId or RequestID)"
    assert err.request_id in str(err) and "SignatureDoesNotMatch" in str(err)
    assert len(simulator.requests_to("/")) == 1
    text = str(err) + repr(err) + "\n".join(r.getMessage() for r in all_logs.records)
    assert_no_secret_in(text, wrong, DEMO_SECRET_ACCESS_KEY)


def test_unknown_access_key(simulator: SimulatorServer) -> None:
    with pytest.raises(LiveApiAuthError) as info:
        make_client(simulator, ak="AKLTunknown").describe_auth("push", vhost=DEMO_VHOST)
    assert info.value.code == "InvalidAccessKey"
    assert len(simulator.requests_to("/")) == 1


def test_clock_skew_is_invalid_timestamp_not_retried(simulator: SimulatorServer) -> None:
    simulator.clock_skew = 3600
    with pytest.raises(LiveApiAuthError) as info:
        make_client(simulator).describe_auth("push", vhost=DEMO_VHOST)
    assert info.value.code == "InvalidTimestamp"
    assert len(simulator.requests_to("/")) == 1


def test_sts_credentials(simulator: SimulatorServer) -> None:
    token = "STS-session-token-abcdef0123456789"
    simulator.volcengine.add_credentials("AKTPsts", "sts-secret-key-0123456789", token)
    with_token = make_client(simulator, ak="AKTPsts", sk="sts-secret-key-0123456789", session_token=token)
    assert with_token.describe_auth("push", vhost=DEMO_VHOST)
    without = make_client(simulator, ak="AKTPsts", sk="sts-secret-key-0123456789")
    with pytest.raises(LiveApiAuthError) as info:
        without.describe_auth("push", vhost=DEMO_VHOST)
    assert_no_secret_in(str(info.value), token)


def test_vendor_error_not_retried(simulator: SimulatorServer) -> None:
    with pytest.raises(LiveApiError) as info:
        make_client(simulator).call("NoSuchAction", {})
    assert info.value.code == "InvalidActionOrVersion" and info.value.http_status == 404
    assert not info.value.retryable
    assert len(simulator.requests_to("/")) == 1


def test_generic_call(simulator: SimulatorServer) -> None:
    result = make_client(simulator).call("ListDomainDetail", {"PageNum": 1, "PageSize": 10})
    assert {d["Domain"] for d in result["DomainList"]} == {"push.demo.example.com", DEMO_PULL_DOMAIN}


BAD_INPUTS: list[tuple[str, Callable[[VolcengineLiveClient], object]]] = [
    ("vhost/domain", lambda c: c.describe_auth("push")),
    ("vhost/domain", lambda c: c.describe_auth("push", vhost=DEMO_VHOST, domain=DEMO_PULL_DOMAIN)),
    ("scene_type", lambda c: c.describe_auth("publish", vhost=DEMO_VHOST)),
    ("app", lambda c: c.describe_auth("push", vhost=DEMO_VHOST, app="a" * 31)),
    ("app", lambda c: c.describe_auth("push", vhost=DEMO_VHOST, app="live/x")),
    ("version", lambda c: c.describe_auth("push", vhost=DEMO_VHOST, version="2022-01-01")),
    ("vhost", lambda c: c.describe_auth("push", vhost="http://x.example.com/")),
    ("stream", lambda c: c.generate_push_url(DEMO_VHOST, DEMO_APP, "  ")),
    ("stream", lambda c: c.generate_push_url(DEMO_VHOST, DEMO_APP, "bad stream")),
    ("app", lambda c: c.generate_push_url(DEMO_VHOST, "", "s1")),
    ("valid_duration", lambda c: c.generate_push_url(DEMO_VHOST, DEMO_APP, "s1", valid_duration=0)),
    ("valid_duration", lambda c: c.generate_push_url(DEMO_VHOST, DEMO_APP, "s1", valid_duration=1.5)),  # type: ignore[arg-type]
    ("expired_time", lambda c: c.generate_push_url(DEMO_VHOST, DEMO_APP, "s1", expired_time="tomorrow")),
    (
        "expired_time",
        lambda c: c.generate_push_url(DEMO_VHOST, DEMO_APP, "s1", expired_time="2026-01-01T00:00:00"),
    ),
    ("action", lambda c: c.call("Describe Auth")),
    ("version", lambda c: c.call("DescribeAuth", {}, version="latest")),
    ("query", lambda c: c.call("DescribeAuth", {}, query={"Vhost": "v"})),  # POST takes a body
    ("body", lambda c: c.call("DescribeLiveStreamState", {"App": "a"}, method="GET")),
    ("query['Action']", lambda c: c.call("DescribeLiveStreamState", method="GET", query={"Action": "X"})),
    ("query['Stream']", lambda c: c.call("ListX", method="GET", query={"Stream": "a\nb"})),
    ("method", lambda c: c.call("DescribeAuth", {}, method="PUT")),
    ("vhost/domain", lambda c: c.describe_live_stream_state(app="live", stream="s")),
    ("stream", lambda c: c.describe_live_stream_state(vhost=DEMO_VHOST, app="live", stream="s\n")),
    ("app", lambda c: c.describe_live_stream_state(domain=DEMO_VHOST, app="my app", stream="s")),
    ("vhost", lambda c: c.describe_live_stream_state(vhost="live\x00.example.com", app="a", stream="s")),
    ("vhost", lambda c: c.iter_online_streams(vhost="https://live.demo.example.com")),
    ("domain", lambda c: c.iter_online_streams(domain="push demo.example.com")),
    ("app", lambda c: c.iter_online_streams(vhost=DEMO_VHOST, app="a" * 31)),
    ("stream", lambda c: c.iter_online_streams(app="live", stream="s/1")),
    ("stream", lambda c: c.iter_online_streams(app="live", stream="s" * 101)),
    ("app", lambda c: c.iter_online_streams(vhost=DEMO_VHOST, stream="s1")),
    ("vhost/domain", lambda c: c.iter_online_streams(vhost=DEMO_VHOST, domain="push.demo.example.com")),
    ("page_size", lambda c: c.iter_online_streams(page_size=0)),
    ("page_size", lambda c: c.iter_online_streams(page_size=1001)),
    ("page_size", lambda c: c.iter_online_streams(page_size=True)),
    ("page_size", lambda c: c.iter_online_streams(page_size="10\n")),  # type: ignore[arg-type]
]


@pytest.mark.parametrize(("field", "bad_call"), BAD_INPUTS)
def test_bad_input_sends_nothing(
    simulator: SimulatorServer, field: str, bad_call: Callable[[VolcengineLiveClient], object]
) -> None:
    with pytest.raises(LiveApiInputError) as info:
        bad_call(make_client(simulator))
    assert info.value.field == field
    assert field in str(info.value)
    assert list(simulator.requests) == []


def test_empty_credentials_refused() -> None:
    with pytest.raises(LiveApiInputError, match="secret_access_key"):
        VolcengineLiveClient("http://127.0.0.1:1", "AK", " ")


def test_logs_carry_no_query_or_secret(
    simulator: SimulatorServer, all_logs: pytest.LogCaptureFixture
) -> None:
    result = make_client(simulator).generate_push_url(DEMO_VHOST, DEMO_APP, "s1")
    text = "\n".join(r.getMessage() for r in all_logs.records if r.levelno >= logging.DEBUG)
    assert "Action=" not in text, "a query string reached the logs"
    assert_no_secret_in(text, DEMO_SECRET_ACCESS_KEY, result["PushURLListDetail"][0]["StreamSign"])


def test_vendor_message_echoing_credentials_is_scrubbed(simulator: SimulatorServer) -> None:
    """A gateway that echoes the canonical request (STS token included) must not leak it."""
    secret_key, session_token = "SK-echo-secret-0001", "STS-echo-token-0001"

    def echo(req: SimRequest) -> SimResponse:
        echoed = (
            f"canonical request had x-security-token:{req.headers.get('x-security-token')} sk={secret_key}"
        )
        return SimResponse(
            403,
            {
                "ResponseMetadata": {
                    "RequestId": "rid-echo",
                    "Error": {"Code": "AccessDenied", "Message": echoed},
                }
            },
        )

    simulator.routes[("POST", "/")] = echo
    client = VolcengineLiveClient(simulator.base_url, "AKECHO", secret_key, session_token=session_token)
    with pytest.raises(LiveApiAuthError) as info:
        client.call("DescribeAuth", {"Vhost": "v.example.com", "SceneType": "push"})
    assert info.value.request_id == "rid-echo"
    assert REDACTED in str(info.value)
    assert_no_secret_in(str(info.value), secret_key, session_token)


def test_a_base_url_with_a_path_is_refused_before_any_request() -> None:
    with pytest.raises(LiveApiInputError, match="without a path"):
        VolcengineLiveClient("https://gateway.example.com/live", "AK", "SK")


def test_describe_live_stream_state_is_a_signed_get(simulator: SimulatorServer) -> None:
    """GET with the parameters in the signed query, no body: the simulator's own verifier agrees."""
    client = make_client(simulator)
    assert client.describe_live_stream_state(vhost=DEMO_VHOST, app=DEMO_APP, stream="s1") == {
        "stream_state": "offline",
        "type": "push",
    }
    simulator.volcengine.set_stream(DEMO_VHOST, DEMO_APP, "s1", online_in=0)
    assert (
        client.describe_live_stream_state(vhost=DEMO_VHOST, app=DEMO_APP, stream="s1")["stream_state"]
        == "online"
    )
    [first, second] = simulator.requests
    assert (first.method, first.status) == ("GET", 200)
    assert {k: first.query[k] for k in ("Action", "Vhost", "App", "Stream")} == {
        "Action": "DescribeLiveStreamState",
        "Vhost": DEMO_VHOST,
        "App": DEMO_APP,
        "Stream": "s1",
    }
    request = client.build_request("DescribeLiveStreamState", b"", "2023-01-01", "GET", {"App": "a"})
    assert "Content-Type" not in request.headers and request.data is None
    assert "SignedHeaders=host;x-content-sha256;x-date," in request.headers["Authorization"]


def test_a_changed_query_breaks_the_signature(simulator: SimulatorServer) -> None:
    """The query is signed: a parameter altered after signing is refused by the gateway."""
    client = make_client(simulator)
    request = client.build_request("DescribeLiveStreamState", b"", "2023-01-01", "GET", {"App": DEMO_APP})
    tampered = {**request.params, "Vhost": DEMO_VHOST, "Stream": "s1"}
    import requests

    response = requests.get(simulator.base_url + "/", params=tampered, headers=request.headers, timeout=5)
    assert response.status_code == 401 and "SignatureDoesNotMatch" in response.text


# -- DescribeLiveStreamInfoByPage: iter_online_streams ------------------------------------------
LIST_ACTION = "DescribeLiveStreamInfoByPage"


def list_requests(server: SimulatorServer) -> list[Any]:
    return [r for r in server.requests if r.query.get("Action") == LIST_ACTION]


def test_online_streams_2500_in_three_pages_of_1000(simulator: SimulatorServer) -> None:
    """2,500 online streams cost 3 requests (the 3rd page is short, so the last): IDs are the
    vendor's int64 values exactly (above 2**53), one stream per online stream, none twice."""
    started = {
        f"s{n}": simulator.volcengine.start_session(DEMO_VHOST, DEMO_APP, f"s{n}") for n in range(2500)
    }
    simulator.volcengine.set_stream(DEMO_VHOST, DEMO_APP, "offline-one", state="offline")
    streams = list(make_client(simulator).iter_online_streams(vhost=DEMO_VHOST))
    assert len(streams) == 2500
    assert {s.stream: f"{s.stream_id}@{s.session_start_time}" for s in streams} == started
    assert all(int(s.stream_id) > 2**53 for s in streams)
    assert {(s.vhost, s.domain, s.app, s.source_type) for s in streams} == {
        (DEMO_VHOST, "push.demo.example.com", DEMO_APP, "push")
    }
    pages = list_requests(simulator)
    assert [(r.method, r.status, r.query["PageNum"], r.query["PageSize"]) for r in pages] == [
        ("GET", 200, str(n), "1000") for n in (1, 2, 3)
    ]


def test_online_streams_filters_are_sent_and_applied(simulator: SimulatorServer) -> None:
    sim = simulator.volcengine
    sim.add_vhost("other.example.com", push_domains=["push.other.example.com"], pull_domains=[])
    for vhost, app, stream in [
        (DEMO_VHOST, "live", "a"),
        (DEMO_VHOST, "live", "b"),
        (DEMO_VHOST, "conf", "a"),
        ("other.example.com", "live", "a"),
    ]:
        sim.start_session(vhost, app, stream)
    sim.set_stream(DEMO_VHOST, "live", "forbidden-one", state="forbidden")
    sim.set_stream(DEMO_VHOST, "live", "later", online_in=3600)
    client = make_client(simulator)

    def listed(**filters: Any) -> list[tuple[str, str, str]]:
        return [(s.vhost, s.app, s.stream) for s in client.iter_online_streams(**filters)]

    assert listed(vhost=DEMO_VHOST, app="live") == [(DEMO_VHOST, "live", "a"), (DEMO_VHOST, "live", "b")]
    assert listed(vhost=DEMO_VHOST) == [
        (DEMO_VHOST, "conf", "a"),
        (DEMO_VHOST, "live", "a"),
        (DEMO_VHOST, "live", "b"),
    ]
    assert listed(domain="push.other.example.com") == [("other.example.com", "live", "a")]
    assert listed(app="live", stream="a") == [(DEMO_VHOST, "live", "a"), ("other.example.com", "live", "a")]
    assert len(listed()) == 4
    sent = list_requests(simulator)[0].query
    assert {k: sent[k] for k in ("Vhost", "App", "PageNum", "PageSize")} == {
        "Vhost": DEMO_VHOST,
        "App": "live",
        "PageNum": "1",
        "PageSize": "1000",
    }
    assert "Domain" not in sent and "Stream" not in sent


def test_online_streams_sessions_start_stop_start(simulator: SimulatorServer) -> None:
    """A stopped stream is no longer listed; a new session is a new ID (the watcher's identity)."""
    client = make_client(simulator)
    first = simulator.volcengine.start_session(DEMO_VHOST, DEMO_APP, "keynote")
    [seen] = client.iter_online_streams(vhost=DEMO_VHOST, app=DEMO_APP)
    assert f"{seen.stream_id}@{seen.session_start_time}" == first
    simulator.volcengine.stop_session(DEMO_VHOST, DEMO_APP, "keynote")
    assert list(client.iter_online_streams(vhost=DEMO_VHOST, app=DEMO_APP)) == []
    second = simulator.volcengine.start_session(DEMO_VHOST, DEMO_APP, "keynote")
    [again] = client.iter_online_streams(vhost=DEMO_VHOST, app=DEMO_APP)
    assert f"{again.stream_id}@{again.session_start_time}" == second
    assert again.stream_id != seen.stream_id


def test_online_streams_throttled_pages_are_retried(simulator: SimulatorServer) -> None:
    """The simulator answers 429 FlowLimitExceeded over its quota; the client waits and resends."""
    for n in range(3):
        simulator.volcengine.start_session(DEMO_VHOST, DEMO_APP, f"s{n}")
    simulator.volcengine.quotas[LIST_ACTION] = (20.0, 1.0)
    streams = list(make_client(simulator, rate_limits={}).iter_online_streams(page_size=1))
    assert [s.stream for s in streams] == ["s0", "s1", "s2"]
    statuses = [r.status for r in list_requests(simulator)]
    assert 429 in statuses, "the simulator quota did not throttle"
    assert statuses.count(200) == 4  # 3 full pages of 1, then an empty (short) one

    with pytest.raises(LiveApiRateLimitError) as info:
        simulator.volcengine.quotas[LIST_ACTION] = (0.01, 1.0)
        client = make_client(simulator, retry=ONCE, rate_limits={})
        list(client.iter_online_streams(page_size=1))
    assert info.value.code == "FlowLimitExceeded" and info.value.http_status == 429


def test_online_streams_share_the_10_per_second_bucket(simulator: SimulatorServer) -> None:
    """The client spaces the action to 10/s per access key, so the simulator's own 10/s quota
    (bucket of 10) never answers 429, even for two clients at once."""
    for n in range(6):
        simulator.volcengine.start_session(DEMO_VHOST, DEMO_APP, f"s{n}")
    first, second = make_client(simulator), make_client(simulator)
    assert first.limiter_for(LIST_ACTION) is second.limiter_for(LIST_ACTION)
    for client in (first, second):
        assert len(list(client.iter_online_streams(page_size=1))) == 6  # 7 requests each
    statuses = [r.status for r in list_requests(simulator)]
    assert statuses == [200] * 14
    busiest = simulator.max_requests_in_window(lambda r: r.query.get("Action") == LIST_ACTION, 1.0)
    print(f"DescribeLiveStreamInfoByPage: at most {busiest} requests in any 1 s window")
    assert busiest <= 12  # 10/s spacing; a generous bound for a noisy machine


def _hostile(simulator: SimulatorServer, page: Callable[[int, int], Any]) -> None:
    """The gateway answers ``Result = page(PageNum, PageSize)`` to every request."""

    def handler(req: SimRequest) -> SimResponse:
        result = page(int(req.query["PageNum"]), int(req.query["PageSize"]))
        return SimResponse(200, {"ResponseMetadata": {"RequestId": "rid-hostile"}, "Result": result})

    simulator.routes[("GET", "/")] = handler


def _item(n: int, **changes: Any) -> dict[str, Any]:
    item = {
        "ID": 1000 + n,
        "Vhost": DEMO_VHOST,
        "Domain": "push.demo.example.com",
        "App": DEMO_APP,
        "Stream": f"s{n}",
        "SessionStartTime": "2026-12-01T10:00:00.000Z",
        "SourceType": "push",
    }
    item.update(changes)
    return {k: v for k, v in item.items() if v is not ...}


@pytest.mark.parametrize(
    ("result", "says"),
    [
        ({}, "page 1 has no Result.StreamInfoList (not taken as none online)"),
        ({"RoughCount": 0}, "page 1 has no Result.StreamInfoList"),
        ({"StreamInfoList": "s1,s2"}, "Result.StreamInfoList is a string, not a list"),
        ({"StreamInfoList": {"Stream": "s1"}}, "Result.StreamInfoList is an object, not a list"),
        ({"StreamInfoList": [_item(0), "s1"]}, "Result.StreamInfoList[1] is a string, not an object"),
        ({"StreamInfoList": [_item(0, Stream=...)]}, "Result.StreamInfoList[0].Stream is null"),
        ({"StreamInfoList": [_item(0, App="")]}, "Result.StreamInfoList[0].App is an empty string"),
        ({"StreamInfoList": [_item(0, ID=None)]}, "Result.StreamInfoList[0].ID is null"),
        ({"StreamInfoList": [_item(0, ID=1.5)]}, "Result.StreamInfoList[0].ID is a number"),
        (
            {"StreamInfoList": [_item(0, SessionStartTime=DEMO_SECRET_ACCESS_KEY)]},
            "SessionStartTime is a string, not an RFC 3339 time",
        ),
        ({"StreamInfoList": [_item(0, Domain=7)]}, "Result.StreamInfoList[0].Domain is a number"),
        ({"StreamInfoList": [_item(n) for n in range(3)]}, "page 1 holds 3 streams, more than 2"),
    ],
)
def test_online_streams_hostile_answer_is_refused(
    simulator: SimulatorServer, result: dict[str, Any], says: str
) -> None:
    _hostile(simulator, lambda number, size: result)
    with pytest.raises(LiveApiResponseError) as info:
        list(make_client(simulator).iter_online_streams(page_size=2))
    assert says in str(info.value)
    assert_no_secret_in(str(info.value), DEMO_SECRET_ACCESS_KEY)


def test_online_streams_null_is_an_empty_page(simulator: SimulatorServer) -> None:
    """``"StreamInfoList": null`` (how a Go service writes an empty list) says "none online"."""
    _hostile(simulator, lambda number, size: {"StreamInfoList": None, "RoughCount": 0})
    assert list(make_client(simulator).iter_online_streams(page_size=2)) == []


def test_online_streams_stop_at_the_callers_page_cap(simulator: SimulatorServer) -> None:
    _hostile(simulator, lambda number, size: {"StreamInfoList": [_item(number)]})
    with pytest.raises(LiveApiResponseError, match="more than 3 pages"):
        list(make_client(simulator).iter_online_streams(page_size=1, max_pages=3))
    assert len(simulator.requests) == 3
    with pytest.raises(LiveApiInputError, match="max_pages"):
        make_client(simulator).iter_online_streams(max_pages=0)
    assert len(simulator.requests) == 3


def test_online_streams_a_bad_page_yields_none_of_its_items(simulator: SimulatorServer) -> None:
    pages = {1: [_item(0), _item(1)], 2: [_item(2), _item(3, Vhost=None)]}
    _hostile(simulator, lambda number, size: {"StreamInfoList": pages[number]})
    seen: list[str] = []
    with pytest.raises(LiveApiResponseError, match=r"StreamInfoList\[1\]\.Vhost"):
        for stream in make_client(simulator).iter_online_streams(page_size=2):
            seen.append(stream.stream)
    assert seen == ["s0", "s1"]


def test_online_streams_a_repeated_page_stops_paging(simulator: SimulatorServer) -> None:
    _hostile(simulator, lambda number, size: {"StreamInfoList": [_item(0), _item(1)]})
    with pytest.raises(LiveApiResponseError, match="page 2 repeats page 1"):
        list(make_client(simulator).iter_online_streams(page_size=2))
    assert len(simulator.requests) == 2


def test_online_streams_endless_pages_stop_at_the_maximum(
    simulator: SimulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Full pages forever (each different): the page guard ends it, it does not page for hours."""
    monkeypatch.setattr(volcengine_module, "MAX_ONLINE_STREAM_PAGES", 5)
    _hostile(simulator, lambda number, size: {"StreamInfoList": [_item(number)]})
    with pytest.raises(LiveApiResponseError, match="more than 5 pages"):
        list(make_client(simulator).iter_online_streams(page_size=1))
    assert len(simulator.requests) == 5


def test_online_streams_vendor_error_carries_no_secret(simulator: SimulatorServer) -> None:
    wrong = "SK-wrong-secret-for-listing-0001"
    with pytest.raises(LiveApiAuthError) as info:
        list(make_client(simulator, sk=wrong).iter_online_streams(vhost=DEMO_VHOST))
    assert info.value.code == "SignatureDoesNotMatch"
    assert_no_secret_in(str(info.value) + repr(info.value), wrong, DEMO_SECRET_ACCESS_KEY)
    assert len(simulator.requests) == 1


def test_hook_iter_online_streams(sim_connections: SimulatorServer) -> None:
    from airflow_live_provider.hooks.volcengine import VolcengineLiveHook

    sim_connections.volcengine.start_session(DEMO_VHOST, DEMO_APP, "hooked")
    [stream] = VolcengineLiveHook().iter_online_streams(vhost=DEMO_VHOST, app=DEMO_APP)
    assert isinstance(stream, OnlineStream) and stream.stream == "hooked"
