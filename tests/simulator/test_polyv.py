"""The Polyv simulator speaks Polyv's envelopes and enforces its checks and limits (raw HTTP)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import requests

from airflow_live_provider.simulator import SimulatorServer
from airflow_live_provider.simulator import polyv as sim
from airflow_live_provider.vendors.polyv import polyv_sign

T = sim.DEMO_TRANSMIT_CHANNEL_ID


def signed(
    params: dict[str, Any],
    *,
    app_id: str = sim.DEMO_APP_ID,
    secret: str = sim.DEMO_APP_SECRET,
    ts_offset_ms: int = 0,
    method: str = "MD5",
) -> dict[str, str]:
    out = {k: str(v) for k, v in params.items()}
    out.update(appId=app_id, timestamp=str(int(time.time() * 1000) + ts_offset_ms))
    if method != "MD5":
        out["signatureMethod"] = method
    out["sign"] = polyv_sign(out, secret, method)
    return out


def group(params: dict[str, Any], **kwargs: Any) -> dict[str, str]:
    return signed(params, app_id=sim.DEMO_GROUP_APP_ID, secret=sim.DEMO_GROUP_APP_SECRET, **kwargs)


def create(server: SimulatorServer, names: Any, channel_id: str = T) -> requests.Response:
    return requests.post(
        f"{server.base_url}/live/v3/channel/transmit/batch-create",
        params=signed({"channelId": channel_id}),
        data=json.dumps(names),
        headers={"Content-Type": "application/json"},
        timeout=10,
    )


def test_v3_success_envelope(simulator: SimulatorServer) -> None:
    resp = requests.post(
        f"{simulator.base_url}/live/v3/channel/watch/get-watch-api-token",
        data=signed({"channelId": sim.DEMO_CHANNEL_ID, "viewerId": "v"}),
        timeout=10,
    )
    body = resp.json()
    assert resp.status_code == 200 and body["code"] == 200 and body["status"] == "success"
    assert body["data"]["token"] in simulator.polyv.watch_tokens


@pytest.mark.parametrize(
    ("params", "status", "message"),
    [
        ({"appId": ""}, 400, "appId is required."),
        ({"appId": "unknown"}, 400, "application not found."),
        ({"sign": "0" * 32}, 403, "invalid signature."),
        ({"timestamp": str(int(time.time() * 1000) - 4 * 60 * 1000)}, 400, "invalid timestamp."),
        ({"timestamp": "12345"}, 400, "invalid timestamp."),
    ],
)
def test_v3_checks(simulator: SimulatorServer, params: dict[str, str], status: int, message: str) -> None:
    query = {**signed({"channelId": T}), **params}
    resp = requests.get(
        f"{simulator.base_url}/live/v3/channel/transmit/get-associations", params=query, timeout=10
    )
    assert resp.status_code == status
    assert resp.json() == {"code": status, "status": "error", "message": message, "data": ""}


def test_v4_error_envelope_for_expired_timestamp(simulator: SimulatorServer) -> None:
    resp = requests.get(
        f"{simulator.base_url}/live/v4/group/user/package/list",
        params=group({}, ts_offset_ms=-200_000),
        timeout=10,
    )
    body = resp.json()
    assert resp.status_code == 400 and body["code"] == 400 and body["success"] is False
    assert body["error"] == {"code": 10003, "desc": "时间戳过期"} and body["requestId"]


def test_group_endpoint_needs_group_credentials(simulator: SimulatorServer) -> None:
    resp = requests.get(
        f"{simulator.base_url}/live/v4/group/user/package/list", params=signed({}), timeout=10
    )
    assert resp.status_code == 403 and resp.json()["error"]["desc"] == "access forbidden"


def test_sha256_and_blank_values(simulator: SimulatorServer) -> None:
    params = group({"pageSize": 5}, method="SHA256")
    params["emails"] = ""  # blank values are outside the signature
    body = requests.get(
        f"{simulator.base_url}/live/v4/group/user/package/list", params=params, timeout=10
    ).json()
    assert body["success"] and len(body["data"]["contents"]) == 5


def test_package_list_paging_and_limits(simulator: SimulatorServer) -> None:
    simulator.polyv.set_sub_account_count(50_000)
    url = f"{simulator.base_url}/live/v4/group/user/package/list"
    data = requests.get(url, params=group({"pageSize": 100, "pageNumber": 500}), timeout=10).json()["data"]
    assert (data["totalItems"], data["totalPages"], len(data["contents"])) == (50_000, 500, 100)
    assert data["contents"][-1]["email"] == sim.sub_account_email(49_999)
    assert set(data["contents"][0]) >= {
        "appSecret",
        "vodSecretKey",
        "vodBakSecretKey",
        "writeToken",
        "readToken",
    }
    default = requests.get(url, params=group({}), timeout=10).json()["data"]
    assert default["pageSize"] == 10 and len(default["contents"]) == 10
    too_big = requests.get(url, params=group({"pageSize": 101}), timeout=10)
    assert too_big.status_code == 400
    emails = ",".join(sim.sub_account_email(i) for i in range(101))
    assert requests.get(url, params=group({"emails": emails}), timeout=10).status_code == 400


def test_demo_accounts_have_something_to_report(simulator: SimulatorServer) -> None:
    accounts = [simulator.polyv.sub_account(i) for i in range(sim.DEMO_SUB_ACCOUNT_COUNT)]
    assert sorted(a["status"] for a in accounts if a["status"] != "normal") == ["expired", "frozen"]
    week = simulator.now() * 1000 + 7 * 86_400_000
    soon = [a for a in accounts if a["status"] == "normal" and a["expireDate"] < week]
    assert len(soon) == 2
    assert sum(a["remainMinutes"] < 100 for a in accounts) == 3


def test_batch_create_limits(simulator: SimulatorServer) -> None:
    assert create(simulator, [f"n{i}" for i in range(101)]).json()["message"] == (
        "param length is incorrect:body array size"
    )
    assert create(simulator, []).json()["message"] == "request body is not empty or lost params"
    simulator.polyv.add_receivers(T, [f"old {i}" for i in range(499)])
    assert create(simulator, ["a", "b"]).json()["message"] == "transmit channel number limit: 500"
    ok = create(simulator, ["a"]).json()
    assert ok["status"] == "success" and ok["data"][0]["name"] == "a" and ok["data"][0]["channelPasswd"]
    assert len(simulator.polyv.receivers(T)) == 500
    assert (
        create(simulator, ["x"], channel_id=sim.DEMO_CHANNEL_ID)
        .json()["message"]
        .startswith("illegal channel id")
    )


def test_create_twice_makes_two_channels(simulator: SimulatorServer) -> None:
    """Like the real API there is no idempotency key: the client must read before creating."""
    create(simulator, ["Hall A"])
    create(simulator, ["Hall A"])
    assert [r["name"] for r in simulator.polyv.receivers(T)] == ["Hall A", "Hall A"]


def test_simple_list_fuzzy_keyword_and_paging(simulator: SimulatorServer) -> None:
    url = f"{simulator.base_url}/live/v4/channel/simple/list"
    data = requests.get(url, params=signed({"keyword": "demo channel", "pageSize": 2}), timeout=10).json()[
        "data"
    ]
    assert data["totalItems"] == 3 and data["totalPages"] == 2
    assert all("demo channel" in c["name"].lower() for c in data["contents"])


def test_throttle_answers_qps_message(simulator: SimulatorServer) -> None:
    simulator.polyv.throttle(1)
    url = f"{simulator.base_url}/live/v3/channel/transmit/get-associations"
    assert requests.get(url, params=signed({"channelId": T}), timeout=10).json()["message"] == (
        "qps exceeds number of calls"
    )
    assert requests.get(url, params=signed({"channelId": T}), timeout=10).json()["status"] == "success"


def test_ip_window_limit(simulator: SimulatorServer) -> None:
    simulator.polyv.qps_window = (3, 60.0)
    url = f"{simulator.base_url}/live/v3/channel/transmit/get-associations"
    messages = [
        requests.get(url, params=signed({"channelId": T}), timeout=10).json()["message"] for _ in range(4)
    ]
    assert messages == ["", "", "", "qps exceeds number of calls"]


def test_connections_point_at_the_server(simulator: SimulatorServer) -> None:
    conns = simulator.polyv.connections(simulator.base_url)
    assert conns["polyv_default"]["login"] == sim.DEMO_APP_ID
    assert conns["polyv_group_default"]["password"] == sim.DEMO_GROUP_APP_SECRET
    assert conns["polyv_group_default"]["extra"]["account_type"] == "group"


def live_status(server: SimulatorServer, ids: list[str]) -> requests.Response:
    return requests.post(
        f"{server.base_url}/live/v2/channels/live-status",
        data=signed({"channelIds": ",".join(ids)}),
        timeout=10,
    )


def test_go_live_and_end_live(simulator: SimulatorServer) -> None:
    ids = [sim.DEMO_CHANNEL_ID, T]
    assert [c["status"] for c in live_status(simulator, ids).json()["data"]] == ["end", "end"]
    simulator.polyv.go_live(sim.DEMO_CHANNEL_ID)
    assert [c["status"] for c in live_status(simulator, ids).json()["data"]] == ["live", "end"]
    simulator.polyv.end_live(sim.DEMO_CHANNEL_ID)
    assert [c["status"] for c in live_status(simulator, ids).json()["data"]] == ["end", "end"]
    simulator.polyv.end_live("999")  # never live: nothing to end, no error


def test_live_status_takes_at_most_20_channels(simulator: SimulatorServer) -> None:
    ids = [simulator.polyv.add_channel(f"Hall {n}") for n in range(21)]
    assert live_status(simulator, ids[:20]).json()["status"] == "success"
    refused = live_status(simulator, ids).json()
    assert refused["status"] == "error" and "channelIds" in refused["message"]
