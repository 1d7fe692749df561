"""Fault-injection soak: with 20% of requests failing retryably (429, 503, connection reset,
response lost after commit), the snapshot and the pre-provisioning produce exactly what
fault-free runs produce: the same rows, no duplicate channel, no lost token.

Bounded: a few hundred requests in all, retries capped by the transport's attempt and time bounds.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pendulum
import pytest

from airflow_live_provider.events.calendar import parse_calendar
from airflow_live_provider.events.planner import definition_hash
from airflow_live_provider.operators.polyv import PolyvSubAccountSnapshotOperator
from airflow_live_provider.simulator import FAULT_KINDS, SimulatorServer
from airflow_live_provider.simulator import isdp as isdp_sim
from airflow_live_provider.simulator import polyv as polyv_sim
from airflow_live_provider.simulator import volcengine as volc_sim
from airflow_live_provider.vendors.polyv import TRANSMIT_BATCH_CREATE_PATH
from airflow_live_provider.workflow.event_timeline import (
    event_run,
    issue_credentials,
    provision_push,
    provision_receivers,
)

FAULT_RATE = 0.2
RECEIVE_CHANNELS = [f"soak-receiver-{i:03d}" for i in range(150)]  # two batch-creates of <= 100
VIEWERS = [f"viewer-{i:02d}" for i in range(12)]


@pytest.fixture
def frozen_simulator(sim_connections: SimulatorServer) -> SimulatorServer:
    """Sub-account expiry dates are 'now'-relative: freeze the simulator's clock so two runs compare."""
    frozen = time.time()
    sim_connections.now = lambda: frozen  # type: ignore[method-assign]
    return sim_connections


def run_snapshot(tmp_path: Path, name: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    out = tmp_path / f"{name}.jsonl"
    operator = PolyvSubAccountSnapshotOperator(
        task_id="snapshot", output_uri=f"file://{out}", page_size=20, min_remaining_minutes=100
    )
    summary = operator.execute({"run_id": name, "ts_nodash": "20261123T100000"})
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    for row in rows:
        row.pop("snapshotTime")
    for key in ("path", "snapshot_time"):
        summary.pop(key)
    return rows, summary


@pytest.mark.parametrize("seed", [1, 2])
def test_snapshot_under_faults_equals_the_fault_free_snapshot(
    frozen_simulator: SimulatorServer, tmp_path: Path, seed: int
) -> None:
    frozen_simulator.polyv.set_sub_account_count(300)  # 15 pages of 20
    clean_rows, clean_summary = run_snapshot(tmp_path, "clean")
    assert len(clean_rows) == 300

    frozen_simulator.faults.set_random(FAULT_RATE, kinds=FAULT_KINDS, seed=seed)
    faulty_rows, faulty_summary = run_snapshot(tmp_path, "faulty")

    injected = Counter(kind for kind, _ in frozen_simulator.faults.injected)
    assert sum(injected.values()) >= 2, f"too few faults to prove anything: {injected}"
    assert faulty_rows == clean_rows
    assert faulty_summary == clean_summary


def soak_event() -> dict[str, Any]:
    [event] = parse_calendar(
        [
            {
                "name": "Soak",
                # Soon enough that the join tokens (120 s) issued now are valid at the start.
                "start": pendulum.now("UTC").add(seconds=100).isoformat(),
                "volcengine": {
                    "vhost": volc_sim.DEMO_VHOST,
                    "app": volc_sim.DEMO_APP,
                    "stream": "soak",
                    "domain": volc_sim.DEMO_PUSH_DOMAIN,
                },
                "polyv": {
                    "channel_id": polyv_sim.DEMO_TRANSMIT_CHANNEL_ID,
                    "receive_channel_names": RECEIVE_CHANNELS,
                    "viewers": VIEWERS,
                },
                "isdp": {
                    "channel_ids": list(isdp_sim.DEMO_CHANNEL_IDS),
                    "user_account": isdp_sim.DEMO_USER_ACCOUNT,
                },
            }
        ]
    )
    return event


def provision(server: SimulatorServer, tmp_path: Path, name: str) -> dict[str, Any]:
    """The whole timeline at once: provisioning ahead, then every just-in-time credential."""
    event = soak_event()
    conf = {"event": event, "definition": definition_hash(event), "output_dir": str(tmp_path / name)}
    run = event_run(conf, "soak")
    provision_push(run)
    provision_receivers(run)
    issue_credentials(run, "polyv")
    issue_credentials(run, "isdp")
    return json.loads((tmp_path / name / "soak" / "soak.json").read_text())


def shape(sheet: dict[str, Any]) -> dict[str, Any]:
    """What must not differ between runs (ids and token values are the vendor's to choose)."""
    return {
        "receive": [(r["name"], r["created"]) for r in sheet["polyv"]["receiveChannels"]],
        "viewers": [t["viewerId"] for t in sheet["polyv"]["watchTokens"]],
        "push_urls": len(sheet["volcengine"]["push"]["PushURLList"]),
        "isdp_tokens": len(sheet["isdp"]["tokens"]) if isinstance(sheet["isdp"]["tokens"], list) else 1,
    }


@pytest.mark.parametrize("seed", [3, 4])
def test_preprovision_under_faults_creates_no_duplicate_and_loses_no_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    sheets = {}
    for name, faulty in (("clean", False), ("faulty", True)):
        with SimulatorServer() as server:
            for key, value in server.connection_env().items():
                monkeypatch.setenv(key, value)
            if faulty:
                # The hardest case on every run, plus 20% of everything at random.
                server.faults.add("lost_after_commit", path=TRANSMIT_BATCH_CREATE_PATH)
                server.faults.set_random(FAULT_RATE, kinds=FAULT_KINDS, seed=seed)
            sheet = provision(server, tmp_path, name)
            sheets[name] = sheet

            receivers = server.polyv.receivers(polyv_sim.DEMO_TRANSMIT_CHANNEL_ID)
            names = Counter(r["name"] for r in receivers)
            assert names == Counter(RECEIVE_CHANNELS), "a receive channel is missing or was created twice"
            by_name = {r["name"]: str(r["channelId"]) for r in receivers}
            assert {r["name"]: str(r["channelId"]) for r in sheet["polyv"]["receiveChannels"]} == by_name
            issued = server.polyv.watch_tokens
            for entry in sheet["polyv"]["watchTokens"]:
                assert issued[entry["token"]]["viewerId"] == entry["viewerId"], "token not issued for viewer"
            if faulty:
                injected = Counter(kind for kind, _ in server.faults.injected)
                assert injected["lost_after_commit"] >= 1 and sum(injected.values()) >= 5, injected
    assert shape(sheets["faulty"]) == shape(sheets["clean"])
    assert all(created for _, created in shape(sheets["faulty"])["receive"])
