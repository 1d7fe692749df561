"""Lineage, notifications and retry decisions in real ``airflow dags test`` runs.

As in test_sample_dags.py: a subprocess per run against SQLite in a throwaway ``AIRFLOW_HOME``,
talking HTTP to the simulator in this pytest process. The OpenLineage provider's own listener
writes its events to a file (its file transport); a local webhook receiver on 127.0.0.1 stands
for the crew's chat.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pendulum
import pytest

from airflow_live_provider.simulator import SimulatorServer
from airflow_live_provider.simulator import isdp as isdp_sim
from airflow_live_provider.simulator import polyv as polyv_sim
from airflow_live_provider.vendors.polyv import GROUP_PACKAGE_LIST_PATH
from tests.dags.test_sample_dags import AIRFLOW, clean_env
from tests.helpers import WebhookReceiver, assert_no_secret_in

POLICY_DAGS = Path(__file__).resolve().parent / "policy_dags"
HOOK_PATH = "/services/T0001/B0002/webhookpathsecret77"
BASE_URL = "https://airflow.example.com"
WRONG_CLIENT_SECRET = "wrong-client-secret-4411"


@pytest.fixture(scope="module")
def server() -> Iterator[SimulatorServer]:
    with SimulatorServer() as sim:
        yield sim


def migrated(home: Path, dags: Path | None = None) -> Path:
    env = clean_env(home, {"AIRFLOW__CORE__DAGS_FOLDER": str(dags)} if dags else None)
    done = subprocess.run([AIRFLOW, "db", "migrate"], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return home


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return migrated(tmp_path_factory.mktemp("ops-airflow-home"))


@pytest.fixture(scope="module")
def policy_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return migrated(tmp_path_factory.mktemp("policy-airflow-home"), POLICY_DAGS)


def dag_run(
    home: Path, server: SimulatorServer, dag_id: str, *args: str, dags: Path | None = None, **env: str
) -> tuple[int, str]:
    extra = {**server.connection_env(), **env}
    if dags is not None:
        extra["AIRFLOW__CORE__DAGS_FOLDER"] = str(dags)
    done = subprocess.run(
        [AIRFLOW, "dags", "test", dag_id, *args],
        env=clean_env(home, extra),
        capture_output=True,
        text=True,
        timeout=600,
    )
    return done.returncode, done.stdout + done.stderr


def with_changes(server: SimulatorServer, conn_id: str, **extra: Any) -> str:
    """The simulator's connection ``conn_id`` (JSON) with ``extra`` merged into its extras."""
    conn = json.loads(server.connection_env()[f"AIRFLOW_CONN_{conn_id.upper()}"])
    conn.setdefault("extra", {}).update(extra)
    return json.dumps(conn)


def task_tries(home: Path, dag_id: str, task_id: str) -> list[dict[str, Any]]:
    """Every try of a task in the DAG's latest run, oldest first: the history rows, then the
    current one."""
    query = (
        "SELECT try_number, state, retry_delay_override, retry_reason FROM {table} "
        "WHERE dag_id = ? AND task_id = ? AND run_id = "
        "(SELECT run_id FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1) ORDER BY try_number"
    )
    args = (dag_id, task_id, dag_id)
    with sqlite3.connect(home / "airflow.db") as db:
        rows = db.execute(query.format(table="task_instance_history"), args).fetchall()
        rows += db.execute(query.format(table="task_instance"), args).fetchall()
    keys = ("try_number", "state", "retry_delay_override", "retry_reason")
    return [dict(zip(keys, row, strict=True)) for row in rows]


def webhook_env(hook: WebhookReceiver) -> dict[str, str]:
    return {
        "AIRFLOW_CONN_LIVE_OPS_WEBHOOK": json.dumps({"conn_type": "http", "host": hook.url(HOOK_PATH)}),
        "AIRFLOW__API__BASE_URL": BASE_URL,
    }


# -- OpenLineage ----------------------------------------------------------------------------------
def datasets(items: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(d["namespace"], d["name"]) for d in items]


def check_openlineage_shape(event: dict[str, Any]) -> None:
    """What the OpenLineage spec requires of a run event, and of every facet in it."""
    assert event["eventType"] in ("START", "RUNNING", "COMPLETE", "FAIL", "ABORT", "OTHER")
    assert pendulum.parse(event["eventTime"]) and event["producer"] and event["schemaURL"]
    assert event["run"]["runId"] and event["job"]["namespace"] and event["job"]["name"]
    facet_groups = [event["run"].get("facets", {}), event["job"].get("facets", {})]
    for dataset in event.get("inputs", []) + event.get("outputs", []):
        assert isinstance(dataset["namespace"], str) and dataset["namespace"]
        assert isinstance(dataset["name"], str) and dataset["name"]
        facet_groups += [dataset.get("facets", {}), dataset.get("outputFacets", {})]
    for group in facet_groups:
        for facet in group.values():
            assert facet["_producer"] and facet["_schemaURL"].startswith("https://openlineage.io/spec/")


def test_openlineage_events_of_a_snapshot_run_name_polyv_and_the_file(
    home: Path, server: SimulatorServer, tmp_path: Path
) -> None:
    """The OpenLineage provider's listener (file transport) over a real snapshot run: the task's
    COMPLETE event reads the Polyv sub-accounts and writes the file (with its row count) and the
    snapshot asset; no credential the simulator holds is in any event."""
    events_file = tmp_path / "openlineage.jsonl"
    transport = {"type": "file", "log_file_path": str(events_file), "append": True}
    code, output = dag_run(
        home,
        server,
        "polyv_subaccount_snapshot",
        AIRFLOW__OPENLINEAGE__TRANSPORT=json.dumps(transport),
        AIRFLOW__OPENLINEAGE__NAMESPACE="live-tests",
    )
    assert code == 0 and "state=success" in output, output[-4000:]
    text = events_file.read_text()
    events = [json.loads(line) for line in text.splitlines()]
    for event in events:
        check_openlineage_shape(event)
    snapshot = [e for e in events if e["job"]["name"] == "polyv_subaccount_snapshot.snapshot"]
    [start] = [e for e in snapshot if e["eventType"] == "START"]
    [complete] = [e for e in snapshot if e["eventType"] == "COMPLETE"]
    assert complete["job"]["namespace"] == "live-tests"
    [written] = sorted((home / "live_provider" / "snapshots").glob("polyv_subaccounts_*.jsonl"))
    assert datasets(complete["inputs"]) == [("polyv://polyv_group_default", "sub-accounts")]
    assert datasets(complete["outputs"]) == [
        ("file", str(written)),
        ("polyv://polyv_group_default", "sub-account-snapshots"),
    ]
    statistics = complete["outputs"][0]["outputFacets"]["outputStatistics"]
    assert statistics["rowCount"] == polyv_sim.DEMO_SUB_ACCOUNT_COUNT
    # Before the run, the asset outlet alone (through the polyv converter).
    assert datasets(start["outputs"]) == [("polyv://polyv_group_default", "sub-account-snapshots")]
    secrets = server.secrets()
    assert len(secrets) > 20
    assert_no_secret_in(text, *secrets)


# -- retry decisions --------------------------------------------------------------------------------
def test_a_429_retries_the_snapshot_task_after_at_least_retry_after(
    home: Path, server: SimulatorServer
) -> None:
    """The sample snapshot task (retries=2, LiveRetryPolicy): the vendor throttles the first page
    with Retry-After: 3 and the connection allows one attempt per call, so the task fails; its
    retry waits at least 3 s and succeeds."""
    server.faults.add("429", path=GROUP_PACKAGE_LIST_PATH, times=1, retry_after=3)
    before = len(server.requests_to(GROUP_PACKAGE_LIST_PATH))
    code, output = dag_run(
        home,
        server,
        "polyv_subaccount_snapshot",
        AIRFLOW_CONN_POLYV_GROUP_DEFAULT=with_changes(server, "polyv_group_default", max_attempts=1),
    )
    assert code == 0 and "state=success" in output, output[-4000:]
    statuses = [r.status for r in server.requests_to(GROUP_PACKAGE_LIST_PATH)[before:]]
    assert statuses[0] == 429 and set(statuses[1:]) == {200}
    first, second = task_tries(home, "polyv_subaccount_snapshot", "snapshot")
    # The history keeps the first try as failed, with the delay and reason the policy gave.
    assert (first["try_number"], second["try_number"], second["state"]) == (1, 2, "success")
    assert 3 <= first["retry_delay_override"] <= 3.3
    assert "throttled: the vendor asked to wait 3 s (Retry-After)" in first["retry_reason"]


def test_a_refused_secret_fails_at_the_first_try_and_live_ops_hear_it_async(
    policy_home: Path, server: SimulatorServer
) -> None:
    """ISDP answers 401 invalid_client: the task has 2 retries left but fails at once (one token
    request in all); its failure callback awaits LiveOpsNotifier (the async path) with the real
    failing task's context."""
    token_path = isdp_sim.TOKEN_PATH
    before = len(server.requests_to(token_path))
    with WebhookReceiver() as hook:
        code, output = dag_run(
            policy_home,
            server,
            "isdp_join_tokens",
            dags=POLICY_DAGS,
            AIRFLOW_CONN_ISDP_DEFAULT=with_changes(server, "isdp_default", client_secret=WRONG_CLIENT_SECRET),
            **webhook_env(hook),
        )
    assert "state=failed" in output, output[-4000:]
    assert [r.status for r in server.requests_to(token_path)[before:]] == [401]
    [only] = task_tries(policy_home, "isdp_join_tokens", "join_tokens")
    assert (only["try_number"], only["state"]) == (1, "failed")
    assert "credentials, signature or permission refused" in output
    [message] = hook.received
    assert message["path"] == HOOK_PATH
    body = message["json"]
    assert (body["event"], body["failed_step"], body["try_number"]) == ("isdp_join_tokens", "join_tokens", 1)
    assert body["error"].startswith("[isdp] token request refused (invalid_client: Bad client credentials)")
    assert "http_status=401" in body["error"]
    assert (
        body["run_url"]
        == f"{BASE_URL}/dags/isdp_join_tokens/runs/{body['run_id'].replace(':', '%3A').replace('+', '%2B')}"
    )
    assert body["run_sheet_url"] is None  # not a live_event run
    assert body["error"] in body["text"] and body["run_url"] in body["text"]
    assert_no_secret_in(
        output + json.dumps(body), WRONG_CLIENT_SECRET, "webhookpathsecret77", *server.secrets()
    )


# -- live ops notification from the sample live_event DAG --------------------------------------------
def test_a_failing_live_event_step_tells_live_ops_through_the_configured_webhook(
    home: Path, server: SimulatorServer, tmp_path: Path
) -> None:
    """``[live_provider] live_ops_conn_id`` set: the ISDP step of an event starting in a minute
    fails (the vendor refuses the OAuth client) and the crew gets one message for it, then one for
    the run's summary, each with the event, its start, the step, the vendor's error and the links."""
    from airflow_live_provider.events.calendar import load_calendar
    from airflow_live_provider.events.planner import plan_event_runs

    start = pendulum.now("UTC").add(seconds=60).replace(microsecond=0)
    calendar = tmp_path / "calendar.json"
    event = {
        "name": "Ops check",
        "start": start.in_timezone("Europe/Berlin").strftime("%Y-%m-%dT%H:%M:%S"),
        "timezone": "Europe/Berlin",
        "isdp": {"channel_ids": list(isdp_sim.DEMO_CHANNEL_IDS), "user_account": isdp_sim.DEMO_USER_ACCOUNT},
    }
    calendar.write_text(json.dumps({"events": [event]}))
    [planned] = plan_event_runs(
        load_calendar(calendar.read_text()),
        pendulum.now("UTC"),
        timedelta(hours=24),
        calendar=str(calendar),
        output_dir=None,
    )
    with WebhookReceiver() as hook:
        code, output = dag_run(
            home,
            server,
            "live_event",
            "-c",
            json.dumps(planned["conf"]),
            AIRFLOW_CONN_ISDP_DEFAULT=with_changes(server, "isdp_default", client_secret=WRONG_CLIENT_SECRET),
            AIRFLOW__LIVE_PROVIDER__LIVE_OPS_CONN_ID="live_ops_webhook",
            **webhook_env(hook),
        )
    assert "state=failed" in output, output[-4000:]
    bodies = {m["json"]["failed_step"]: m["json"] for m in hook.received}
    assert sorted(bodies) == ["isdp_tokens", "summary"], bodies
    isdp = bodies["isdp_tokens"]
    local = start.in_timezone("Europe/Berlin").format("YYYY-MM-DD HH:mm")
    assert isdp["event"] == "Ops check"
    assert isdp["start"] == f"{local} Europe/Berlin ({start.strftime('%Y-%m-%dT%H:%M:%SZ')})"
    assert "[isdp] token request refused (invalid_client: Bad client credentials)" in isdp["error"]
    run_id = isdp["run_id"]
    quoted = run_id.replace(":", "%3A").replace("+", "%2B")
    assert isdp["run_url"] == f"{BASE_URL}/dags/live_event/runs/{quoted}"
    assert isdp["run_sheet_url"] == f"{BASE_URL}/live-events/runs/{quoted}/sheet"
    for fact in ("Ops check", isdp["start"], "step isdp_tokens failed", isdp["error"], isdp["run_sheet_url"]):
        assert fact in isdp["text"]
    assert "isdp_tokens" in bodies["summary"]["error"]  # the summary names the failed step
    assert_no_secret_in(
        output + json.dumps(bodies), WRONG_CLIENT_SECRET, "webhookpathsecret77", *server.secrets()
    )
