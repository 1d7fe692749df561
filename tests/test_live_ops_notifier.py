"""LiveOpsNotifier against a real HTTP receiver on 127.0.0.1: what the message says, how it is
sent (sync and async), what it never carries. The runs of real failing tasks that call it are in
tests/dags/test_operations_dags.py."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from airflow_live_provider.exceptions import LiveApiAuthError, LiveApiError, LiveApiInputError
from airflow_live_provider.notifications import live_ops_failure_callback
from airflow_live_provider.notifications.live_ops import LiveOpsNotifier
from airflow_live_provider.redaction import REDACTED
from tests.helpers import WebhookReceiver, assert_no_secret_in

#: A webhook whose path and query are its secret (as Slack's, DingTalk's and WeCom's are).
HOOK_PATH = "/services/T0001/B0002/hookpathsecret42"
HOOK_KEY = "querykeysecret9876"
CONN_ID = "live_ops_webhook"
RUN_ID = "event__launch__20261201T113000Z__3fa9c2d1"
SIGN = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as hook:
        conn = {"conn_type": "http", "host": hook.url(HOOK_PATH) + f"?access_token={HOOK_KEY}"}
        monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(conn))
        yield hook


def failure_context(exception: BaseException, task_id: str = "isdp_tokens") -> dict[str, Any]:
    event = {"name": "Launch keynote", "start": "2026-12-01T11:30:00Z", "timezone": "Asia/Shanghai"}
    dag_run = SimpleNamespace(dag_id="live_event", run_id=RUN_ID, conf={"event": event, "definition": "x"})
    ti = SimpleNamespace(dag_id="live_event", run_id=RUN_ID, task_id=task_id, map_index=-1, try_number=2)
    return {"dag_run": dag_run, "task_instance": ti, "run_id": RUN_ID, "exception": exception}


def vendor_error() -> LiveApiError:
    """What a gateway might echo: a signed query in the vendor's message."""
    return LiveApiAuthError(
        f"getTokenBatch refused (invalid_client: bad request sign={SIGN}&ts=1)",
        vendor="isdp",
        code="invalid_client",
        http_status=401,
        request_id="req-77",
    )


def notifier(**kwargs: Any) -> LiveOpsNotifier:
    return LiveOpsNotifier(http_conn_id=CONN_ID, base_url="https://airflow.example.com/", **kwargs)


def check_message(body: dict[str, Any], task_id: str = "isdp_tokens") -> None:
    assert body["event"] == "Launch keynote"
    assert body["start"] == "2026-12-01 19:30 Asia/Shanghai (2026-12-01T11:30:00Z)"
    assert body["failed_step"] == task_id and body["try_number"] == 2
    assert body["error"].startswith("[isdp] getTokenBatch refused (invalid_client: bad request sign=")
    assert "code=invalid_client, http_status=401, request_id=req-77" in body["error"]
    assert SIGN not in json.dumps(body) and REDACTED in body["error"]
    quoted = RUN_ID.replace(":", "%3A")
    assert body["run_url"] == f"https://airflow.example.com/dags/live_event/runs/{quoted}"
    assert body["run_sheet_url"] == f"https://airflow.example.com/live-events/runs/{quoted}/sheet"
    text = body["text"]
    for fact in ("Launch keynote", body["start"], f"step {task_id} failed", body["error"], body["run_url"]):
        assert fact in text
    assert f"Run sheet: {body['run_sheet_url']}" in text


def test_sync_message_has_every_fact_and_reaches_the_webhook(
    receiver: WebhookReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    notifier()(failure_context(vendor_error()))
    [got] = receiver.received
    assert got["path"] == HOOK_PATH and got["query"] == {"access_token": HOOK_KEY}
    assert got["headers"]["content-type"].startswith("application/json")
    check_message(got["json"])
    # The webhook's secret parts are in no log line (the transport logs the request, not its URL).
    assert "live_ops POST" in caplog.text
    assert_no_secret_in(caplog.text, HOOK_KEY, "hookpathsecret42", SIGN)


def test_async_path_posts_the_same_message(receiver: WebhookReceiver) -> None:
    """As a Deadline AsyncCallback runs it: built with the context, then awaited."""

    async def run() -> None:
        await notifier(context=failure_context(vendor_error()))

    asyncio.run(run())
    [got] = receiver.received
    check_message(got["json"])


def test_one_notifier_serves_many_tasks(receiver: WebhookReceiver) -> None:
    """default_args give every task the same notifier: each message is rendered afresh."""
    shared = notifier()
    shared(failure_context(vendor_error(), "polyv_channels"))
    shared(failure_context(vendor_error(), "isdp_tokens"))
    assert [r["json"]["failed_step"] for r in receiver.received] == ["polyv_channels", "isdp_tokens"]
    assert "step isdp_tokens failed" in receiver.received[1]["json"]["text"]


@pytest.mark.parametrize(
    ("payload", "shape"),
    [
        ("dingtalk", lambda text: {"msgtype": "text", "text": {"content": text}}),
        ("wecom", lambda text: {"msgtype": "text", "text": {"content": text}}),
        ("feishu", lambda text: {"msg_type": "text", "content": {"text": text}}),
    ],
)
def test_chat_payload_shapes(receiver: WebhookReceiver, payload: str, shape: Any) -> None:
    notifier(payload=payload, message="{{ live_ops.event }}: {{ live_ops.failed_step }}")(
        failure_context(vendor_error())
    )
    assert receiver.received[0]["json"] == shape("Launch keynote: isdp_tokens")


def test_throttled_once_is_resent_and_a_refusal_is_an_error_without_the_url(
    receiver: WebhookReceiver,
) -> None:
    receiver.answers = [(429, {"error": "slow down"})]
    notifier()(failure_context(vendor_error()))
    assert len(receiver.received) == 2  # the 429 was not processed: resent once
    receiver.received.clear()
    receiver.answers = [(200, {"errcode": 310000, "errmsg": "keywords not in content"})]
    with pytest.raises(LiveApiError, match="refused the notification: keywords not in content") as info:
        notifier(payload="dingtalk")(failure_context(vendor_error()))
    assert len(receiver.received) == 1
    assert_no_secret_in(str(info.value), HOOK_KEY, "hookpathsecret42")
    receiver.answers = [(500, {})]
    with pytest.raises(LiveApiError, match="answered HTTP 500"):
        notifier()(failure_context(vendor_error()))
    assert len(receiver.received) == 2  # a 5xx after a post may have been shown: not sent twice


def test_bad_settings_are_refused_before_anything_is_sent(
    receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(LiveApiInputError, match="payload: 'teams' is not one of generic, dingtalk"):
        notifier(payload="teams")
    with pytest.raises(LiveApiInputError, match="http_conn_id: is empty"):
        LiveOpsNotifier(http_conn_id=" ")
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps({"conn_type": "http"}))
    with pytest.raises(LiveApiInputError, match="live_ops_webhook.host: is empty; give the webhook URL"):
        notifier()(failure_context(vendor_error()))
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{CONN_ID.upper()}",
        json.dumps({"conn_type": "http", "host": receiver.url("/x"), "extra": {"headers": ["a"]}}),
    )
    with pytest.raises(LiveApiInputError, match="extra.headers: must be a JSON object"):
        notifier()(failure_context(vendor_error()))
    assert receiver.received == []


def test_a_bare_host_with_login_and_endpoint(
    receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = {
        "conn_type": "http",
        "host": "127.0.0.1",
        "schema": "http",
        "port": receiver.port,
        "login": "ops",
        "password": "pagerpassword",
        "extra": {"headers": {"X-Team": "live"}},
    }
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(conn))
    notifier(endpoint="/robot/send?key=abc12345")(failure_context(vendor_error()))
    [got] = receiver.received
    assert got["path"] == "/robot/send" and got["query"] == {"key": "abc12345"}
    assert got["headers"]["x-team"] == "live"
    assert got["headers"]["authorization"] == "Basic b3BzOnBhZ2VycGFzc3dvcmQ="


def test_the_sample_dags_opt_in_reads_only_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW__LIVE_PROVIDER__LIVE_OPS_CONN_ID", raising=False)
    assert live_ops_failure_callback() is None
    monkeypatch.setenv("AIRFLOW__LIVE_PROVIDER__LIVE_OPS_CONN_ID", "team_webhook")
    monkeypatch.setenv("AIRFLOW__LIVE_PROVIDER__LIVE_OPS_PAYLOAD", "feishu")
    made = live_ops_failure_callback()
    assert isinstance(made, LiveOpsNotifier)
    assert (made.http_conn_id, made.payload) == ("team_webhook", "feishu")


def test_registered_with_airflow_and_the_options_are_declared() -> None:
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    assert "airflow_live_provider.notifications.live_ops.LiveOpsNotifier" in manager.notification
    options = dict(manager.provider_configs)["airflow-live-provider"]["live_provider"]["options"]
    assert options["live_ops_conn_id"]["default"] == ""
    assert options["live_ops_payload"]["default"] == "generic"
