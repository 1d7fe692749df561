"""Volcengine operators against the simulator (execute() called directly, no DB needed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException
from airflow.sdk.log import _secrets_masker

from airflow_live_provider.exceptions import LiveApiInputError
from airflow_live_provider.operators.volcengine import (
    VolcengineDescribeAuthOperator,
    VolcengineGeneratePushUrlOperator,
)
from airflow_live_provider.redaction import REDACTED
from airflow_live_provider.simulator import SimulatorServer
from airflow_live_provider.simulator.volcengine import (
    DEMO_APP,
    DEMO_PULL_AUTH_KEY,
    DEMO_PUSH_AUTH_KEY,
    DEMO_PUSH_DOMAIN,
    DEMO_VHOST,
)
from airflow_live_provider.vendors.volcengine import push_url_secrets
from tests.helpers import assert_no_secret_in


class _TI:
    map_index = -1


def context(run_id: str = "manual__2026-11-23T10:00:00+00:00") -> dict[str, Any]:
    return {"run_id": run_id, "ti": _TI(), "dag": None}


def logs_text(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(r.getMessage() for r in caplog.records)


# -- DescribeAuth ------------------------------------------------------------------------------
def test_describe_auth_xcom_redacts_secret_key(
    sim_connections: SimulatorServer, all_logs: pytest.LogCaptureFixture
) -> None:
    op = VolcengineDescribeAuthOperator(task_id="auth", scene_type="push", vhost=DEMO_VHOST, app=DEMO_APP)
    xcom = op.execute(context())
    [item] = xcom
    assert item["AuthStatus"] is True and item["Vhost"] == DEMO_VHOST
    assert item["AuthDetailList"][0]["SecretKey"] == REDACTED
    assert_no_secret_in(json.dumps(xcom) + logs_text(all_logs), DEMO_PUSH_AUTH_KEY)
    assert _secrets_masker().redact(f"key {DEMO_PUSH_AUTH_KEY}") != f"key {DEMO_PUSH_AUTH_KEY}", "not masked"


def test_describe_auth_include_secrets(sim_connections: SimulatorServer) -> None:
    op = VolcengineDescribeAuthOperator(
        task_id="auth", scene_type="pull", vhost=DEMO_VHOST, version="2020-08-01", include_secrets=True
    )
    [item] = op.execute(context())
    assert item["AuthDetailList"][0]["SecretKey"] == DEMO_PULL_AUTH_KEY
    assert "TimeStampBase" not in item


def test_require_auth_enabled_passes_when_on(sim_connections: SimulatorServer) -> None:
    op = VolcengineDescribeAuthOperator(
        task_id="auth", scene_type="push", domain=DEMO_PUSH_DOMAIN, require_auth_enabled=True
    )
    assert op.execute(context())[0]["AuthStatus"] is True


def test_require_auth_enabled_fails_when_off(sim_connections: SimulatorServer) -> None:
    sim_connections.volcengine.set_auth(DEMO_VHOST, "push", enabled=False)
    op = VolcengineDescribeAuthOperator(
        task_id="auth", scene_type="push", vhost=DEMO_VHOST, require_auth_enabled=True
    )
    with pytest.raises(AirflowFailException) as info:
        op.execute(context())
    message = str(info.value)
    assert "push auth is OFF" in message and DEMO_VHOST in message
    assert_no_secret_in(message, DEMO_PUSH_AUTH_KEY)


def test_require_auth_enabled_fails_when_not_configured(sim_connections: SimulatorServer) -> None:
    sim_connections.volcengine.clear_auth(DEMO_VHOST, "pull")
    op = VolcengineDescribeAuthOperator(
        task_id="auth", scene_type="pull", vhost=DEMO_VHOST, require_auth_enabled=True
    )
    with pytest.raises(AirflowFailException, match="pull auth is not configured for vhost"):
        op.execute(context())


def test_describe_auth_bad_input_no_request(sim_connections: SimulatorServer) -> None:
    op = VolcengineDescribeAuthOperator(
        task_id="auth", scene_type="push", vhost=DEMO_VHOST, domain="x.example.com"
    )
    with pytest.raises(LiveApiInputError, match="exactly one"):
        op.execute(context())
    assert list(sim_connections.requests) == []


def test_templated_fields_render() -> None:
    op = VolcengineDescribeAuthOperator(
        task_id="auth", scene_type="{{ params.scene }}", vhost="{{ params.vhost }}"
    )
    op.render_template_fields({"params": {"scene": "pull", "vhost": DEMO_VHOST}})
    assert (op.scene_type, op.vhost) == ("pull", DEMO_VHOST)
    assert "output_uri" in VolcengineGeneratePushUrlOperator.template_fields


# -- GeneratePushURL ---------------------------------------------------------------------------
def test_generate_push_url_writes_file_and_summarises(
    sim_connections: SimulatorServer, tmp_path: Path, all_logs: pytest.LogCaptureFixture
) -> None:
    out = tmp_path / "urls" / "event.json"
    op = VolcengineGeneratePushUrlOperator(
        task_id="push_urls",
        vhost=DEMO_VHOST,
        app=DEMO_APP,
        stream="event-1",
        valid_duration="7200",
        output_uri=f"file://{out}",
    )
    xcom = op.execute(context())
    assert xcom == {
        "vhost": DEMO_VHOST,
        "app": DEMO_APP,
        "stream": "event-1",
        "count": 1,
        "output_uri": xcom["output_uri"],
    }
    assert xcom["output_uri"].endswith("event.json")
    written = json.loads(out.read_text())
    detail = written["result"]["PushURLListDetail"][0]
    assert detail["URL"].startswith(f"rtmp://{DEMO_PUSH_DOMAIN}/{DEMO_APP}/event-1?")
    assert written["stream"] == "event-1" and written["generatedAt"].endswith("Z")
    secrets = push_url_secrets(written["result"])
    assert detail["URL"] in secrets and detail["StreamSign"] in secrets
    signature = detail["URL"].split("volcSecret=")[1]
    assert signature in secrets
    assert_no_secret_in(
        json.dumps(xcom) + logs_text(all_logs), detail["URL"], detail["StreamSign"], signature
    )
    for value in (detail["URL"], signature):
        assert value not in _secrets_masker().redact(f"url: {value}"), "push URL not masked"


def test_generate_push_url_urls_in_xcom_and_default_path(
    sim_connections: SimulatorServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    op = VolcengineGeneratePushUrlOperator(
        task_id="push_urls", vhost=DEMO_VHOST, app=DEMO_APP, stream="s2", urls_in_xcom=True
    )
    xcom = op.execute(context("scheduled__2026-11-23T10:00:00+00:00"))
    expected = (
        tmp_path
        / "live_provider"
        / "push_urls"
        / op.dag_id
        / "scheduled__2026-11-23T10_00_00_00_00~968d32acd10a"
        / "push_urls.json"
    )
    assert xcom["output_uri"].endswith(str(expected))
    assert expected.exists()
    assert xcom["urls"]["PushURLList"] == json.loads(expected.read_text())["result"]["PushURLList"]


def test_generate_push_url_auth_off_has_no_signature(
    sim_connections: SimulatorServer, tmp_path: Path
) -> None:
    sim_connections.volcengine.set_auth(DEMO_VHOST, "push", enabled=False)
    op = VolcengineGeneratePushUrlOperator(
        task_id="p",
        vhost=DEMO_VHOST,
        app=DEMO_APP,
        stream="s3",
        output_uri=str(tmp_path / "o.json"),
        urls_in_xcom=True,
    )
    detail = op.execute(context())["urls"]["PushURLListDetail"][0]
    assert detail["StreamSign"] == "s3" and "volcSecret" not in detail["URL"]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"stream": " "}, "stream"),
        ({"app": "bad app"}, "app"),
        ({"valid_duration": "-5"}, "valid_duration"),
        ({"expired_time": "next week"}, "expired_time"),
        ({"output_uri": "relative/path.json"}, "output_uri"),
        ({"domain": "rtmp://push.example.com"}, "domain"),
    ],
)
def test_generate_push_url_bad_input_no_request(
    sim_connections: SimulatorServer, tmp_path: Path, kwargs: dict[str, Any], field: str
) -> None:
    args: dict[str, Any] = {
        "vhost": DEMO_VHOST,
        "app": DEMO_APP,
        "stream": "s1",
        "output_uri": str(tmp_path / "x.json"),
    }
    args.update(kwargs)
    op = VolcengineGeneratePushUrlOperator(task_id="p", **args)
    with pytest.raises(LiveApiInputError) as info:
        op.execute(context())
    assert info.value.field == field
    assert list(sim_connections.requests) == []
    assert not (tmp_path / "x.json").exists()
