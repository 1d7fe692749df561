"""The Live events list over 10,000 ``live_event`` runs in a metadata DB (SQLite): response time
and rows read.

The runs are what a planner with a 60-day lead leaves behind: one instance every ~13 minutes from
30 days ago to 60 days ahead, each run created (``run_after``) when the instance entered the lead
window, with six task instances each (60,000 rows), states as a scheduler would have them.
Measured: the page's work in-process (median of 5, after a warm-up), the rows its queries return
to the api-server (each statement it ran, executed again on a second connection and counted) and
the ``conf`` bytes among them; how many of the instances in the window the page shows; and the
response time of ``GET /live-events/`` through a real api-server on the same database (median of
5). Printed, never asserted.
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from _common import header, median_seconds

RUNS = 10_000
SPAN_PAST, SPAN_AHEAD = timedelta(days=30), timedelta(days=60)
LEAD = PAST = timedelta(hours=24)
TASKS = ("volcengine", "polyv_channels", "polyv_tokens", "isdp_tokens", "go_live", "summary")
AIRFLOW = str(Path(sys.executable).with_name("airflow"))


def populate(now: Any) -> int:
    """10,000 planner-made runs with their task instances; returns how many the window holds."""
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    from airflow_live_provider.events.calendar import event_end, validate_event
    from airflow_live_provider.events.planner import definition_hash, instance_run_id

    template = {
        "name": "x",
        "start": "2026-01-01T00:00:00Z",
        "timezone": "Asia/Shanghai",
        "isdp": {"channel_ids": ["10882", "10883"], "user_account": "135965565"},
        "volcengine": {"vhost": "live.example.com", "app": "live", "stream": "s"},
        "polyv": {"channel_id": "3151318", "receive_channel_names": ["cn", "en"], "viewers": ["v-1", "v-2"]},
    }
    first = now - SPAN_PAST
    step = (SPAN_PAST + SPAN_AHEAD) / RUNS
    runs, tis, in_window = [], [], 0
    for n in range(RUNS):
        start = (first + step * n).replace(microsecond=0)
        instance = validate_event({**template, "name": f"Event {n:05d}", "start": start.isoformat()}, n)
        run_id = instance_run_id(instance)
        end = event_end(instance)
        in_window += start <= now + LEAD and end >= now - PAST
        state = "success" if end < now else "running" if start - timedelta(days=1) < now else "queued"
        runs.append(
            {
                "dag_id": "live_event",
                "run_id": run_id,
                "run_type": "manual",
                "state": state,
                "run_after": start - SPAN_AHEAD,
                "conf": {
                    "event": instance,
                    "definition": definition_hash(instance),
                    "calendar": "/opt/airflow/dags/live_events.json",
                    "output_dir": "",
                },
            }
        )
        for task_id in TASKS:
            ti_state = "success" if state == "success" else "deferred" if state == "running" else None
            tis.append(
                {
                    "id": uuid.uuid4(),
                    "dag_id": "live_event",
                    "run_id": run_id,
                    "task_id": task_id,
                    "map_index": -1,
                    "try_number": 1,
                    "pool": "default_pool",
                    "pool_slots": 1,
                    "state": ti_state,
                    "end_date": end if ti_state == "success" else None,
                }
            )
    with create_session() as session:
        session.execute(DagRun.__table__.insert(), runs)
        session.execute(TaskInstance.__table__.insert(), tis)
    return in_window


def rows_read(statements: list[tuple[str, Any]], db: Path) -> tuple[list[int], int]:
    """Rows per statement and the conf bytes their results hold, run again on a second connection."""
    counts, conf_bytes = [], 0
    with sqlite3.connect(db) as conn:
        for sql, params in statements:
            cursor = conn.execute(sql, params)
            names = [d[0] for d in cursor.description or []]
            rows = 0
            for row in cursor:
                rows += 1
                conf_bytes += sum(len(str(v)) for n, v in zip(names, row, strict=True) if n == "conf")
            counts.append(rows)
    return counts, conf_bytes


def page_in_process(now: Any) -> tuple[str, list[tuple[str, Any]]]:
    from airflow.settings import engine
    from sqlalchemy import event

    from airflow_live_provider.plugins import live_events_app as app

    statements: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, _ctx: Any, _many: bool) -> None:
        statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        runs, left_out = app.event_runs(now, PAST, LEAD)
        body = app.list_page(runs, now, PAST, LEAD, "", left_out)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return body, statements


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_median(home: Path) -> float:
    """Median of 5 GET /live-events/ through an api-server on this home (after a warm-up)."""
    port = free_port()
    (home / "passwords.json").write_text(json.dumps({"admin": "bench-pw"}))
    env = {
        **os.environ,
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
    }
    log = open(home / "api-server.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [AIRFLOW, "api-server", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )

    def request(method: str, path: str, body: Any = None, token: str = "") -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        headers = {
            "Content-Type": "application/json",
            **({"Authorization": f"Bearer {token}"} if token else {}),
        }
        try:
            conn.request(method, path, body=json.dumps(body) if body else None, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    try:
        deadline = time.time() + 120
        while True:
            try:
                if request("GET", "/api/v2/monitor/health")[0] == 200:
                    break
            except OSError:
                pass
            if time.time() > deadline or proc.poll() is not None:
                raise RuntimeError(f"api-server not up; see {home / 'api-server.log'}")
            time.sleep(0.5)
        status, body = request("POST", "/auth/token", {"username": "admin", "password": "bench-pw"})
        token = json.loads(body)["access_token"]
        assert request("GET", "/live-events/", token=token)[0] == 200
        times = []
        for _ in range(5):
            started = time.perf_counter()
            status, _ = request("GET", "/live-events/", token=token)
            times.append(time.perf_counter() - started)
            assert status == 200
        return statistics.median(times)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        log.close()


def main() -> None:
    import pendulum

    home = Path(os.environ["AIRFLOW_HOME"])
    header(f"Live events list over {RUNS:,} live_event runs (SQLite metadata DB)")
    subprocess.run([AIRFLOW, "db", "migrate"], check=True, capture_output=True)
    now = pendulum.now("UTC")
    in_window = populate(now)
    body, statements = page_in_process(now)
    shown = body.count("<div class='event'>")
    [seconds] = median_seconds(lambda: page_in_process(now))
    counts, conf_bytes = rows_read(statements, home / "airflow.db")
    print(
        f"  instances in the window (24 h ahead, 24 h past): {in_window}; cards shown: {shown}\n"
        f"  page work in-process: {seconds * 1000:.0f} ms (median of 5)\n"
        f"  rows read: {sum(counts):,} in {len(counts)} queries ({' + '.join(f'{c:,}' for c in counts)}), "
        f"{conf_bytes / 1024:.0f} KiB of conf"
    )
    print(f"  GET /live-events/ through the api-server: {http_median(home) * 1000:.0f} ms (median of 5)")


if __name__ == "__main__":
    main()
