"""One event's pre-provisioning against the simulator: order, idempotency, failure, no leaks."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_live_provider.events import parse_calendar
from airflow_live_provider.exceptions import LiveApiInputError
from airflow_live_provider.operators.volcengine import push_url_secrets
from airflow_live_provider.preprovision import provision_event, run_sheet_uri
from airflow_live_provider.redaction import SECRET_KEYS, secret_values
from airflow_live_provider.simulator import SimulatorServer
from airflow_live_provider.simulator import isdp as isdp_sim
from airflow_live_provider.simulator import polyv as polyv_sim
from airflow_live_provider.simulator import volcengine as volc_sim
from airflow_live_provider.vendors.polyv import WATCH_TOKEN_TTL_SECONDS
from tests.helpers import assert_no_secret_in

BATCH_CREATE = "/live/v3/channel/transmit/batch-create"


def demo_event(name: str = "Launch") -> dict[str, Any]:
    [event] = parse_calendar(
        [
            {
                "name": name,
                "start": "2026-12-01T19:30:00+08:00",
                "volcengine": {
                    "vhost": volc_sim.DEMO_VHOST,
                    "app": volc_sim.DEMO_APP,
                    "stream": "launch",
                    "domain": volc_sim.DEMO_PUSH_DOMAIN,
                },
                "polyv": {
                    "channel_id": polyv_sim.DEMO_TRANSMIT_CHANNEL_ID,
                    "receive_channel_names": ["launch-cn", "launch-en"],
                    "viewers": ["v-1", {"viewerId": "v-2", "nickname": "Two"}],
                },
                "isdp": {
                    "channel_ids": list(isdp_sim.DEMO_CHANNEL_IDS),
                    "user_account": isdp_sim.DEMO_USER_ACCOUNT,
                },
            }
        ]
    )
    return event


def sheet_secrets(sheet: dict[str, Any]) -> list[str]:
    found = list(secret_values(sheet, SECRET_KEYS)) + push_url_secrets(sheet["volcengine"]["push"])
    return sorted({s for s in found if s})


def test_provision_writes_run_sheet_and_returns_secret_free_summary(
    sim_connections: SimulatorServer, tmp_path: Path, all_logs: pytest.LogCaptureFixture
) -> None:
    uri = run_sheet_uri(str(tmp_path), "Launch", "manual__2026-12-01T10:00:00+00:00")
    summary = provision_event(demo_event(), sheet_uri=uri)

    sheet_file = tmp_path / "launch" / "manual__2026-12-01T10_00_00_00_00.json"
    sheet = json.loads(sheet_file.read_text())
    assert [t["viewerId"] for t in sheet["polyv"]["watchTokens"]] == ["v-1", "v-2"]
    assert all(t["token"] in sim_connections.polyv.watch_tokens for t in sheet["polyv"]["watchTokens"])
    assert sim_connections.polyv.watch_tokens[sheet["polyv"]["watchTokens"][1]["token"]]["nickname"] == "Two"
    assert "volcSecret=" in sheet["volcengine"]["push"]["PushURLList"][0]
    assert sheet["isdp"]["tokens"]
    # Token expiry on the run sheet, in the one output format, as the operators write it.
    assert all(t["expiresAt"].endswith("Z") for t in sheet["isdp"]["tokens"])
    assert sheet["isdp"]["tokensExpireAt"] == min(t["expiresAt"] for t in sheet["isdp"]["tokens"])
    assert summary["isdp"]["tokens_expire_at"] == sheet["isdp"]["tokensExpireAt"]
    generated = datetime.fromisoformat(sheet["generatedAt"].replace("Z", "+00:00"))
    polyv_expiry = datetime.fromisoformat(sheet["polyv"]["watchTokensExpireAt"].replace("Z", "+00:00"))
    assert sheet["generatedAt"].endswith("Z") and sheet["polyv"]["watchTokensExpireAt"].endswith("Z")
    assert timedelta(0) < polyv_expiry - generated <= timedelta(seconds=WATCH_TOKEN_TTL_SECONDS)
    assert summary["polyv"]["created"] == 2 and summary["volcengine"]["push_url_count"] == 1
    assert summary["run_sheet"].endswith(sheet_file.name)

    secrets = sheet_secrets(sheet)
    assert len(secrets) >= 5
    assert_no_secret_in(json.dumps(summary), *secrets)
    assert_no_secret_in(all_logs.text, *secrets, volc_sim.DEMO_SECRET_ACCESS_KEY, isdp_sim.DEMO_APP_TOKEN)


def test_rerun_creates_no_channels(sim_connections: SimulatorServer, tmp_path: Path) -> None:
    first = provision_event(demo_event(), sheet_uri=f"{tmp_path}/one.json")
    second = provision_event(demo_event(), sheet_uri=f"{tmp_path}/two.json")
    assert len(sim_connections.requests_to(BATCH_CREATE, "POST")) == 1
    assert len(sim_connections.polyv.receivers(polyv_sim.DEMO_TRANSMIT_CHANNEL_ID)) == 2
    assert [c["created"] for c in second["polyv"]["receive_channels"]] == [False, False]
    assert [c["channelId"] for c in second["polyv"]["receive_channels"]] == [
        c["channelId"] for c in first["polyv"]["receive_channels"]
    ]
    assert (tmp_path / "two.json").exists()


@pytest.mark.parametrize(
    ("turn_off", "message"),
    [
        (lambda sim: sim.volcengine.set_auth(volc_sim.DEMO_VHOST, "push", enabled=False), "is OFF"),
        (lambda sim: sim.volcengine.clear_auth(volc_sim.DEMO_VHOST, "push"), "push auth is not configured"),
    ],
)
def test_push_auth_off_fails_before_anything_is_created(
    sim_connections: SimulatorServer, tmp_path: Path, turn_off: Any, message: str
) -> None:
    turn_off(sim_connections)
    with pytest.raises(AirflowFailException, match=message) as info:
        provision_event(demo_event(), sheet_uri=f"{tmp_path}/sheet.json")
    assert "Launch" in str(info.value) and volc_sim.DEMO_VHOST in str(info.value)
    assert not [r for r in sim_connections.requests if r.path.startswith(("/live/", "/openapi/"))]
    assert not (tmp_path / "sheet.json").exists()


def test_bad_output_location_fails_before_any_request(sim_connections: SimulatorServer) -> None:
    sim_connections.clear_requests()
    with pytest.raises(LiveApiInputError, match="output_dir"):
        provision_event(demo_event(), sheet_uri="relative/sheet.json")
    assert list(sim_connections.requests) == []


@pytest.mark.parametrize(
    ("section", "change", "field"),
    [
        ("isdp", {"role": -1}, "isdp.role"),
        ("polyv", {"channel_id": "abc"}, "polyv.channel_id"),
        ("volcengine", {"app": "my app"}, "volcengine.app"),
        ("polyv", {"viewers": ["v1", {"viewerId": "v2", "nickname": 12345}]}, "polyv.viewers[1].nickname"),
    ],
)
def test_a_later_sections_bad_input_fails_before_the_first_request(
    sim_connections: SimulatorServer, tmp_path: Path, section: str, change: dict[str, Any], field: str
) -> None:
    """A direct caller's event is validated whole: no receive channel or token before the error."""
    event = demo_event()
    event[section] = {**event[section], **change}
    sim_connections.clear_requests()
    with pytest.raises(LiveApiInputError, match=re.escape(field)):
        provision_event(event, sheet_uri=f"{tmp_path}/sheet.json")
    assert list(sim_connections.requests) == []
    assert sim_connections.polyv.receivers(polyv_sim.DEMO_TRANSMIT_CHANNEL_ID) == []
    assert not (tmp_path / "sheet.json").exists()


def test_run_sheet_uri_defaults_under_airflow_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    assert run_sheet_uri("", "Big Launch!", "scheduled__2026-12-01T00:00:00+00:00") == (
        f"file://{tmp_path}/live_provider/run_sheets/big-launch/scheduled__2026-12-01T00_00_00_00_00.json"
    )
    assert run_sheet_uri("s3://bucket/sheets/", "A", None) == "s3://bucket/sheets/a/manual.json"
