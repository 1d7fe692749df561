"""IsdpHook against the simulator through AIRFLOW_CONN_* connections."""

from __future__ import annotations

import json

import pytest

from airflow_live_provider.exceptions import LiveApiInputError
from airflow_live_provider.hooks.isdp import IsdpHook
from airflow_live_provider.simulator import SimulatorServer
from airflow_live_provider.simulator.isdp import (
    DEMO_APP_ID,
    DEMO_APP_TOKEN,
    DEMO_CHANNEL_IDS,
    DEMO_USER_ACCOUNT,
    TOKEN_PATH,
)
from airflow_live_provider.vendors.isdp import GET_TOKEN_BATCH_PATH, GET_TOKEN_PATH
from tests.helpers import assert_no_secret_in


def set_conn(
    monkeypatch: pytest.MonkeyPatch, conn_id: str, server: SimulatorServer, **fields: object
) -> None:
    conn: dict[str, object] = {
        "conn_type": "isdp",
        "host": server.base_url,
        "login": DEMO_APP_ID,
        "password": DEMO_APP_TOKEN,
        "extra": {},
    }
    conn.update(fields)
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


def test_calls_share_one_access_token(sim_connections: SimulatorServer) -> None:
    hook = IsdpHook()
    token = hook.get_access_token()
    one = hook.get_token(DEMO_CHANNEL_IDS[0], DEMO_USER_ACCOUNT)
    batch = hook.get_token_batch(DEMO_CHANNEL_IDS, DEMO_USER_ACCOUNT, role=1)
    assert isinstance(batch, dict) and batch["expirationTime"] == 120
    assert one["token"] != batch["token"]
    assert hook.get_access_token() == token
    assert len(sim_connections.requests_to(TOKEN_PATH)) == 1
    assert len(sim_connections.requests_to(GET_TOKEN_PATH)) == 1
    assert len(sim_connections.requests_to(GET_TOKEN_BATCH_PATH)) == 1


def test_defaults_for_missing_extras(simulator: SimulatorServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """No extras at all: the SaaS client pair and the documented token path are used."""
    set_conn(monkeypatch, "isdp_bare", simulator)
    hook = IsdpHook("isdp_bare")
    assert hook.client.client_id == "isdp-saas-openapi"
    assert hook.client.token_path == "/oauth2/oauth/rest_token"
    assert hook.get_access_token()


def test_test_connection_fetches_a_token(sim_connections: SimulatorServer) -> None:
    ok, message = IsdpHook().test_connection()
    assert ok, message
    assert DEMO_APP_ID in message and "1199" in message
    assert [r.status for r in sim_connections.requests] == [200]
    assert sim_connections.requests[0].path == TOKEN_PATH


def test_test_connection_wrong_token(simulator: SimulatorServer, monkeypatch: pytest.MonkeyPatch) -> None:
    wrong = "wrong-application-token-4d2c"
    set_conn(monkeypatch, "isdp_wrong", simulator, password=wrong)
    ok, message = IsdpHook("isdp_wrong").test_connection()
    assert not ok
    assert "application token" in message and "invalid_grant" in message
    assert_no_secret_in(message, wrong)


def test_test_connection_wrong_client_secret(
    simulator: SimulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_conn(monkeypatch, "isdp_client", simulator, extra={"client_secret": "private-client-secret-x"})
    ok, message = IsdpHook("isdp_client").test_connection()
    assert not ok and "client_secret" in message
    assert_no_secret_in(message, "private-client-secret-x")


def test_custom_token_path_is_used(simulator: SimulatorServer, monkeypatch: pytest.MonkeyPatch) -> None:
    simulator.routes[("POST", "/private/oauth/token")] = simulator.routes[("POST", TOKEN_PATH)]
    set_conn(monkeypatch, "isdp_private", simulator, extra={"token_path": "/private/oauth/token"})
    IsdpHook("isdp_private").get_access_token()
    assert len(simulator.requests_to("/private/oauth/token")) == 1
    assert simulator.requests_to(TOKEN_PATH) == []


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"login": ""}, "connection 'isdp_bad': .*\\(login\\)"),
        ({"password": " "}, "connection 'isdp_bad': .*\\(password\\)"),
        ({"extra": {"token_path": "oauth2/token"}}, "connection 'isdp_bad': .*\\(extra\\.token_path\\)"),
        ({"extra": {"read_timeout": "-1"}}, "connection 'isdp_bad': .*\\(extra\\.read_timeout\\)"),
    ],
)
def test_bad_connection_refused_before_any_request(
    simulator: SimulatorServer, monkeypatch: pytest.MonkeyPatch, fields: dict[str, object], match: str
) -> None:
    set_conn(monkeypatch, "isdp_bad", simulator, **fields)
    with pytest.raises(LiveApiInputError, match=match):
        IsdpHook("isdp_bad").get_access_token()
    assert list(simulator.requests) == []


@pytest.mark.parametrize(
    ("channel_ids", "user_account", "role"),
    [
        ([], DEMO_USER_ACCOUNT, 1),
        ([""], DEMO_USER_ACCOUNT, 1),
        (DEMO_CHANNEL_IDS, "", 1),
        (DEMO_CHANNEL_IDS, "u", "x"),
    ],
)
def test_bad_call_input_refused_before_any_request(
    sim_connections: SimulatorServer, channel_ids: list[str], user_account: str, role: object
) -> None:
    with pytest.raises(LiveApiInputError):
        IsdpHook().get_token_batch(channel_ids, user_account, role)  # type: ignore[arg-type]
    assert list(sim_connections.requests) == []
