"""VolcengineLiveHook against the simulator through AIRFLOW_CONN_* connections."""

from __future__ import annotations

import json

import pytest

from airflow_live_provider.exceptions import LiveApiInputError
from airflow_live_provider.hooks.volcengine import VolcengineLiveHook
from airflow_live_provider.simulator import SimulatorServer
from airflow_live_provider.simulator.volcengine import (
    DEMO_ACCESS_KEY_ID,
    DEMO_APP,
    DEMO_PUSH_DOMAIN,
    DEMO_SECRET_ACCESS_KEY,
    DEMO_VHOST,
)
from airflow_live_provider.transport import RetryPolicy
from airflow_live_provider.vendors.volcengine import VolcengineLiveClient
from tests.helpers import assert_no_secret_in


def set_conn(
    monkeypatch: pytest.MonkeyPatch, conn_id: str, server: SimulatorServer, **fields: object
) -> None:
    conn: dict[str, object] = {
        "conn_type": "volcengine_live",
        "host": server.base_url,
        "login": DEMO_ACCESS_KEY_ID,
        "password": DEMO_SECRET_ACCESS_KEY,
        "extra": {},
    }
    conn.update(fields)
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


def test_describe_auth_and_generate_push_url(sim_connections: SimulatorServer) -> None:
    hook = VolcengineLiveHook()
    [item] = hook.describe_auth("push", vhost=DEMO_VHOST)
    assert item["AuthStatus"] is True
    result = hook.generate_push_url(DEMO_VHOST, DEMO_APP, "s1", domain=DEMO_PUSH_DOMAIN)
    assert result["PushURLListDetail"][0]["DomainApp"] == f"rtmp://{DEMO_PUSH_DOMAIN}/{DEMO_APP}/"
    assert hook.call("ListDomainDetail", {"PageNum": 1, "PageSize": 5})["Total"] == 2
    assert hook.client is hook.client, "the client is built once"
    assert [r.status for r in sim_connections.requests_to("/")] == [200, 200, 200]


def test_test_connection_ok(sim_connections: SimulatorServer) -> None:
    ok, message = VolcengineLiveHook().test_connection()
    assert ok, message
    assert "2 domain" in message
    [logged] = sim_connections.requests_to("/")
    assert logged.query["Action"] == "ListDomainDetail"


def test_test_connection_wrong_key(simulator: SimulatorServer, monkeypatch: pytest.MonkeyPatch) -> None:
    wrong = "wrong-secret-access-key-abcdef"
    set_conn(monkeypatch, "volc_wrong", simulator, password=wrong)
    ok, message = VolcengineLiveHook("volc_wrong").test_connection()
    assert not ok
    assert "SignatureDoesNotMatch" in message and "request_id=" in message
    assert_no_secret_in(message, wrong)
    assert len(simulator.requests_to("/")) == 1


def test_region_and_session_token_extras(simulator: SimulatorServer, monkeypatch: pytest.MonkeyPatch) -> None:
    token = "sts-session-token-0123456789abcdef"
    simulator.volcengine.add_credentials("AKTPhook", "hook-sts-secret-0123456789", token)
    set_conn(
        monkeypatch,
        "volc_sts",
        simulator,
        login="AKTPhook",
        password="hook-sts-secret-0123456789",
        extra={"region": "cn-north-1", "session_token": token, "max_attempts": 2},
    )
    hook = VolcengineLiveHook("volc_sts")
    assert hook.describe_auth("push", vhost=DEMO_VHOST)
    assert hook.client.region == "cn-north-1"
    assert hook.client.transport.retry.max_attempts == 2

    set_conn(monkeypatch, "volc_region", simulator, extra={"region": "ap-southeast-1"})
    hook = VolcengineLiveHook("volc_region")
    ok, message = hook.test_connection()
    assert not ok and "SignatureDoesNotMatch" in message, "the simulator only serves cn-north-1"


def test_missing_login_refused_before_any_request(
    simulator: SimulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_conn(monkeypatch, "volc_nologin", simulator, login="")
    with pytest.raises(LiveApiInputError, match="connection 'volc_nologin': .*\\(login\\)"):
        VolcengineLiveHook("volc_nologin").describe_auth("push", vhost=DEMO_VHOST)
    assert list(simulator.requests) == []


@pytest.mark.parametrize(
    "kwargs",
    [
        {"scene_type": "push"},
        {"scene_type": "push", "vhost": DEMO_VHOST, "domain": DEMO_PUSH_DOMAIN},
        {"scene_type": "both", "vhost": DEMO_VHOST},
        {"scene_type": "push", "vhost": DEMO_VHOST, "app": "x" * 31},
        {"scene_type": "push", "vhost": DEMO_VHOST, "version": "2024-01-01"},
    ],
)
def test_bad_input_no_request(sim_connections: SimulatorServer, kwargs: dict[str, str]) -> None:
    scene = kwargs.pop("scene_type")
    with pytest.raises(LiveApiInputError):
        VolcengineLiveHook().describe_auth(scene, **kwargs)
    assert list(sim_connections.requests) == []


def test_burst_of_30_stays_under_quota_with_the_limiter(sim_connections: SimulatorServer) -> None:
    hook = VolcengineLiveHook()
    for _ in range(30):
        hook.describe_auth("push", vhost=DEMO_VHOST)
    statuses = [r.status for r in sim_connections.requests_to("/")]
    assert statuses == [200] * 30, "the client limiter let the burst exceed 10/s"


def test_burst_of_30_without_limiter_is_throttled(sim_connections: SimulatorServer) -> None:
    """Proves the simulator enforces the quota, so the test above means something."""
    client = VolcengineLiveClient(
        sim_connections.base_url,
        DEMO_ACCESS_KEY_ID,
        DEMO_SECRET_ACCESS_KEY,
        rate_limits={},
        retry=RetryPolicy(max_attempts=1),
    )
    throttled = 0
    for _ in range(30):
        try:
            client.describe_auth("push", vhost=DEMO_VHOST)
        except Exception as exc:  # noqa: BLE001 - counted and checked below
            assert getattr(exc, "code", None) == "FlowLimitExceeded"
            throttled += 1
    statuses = [r.status for r in sim_connections.requests_to("/")]
    assert throttled > 0 and statuses.count(429) == throttled
