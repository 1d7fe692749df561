"""The Volcengine simulator behaves like the gateway: raw signed requests, tampered ones, shapes."""

from __future__ import annotations

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
