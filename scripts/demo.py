"""`make demo`: run both sample DAGs for real against the in-process vendor simulator.

1. Start the simulator on 127.0.0.1 (demo accounts, channels and credentials seeded).
2. Use an isolated ``AIRFLOW_HOME`` under ``.demo/`` with SQLite; ``airflow db migrate``.
3. Write a demo events calendar: one event starting ~100 s from now (its ISDP join tokens are
   issued just in time: the run waits for that moment in a deferral, then writes tokens valid at
   the start, and its go-live watch sees the stream come online), one two hours ahead
   (provisioned now, its tokens announced for later) and a
   weekly series whose next occurrence is outside the 24 h window; point the planner DAG
   ``live_event_preprovision`` at it through the ``live_events_calendar`` Variable
   (``AIRFLOW_VAR_*`` env var).
4. ``airflow dags test`` the snapshot DAG twice (three sub-accounts use live minutes and VOD
   flow in between: each run emits an event on the snapshot asset), then the trend DAG that is
   scheduled on that asset (its page forecasts runways from the two snapshots, taken seconds
   apart here, so the rates are steep), then the planner, which starts one ``live_event`` run per
   event instance (their run ids are printed). Each planned run is then run with its conf: the
   close event entirely (its tokens wait for their moments, its stream goes live); the one two
   hours ahead only up to its provisioning (its time-bound steps are marked done here: a real
   scheduler would run them at their moments). Print where the snapshot, the report, the trend
   page and the events' run sheets and pages were written. The simulator stops when the script
   ends.
5. Stream sessions: the go-live event's stream is live; its session watcher (the trigger
   ``live_stream_sessions`` is scheduled on, run here in this process since no triggerer runs in
   the demo) fires "started"; the stream then stops and it fires "ended". Each event is handed to
   ``airflow dags test live_stream_sessions`` as a replay (``conf`` ``{"events": [...]}``): two
   runs, two lines in the sessions JSON Lines, the session on the event's run sheet.

Running it again keeps ``.demo/`` (delete it for a clean start, ``make clean`` does): the new
snapshot report then shows the change since the previous one. The simulator's state lives in
memory, so each demo starts again from its seeded demo data.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEMO_DIR = ROOT / ".demo"
DAGS = (
    "polyv_subaccount_snapshot",
    "polyv_subaccount_snapshot",
    "polyv_resource_trend",
    "live_event_preprovision",
)
#: Sub-accounts that use resources between the two demo snapshots: (index, what they use).
DEMO_USAGE = (
    (1, {"remainMinutes": 240}),
    (14, {"remainMinutes": 90, "remainFlow": 12.5}),
    (20, {"remainSpace": 4.0}),
)


def demo_calendar(now: Any) -> dict[str, Any]:
    """With the simulator's demo resources: an event in ~100 s, one in 2 h, a weekly series."""
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
            # Its ISDP moment (start - 45 s) and go-live watch come during the run: both defer.
            event("Demo go-live", now.add(seconds=100), "go-live", isdp_lead=45),
            event("Demo launch keynote", now.add(hours=2), "launch-keynote"),
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


#: The event run's steps bound to the event's clock (skipped for an event hours ahead in the demo).
TIME_BOUND_STEPS = "^(polyv_tokens|isdp_tokens|go_live|summary)$"


def last_run_row(home: Path) -> int:
    """The newest DAG run's row id in the demo's SQLite DB (0 in a new one)."""
    import sqlite3

    with sqlite3.connect(home / "airflow.db") as db:
        return int(db.execute("SELECT coalesce(max(id), 0) FROM dag_run").fetchone()[0])


def planned_event_runs(home: Path, after: int = 0) -> list[tuple[str, dict[str, Any]]]:
    """The ``live_event`` runs the planner started (run id, conf) since row ``after`` (so a demo
    run again over its home replays only this time's plan), from the demo's SQLite DB."""
    import sqlite3

    with sqlite3.connect(home / "airflow.db") as db:
        rows = db.execute(
            "SELECT run_id, conf FROM dag_run WHERE dag_id = 'live_event' AND run_id LIKE 'event__%' "
            "AND id > ? ORDER BY id",
            (after,),
        ).fetchall()
    seen = sorted({run_id: conf for run_id, conf in rows}.items())
    return [(run_id, json.loads(conf) if isinstance(conf, str | bytes) else conf) for run_id, conf in seen]


def newest(folder: Path, pattern: str) -> Path | None:
    found = sorted(folder.glob(pattern), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else None


def main() -> int:
    import pendulum

    from airflow_live_provider.simulator import SimulatorServer

    home = DEMO_DIR / "airflow-home"
    home.mkdir(parents=True, exist_ok=True)
    calendar = DEMO_DIR / "live_events.json"
    airflow = str(Path(sys.executable).with_name("airflow"))
    failed: list[str] = []
    with SimulatorServer() as server:
        print(f"vendor simulator running on {server.base_url}")
        env = airflow_env(
            home, {**server.connection_env(), "AIRFLOW_VAR_LIVE_EVENTS_CALENDAR": str(calendar)}
        )
        print(f"AIRFLOW_HOME={home}: airflow db migrate ...", flush=True)
        subprocess.run([airflow, "db", "migrate"], env=env, check=True, stdout=subprocess.DEVNULL)
        before_plan = 0
        for step, dag_id in enumerate(DAGS):
            if step == 1:  # between the two snapshots
                for index, used in DEMO_USAGE:
                    server.polyv.use_resources(index, **used)
            if dag_id == "live_event_preprovision":  # times relative to this DAG's run
                before_plan = last_run_row(home)
                text = json.dumps(demo_calendar(pendulum.now("UTC")), indent=2) + "\n"
                calendar.write_text(text, encoding="utf-8")
                # The go-live event's stream starts pushing 20 s from now: its go-live watch sees
                # it live (whichever step `dags test` runs first, the ISDP wait still defers).
                from airflow_live_provider.simulator import volcengine

                server.volcengine.set_stream(
                    volcengine.DEMO_VHOST, volcengine.DEMO_APP, "go-live", online_in=20
                )
            print(f"\n=== airflow dags test {dag_id} ===", flush=True)
            result = subprocess.run([airflow, "dags", "test", dag_id], env=env)
            if result.returncode != 0:
                failed.append(dag_id)
        for run_id, conf in planned_event_runs(home, before_plan):
            soon = pendulum.parse(conf["event"]["start"]) < pendulum.now("UTC").add(minutes=10)
            args = [] if soon else ["--mark-success-pattern", TIME_BOUND_STEPS]
            print(f"\n=== planned run {run_id}: airflow dags test live_event -c <its conf> {' '.join(args)}")
            if not soon:
                print("(starts later: only provisioning runs here; a scheduler runs the rest at its moments)")
            result = subprocess.run(
                [airflow, "dags", "test", "live_event", "-c", json.dumps(conf), *args], env=env
            )
            if result.returncode != 0:
                failed.append(f"live_event {run_id}")
        session_runs = stream_session_runs(server, airflow, env)
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
        print(f"run sheet       : {page.with_suffix('.json')}  (+ .html; just in time: {jit})")
    sessions = sorted((output / "run_sheets" / "sessions").glob("*.jsonl"))
    for path in sessions:
        print(f"stream sessions : {path}  ({len(path.read_text().splitlines())} lines)")
    print(f"session runs    : {', '.join(kind for kind, _ in session_runs)} (two live_stream_sessions runs)")
    print("run sheets hold push URLs and tokens: keep them private.")
    if failed or not (
        snapshot and report and trend and len(pages) == 2 and sessions and len(session_runs) == 2
    ):
        print(f"demo FAILED: {', '.join(failed) or 'an output is missing'}", file=sys.stderr)
        return 1
    print("simulator stopped; open the HTML report and the trend page in a browser.")
    print(
        f"Live events page (the event runs above, their run sheets behind Airflow's login): "
        f"{UI_URL}/live-events/ , served by `make demo-ui` (Airflow's api-server on this demo's "
        "AIRFLOW_HOME; it prints the admin password)."
    )
    return 0


def stream_session_runs(server: Any, airflow: str, env: dict[str, str]) -> list[tuple[str, bool]]:
    """The go-live stream's session as two ``live_stream_sessions`` runs: its watcher fires
    "started" (the stream is live), the stream stops, it fires "ended"."""
    import asyncio
    from contextlib import aclosing

    from airflow_live_provider.simulator import volcengine
    from airflow_live_provider.triggers.stream_sessions import VolcengineStreamSessionTrigger

    os.environ.update(server.connection_env())  # the watcher runs in this process
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
                print(
                    f"\n=== session watcher fired {kind!r}: "
                    "airflow dags test live_stream_sessions -c <event> ==="
                )
                conf = json.dumps({"events": [event.payload]})
                result = subprocess.run(
                    [airflow, "dags", "test", "live_stream_sessions", "-c", conf], env=env
                )
                runs.append((kind, result.returncode == 0))
                if kind == "ended":
                    return
                server.volcengine.stop_session(volcengine.DEMO_VHOST, volcengine.DEMO_APP, "go-live")
                print("(the stream stops pushing: the watcher fires 'ended' once it stays offline 3 s)")

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
