"""PolyvHook: Airflow connections (AIRFLOW_CONN_* env vars) -> client calls against the simulator."""

from __future__ import annotations

import json
import re

import pytest

from airflow_live_provider.exceptions import LiveApiInputError
from airflow_live_provider.hooks.polyv import PolyvHook
from airflow_live_provider.simulator import SimulatorServer
from airflow_live_provider.simulator import polyv as sim
from airflow_live_provider.vendors.polyv import (
    CHANNEL_SIMPLE_LIST_PATH,
    GROUP_PACKAGE_LIST_PATH,
    TRANSMIT_BATCH_CREATE_PATH,
)
from tests.helpers import assert_no_secret_in


def set_conn(monkeypatch: pytest.MonkeyPatch, conn_id: str, **fields: object) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({"conn_type": "polyv", **fields}))


def test_watch_token(sim_connections: SimulatorServer) -> None:
    token = PolyvHook().get_watch_api_token(sim.DEMO_CHANNEL_ID, "viewer-9", nickname="Bo", actor="VIP")
    issued = sim_connections.polyv.watch_tokens[token]
    assert (issued["channelId"], issued["viewerId"], issued["nickname"]) == (
        sim.DEMO_CHANNEL_ID,
        "viewer-9",
        "Bo",
    )


def test_iter_sub_accounts_uses_the_group_connection(sim_connections: SimulatorServer) -> None:
    accounts = list(PolyvHook("polyv_group_default").iter_sub_accounts(page_size=10))
    assert [a["email"] for a in accounts] == [
        sim.sub_account_email(i) for i in range(sim.DEMO_SUB_ACCOUNT_COUNT)
    ]
    assert len(sim_connections.requests_to(GROUP_PACKAGE_LIST_PATH)) == 3


def test_transmit_receivers_and_idempotent_create(sim_connections: SimulatorServer) -> None:
    hook = PolyvHook()
    assert hook.list_transmit_receivers(sim.DEMO_TRANSMIT_CHANNEL_ID) == []
    first = hook.create_transmit_channels(sim.DEMO_TRANSMIT_CHANNEL_ID, ["Hall A", "Hall B"])
    again = hook.create_transmit_channels(sim.DEMO_TRANSMIT_CHANNEL_ID, ["Hall A", "Hall B"])
    assert [r["created"] for r in first] == [True, True] and [r["created"] for r in again] == [False, False]
    assert [r["channelId"] for r in first] == [r["channelId"] for r in again]
    listed = hook.list_transmit_receivers(sim.DEMO_TRANSMIT_CHANNEL_ID)
    assert [(r["channelId"], r["name"]) for r in listed] == [(r["channelId"], r["name"]) for r in first]
    assert len(sim_connections.requests_to(TRANSMIT_BATCH_CREATE_PATH)) == 1


def test_test_connection_normal_and_group(sim_connections: SimulatorServer) -> None:
    ok, message = PolyvHook().test_connection()
    assert ok and sim.DEMO_APP_ID in message
    assert sim_connections.requests_to(CHANNEL_SIMPLE_LIST_PATH)[0].query["pageSize"] == "1"
    ok, message = PolyvHook("polyv_group_default").test_connection()
    assert ok and f"{sim.DEMO_SUB_ACCOUNT_COUNT} sub-account" in message
    assert sim_connections.requests_to(GROUP_PACKAGE_LIST_PATH)[0].query["pageSize"] == "1"


def test_test_connection_wrong_secret(
    simulator: SimulatorServer, monkeypatch: pytest.MonkeyPatch, all_logs: pytest.LogCaptureFixture
) -> None:
    wrong = "wrong-secret-for-the-demo-app-xx"
    set_conn(monkeypatch, "polyv_bad", host=simulator.base_url, login=sim.DEMO_APP_ID, password=wrong)
    ok, message = PolyvHook("polyv_bad").test_connection()
    assert not ok and "invalid signature." in message
    assert len(simulator.requests) == 1
    assert_no_secret_in(message + "\n".join(r.getMessage() for r in all_logs.records), wrong)


def test_sha256_connection(simulator: SimulatorServer, monkeypatch: pytest.MonkeyPatch) -> None:
    set_conn(
        monkeypatch,
        "polyv_sha",
        host=simulator.base_url,
        login=sim.DEMO_APP_ID,
        password=sim.DEMO_APP_SECRET,
        extra={"signature_method": "sha256"},
    )
    hook = PolyvHook("polyv_sha")
    assert hook.client.signature_method == "SHA256"
    assert hook.get_watch_api_token(sim.DEMO_CHANNEL_ID, "v") in simulator.polyv.watch_tokens


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"login": "", "password": "x"}, "connection 'polyv_x': .*\\(login\\)"),
        ({"login": "app", "password": " "}, "connection 'polyv_x': .*\\(password\\)"),
        (
            {"login": "app", "password": "x", "extra": {"signature_method": "SHA1"}},
            "connection 'polyv_x': .*\\(extra\\.signature_method\\)",
        ),
        (
            {"login": "app", "password": "x", "extra": {"account_type": "vip"}},
            "connection 'polyv_x': .*\\(extra\\.account_type\\)",
        ),
        (
            {"login": "app", "password": "x", "extra": {"read_timeout": "-1"}},
            "connection 'polyv_x': .*\\(extra\\.read_timeout\\)",
        ),
    ],
)
def test_bad_connection_refused_before_any_request(
    simulator: SimulatorServer, monkeypatch: pytest.MonkeyPatch, fields: dict, field: str
) -> None:
    set_conn(monkeypatch, "polyv_x", host=simulator.base_url, **fields)
    with pytest.raises(LiveApiInputError) as info:
        PolyvHook("polyv_x").get_watch_api_token(sim.DEMO_CHANNEL_ID, "v")
    assert info.value.field == "connection 'polyv_x'"
    assert re.search(field, str(info.value))
    assert len(simulator.requests) == 0


def test_default_host_is_polyv(monkeypatch: pytest.MonkeyPatch) -> None:
    set_conn(monkeypatch, "polyv_real", login="app", password="secret")
    assert PolyvHook("polyv_real").client.transport.base_url == "https://api.polyv.net"


@pytest.mark.parametrize("kind", ["trickle", "endless"])
def test_a_hostile_answer_ends_within_the_connection_bounds(
    sim_connections: SimulatorServer, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """read_timeout=2 and total_retry_seconds=6 from the connection bound an answer trickled one
    byte every 0.5 s (per-read timeouts never fire) and an endless chunked one."""
    import time

    from airflow_live_provider.exceptions import LiveApiConnectionError
    from airflow_live_provider.vendors.polyv import WATCH_TOKEN_PATH

    set_conn(
        monkeypatch,
        "polyv_slow",
        host=sim_connections.base_url,
        login=sim.DEMO_APP_ID,
        password=sim.DEMO_APP_SECRET,
        extra={"read_timeout": 2, "total_retry_seconds": 6},
    )
    sim_connections.faults.add(kind, path=WATCH_TOKEN_PATH, times=10)
    started = time.monotonic()
    with pytest.raises(LiveApiConnectionError, match="stopped reading it") as info:
        PolyvHook("polyv_slow").get_watch_api_token(sim.DEMO_CHANNEL_ID, "viewer-1")
    assert time.monotonic() - started < 20
    assert_no_secret_in(str(info.value), sim.DEMO_APP_SECRET)
