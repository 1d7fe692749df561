"""The Volcengine simulator behaves like the gateway: raw signed requests, tampered ones, shapes."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
import requests

from airflow_live_provider.simulator import SimulatorServer
from airflow_live_provider.simulator.volcengine import (
    DEMO_ACCESS_KEY_ID,
    DEMO_SECRET_ACCESS_KEY,
    DEMO_VHOST,
)
from airflow_live_provider.vendors.volcengine import format_x_date, sign_request


def signed(
    server: SimulatorServer,
    body: bytes,
    *,
    action: str = "DescribeAuth",
    version: str = "2023-01-01",
    extra_headers: dict[str, str] | None = None,
    x_date: str | None = None,
) -> tuple[dict[str, str], dict[str, str]]:
    query = {"Action": action, "Version": version}
    headers = {
        "Host": f"127.0.0.1:{server.port}",
        "Content-Type": "application/json",
        **(extra_headers or {}),
    }
    return query, sign_request(
        "POST",
        query,
        headers,
        body,
        DEMO_ACCESS_KEY_ID,
        DEMO_SECRET_ACCESS_KEY,
        "cn-north-1",
        "live",
        x_date or format_x_date(time.time()),
    )


def post(
    server: SimulatorServer, query: dict[str, str], headers: dict[str, str], body: bytes
) -> requests.Response:
    return requests.post(server.base_url + "/", params=query, headers=headers, data=body, timeout=5)


BODY = b'{"Vhost":"live.demo.example.com","SceneType":"push"}'


def error_of(resp: requests.Response) -> dict[str, Any]:
    meta = resp.json()["ResponseMetadata"]
    assert "Result" not in resp.json()
    assert (
        (meta.get("RequestId") or meta.get("RequestID"))
        and meta["Service"] == "live"
        and meta["Region"] == "cn-north-1"
    )
    return meta["Error"]


def test_valid_request_shape(simulator: SimulatorServer) -> None:
    query, headers = signed(simulator, BODY)
    resp = post(simulator, query, headers, BODY)
    assert resp.status_code == 200
    payload = resp.json()
    assert payload["ResponseMetadata"]["Action"] == "DescribeAuth"
    assert payload["ResponseMetadata"]["Version"] == "2023-01-01"
    assert payload["Result"]["AuthList"][0]["Vhost"] == DEMO_VHOST


def test_2020_version_uses_request_id_spelling_of_its_doc(simulator: SimulatorServer) -> None:
    query, headers = signed(simulator, BODY, version="2020-08-01")
    meta = post(simulator, query, headers, BODY).json()["ResponseMetadata"]
    assert meta["RequestID"] and "RequestId" not in meta


def test_tampered_body_is_rejected(simulator: SimulatorServer) -> None:
    query, headers = signed(simulator, BODY)
    tampered = BODY.replace(b"push", b"pull")
    resp = post(simulator, query, headers, tampered)
    assert resp.status_code == 401 and error_of(resp)["Code"] == "SignatureDoesNotMatch"


def test_tampered_query_is_rejected(simulator: SimulatorServer) -> None:
    query, headers = signed(simulator, BODY)
    resp = post(simulator, {**query, "Version": "2020-08-01"}, headers, BODY)
    assert error_of(resp)["Code"] == "SignatureDoesNotMatch"


def test_unsigned_x_header_is_rejected(simulator: SimulatorServer) -> None:
    query, headers = signed(simulator, BODY)
    headers["X-Date"] = format_x_date(time.time() + 1)  # changed after signing
    resp = post(simulator, query, headers, BODY)
    assert error_of(resp)["Code"] == "SignatureDoesNotMatch"


def test_wrong_host_is_rejected(simulator: SimulatorServer) -> None:
    query, headers = signed(simulator, BODY)
    headers["Host"] = "live.volcengineapi.com"
    assert error_of(post(simulator, query, headers, BODY))["Code"] == "SignatureDoesNotMatch"


def test_old_x_date_is_invalid_timestamp(simulator: SimulatorServer) -> None:
    query, headers = signed(simulator, BODY, x_date=format_x_date(time.time() - 16 * 60))
    resp = post(simulator, query, headers, BODY)
    assert resp.status_code == 403 and error_of(resp)["Code"] == "InvalidTimestamp"


def test_missing_authorization(simulator: SimulatorServer) -> None:
    resp = post(simulator, {"Action": "DescribeAuth", "Version": "2023-01-01"}, {}, BODY)
    assert resp.status_code == 400 and error_of(resp)["Code"] == "InvalidAuthorization"


def test_unknown_action_or_version(simulator: SimulatorServer) -> None:
    query, headers = signed(simulator, BODY, action="GeneratePushURL", version="2020-08-01")
    resp = post(simulator, query, headers, BODY)
    assert resp.status_code == 404 and error_of(resp)["Code"] == "InvalidActionOrVersion"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b'{"SceneType":"push"}', "InvalidParameter"),
        (b'{"Vhost":"live.demo.example.com"}', "MissingParameter"),
        (b'{"Vhost":"live.demo.example.com","SceneType":"both"}', "InvalidParameter"),
    ],
)
def test_parameter_errors(simulator: SimulatorServer, body: bytes, code: str) -> None:
    query, headers = signed(simulator, body)
    resp = post(simulator, query, headers, body)
    assert resp.status_code == 400 and error_of(resp)["Code"] == code


def test_quota_answers_429_flow_limit_exceeded(simulator: SimulatorServer) -> None:
    codes = []
    for _ in range(15):
        query, headers = signed(simulator, BODY)
        resp = post(simulator, query, headers, BODY)
        codes.append(resp.status_code)
        if resp.status_code == 429:
            assert error_of(resp)["Code"] == "FlowLimitExceeded"
    assert codes[:10] == [200] * 10, "the bucket holds 10 requests"
    assert 429 in codes[10:]


def test_unknown_vhost_has_empty_auth_list(simulator: SimulatorServer) -> None:
    body = b'{"Vhost":"nope.example.com","SceneType":"push"}'
    query, headers = signed(simulator, body)
    assert post(simulator, query, headers, body).json()["Result"] == {"AuthList": []}


# -- DescribeLiveStreamInfoByPage (GET) -----------------------------------------------------------
LIST = "DescribeLiveStreamInfoByPage"
SESSION_START = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")


def list_page(server: SimulatorServer, **params: Any) -> requests.Response:
    """One signed GET of the online-stream list (parameters in the signed query)."""
    query = {"Action": LIST, "Version": "2023-01-01", **{k: str(v) for k, v in params.items()}}
    headers = sign_request(
        "GET",
        query,
        {"Host": f"127.0.0.1:{server.port}"},
        b"",
        DEMO_ACCESS_KEY_ID,
        DEMO_SECRET_ACCESS_KEY,
        "cn-north-1",
        "live",
        format_x_date(time.time()),
    )
    return requests.get(server.base_url + "/", params=query, headers=headers, timeout=5)


def test_online_list_shape_and_only_online_streams(simulator: SimulatorServer) -> None:
    sim = simulator.volcengine
    session = sim.start_session(DEMO_VHOST, "live", "started")
    sim.set_stream(DEMO_VHOST, "live", "set-online", state="online")
    sim.set_stream(DEMO_VHOST, "live", "goes-online", online_in=0)
    sim.set_stream(DEMO_VHOST, "live", "later", online_in=3600)
    sim.set_stream(DEMO_VHOST, "live", "forbidden", state="forbidden")
    sim.set_stream(DEMO_VHOST, "live", "offline", state="offline")
    resp = list_page(simulator, PageNum=1, PageSize=10)
    assert resp.status_code == 200
    result = resp.json()["Result"]
    items = result["StreamInfoList"]
    assert [i["Stream"] for i in items] == ["goes-online", "set-online", "started"]
    assert result["RoughCount"] == 3
    for item in items:
        assert set(item) == {"ID", "Vhost", "Domain", "App", "Stream", "SessionStartTime", "SourceType"}
        assert isinstance(item["ID"], int) and 2**53 < item["ID"] < 2**63
        assert SESSION_START.fullmatch(item["SessionStartTime"])
        assert (item["Vhost"], item["Domain"], item["SourceType"]) == (
            DEMO_VHOST,
            "push.demo.example.com",
            "push",
        )
    started = items[2]
    assert f"{started['ID']}@{started['SessionStartTime']}" == session
    assert len({i["ID"] for i in items}) == 3


def test_sessions_agree_with_describe_live_stream_state(simulator: SimulatorServer) -> None:
    """start/stop/start: listed and ``online`` together; a new session has a new ID and start."""
    from airflow_live_provider.vendors.volcengine import VolcengineLiveClient

    sim = simulator.volcengine
    client = VolcengineLiveClient(simulator.base_url, DEMO_ACCESS_KEY_ID, DEMO_SECRET_ACCESS_KEY)

    def state() -> str:
        return str(
            client.describe_live_stream_state(vhost=DEMO_VHOST, app="live", stream="k")["stream_state"]
        )

    def listed() -> list[str]:
        items = list_page(simulator, PageNum=1, PageSize=10, App="live", Stream="k").json()["Result"][
            "StreamInfoList"
        ]
        return [f"{i['ID']}@{i['SessionStartTime']}" for i in items]

    assert (state(), listed()) == ("offline", [])
    first = sim.start_session(DEMO_VHOST, "live", "k")
    assert (state(), listed()) == ("online", [first])
    sim.stop_session(DEMO_VHOST, "live", "k")
    assert (state(), listed()) == ("offline", [])
    time.sleep(0.002)  # a later millisecond for the next SessionStartTime
    second = sim.start_session(DEMO_VHOST, "live", "k")
    assert (state(), listed()) == ("online", [second])
    (first_id, first_start), (second_id, second_start) = first.split("@"), second.split("@")
    assert int(second_id) > int(first_id) and second_start > first_start


def test_online_list_paging_and_filters(simulator: SimulatorServer) -> None:
    sim = simulator.volcengine
    sim.add_vhost("other.example.com", push_domains=["push.other.example.com"], pull_domains=[])
    for n in range(5):
        sim.start_session(DEMO_VHOST, "live", f"s{n}")
    sim.start_session(DEMO_VHOST, "conf", "talk-1")
    sim.start_session("other.example.com", "live", "s0")

    def names(**params: Any) -> list[str]:
        items = list_page(simulator, **params).json()["Result"]["StreamInfoList"]
        return [f"{i['Vhost'].split('.')[0]}/{i['App']}/{i['Stream']}" for i in items]

    assert names(PageNum=2, PageSize=2, Vhost=DEMO_VHOST, App="live") == ["live/live/s2", "live/live/s3"]
    assert names(PageNum=3, PageSize=2, Vhost=DEMO_VHOST, App="live") == ["live/live/s4"]
    assert names(PageNum=4, PageSize=2, Vhost=DEMO_VHOST, App="live") == []
    assert names(PageNum=1, PageSize=10, Domain="push.other.example.com") == ["other/live/s0"]
    assert names(PageNum=1, PageSize=10, App="live", Stream="s0") == ["live/live/s0", "other/live/s0"]
    assert names(PageNum=1, PageSize=10, App="conf", Stream="talk") == []  # strict by default
    assert names(PageNum=1, PageSize=10, App="conf", Stream="talk", QueryType="fuzzy") == ["live/conf/talk-1"]
    assert names(PageNum=1, PageSize=10, SourceType="relay") == []
    assert names(PageNum=1, PageSize=10, StreamType="trans") == []


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"PageNum": 1, "PageSize": 0}, "InvalidParameter"),
        ({"PageNum": 1, "PageSize": 1001}, "InvalidParameter"),
        ({"PageNum": 0, "PageSize": 10}, "InvalidParameter"),
        ({"PageNum": 1, "PageSize": "ten"}, "InvalidParameter"),
        ({"PageNum": 1}, "MissingParameter"),
        ({"PageSize": 10}, "MissingParameter"),
        ({"PageNum": 1, "PageSize": 10, "QueryType": "regex"}, "InvalidParameter"),
        (
            {"PageNum": 1, "PageSize": 10, "Vhost": DEMO_VHOST, "Domain": "push.demo.example.com"},
            "InvalidParameter",
        ),
        ({"PageNum": 1, "PageSize": 10, "Stream": "s1"}, "InvalidParameter"),
    ],
)
def test_online_list_parameter_errors(simulator: SimulatorServer, params: dict[str, Any], code: str) -> None:
    resp = list_page(simulator, **params)
    assert resp.status_code == 400 and error_of(resp)["Code"] == code


def test_online_list_page_size_1000_is_accepted(simulator: SimulatorServer) -> None:
    assert list_page(simulator, PageNum=1, PageSize=1000).status_code == 200


def test_online_list_is_a_get_action(simulator: SimulatorServer) -> None:
    query, headers = signed(simulator, b"{}", action=LIST)
    resp = post(simulator, query, headers, b"{}")
    assert resp.status_code == 400 and error_of(resp)["Code"] == "InvalidHttpMethod"


def test_online_list_quota_is_10_per_second_per_key(simulator: SimulatorServer) -> None:
    codes = []
    for _ in range(14):
        resp = list_page(simulator, PageNum=1, PageSize=10)
        codes.append(resp.status_code)
        if resp.status_code == 429:
            assert error_of(resp)["Code"] == "FlowLimitExceeded"
    assert codes[:10] == [200] * 10, "the bucket holds 10 requests"
    assert 429 in codes[10:]


def test_online_list_query_is_signed(simulator: SimulatorServer) -> None:
    query = {"Action": LIST, "Version": "2023-01-01", "PageNum": "1", "PageSize": "10"}
    headers = sign_request(
        "GET",
        query,
        {"Host": f"127.0.0.1:{simulator.port}"},
        b"",
        DEMO_ACCESS_KEY_ID,
        DEMO_SECRET_ACCESS_KEY,
        "cn-north-1",
        "live",
        format_x_date(time.time()),
    )
    tampered = {**query, "PageSize": "1000"}
    resp = requests.get(simulator.base_url + "/", params=tampered, headers=headers, timeout=5)
    assert resp.status_code == 401 and error_of(resp)["Code"] == "SignatureDoesNotMatch"
