"""Which runs the Live events list reads, on a real metadata DB (SQLite, ``airflow db migrate``).

The list chooses runs by their instance's start (the planner's run id carries it in UTC) and
running ones, never by creation time: a planner with a long lead creates runs weeks ahead, and
the event happening now must not drop out behind them. Only the shown runs' ``conf`` and task
instances are read. Runs in a subprocess on its own Airflow home (the test process's Airflow is
bound to the unmigrated home of ``tests/conftest.py``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

AIRFLOW = str(Path(sys.executable).with_name("airflow"))

SCRIPT = r"""
import json, sys, uuid
from datetime import timedelta

import pendulum
from sqlalchemy import event as sa_event

from airflow.models.dagrun import DagRun
from airflow.models.taskinstance import TaskInstance
from airflow.settings import engine
from airflow.utils.session import create_session

from airflow_live_provider.events.calendar import validate_event
from airflow_live_provider.events.planner import definition_hash, instance_run_id
from airflow_live_provider.plugins import live_events_app as app

now = pendulum.now("UTC").replace(microsecond=0)
day = timedelta(days=1)
ISDP = {"channel_ids": ["10882"], "user_account": "135965565"}
runs, names = [], {}


def add(name, start, created, state="running", minutes=60, run_id=None, conf=None):
    raw = {"name": name, "start": start.isoformat(), "duration_minutes": minutes, "isdp": ISDP}
    instance = validate_event(raw, 0)
    run_id = run_id or instance_run_id(instance)
    names[run_id] = name
    conf = conf if conf is not None else {"event": instance, "definition": definition_hash(instance)}
    runs.append({"dag_id": "live_event", "run_id": run_id, "run_type": "manual", "state": state,
                 "run_after": created, "conf": conf})


# 300 instances weeks ahead, created just now by a planner with a long lead.
for n in range(300):
    add(f"Ahead {n}", now + 10 * day + n * timedelta(hours=2), now, state="queued")
add("Now on", now - timedelta(minutes=10), now - 40 * day)  # created 40 days ago
add("Stuck", now - 3 * day, now - 30 * day)  # its run still running, days after its end
add("Long show", now - 2 * day, now - 30 * day, state="success", minutes=3 * 24 * 60)  # still on
add("Ended", now - 2 * day, now - 30 * day, state="success")  # ended before the past window
add("Old long", now - 12 * day, now - 40 * day, state="success", minutes=7 * 24 * 60)  # ended 5 days ago
# Runs started by hand (ids not the planner's): chosen by when they were created.
add("By hand", now + timedelta(hours=2), now, state="queued", run_id="by-hand-today")
broken = {"event": "tonight"}
add("Broken", now + timedelta(hours=3), now, state="queued", run_id="by-hand-broken", conf=broken)
add("Old by hand", now + timedelta(hours=1), now - 40 * day, state="queued", run_id="by-hand-long-ago")
tis = [
    {"id": uuid.uuid4(), "dag_id": "live_event", "run_id": r["run_id"], "task_id": t, "map_index": -1,
     "try_number": 1, "pool": "default_pool", "pool_slots": 1, "state": "success"}
    for r in runs for t in ("isdp_tokens", "summary")
]
with create_session() as session:
    session.execute(DagRun.__table__.insert(), runs)
    session.execute(TaskInstance.__table__.insert(), tis)
# "Long show" was cancelled in the calendar: its summary says so (its run ended in success).
from airflow.models.xcom import XComModel
from sqlalchemy import select
with create_session() as session:
    long_show = [r["run_id"] for r in runs if names[r["run_id"]] == "Long show"][0]
    dag_run_id = session.execute(select(DagRun.id).where(DagRun.run_id == long_show)).scalar_one()
    session.execute(XComModel.__table__.insert(), [{
        "dag_run_id": dag_run_id, "task_id": "summary", "map_index": -1, "key": "return_value",
        "dag_id": "live_event", "run_id": long_show, "value": {"status": "cancelled", "steps": {}},
        "timestamp": now}])

statements = []
record = lambda conn, cursor, sql, params, ctx, many: statements.append(params)  # noqa: E731
sa_event.listen(engine, "before_cursor_execute", record)
limit = int(sys.argv[1])
chosen, left_out = app.event_runs(now, day, day, limit=limit)
mentioned = sorted({p for params in statements for p in (params if isinstance(params, (list, tuple)) else [])
                    if isinstance(p, str) and p in names})
print(json.dumps({
    "shown": sorted(names.get(r["run_id"], r["run_id"]) for r in chosen),
    "with_tasks": sorted(names[r["run_id"]] for r in chosen if r["tasks"]),
    "mentioned": sorted(names[p] for p in mentioned),
    "left_out": left_out,
    "badges": {names[r["run_id"]]: str(app.run_badge(r)) for r in chosen if r["run_id"] in names},
}))
"""


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("selection-home")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")},
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    }
    subprocess.run([AIRFLOW, "db", "migrate"], env=env, check=True, capture_output=True, timeout=300)
    return env


def _select(env: dict[str, str], limit: int, tmp_path: Path) -> dict[str, Any]:
    # A fresh copy of the migrated DB each time (the script inserts its runs).
    db = Path(env["AIRFLOW_HOME"]) / "airflow.db"
    copy = tmp_path / "airflow.db"
    copy.write_bytes(db.read_bytes())
    env = {**env, "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{copy}"}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(limit)], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_runs_are_chosen_by_their_instances_start_and_only_those_are_read(
    home: dict[str, str], tmp_path: Path
) -> None:
    result = _select(home, 2000, tmp_path)
    # The event on now (created 40 days ago), one still running after its end, a 3-day show
    # started 2 days ago, runs started by hand today (the broken one listed as unreadable).
    assert result["shown"] == ["Broken", "By hand", "Long show", "Now on", "Stuck"]
    assert result["with_tasks"] == ["By hand", "Long show", "Now on", "Stuck"]
    # No statement named a run it does not show (conf and task instances of the shown only);
    # the 300 runs weeks ahead were not even listed by id.
    assert {"By hand", "Long show", "Now on", "Stuck"} <= set(result["mentioned"])  # the capture works
    assert set(result["mentioned"]) <= {"By hand", "Long show", "Now on", "Stuck", "Broken"}
    assert result["left_out"] == 0
    # A cancelled event's run says so (its summary's outcome), the others their run state.
    assert result["badges"]["Long show"] == "cancelled"
    assert result["badges"]["Now on"] == "running" and result["badges"]["Stuck"] == "running"


def test_past_the_limit_the_runs_nearest_to_now_are_shown_and_the_rest_counted(
    home: dict[str, str], tmp_path: Path
) -> None:
    result = _select(home, 2, tmp_path)
    # Runs whose start is unknown before their conf is read (by hand) count as now.
    assert result["shown"] == ["Broken", "By hand"]
    assert result["left_out"] == 3
