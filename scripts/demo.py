"""`make demo`: the sample DAGs for real, on a real Airflow, against the in-process vendor simulator.

1. Start the simulator on 127.0.0.1 (demo accounts, channels and credentials seeded).
2. Use an isolated ``AIRFLOW_HOME`` under ``.demo/`` with SQLite; ``airflow db migrate``.
3. ``airflow dags test`` the snapshot DAG twice (three sub-accounts use live minutes and VOD flow
   in between: each run emits an event on the snapshot asset), then the trend DAG scheduled on
   that asset (its page forecasts runways from the two snapshots, seconds apart here).
4. Start Airflow's services on the demo's home: an api-server (the tasks' Execution API), a
   scheduler with the LocalExecutor, a triggerer and a dag-processor. Write a demo events
   calendar (events ~2 and ~3 minutes ahead, a weekly series whose next occurrence is outside
   the 24 h window), point the planner ``live_event_preprovision`` at it (``live_events_calendar``
   Variable, as an ``AIRFLOW_VAR_*`` env var), unpause and trigger it: the scheduler runs the
   planner, which starts one ``live_event`` run per instance; those runs (the planner's own, with
   its run ids and notes) provision at once, wait in the triggerer for their just-in-time
   moments and go-live watches, and end. One progress line per change; Airflow's own logs go
   to ``.demo/airflow.log``.
5. Stop the services. Stream sessions: the go-live event's stream is live; its session watcher
   (run here in this process) fires "started"; the stream then stops and it fires "ended". Each
   event is handed to ``airflow dags test live_stream_sessions`` as a replay: two runs, two lines
   in the sessions JSON Lines, the session on the event's run sheet.
6. Print where the outputs are; ``make demo-ui`` then serves the UI (Live events page) over them.

Running it again keeps ``.demo/`` (delete it for a clean start, ``make clean`` does): the new
snapshot report then shows the change since the previous one. The simulator's state lives in
memory, so each demo starts again from its seeded demo data.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEMO_DIR = ROOT / ".demo"
#: Run with ``airflow dags test`` before Airflow's services start (the event DAGs run for real).
DAGS = ("polyv_subaccount_snapshot", "polyv_subaccount_snapshot", "polyv_resource_trend")
#: Sub-accounts that use resources between the two demo snapshots: (index, what they use).
DEMO_USAGE = (
    (1, {"remainMinutes": 240}),
    (14, {"remainMinutes": 90, "remainFlow": 12.5}),
    (20, {"remainSpace": 4.0}),
)


def demo_calendar(now: Any) -> dict[str, Any]:
    """With the simulator's demo resources: an event in ~2 min, one in ~3 min, a weekly series
    (its next occurrence outside the 24 h lead window: not planned)."""
    from airflow_live_provider.simulator import isdp, polyv, volcengine

    def event(name: str, start: Any, stream: str, **extra: Any) -> dict[str, Any]:
        local = start.in_timezone("Asia/Shanghai")
        return {
            "name": name,
            "start": local.strftime("%Y-%m-%dT%H:%M:%S"),
            "timezone": "Asia/Shanghai",
            "volcengine": {
                "vhost": volcengine.DEMO_VHOST,
                "app": volcengine.DEMO_APP,
                "stream": stream,
                "domain": volcengine.DEMO_PUSH_DOMAIN,
            },
            "polyv": {
                "channel_id": polyv.DEMO_TRANSMIT_CHANNEL_ID,
                "receive_channel_names": [f"{stream}-cn", f"{stream}-en"],
                "viewers": ["press-001", {"viewerId": "partner-042", "nickname": "Partner 42"}],
            },
            "isdp": {
                "channel_ids": list(isdp.DEMO_CHANNEL_IDS),
                "user_account": isdp.DEMO_USER_ACCOUNT,
                "token_lead_seconds": extra.pop("isdp_lead", 90),
            },
            **extra,
        }

    return {
        "events": [
            # Their ISDP moments (start - 45 s) come while the runs wait in the triggerer.
            event("Demo go-live", now.add(seconds=120), "go-live", isdp_lead=45),
            event("Demo launch keynote", now.add(seconds=180), "launch-keynote", isdp_lead=45),
            event("Demo weekly town hall", now.add(days=3), "town-hall", rrule="FREQ=WEEKLY"),
        ]
    }


def airflow_env(home: Path, extra: dict[str, str]) -> dict[str, str]:
    """The environment every airflow command gets: isolated home, our DAGs, no examples."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_CONN_", "AIRFLOW_VAR_"))}
    env.pop("AIRFLOW__CORE__UNIT_TEST_MODE", None)
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        }
    )
    env.update(extra)
    return env


def last_run_row(home: Path) -> int:
    """The newest DAG run's row id in the demo's SQLite DB (0 in a new one)."""
    import sqlite3

    with sqlite3.connect(home / "airflow.db") as db:
        return int(db.execute("SELECT coalesce(max(id), 0) FROM dag_run").fetchone()[0])


def newest(folder: Path, pattern: str) -> Path | None:
    found = sorted(folder.glob(pattern), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else None


class Progress:
    """The demo's stdout: one short line per thing that happens, seconds since the start."""

    def __init__(self) -> None:
        self.started = time.monotonic()

    def __call__(self, text: str) -> None:
        elapsed = int(time.monotonic() - self.started)
        print(f"[{elapsed // 60:02d}:{elapsed % 60:02d}] {text}", flush=True)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_states(home: Path, dag_id: str, after: int) -> dict[str, tuple[str, dict[str, str]]]:
    """Runs of ``dag_id`` since row ``after``: run id -> (state, {task: state})."""
    import sqlite3

    with sqlite3.connect(home / "airflow.db", timeout=30) as db:
        runs = db.execute(
            "SELECT run_id, state FROM dag_run WHERE dag_id = ? AND id > ? ORDER BY id", (dag_id, after)
        ).fetchall()
        tis = db.execute(
            "SELECT run_id, task_id, state FROM task_instance WHERE dag_id = ? AND map_index = -1",
            (dag_id,),
        ).fetchall()
    found: dict[str, tuple[str, dict[str, str]]] = {run_id: (state, {}) for run_id, state in runs}
    for run_id, task_id, state in tis:
        if run_id in found:
            found[run_id][1][task_id] = state or "none"
    return found


DONE = ("success", "failed")


def main() -> int:
    from airflow_live_provider.simulator import SimulatorServer

    say = Progress()
    home = DEMO_DIR / "airflow-home"
    home.mkdir(parents=True, exist_ok=True)
    calendar = DEMO_DIR / "live_events.json"
    log_path = DEMO_DIR / "airflow.log"
    airflow = str(Path(sys.executable).with_name("airflow"))
    failed: list[str] = []
    services: list[subprocess.Popen[bytes]] = []
    port = free_port()
    with SimulatorServer() as server, open(log_path, "ab") as log:
        say(f"vendor simulator on {server.base_url}; Airflow home {home} (SQLite)")
        say(f"Airflow's own logs (every service and task): {log_path}")
        env = airflow_env(
            home,
            {
                **server.connection_env(),
                "AIRFLOW_VAR_LIVE_EVENTS_CALENDAR": str(calendar),
                # A real Airflow on the demo's home: tasks run by the LocalExecutor through the
                # api-server's Execution API, deferred ones in the triggerer.
                "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
                "AIRFLOW__CORE__PARALLELISM": "8",
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
                "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
                "AIRFLOW__API_AUTH__JWT_SECRET": "demo-" + os.urandom(16).hex(),
                "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
            },
        )

        def airflow_cmd(*args: str) -> bool:
            return (
                subprocess.run([airflow, *args], env=env, stdout=log, stderr=subprocess.STDOUT).returncode
                == 0
            )

        say("airflow db migrate ...")
        if not airflow_cmd("db", "migrate") or not airflow_cmd("dags", "reserialize"):
            print(f"demo FAILED: airflow db migrate / dags reserialize; see {log_path}", file=sys.stderr)
            return 1
        for step, dag_id in enumerate(DAGS):
            if step == 1:  # between the two snapshots
                for index, used in DEMO_USAGE:
                    server.polyv.use_resources(index, **used)
            ok = airflow_cmd("dags", "test", dag_id)
            say(f"airflow dags test {dag_id}: {'ok' if ok else 'FAILED'}")
            if not ok:
                failed.append(dag_id)
        try:
            for service in ("api-server", "scheduler", "triggerer", "dag-processor"):
                args = ["--host", "127.0.0.1", "--port", str(port)] if service == "api-server" else []
                services.append(
                    subprocess.Popen(
                        [airflow, service, *args],
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
            say(
                f"started Airflow: api-server on 127.0.0.1:{port}, scheduler (LocalExecutor), "
                "triggerer, dag-processor"
            )
            if not wait_for_health(port, services):
                raise SystemExit(f"demo FAILED: the api-server did not come up; see {log_path}")
            say("api-server up (the tasks' Execution API)")
            failed += plan_and_watch(home, calendar, server, env, airflow_cmd, say)
        finally:
            for proc in services:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
            for proc in services:
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
        say("stopped Airflow's services")
        session_runs = stream_session_runs(server, airflow, env, log, say)
        failed += [f"live_stream_sessions ({kind})" for kind, ok in session_runs if not ok]
    output = home / "live_provider"
    snapshot = newest(output / "snapshots", "polyv_subaccounts_*.jsonl")
    report = newest(output / "snapshots", "polyv_subaccounts_*.html")
    trend = newest(output / "snapshots", "polyv_resource_trend_*.html")
    pages = sorted((output / "run_sheets").glob("*/latest.html"))
    print("\n=== demo outputs ===")
    print(f"events calendar : {calendar}")
    print(f"snapshot        : {snapshot or 'MISSING'}")
    print(f"HTML report     : {report or 'MISSING'}")
    print(f"trend page      : {trend or 'MISSING'}")
    for page in pages:
        sheet = json.loads(page.with_suffix(".json").read_text(encoding="utf-8"))
        jit = {v: (sheet.get(v) or {}).get("justInTime", {}).get("status") for v in ("polyv", "isdp")}
        print(f"run sheet       : {page}  (just in time: {jit})")
    sessions = sorted((output / "run_sheets" / "sessions").glob("*.jsonl"))
    for path in sessions:
        print(f"stream sessions : {path}  ({len(path.read_text().splitlines())} lines)")
    print("run sheets hold push URLs and tokens: keep them private.")
    if failed or not (
        snapshot and report and trend and len(pages) == 2 and sessions and len(session_runs) == 2
    ):
        print(f"demo FAILED: {', '.join(failed) or 'an output is missing'}; see {log_path}", file=sys.stderr)
        return 1
    print(
        f"Live events page (one card per event, their run sheets behind Airflow's login): `make demo-ui`, "
        f"then {UI_URL}/live-events/ (it prints the admin password)."
    )
    return 0


def wait_for_health(port: int, services: list[subprocess.Popen[bytes]], timeout: float = 300) -> bool:
    """Whether the api-server answers its health check before ``timeout`` (tasks need it)."""
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(proc.poll() is not None for proc in services):
            return False
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=5) as resp:
                if resp.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(2)
    return False


def plan_and_watch(
    home: Path, calendar: Path, server: Any, env: dict[str, str], airflow_cmd: Any, say: Any
) -> list[str]:
    """Write the calendar, let the scheduler run the planner, then watch the planner's own
    ``live_event`` runs until each is done (one progress line per change)."""
    import pendulum

    from airflow_live_provider.simulator import volcengine

    before = last_run_row(home)
    text = json.dumps(demo_calendar(pendulum.now("UTC")), indent=2) + "\n"
    calendar.write_text(text, encoding="utf-8")
    # Both events' streams start pushing 20 s from now: their go-live watches see them live.
    for stream in ("go-live", "launch-keynote"):
        server.volcengine.set_stream(volcengine.DEMO_VHOST, volcengine.DEMO_APP, stream, online_in=20)
    airflow_cmd("dags", "unpause", "live_event_preprovision")
    airflow_cmd("dags", "trigger", "live_event_preprovision")
    say("calendar written; planner live_event_preprovision unpaused and triggered")
    deadline = time.monotonic() + 15 * 60
    seen: dict[str, str] = {}
    planner_done = False
    while time.monotonic() < deadline:
        planners = run_states(home, "live_event_preprovision", before)
        if not planner_done and planners and all(state in DONE for state, _ in planners.values()):
            planner_done = True
            say(f"planner: {', '.join(state for state, _ in planners.values())}")
            if "success" not in [state for state, _ in planners.values()]:
                return ["the planner live_event_preprovision"]
        runs = run_states(home, "live_event", before)
        for run_id, (state, tasks) in runs.items():
            done = sorted(
                t for t, s in tasks.items() if s in ("success", "skipped", "failed", "upstream_failed")
            )
            waiting = sorted(t for t, s in tasks.items() if s == "deferred")
            line = f"{state}; done {len(done)}/{len(tasks) or 6}" + (
                f"; waiting in the triggerer: {', '.join(waiting)}" if waiting else ""
            )
            if seen.get(run_id) != line:
                seen[run_id] = line
                say(f"  {run_id[:60]}: {line}")
        if planner_done and runs and all(state in DONE for state, _ in runs.values()):
            failures = [run_id for run_id, (state, _) in runs.items() if state != "success"]
            say(f"the planner's {len(runs)} event runs are done: {len(runs) - len(failures)} succeeded")
            return [f"live_event {run_id}" for run_id in failures]
        time.sleep(3)
    return ["the event runs did not finish within 15 minutes"]


def stream_session_runs(
    server: Any, airflow: str, env: dict[str, str], log: Any, say: Any
) -> list[tuple[str, bool]]:
    """The go-live stream's session as two ``live_stream_sessions`` runs: its watcher fires
    "started" (the stream is live), the stream stops, it fires "ended"."""
    import asyncio
    from contextlib import aclosing

    from airflow_live_provider.simulator import volcengine
    from airflow_live_provider.triggers.volcengine import VolcengineStreamSessionTrigger

    os.environ.update(server.connection_env())  # the watcher runs in this process
    import logging

    logging.getLogger("airflow_live_provider").setLevel(logging.WARNING)  # its lines: the log file's
    trigger = VolcengineStreamSessionTrigger(
        vhost=volcengine.DEMO_VHOST,
        app=volcengine.DEMO_APP,
        stream="go-live",
        poll_interval=1,
        offline_grace_seconds=3,
    )
    runs: list[tuple[str, bool]] = []

    async def watch() -> None:
        async with aclosing(trigger.run()) as events:
            async for event in events:
                kind = event.payload["kind"]
                conf = json.dumps({"events": [event.payload]})
                result = subprocess.run(
                    [airflow, "dags", "test", "live_stream_sessions", "-c", conf],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
                runs.append((kind, result.returncode == 0))
                say(
                    f"session watcher of stream go-live fired {kind!r}: live_stream_sessions run "
                    f"{'ok' if result.returncode == 0 else 'FAILED'}"
                )
                if kind == "ended":
                    return
                server.volcengine.stop_session(volcengine.DEMO_VHOST, volcengine.DEMO_APP, "go-live")

    asyncio.run(asyncio.wait_for(watch(), timeout=300))
    return runs


UI_PORT = 8080
UI_URL = f"http://127.0.0.1:{UI_PORT}"


def serve_ui() -> int:
    """`make demo-ui`: Airflow's api-server on the demo's home, so the Live events page (and the
    rest of the UI) shows the demo's runs. Runs until Ctrl-C."""
    home = DEMO_DIR / "airflow-home"
    if not (home / "airflow.db").exists():
        print("run `make demo` first: it creates the runs the page shows", file=sys.stderr)
        return 1
    passwords = DEMO_DIR / "passwords.json"
    env = airflow_env(
        home,
        {
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        },
    )
    airflow = str(Path(sys.executable).with_name("airflow"))
    server = subprocess.Popen([airflow, "api-server", "--host", "127.0.0.1", "--port", str(UI_PORT)], env=env)
    try:
        import time

        for _ in range(120):
            if passwords.exists():
                break
            time.sleep(1)
        password = json.loads(passwords.read_text())["admin"] if passwords.exists() else "(see the log)"
        print(
            f"\nLive events: {UI_URL}/live-events/  (log in at {UI_URL} as admin / {password}); Ctrl-C stops"
        )
        return server.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        server.terminate()
        server.wait(timeout=20)


if __name__ == "__main__":
    raise SystemExit(serve_ui() if "--serve-ui" in sys.argv else main())
