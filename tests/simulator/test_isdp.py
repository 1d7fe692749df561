"""The ISDP simulator speaks the documented shapes: raw HTTP, no client code involved."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
import requests

from airflow_live_provider.simulator import SimulatorServer
from airflow_live_provider.simulator.isdp import (
    DEMO_APP_ID,
    DEMO_APP_TOKEN,
    DEMO_CHANNEL_IDS,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_USER_ACCOUNT,
    GET_TOKEN_BATCH_PATH,
    GET_TOKEN_PATH,
    TOKEN_PATH,
)

#: The data keys of the vendor doc's getTokenBatch response example.
DOC_DATA_KEYS = {
    "proxy",
    "appId",
    "expirationTime",
    "tokenBegin",
    "tokenEnd",
    "token",
    "publishUrl",
    "publishInfo",
    "networkQuality",
    "playQuality",
    "playQualityCondition",
    "proxyList",
    "metering",
    "safetyHelmetInfo",
}


def grant(**overrides: Any) -> dict[str, Any]:
    body = {
        "client_id": DEMO_CLIENT_ID,
        "client_secret": DEMO_CLIENT_SECRET,
        "grant_type": "password",
        "username": DEMO_APP_ID,
        "password": DEMO_APP_TOKEN,
    }
    body.update(overrides)
    return body


def token(server: SimulatorServer) -> str:
    resp = requests.post(server.base_url + TOKEN_PATH, json=grant(), timeout=5)
    assert resp.status_code == 200
    return str(resp.json()["access_token"])


def batch(server: SimulatorServer, body: Any, bearer: str | None) -> requests.Response:
    headers = {"Authorization": f"bearer {bearer}"} if bearer else {}
    return requests.post(server.base_url + GET_TOKEN_BATCH_PATH, json=body, headers=headers, timeout=5)


GOOD = {"channelIds": DEMO_CHANNEL_IDS, "userAccount": DEMO_USER_ACCOUNT, "role": 1}


def test_token_response_is_an_oauth_answer(simulator: SimulatorServer) -> None:
    simulator.isdp.token_lifetime = 359
    body = requests.post(simulator.base_url + TOKEN_PATH, json=grant(), timeout=5).json()
    assert set(body) == {"access_token", "token_type", "refresh_token", "expires_in", "scope"}
    assert body["token_type"] == "bearer" and body["expires_in"] == 359


@pytest.mark.parametrize(
    ("overrides", "status", "error"),
    [
        ({"client_secret": "nope"}, 401, "invalid_client"),
        ({"client_id": "someone-else"}, 401, "invalid_client"),
        ({"grant_type": "client_credentials"}, 400, "unsupported_grant_type"),
        ({"password": "wrong"}, 400, "invalid_grant"),
        ({"username": "unknown-app"}, 400, "invalid_grant"),
    ],
)
def test_token_endpoint_checks_client_then_user(
    simulator: SimulatorServer, overrides: dict[str, str], status: int, error: str
) -> None:
    resp = requests.post(simulator.base_url + TOKEN_PATH, json=grant(**overrides), timeout=5)
    assert resp.status_code == status
    assert resp.json()["error"] == error
    assert simulator.isdp.tokens_issued == 0


def test_get_token_batch_matches_the_doc_example(simulator: SimulatorServer) -> None:
    resp = batch(simulator, GOOD, token(simulator))
    body = resp.json()
    assert resp.status_code == 200
    assert set(body) == {"status", "message", "error", "data", "timestamp"}
    assert (body["status"], body["message"], body["error"]) == (1, "SUCCESS", None)
    assert body["timestamp"].endswith("+0800")
    data = body["data"]
    assert set(data) == DOC_DATA_KEYS
    assert data["expirationTime"] == 120
    begin, end = (datetime.fromisoformat(data[k]) for k in ("tokenBegin", "tokenEnd"))
    assert begin.tzinfo is None and (end - begin).total_seconds() == 120
    assert data["publishUrl"].endswith(f"_{DEMO_CHANNEL_IDS[0]}")


def test_get_token_single_channel(simulator: SimulatorServer) -> None:
    resp = requests.post(
        simulator.base_url + GET_TOKEN_PATH,
        json={"channelId": DEMO_CHANNEL_IDS[1], "userAccount": DEMO_USER_ACCOUNT, "role": 1},
        headers={"Authorization": f"Bearer {token(simulator)}"},
        timeout=5,
    )
    body = resp.json()
    assert body["status"] == 1 and set(body["data"]) == DOC_DATA_KEYS


@pytest.mark.parametrize(
    ("bearer", "error"),
    [(None, "unauthorized"), ("not-a-token", "invalid_token")],
)
def test_bearer_is_checked(simulator: SimulatorServer, bearer: str | None, error: str) -> None:
    resp = batch(simulator, GOOD, bearer)
    assert resp.status_code == 401 and resp.json()["error"] == error
    assert simulator.isdp.join_tokens_issued == 0


def test_token_lifetime_and_revoke(simulator: SimulatorServer) -> None:
    simulator.isdp.token_lifetime = 30
    first = token(simulator)
    assert batch(simulator, GOOD, first).status_code == 200
    simulator.clock_skew += 31
    expired = batch(simulator, GOOD, first)
    assert expired.status_code == 401 and expired.json()["error"] == "invalid_token"
    assert "expired" in expired.json()["error_description"]
    second = token(simulator)
    assert batch(simulator, GOOD, second).status_code == 200
    assert simulator.isdp.revoke_tokens() == 1
    assert batch(simulator, GOOD, second).status_code == 401


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({" channelIds": DEMO_CHANNEL_IDS, " userAccount ": DEMO_USER_ACCOUNT, " role ": "1"}, "channelIds"),
        ({**GOOD, "role": "1"}, "role"),
        ({**GOOD, "channelIds": [10882]}, "channelIds"),
        ({**GOOD, "channelIds": ["99999"]}, "Channel does not exist"),
        ({**GOOD, "userAccount": "nobody"}, "User account does not exist"),
    ],
)
def test_bad_bodies_get_a_failure_envelope(
    simulator: SimulatorServer, body: dict[str, Any], problem: str
) -> None:
    resp = batch(simulator, body, token(simulator))
    payload = resp.json()
    assert resp.status_code == 200 and payload["status"] != 1 and payload["data"] is None
    assert problem in payload["error"]


def test_list_data_knob(simulator: SimulatorServer) -> None:
    simulator.isdp.batch_data_as_list = True
    data = batch(simulator, GOOD, token(simulator)).json()["data"]
    assert [d["channelId"] for d in data] == DEMO_CHANNEL_IDS
    assert all(DOC_DATA_KEYS <= set(d) for d in data)


def test_connections_point_at_the_server(simulator: SimulatorServer) -> None:
    conn = simulator.isdp.connections(simulator.base_url)["isdp_default"]
    assert conn["conn_type"] == "isdp" and conn["host"] == simulator.base_url
    assert (conn["login"], conn["password"]) == (DEMO_APP_ID, DEMO_APP_TOKEN)
