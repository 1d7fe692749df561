"""Malformed vendor answers, one row each: a LiveApiError naming the vendor, the call and what was
wrong, in bounded time; never a Python exception, never a silent success.

Every row answers one vendor route of the real simulator (HTTP on 127.0.0.1) with a hostile body;
the client under test is the production one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from airflow_live_provider.exceptions import LiveApiError, LiveApiResponseError
from airflow_live_provider.simulator import SimRequest, SimResponse, SimulatorServer
from airflow_live_provider.simulator import isdp as isdp_sim
from airflow_live_provider.simulator import polyv as polyv_sim
from airflow_live_provider.simulator import volcengine as volc_sim
from airflow_live_provider.transport import RetryPolicy
from airflow_live_provider.vendors import isdp, polyv, volcengine
from tests.helpers import assert_no_secret_in

FAST = RetryPolicy(max_attempts=3, backoff_base=0.01, backoff_max=0.05, total_seconds=10)
#: Generous: the bugs these rows guard against hang forever or crash at once.
BOUND_SECONDS = 20


def polyv_client(server: SimulatorServer) -> polyv.PolyvClient:
    return polyv.PolyvClient(server.base_url, polyv_sim.DEMO_APP_ID, polyv_sim.DEMO_APP_SECRET, retry=FAST)


def volc_client(server: SimulatorServer) -> volcengine.VolcengineLiveClient:
    return volcengine.VolcengineLiveClient(
        server.base_url, volc_sim.DEMO_ACCESS_KEY_ID, volc_sim.DEMO_SECRET_ACCESS_KEY, retry=FAST
    )


def isdp_client(server: SimulatorServer) -> isdp.IsdpClient:
    return isdp.IsdpClient(server.base_url, isdp_sim.DEMO_APP_ID, isdp_sim.DEMO_APP_TOKEN, retry=FAST)


def v3(data: Any) -> dict[str, Any]:
    return {"code": 200, "status": "success", "message": "", "data": data}


def v4(data: Any) -> dict[str, Any]:
    return {
        "code": 200,
        "status": "success",
        "success": True,
        "requestId": "r-1",
        "error": None,
        "data": data,
    }


def volc(result: Any) -> dict[str, Any]:
    return {
        "ResponseMetadata": {"RequestId": "r-1", "Action": "x", "Version": "2023-01-01"},
        "Result": result,
    }


def isdp_ok(data: Any) -> dict[str, Any]:
    return {"status": 1, "message": "SUCCESS", "error": None, "data": data, "timestamp": "2026-12-01"}


def page(contents: Any, total_pages: Any = 1) -> dict[str, Any]:
    return v4({"pageNumber": 1, "pageSize": 100, "totalPages": total_pages, "contents": contents})


POLYV_WATCH = ("POST", polyv.WATCH_TOKEN_PATH)
POLYV_GROUP = ("GET", polyv.GROUP_PACKAGE_LIST_PATH)
POLYV_ASSOC = ("GET", polyv.TRANSMIT_ASSOCIATIONS_PATH)
POLYV_STATUS = ("POST", polyv.CHANNEL_LIVE_STATUS_PATH)
VOLC_POST = ("POST", "/")
VOLC_GET = ("GET", "/")
ISDP_TOKEN = ("POST", isdp.DEFAULT_TOKEN_PATH)
ISDP_BATCH = ("POST", isdp.GET_TOKEN_BATCH_PATH)
ISDP_ONE = ("POST", isdp.GET_TOKEN_PATH)


def watch_token(s: SimulatorServer) -> Any:
    return polyv_client(s).get_watch_api_token(polyv_sim.DEMO_CHANNEL_ID, "viewer-1")


def sub_accounts(s: SimulatorServer) -> Any:
    return list(polyv_client(s).iter_sub_accounts())


def receivers(s: SimulatorServer) -> Any:
    return polyv_client(s).list_transmit_receivers(polyv_sim.DEMO_TRANSMIT_CHANNEL_ID)


def live_status(s: SimulatorServer) -> Any:
    return polyv_client(s).get_channel_live_status([polyv_sim.DEMO_CHANNEL_ID])


def describe_auth(s: SimulatorServer) -> Any:
    return volc_client(s).describe_auth("push", vhost=volc_sim.DEMO_VHOST, app=volc_sim.DEMO_APP)


def push_url(s: SimulatorServer) -> Any:
    return volc_client(s).generate_push_url(volc_sim.DEMO_VHOST, volc_sim.DEMO_APP, "stream-1")


def stream_state(s: SimulatorServer) -> Any:
    return volc_client(s).describe_live_stream_state(vhost=volc_sim.DEMO_VHOST, app="live", stream="s1")


def access_token(s: SimulatorServer) -> Any:
    return isdp_client(s).get_access_token()


def token_batch(s: SimulatorServer) -> Any:
    return isdp_client(s).get_token_batch(isdp_sim.DEMO_CHANNEL_IDS, isdp_sim.DEMO_USER_ACCOUNT)


def one_token(s: SimulatorServer) -> Any:
    return isdp_client(s).get_token(isdp_sim.DEMO_CHANNEL_IDS[0], isdp_sim.DEMO_USER_ACCOUNT)


@dataclass(frozen=True)
class Row:
    name: str
    call: Callable[[SimulatorServer], Any]
    route: tuple[str, str]
    body: Any  # JSON-able, or bytes sent as they are
    vendor: str
    expected: str  # in the message: the call named and what was wrong
    status: int = 200


ROWS = [
    # -- Polyv -------------------------------------------------------------------------------------
    Row(
        "watch token: data is a list",
        watch_token,
        POLYV_WATCH,
        v3([]),
        "polyv",
        "get-watch-api-token answered in an unexpected shape: data is a list, not an object",
    ),
    Row(
        "watch token: empty token",
        watch_token,
        POLYV_WATCH,
        v3({"token": ""}),
        "polyv",
        "get-watch-api-token answered in an unexpected shape: data.token is an empty string",
    ),
    Row(
        "watch token: token is a number",
        watch_token,
        POLYV_WATCH,
        v3({"token": 12345}),
        "polyv",
        "data.token is a number, not non-empty text",
    ),
    Row(
        "snapshot: lists where sub-accounts belong",
        sub_accounts,
        POLYV_GROUP,
        page([[1, 2]]),
        "polyv",
        "group/user/package/list answered in an unexpected shape: data.contents[0] is a list, not an object",
    ),
    Row(
        "snapshot: contents is an object",
        sub_accounts,
        POLYV_GROUP,
        page({"a": 1}),
        "polyv",
        "data.contents is an object, not a list",
    ),
    Row(
        "snapshot: totalPages is text",
        sub_accounts,
        POLYV_GROUP,
        page([{"email": "a@b.cn"}], "many"),
        "polyv",
        "data.totalPages is a string, not a whole number",
    ),
    Row(
        "snapshot: totalPages 10^9 with the same page",
        sub_accounts,
        POLYV_GROUP,
        page([{"email": "a@b.cn"}], 10**9),
        "polyv",
        "data.totalPages is 1000000000, more than the 10000",
    ),
    Row(
        "snapshot: the same page again and again",
        sub_accounts,
        POLYV_GROUP,
        page([{"email": "a@b.cn"}], 50),
        "polyv",
        "asked for page 2, the answer is another page",
    ),
    Row(
        "snapshot: 1e999",
        sub_accounts,
        POLYV_GROUP,
        b'{"code":200,"status":"success","data":{"totalPages":1e999,"contents":[]}}',
        "polyv",
        "group/user/package/list answered in an unexpected shape: data.totalPages is an infinite number",
    ),
    Row(
        "snapshot: JSON nested 100,000 deep",
        sub_accounts,
        POLYV_GROUP,
        b"[" * 100_000 + b"]" * 100_000,
        "polyv",
        "(the body is nested deeper than 32 levels)",
    ),
    Row(
        "receivers: data is an object",
        receivers,
        POLYV_ASSOC,
        v3({"x": 1}),
        "polyv",
        "transmit/get-associations answered in an unexpected shape: data is an object, not a list",
    ),
    Row(
        "receivers: numbers where objects belong",
        receivers,
        POLYV_ASSOC,
        v3([1, 2]),
        "polyv",
        "data[0] is a number, not an object",
    ),
    Row(
        "receivers: no receiveChannelId",
        receivers,
        POLYV_ASSOC,
        v3([{"channelId": 1}]),
        "polyv",
        "data[0].receiveChannelId is null",
    ),
    Row(
        "live status: data is an object",
        live_status,
        POLYV_STATUS,
        v3({"a": 1}),
        "polyv",
        "channels/live-status answered in an unexpected shape: data is an object, not a list",
    ),
    Row(
        "live status: status is null",
        live_status,
        POLYV_STATUS,
        v3([{"channelId": int(polyv_sim.DEMO_CHANNEL_ID), "status": None}]),
        "polyv",
        "data[0].status is null",
    ),
    Row(
        "error code 1e999",
        watch_token,
        POLYV_WATCH,
        b'{"code": 1e999, "status": "error", "message": "boom", "data": ""}',
        "polyv",
        "get-watch-api-token failed: boom",
        status=400,
    ),
    # -- Volcengine --------------------------------------------------------------------------------
    Row(
        'DescribeAuth: AuthStatus "false" as text',
        describe_auth,
        VOLC_POST,
        volc({"AuthList": [{"AuthStatus": "false", "SceneType": "push"}]}),
        "volcengine",
        "DescribeAuth answered in an unexpected shape: Result.AuthList[0].AuthStatus is a string, not true",
    ),
    Row(
        "DescribeAuth: AuthStatus missing",
        describe_auth,
        VOLC_POST,
        volc({"AuthList": [{"SceneType": "push"}]}),
        "volcengine",
        "Result.AuthList[0].AuthStatus is null",
    ),
    Row(
        "DescribeAuth: AuthList is an object",
        describe_auth,
        VOLC_POST,
        volc({"AuthList": {"a": 1}}),
        "volcengine",
        "Result.AuthList is an object, not a list",
    ),
    Row(
        "DescribeAuth: lists where settings belong",
        describe_auth,
        VOLC_POST,
        volc({"AuthList": [[True]]}),
        "volcengine",
        "Result.AuthList[0] is a list, not an object",
    ),
    Row(
        "DescribeAuth: AuthDetailList is text",
        describe_auth,
        VOLC_POST,
        volc({"AuthList": [{"AuthStatus": True, "AuthDetailList": "x"}]}),
        "volcengine",
        "Result.AuthList[0].AuthDetailList is a string, not a list",
    ),
    Row(
        "DescribeAuth: Result is a list",
        describe_auth,
        VOLC_POST,
        volc([1]),
        "volcengine",
        "DescribeAuth answered in an unexpected shape: Result is a list, not an object",
    ),
    Row(
        "GeneratePushURL: {}",
        push_url,
        VOLC_POST,
        volc({}),
        "volcengine",
        "GeneratePushURL answered in an unexpected shape: Result holds no push URL",
    ),
    Row(
        "GeneratePushURL: a number in PushURLList",
        push_url,
        VOLC_POST,
        volc({"PushURLList": [1]}),
        "volcengine",
        "Result.PushURLList[0] is a number, not text",
    ),
    Row(
        "GeneratePushURL: detail without URL",
        push_url,
        VOLC_POST,
        volc({"PushURLListDetail": [{"DomainApp": "x"}]}),
        "volcengine",
        "Result.PushURLListDetail[0].URL is null",
    ),
    Row(
        "DescribeLiveStreamState: stream_state a number",
        stream_state,
        VOLC_GET,
        volc({"stream_state": 5}),
        "volcengine",
        "DescribeLiveStreamState answered in an unexpected shape: stream_state is a number",
    ),
    Row(
        "DescribeAuth: deep JSON",
        describe_auth,
        VOLC_POST,
        b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
        "volcengine",
        "DescribeAuth failed: the answer is not a Volcengine response (the body is nested",
    ),
    # -- ISDP --------------------------------------------------------------------------------------
    Row(
        "token: expires_in NaN (text)",
        access_token,
        ISDP_TOKEN,
        {"access_token": "tok-1", "expires_in": "NaN"},
        "isdp",
        "token request answered in an unexpected shape: expires_in is a string, not a number of seconds",
    ),
    Row(
        "token: expires_in NaN (literal)",
        access_token,
        ISDP_TOKEN,
        b'{"access_token": "tok-1", "expires_in": NaN}',
        "isdp",
        "expires_in is NaN, not a number of seconds",
    ),
    Row(
        "token: expires_in 1e300",
        access_token,
        ISDP_TOKEN,
        {"access_token": "tok-1", "expires_in": 1e300},
        "isdp",
        "expires_in is 1e+300; a lifetime is between 0 and 86400 s",
    ),
    Row(
        "token: expires_in 0",
        access_token,
        ISDP_TOKEN,
        {"access_token": "tok-1", "expires_in": 0},
        "isdp",
        "expires_in is 0; a lifetime is between 0 and 86400 s",
    ),
    Row(
        "token: access_token a list",
        access_token,
        ISDP_TOKEN,
        {"access_token": ["x"], "expires_in": 600},
        "isdp",
        "access_token is a list, not non-empty text",
    ),
    Row(
        "getTokenBatch: data [1, 2]",
        token_batch,
        ISDP_BATCH,
        isdp_ok([1, 2]),
        "isdp",
        "getTokenBatch answered in an unexpected shape: data[0] is a number, not an object",
    ),
    Row("getTokenBatch: data []", token_batch, ISDP_BATCH, isdp_ok([]), "isdp", "data is an empty list"),
    Row(
        "getTokenBatch: data text",
        token_batch,
        ISDP_BATCH,
        isdp_ok("tokens"),
        "isdp",
        "data is a string, not a token object or a list of them",
    ),
    Row(
        "getTokenBatch: object without token",
        token_batch,
        ISDP_BATCH,
        isdp_ok({"appId": "x"}),
        "isdp",
        "data.token is null",
    ),
    Row(
        "getTokenBatch: a channel left out",
        token_batch,
        ISDP_BATCH,
        isdp_ok([{"channelId": "10882", "token": "t-1"}]),
        "isdp",
        "no token for channel(s) ['10883']",
    ),
    Row(
        "getToken: token null",
        one_token,
        ISDP_ONE,
        isdp_ok({"token": None}),
        "isdp",
        "getToken answered in an unexpected shape: data.token is null",
    ),
]


@pytest.fixture
def server(simulator: SimulatorServer) -> Iterator[SimulatorServer]:
    yield simulator


@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
def test_a_malformed_answer_is_a_clear_error(server: SimulatorServer, row: Row) -> None:
    def answer(req: SimRequest) -> SimResponse:
        return SimResponse(row.status, row.body)

    server.routes[row.route] = answer
    started = time.monotonic()
    with pytest.raises(LiveApiError) as info:
        row.call(server)
    assert time.monotonic() - started < BOUND_SECONDS
    assert info.value.vendor == row.vendor
    assert row.expected in str(info.value)


def test_shape_errors_are_not_retried(server: SimulatorServer) -> None:
    """The same malformed answer would come again: one request, not max_attempts."""
    server.routes[POLYV_ASSOC] = lambda req: SimResponse(200, v3([1, 2]))
    with pytest.raises(LiveApiResponseError):
        receivers(server)
    assert len(server.requests_to(polyv.TRANSMIT_ASSOCIATIONS_PATH)) == 1


def test_a_real_page_sequence_still_pages(server: SimulatorServer) -> None:
    """The repeat check must not stop honest paging: 25 sub-accounts at 10 a page is 3 pages."""
    client = polyv.PolyvClient(
        server.base_url, polyv_sim.DEMO_GROUP_APP_ID, polyv_sim.DEMO_GROUP_APP_SECRET, retry=FAST
    )
    accounts = list(client.iter_sub_accounts(page_size=10))
    assert len({a["email"] for a in accounts}) == polyv_sim.DEMO_SUB_ACCOUNT_COUNT


def test_identical_pages_with_honest_page_numbers_stop(server: SimulatorServer) -> None:
    """A vendor that echoes pageNumber but sends the same items on every page."""
    calls: list[int] = []

    def same(req: SimRequest) -> SimResponse:
        calls.append(1)
        number = int(req.query["pageNumber"])
        return SimResponse(
            200, v4({"pageNumber": number, "totalPages": 10**4, "contents": [{"email": "a@b.cn"}]})
        )

    server.routes[POLYV_GROUP] = same
    with pytest.raises(LiveApiResponseError, match="page 2 repeats page 1; stopped paging"):
        sub_accounts(server)
    assert len(calls) == 2


def test_a_batch_create_answer_that_is_not_a_list_is_read_back(server: SimulatorServer) -> None:
    """A create: channels may exist although the answer is malformed, so the receivers are read
    back (no exception, nothing created twice)."""
    real = server.routes[("POST", polyv.TRANSMIT_BATCH_CREATE_PATH)]

    def garbled(req: SimRequest) -> SimResponse:
        real(req)  # the vendor creates the channels...
        return SimResponse(200, v3({"unexpected": True}))  # ...and answers nonsense

    server.routes[("POST", polyv.TRANSMIT_BATCH_CREATE_PATH)] = garbled
    result = polyv_client(server).create_transmit_channels(polyv_sim.DEMO_TRANSMIT_CHANNEL_ID, ["Hall Z"])
    assert [r["name"] for r in result] == ["Hall Z"] and result[0]["created"]
    assert len(server.requests_to(polyv.TRANSMIT_BATCH_CREATE_PATH)) == 1


# -- secrets echoed by value -------------------------------------------------------------------------
def test_polyv_error_echoing_the_app_secret_bare_is_scrubbed(server: SimulatorServer) -> None:
    secret = polyv_sim.DEMO_APP_SECRET
    server.routes[POLYV_WATCH] = lambda req: SimResponse(
        400, {"code": 400, "status": "error", "message": f"bad request from {secret}!", "data": ""}
    )
    with pytest.raises(LiveApiError) as info:
        watch_token(server)
    assert "get-watch-api-token failed: bad request from" in str(info.value)
    assert_no_secret_in(str(info.value), secret)


def test_polyv_v4_error_code_echoing_the_secret_is_scrubbed(server: SimulatorServer) -> None:
    secret = polyv_sim.DEMO_APP_SECRET
    server.routes[POLYV_GROUP] = lambda req: SimResponse(
        403,
        {
            "code": 403,
            "status": "error",
            "success": False,
            "requestId": secret,
            "error": {"code": f"E-{secret}", "desc": f"[{secret}]"},
            "data": None,
        },
    )
    with pytest.raises(LiveApiError) as info:
        sub_accounts(server)
    assert_no_secret_in(str(info.value), secret)


def test_volcengine_error_echoing_the_secret_key_is_scrubbed(server: SimulatorServer) -> None:
    secret = volc_sim.DEMO_SECRET_ACCESS_KEY
    server.routes[VOLC_POST] = lambda req: SimResponse(
        400, {"ResponseMetadata": {"RequestId": "r", "Error": {"Code": secret, "Message": f"k={secret}"}}}
    )
    with pytest.raises(LiveApiError) as info:
        describe_auth(server)
    assert_no_secret_in(str(info.value), secret)


def test_isdp_error_echoing_the_app_token_is_scrubbed(server: SimulatorServer) -> None:
    secret = isdp_sim.DEMO_APP_TOKEN
    server.routes[ISDP_BATCH] = lambda req: SimResponse(
        200, {"status": 0, "message": f"no access for {secret}", "error": secret, "data": None}
    )
    with pytest.raises(LiveApiError) as info:
        token_batch(server)
    assert_no_secret_in(str(info.value), secret)


def test_the_simulator_huge_number_fault_is_refused_where_the_number_matters(server: SimulatorServer) -> None:
    server.faults.add("huge_number", path=polyv.GROUP_PACKAGE_LIST_PATH)
    with pytest.raises(LiveApiResponseError, match=r"data.totalPages is an infinite number \(1e999\?\)"):
        sub_accounts(server)


def test_join_token_lifetimes_that_would_overflow_fall_back_to_token_end() -> None:
    """expirationTime 1e300 or inf: timedelta would raise OverflowError; tokenEnd is used."""
    from datetime import UTC, datetime

    from airflow_live_provider.workflow.vendor_steps import token_expiry

    now = datetime(2026, 12, 1, tzinfo=UTC)
    for seconds in (1e300, float("inf"), float("nan"), 10**30):
        expiry = token_expiry({"expirationTime": seconds, "tokenEnd": "2026-12-01T08:02:00"}, now)
        assert expiry == datetime(2026, 12, 1, 0, 2, tzinfo=UTC)


def test_a_batch_create_answer_with_odd_items_is_read_back(server: SimulatorServer) -> None:
    """Names as lists, ids as objects: no TypeError; the receivers are read back and matched."""
    real = server.routes[("POST", polyv.TRANSMIT_BATCH_CREATE_PATH)]

    def garbled(req: SimRequest) -> SimResponse:
        real(req)
        return SimResponse(200, v3([{"name": ["Hall Y"], "channelId": {"id": 1}}, {"channelId": [2]}]))

    server.routes[("POST", polyv.TRANSMIT_BATCH_CREATE_PATH)] = garbled
    result = polyv_client(server).create_transmit_channels(polyv_sim.DEMO_TRANSMIT_CHANNEL_ID, ["Hall Y"])
    assert [r["name"] for r in result] == ["Hall Y"] and result[0]["channelId"].isdigit()
