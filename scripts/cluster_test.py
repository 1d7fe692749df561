"""`make cluster-test`: both sample DAGs on a real distributed Airflow 3, on this machine, no Docker.

What starts (loopback only, on ports checked free, every process stopped by PID at the end):
PostgreSQL and Redis (Debian packages, installed when missing), an S3-compatible store
(``moto[server]``), the vendor simulator (in this process, so its secrets are known), and the
Airflow services of the compose file: api-server, scheduler, dag-processor, **triggerer** and
**two Celery workers**, each worker with its own ``AIRFLOW_HOME`` (nothing passes through a
shared disk: every output goes to ``s3://`` through ``ObjectStoragePath``).

What it checks, after triggering every sample DAG over the REST API (the event DAG with an event
close enough that its just-in-time tokens and its go-live watch defer into the real triggerer):
every run succeeded; the scheduler ran the trend DAG once per snapshot run, because the
snapshot's asset event landed (it is never triggered by hand); tasks ran on both workers; the
snapshot, its report, the trend page and the run sheets are in the bucket; the ISDP tokens are
valid at the event's start; no secret the simulator holds or issued appears in any task log,
service log or the metadata DB. One summary line; exit 1 on any
failure.

Stage 1 (``python3 scripts/cluster_test.py``) installs what is missing and re-runs this file with
the cluster venv's Python (stage 2, ``--run``): Airflow 3.3.2 with the celery, postgres and
amazon extras (``celery<5.7``: 5.7 breaks the celery provider), s3fs, moto and this project.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".cluster"
VENV = WORK / "venv"
PY = VENV / "bin" / "python"
AIRFLOW_VERSION = "3.3.2"
REQUIREMENTS = [
    f"apache-airflow[celery,postgres,amazon]=={AIRFLOW_VERSION}",
    "celery<5.7",
    "s3fs",
    "moto[server]",
    "statsd",  # Airflow's StatsD metrics logger: every service reports to one UDP listener here
]
BUCKET = "live-provider"
WORKERS = ("cluster-w1", "cluster-w2")
RUN_TIMEOUT = 360  # seconds for every DAG run to finish


TREND_DAG = "polyv_resource_trend"
PLANNER = "live_event_preprovision"
EVENT_DAG = "live_event"
#: Event A starts this long after the planner is first triggered: time for 22 runs to be planned
#: and to reach their waits on two single-slot workers, and for the triggerer's kill and restart.
EVENT_A_IN = 420
#: Where the event runs write (the cluster's [live_provider] output_root + run_sheets).
SHEETS = "default/run_sheets"
#: Stream sessions (issues #22, #32): the sample DAG, whose Volcengine scope watcher watches the
#: streams of the calendar the planner reads (event B's daily-demo, event A's stream-a), and a DAG
#: watching LOAD_STREAMS streams of one vhost/app with one-stream watchers.
SESSIONS_DAG = "live_stream_sessions"
SESSION_SCOPE = "stream-sessions/volcengine/volcengine_live_default"
SESSION_STREAM = "daily-demo"
LOAD_DAG = "stream_watch_load"
LOAD_APP = "load"
LOAD_STREAMS = 500
SESSION_POLL_SECONDS = 5
SESSION_GRACE_SECONDS = 10
DESCRIBE_ONLINE = "DescribeLiveStreamInfoByPage"
#: Calendar edits (issue #29): each edited event has an ISDP channel of its own, so the simulator's
#: record of the join tokens it handed out tells the events apart.
EDIT_CHANNELS = {"viewer": "20001", "earlier": "20002", "deleted": "20003", "extended": "20004"}
#: How often the triggerer's calendar watcher (and every waiting step) reads the calendar.
CALENDAR_POLL_SECONDS = 10
GET_TOKEN_BATCH = "/openapi/v1/SaasLive/getTokenBatch"
WATCH_TOKEN = "/live/v3/channel/watch/get-watch-api-token"


def log(message: str) -> None:
    print(f"[cluster-test {time.strftime('%H:%M:%S')}] {message}", flush=True)


# -- stage 1: install ----------------------------------------------------------------------------
def pg_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return found[-1].parent if found else None


def install() -> None:
    if pg_bin() is None or shutil.which("redis-server") is None:
        log("installing PostgreSQL and Redis from Debian's packages")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, stdout=subprocess.DEVNULL)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "postgresql", "redis-server"],
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
        )
    import hashlib

    # A new requirement (or Airflow version) makes a new stamp, so an existing venv gets it too.
    wanted = hashlib.sha256("\n".join(REQUIREMENTS).encode()).hexdigest()[:12]
    stamp = VENV / f".installed-{AIRFLOW_VERSION}-{wanted}"
    if not stamp.exists() or stamp.stat().st_mtime < (ROOT / "pyproject.toml").stat().st_mtime:
        log("creating the cluster venv (Airflow with celery, postgres, amazon; s3fs; moto)")
        if not PY.exists():
            subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(PY), "-m", "pip", "install", "-q", "uv"], check=True)
        subprocess.run(
            [
                str(VENV / "bin" / "uv"),
                "pip",
                "install",
                "-q",
                "--python",
                str(PY),
                *REQUIREMENTS,
                "-e",
                str(ROOT),
            ],
            check=True,
        )
        stamp.touch()
    # The editable install's build leftover in the checkout: with ROOT on the services' PYTHONPATH
    # it would be a second copy of the distribution (the Live events plugin registered twice).
    shutil.rmtree(ROOT / "airflow_live_provider.egg-info", ignore_errors=True)


# -- stage 2: run ----------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Cluster:
    """Every process started, so that all of them are stopped, whatever happens."""

    def __init__(self) -> None:
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.logs = WORK / "logs"

    def start(
        self, name: str, args: list[str], env: dict[str, str] | None = None, log_name: str | None = None
    ) -> subprocess.Popen[bytes]:
        out = open(self.logs / f"{log_name or name}.log", "wb")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append((name, proc))
        return proc

    def kill(self, name: str) -> None:
        """SIGKILL a service and everything it started (a crash, not a shutdown)."""
        for own, proc in self.procs:
            if own == name and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def stop(self) -> None:
        for _name, proc in reversed(self.procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.time() + 20
        for _name, proc in reversed(self.procs):
            try:
                proc.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def wait_for(what: str, check: Any, timeout: float = 120) -> Any:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            result = check()
        except Exception:  # noqa: BLE001 - not up yet
            result = None
        if result:
            return result
        time.sleep(1)
    raise RuntimeError(f"{what} did not come up within {timeout:.0f} s")


def http(method: str, url: str, token: str | None = None, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback only
        return json.loads(response.read() or b"null")


def run() -> int:
    sys.path.insert(0, str(ROOT))
    import boto3
    import pendulum

    from airflow_live_provider.simulator import SimulatorServer
    from airflow_live_provider.simulator import isdp as isdp_sim
    from airflow_live_provider.simulator import polyv as polyv_sim
    from airflow_live_provider.simulator import volcengine as volc_sim

    if WORK.exists():
        for child in WORK.iterdir():
            if child.name != "venv":
                shutil.rmtree(child) if child.is_dir() else child.unlink()
    cluster = Cluster()
    cluster.logs.mkdir(parents=True)
    ports = {name: free_port() for name in ("pg", "redis", "s3", "api", "w1_logs", "w2_logs", "trigger_logs")}
    failures: list[str] = []
    sim = SimulatorServer().start()
    metrics = StatsdListener()
    try:
        # PostgreSQL (as the postgres user: initdb refuses root) and Redis.
        pg_data, pg_sock = WORK / "pg", WORK / "pgsock"
        for folder in (pg_data, pg_sock):
            folder.mkdir()
            shutil.chown(folder, "postgres", "postgres")
        pg = pg_bin()
        assert pg is not None
        as_postgres = ["runuser", "-u", "postgres", "--"]
        subprocess.run(
            [*as_postgres, str(pg / "initdb"), "-D", str(pg_data), "-A", "trust", "-U", "postgres"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        cluster.start(
            "postgres",
            [
                *as_postgres,
                str(pg / "postgres"),
                "-D",
                str(pg_data),
                "-p",
                str(ports["pg"]),
                "-k",
                str(pg_sock),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
            ],
        )
        psql = [str(pg / "psql"), "-h", "127.0.0.1", "-p", str(ports["pg"]), "-U", "postgres", "-q"]
        wait_for(
            "PostgreSQL",
            lambda: subprocess.run([*psql, "-c", "select 1"], capture_output=True).returncode == 0,
        )
        subprocess.run([*psql, "-c", "create database airflow"], check=True)
        cluster.start(
            "redis",
            [
                "redis-server",
                "--port",
                str(ports["redis"]),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
        )
        # The object store and its bucket.
        cluster.start("s3", [str(VENV / "bin" / "moto_server"), "-H", "127.0.0.1", "-p", str(ports["s3"])])
        s3_url = f"http://127.0.0.1:{ports['s3']}"
        s3 = boto3.client(
            "s3",
            endpoint_url=s3_url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
        )
        wait_for("the S3 store", lambda: s3.create_bucket(Bucket=BUCKET))

        # Airflow: one environment, a home per service group, a hostname per worker.
        (WORK / "cluster_hostname.py").write_text(
            "import os, socket\n\ndef hostname():\n"
            "    return os.environ.get('CLUSTER_WORKER_NAME') or socket.getfqdn()\n"
        )
        api = f"http://127.0.0.1:{ports['api']}"
        db = f"postgresql+psycopg2://postgres@127.0.0.1:{ports['pg']}/airflow"
        aws = {
            "conn_type": "aws",
            "extra": {
                "endpoint_url": s3_url,
                "aws_access_key_id": "testing",
                "aws_secret_access_key": "testing",
                "region_name": "us-east-1",
            },
        }
        base_env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")},
            **sim.connection_env(),
            "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(aws),
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": db,
            "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:{ports['redis']}/0",
            "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql://postgres@127.0.0.1:{ports['pg']}/airflow",
            "AIRFLOW__CORE__DAGS_FOLDER": str(cluster_dags()),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            # Session watchers poll every 5 s and call a stream ended after 10 s offline.
            "AIRFLOW__LIVE_PROVIDER__SESSION_POLL_SECONDS": str(SESSION_POLL_SECONDS),
            "AIRFLOW__LIVE_PROVIDER__SESSION_OFFLINE_GRACE_SECONDS": str(SESSION_GRACE_SECONDS),
            "AIRFLOW__LIVE_PROVIDER__CALENDAR_POLL_SECONDS": str(CALENDAR_POLL_SECONDS),
            # Metrics on, every service to one UDP listener of this script (workers and triggerer).
            "AIRFLOW__METRICS__STATSD_ON": "True",
            "AIRFLOW__METRICS__STATSD_HOST": "127.0.0.1",
            "AIRFLOW__METRICS__STATSD_PORT": str(metrics.port),
            "AIRFLOW__METRICS__METRICS_ALLOW_LIST": "live_provider",  # only ours: no packet lost in a flood
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api}/execution/",
            "AIRFLOW__API__BASE_URL": api,
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(64),
            "AIRFLOW__CORE__FERNET_KEY": "",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(WORK / "passwords.json"),
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "cluster_hostname.hostname",
            "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "30",
            # Airflow's log servers listen on every interface (its choice): at least not on 8793/8794.
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(ports["trigger_logs"]),
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            # A killed triggerer's triggers go to its successor once it is seen dead (default 30 s).
            "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "15",
            "AIRFLOW__SCHEDULER__CREATE_CRON_DATA_INTERVALS": "False",
            # Runs the scheduler starts itself (the snapshot DAG's @daily run once unpaused) get no
            # output_dir: their default location must be one every worker reads too.
            "AIRFLOW__LIVE_PROVIDER__OUTPUT_ROOT": f"s3://aws_default@{BUCKET}/default",
            "AIRFLOW_VAR_LIVE_EVENTS_CALENDAR": f"s3://aws_default@{BUCKET}/calendar.json",
            "PYTHONPATH": os.pathsep.join([str(WORK), str(ROOT)]),
        }

        def env_for(home: str, **extra: str) -> dict[str, str]:
            folder = WORK / home
            folder.mkdir(exist_ok=True)
            return {**base_env, "AIRFLOW_HOME": str(folder), **extra}

        airflow = str(VENV / "bin" / "airflow")
        main_env = env_for("home-main")
        subprocess.run([airflow, "db", "migrate"], env=main_env, check=True, stdout=subprocess.DEVNULL)
        cluster.start(
            "api-server",
            [airflow, "api-server", "--host", "127.0.0.1", "--port", str(ports["api"])],
            main_env,
        )
        cluster.start("scheduler", [airflow, "scheduler"], main_env)
        cluster.start("dag-processor", [airflow, "dag-processor"], main_env)
        cluster.start("triggerer", [airflow, "triggerer"], main_env)
        for index, name in enumerate(WORKERS, start=1):
            worker_env = env_for(
                f"home-{name}",
                CLUSTER_WORKER_NAME=name,
                AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(ports[f"w{index}_logs"]),
            )
            cluster.start(
                name,
                [airflow, "celery", "worker", "--celery-hostname", f"{name}@%h", "--concurrency", "2"],
                worker_env,
            )
        wait_for("the API server", lambda: http("GET", f"{api}/api/v2/monitor/health"), timeout=180)
        password = json.loads((WORK / "passwords.json").read_text())["admin"]
        token = http("POST", f"{api}/auth/token", body={"username": "admin", "password": password})[
            "access_token"
        ]
        for dag_id in ("polyv_subaccount_snapshot", PLANNER, TREND_DAG, EVENT_DAG, SESSIONS_DAG, LOAD_DAG):
            wait_for(
                f"DAG {dag_id}", lambda d=dag_id: http("GET", f"{api}/api/v2/dags/{d}", token), timeout=180
            )

        # The event calendar, in the bucket like everything else (issue #20's scenario): event A
        # starts a few minutes ahead and its stream never goes live; event B starts shortly after
        # and goes live; 20 ISDP-only events start within the same minutes (22 instances, more
        # than Airflow's default of 16 active runs per DAG).
        now = pendulum.now("UTC").replace(microsecond=0)
        a_start = now.add(seconds=EVENT_A_IN)

        def event(
            name: str, when: Any, stream: str | None = None, grace: int | None = None
        ) -> dict[str, Any]:
            entry: dict[str, Any] = {
                "name": name,
                "start": when.isoformat(),
                "duration_minutes": 5,
                "isdp": {
                    "channel_ids": list(isdp_sim.DEMO_CHANNEL_IDS),
                    "user_account": isdp_sim.DEMO_USER_ACCOUNT,
                },
            }
            if stream:
                entry["volcengine"] = {
                    "vhost": volc_sim.DEMO_VHOST,
                    "app": volc_sim.DEMO_APP,
                    "stream": stream,
                }
                if grace:
                    entry["volcengine"]["go_live_grace_minutes"] = grace
                entry["polyv"] = {
                    "channel_id": polyv_sim.DEMO_TRANSMIT_CHANNEL_ID,
                    "receive_channel_names": [f"{stream}-a", f"{stream}-b"],
                    "viewers": ["viewer-1", "viewer-2"],
                }
            return entry

        events = [
            event("Event A", a_start, "stream-a", grace=1),
            event("Event B", a_start.add(seconds=30), SESSION_STREAM),
        ]
        events += [event(f"ISDP only {n:02d}", a_start.add(seconds=3 * n)) for n in range(1, 21)]
        # Issue #29's edits, made once the first planner run's runs have issued what they issue at
        # once (see edit_calendar below); nobody re-triggers the planner for them.
        sim.isdp.channels.update(EDIT_CHANNELS.values())
        sim.volcengine.set_stream(volc_sim.DEMO_VHOST, volc_sim.DEMO_APP, "extended", online_in=0)
        edits = edit_events(now, a_start)
        events += [edits["before"][k] for k in ("viewer", "earlier", "deleted", "extended")]
        starts = {e["name"]: pendulum.parse(e["start"]) for e in events}
        starts.update({e["name"]: pendulum.parse(e["start"]) for e in edits["after"]})
        s3.put_object(Bucket=BUCKET, Key="calendar.json", Body=json.dumps({"events": events}).encode())
        # B's stream goes live 20 s before its start (a session starts); A's never does.
        session_start = threading.Timer(
            EVENT_A_IN + 10,
            sim.volcengine.start_session,
            (volc_sim.DEMO_VHOST, volc_sim.DEMO_APP, SESSION_STREAM),
        )
        session_start.start()
        outputs = f"s3://aws_default@{BUCKET}"
        # The planner finds the calendar through its Variable (set for every service below), so
        # its own hourly run, started when it is unpaused, plans the same instances as the two
        # triggered runs: three planner runs, one live_event run per instance all the same.
        planner_conf: dict[str, Any] = {}
        # The trend DAG is not triggered: the scheduler runs it when the snapshot's asset event lands.
        # Unpausing the session DAGs makes their assets' watchers start in the triggerer.
        for dag_id in (TREND_DAG, "polyv_subaccount_snapshot", PLANNER, SESSIONS_DAG, LOAD_DAG):
            http("PATCH", f"{api}/api/v2/dags/{dag_id}?update_mask=is_paused", token, {"is_paused": False})

        def trigger(dag_id: str, conf: dict[str, Any]) -> str:
            created = http(
                "POST", f"{api}/api/v2/dags/{dag_id}/dagRuns", token, {"logical_date": None, "conf": conf}
            )
            log(f"triggered {dag_id}: {created['dag_run_id']}")
            return str(created["dag_run_id"])

        trigger("polyv_subaccount_snapshot", {"output_dir": f"{outputs}/snapshots"})
        trigger(PLANNER, planner_conf)
        time.sleep(60)
        trigger(PLANNER, planner_conf)  # a minute later: must plan nothing new
        edited_at = edit_calendar(sim, s3, events, edits)

        def dag_runs_of(dag_id: str) -> list[dict[str, Any]]:
            return list(http("GET", f"{api}/api/v2/dags/{dag_id}/dagRuns?limit=100", token)["dag_runs"])

        def waiting_for_moments() -> int | None:
            """The ISDP token steps deferred to their moments (None until 20 of them are)."""
            waiting = 0
            for dag_run in dag_runs_of(EVENT_DAG):
                ti = http(
                    "GET",
                    f"{api}/api/v2/dags/{EVENT_DAG}/dagRuns/{dag_run['dag_run_id']}/taskInstances/isdp_tokens",
                    token,
                )
                waiting += ti["state"] == "deferred"
            return waiting if waiting >= 20 else None

        deferred_before_kill = wait_for(
            "20 instances waiting for their moments", waiting_for_moments, timeout=EVENT_A_IN - 150
        )
        # The triggerer dies (SIGKILL) while the instances wait, and comes back: the moments must
        # still fire once each (Airflow re-creates the triggers from the database).
        cluster.kill("triggerer")
        time.sleep(3)
        cluster.start("triggerer", [airflow, "triggerer"], main_env, log_name="triggerer-restarted")
        log(f"triggerer killed (SIGKILL) with {deferred_before_kill} token steps waiting, and restarted")

        def all_runs_done() -> list[dict[str, Any]] | None:
            found = []
            for dag_id in ("polyv_subaccount_snapshot", PLANNER, TREND_DAG, EVENT_DAG):
                dag_runs = dag_runs_of(dag_id)
                if not dag_runs:
                    return None  # the trend run appears only after the snapshot's asset event
                found += dag_runs
            if all(r["state"] in ("success", "failed") for r in found):
                return found
            return None

        dag_runs = wait_for("every DAG run to finish", all_runs_done, timeout=EVENT_A_IN + RUN_TIMEOUT)
        session_report = stream_sessions(
            sim,
            cluster,
            lambda: dag_runs_of(SESSIONS_DAG),
            lambda: asset_events(api, token),
            failures,
            restart=lambda n: cluster.start(
                "triggerer", [airflow, "triggerer"], main_env, log_name=f"triggerer-{n + 2}"
            ),
        )
        per_worker: dict[str, int] = {}
        event_runs = {r["dag_run_id"]: r for r in dag_runs if r["dag_id"] == EVENT_DAG}
        for dag_run in dag_runs:
            is_a = dag_run["dag_id"] == EVENT_DAG and dag_run["dag_run_id"].startswith("event__event-a__")
            if dag_run["state"] != ("failed" if is_a else "success"):
                failures.append(f"{dag_run['dag_id']} run {dag_run['dag_run_id']} ended {dag_run['state']}")
            tis = http(
                "GET",
                f"{api}/api/v2/dags/{dag_run['dag_id']}/dagRuns/{dag_run['dag_run_id']}/taskInstances",
                token,
            )["task_instances"]
            for ti in tis:
                if ti["state"] == "success":
                    per_worker[ti["hostname"]] = per_worker.get(ti["hostname"], 0) + 1
        # Exactly one live_event run per instance, named after it; each planner run quick.
        names = sorted(r.split("__")[1] for r in event_runs)
        expected_names = sorted(
            ["event-a", "event-b", *[f"isdp-only-{n:02d}" for n in range(1, 21)], *EDITED_RUNS]
        )
        if names != expected_names:
            failures.append(f"live_event runs are not one per instance and edit: {sorted(event_runs)}")
        planner_runs = [r for r in dag_runs if r["dag_id"] == PLANNER]
        if len([r for r in planner_runs if r["run_type"] == "manual"]) != 2:
            failures.append(f"expected the two triggered planner runs, got {len(planner_runs)} runs")
        for r in planner_runs:
            took = (pendulum.parse(r["end_date"]) - pendulum.parse(r["start_date"])).total_seconds()
            if took > 120:
                failures.append(f"planner run {r['dag_run_id']} took {took:.0f} s (over two minutes)")
        # One trend run per snapshot run (unpausing the snapshot DAG also starts its @daily run),
        # each started by the scheduler because that snapshot's asset event landed.
        trend_runs = [r["run_type"] for r in dag_runs if r["dag_id"] == TREND_DAG]
        snapshot_runs = [r for r in dag_runs if r["dag_id"] == "polyv_subaccount_snapshot"]
        if trend_runs != ["asset_triggered"] * len(snapshot_runs):
            failures.append(f"trend runs {trend_runs} for {len(snapshot_runs)} snapshot run(s)")
        if not set(WORKERS) <= set(per_worker):
            failures.append(f"tasks did not run on both workers: {per_worker}")
        # The real triggerer ran B's token waits and its go-live watch: it wrote their logs.
        [b_run] = [r for r in event_runs if r.startswith("event__event-b__")] or ["?"]
        trigger_logs = WORK / "home-main" / "logs" / f"dag_id={EVENT_DAG}" / f"run_id={b_run}"
        deferred = sorted({p.parts[-2] for p in trigger_logs.glob("task_id=*/*.trigger.*.log")})
        if not {"task_id=go_live", "task_id=isdp_tokens"} <= set(deferred):
            failures.append(f"event B's steps did not defer to the triggerer: {deferred}")

        # Every token set issued exactly once (one getTokenBatch per instance, one watch token per
        # viewer of A and B) and valid at its event's start; A failed naming its stream.
        batches = [t for t in sim.isdp.join_token_log if t["channelIds"] == list(isdp_sim.DEMO_CHANNEL_IDS)]
        watch = [t for t in sim.polyv.watch_tokens.values() if t["viewerId"] in ("viewer-1", "viewer-2")]
        if len(batches) != 22 or len(watch) != 4:
            failures.append(
                f"tokens not issued exactly once: {len(batches)} getTokenBatch (22), {len(watch)} watch (4)"
            )
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
        expected = {
            "snapshot": lambda k: k.startswith("snapshots/polyv_subaccounts_") and k.endswith(".jsonl"),
            "report": lambda k: k.startswith("snapshots/polyv_subaccounts_") and k.endswith(".html"),
            "trend page": lambda k: k.startswith("snapshots/polyv_resource_trend_") and k.endswith(".html"),
            "run sheet": lambda k: k.startswith(f"{SHEETS}/event-b/event__event-b__"),
            "latest page": lambda k: k == f"{SHEETS}/event-b/latest.html",
        }
        for what, matches in expected.items():
            if not any(matches(k) for k in keys):
                failures.append(f"missing in s3://{BUCKET}: {what} (have {len(keys)} keys)")
        # Outputs go straight to their final keys: no temporary or probe dot-key, no unfinished upload.
        dot_keys = [k for k in keys if k.rpartition("/")[2].startswith(".")]
        if dot_keys:
            failures.append(f"temporary keys left in s3://{BUCKET}: {dot_keys}")
        unfinished = [u["Key"] for u in s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])]
        if unfinished:
            failures.append(f"unfinished multipart uploads in s3://{BUCKET}: {unfinished}")
        sheets = [
            json.loads(s3.get_object(Bucket=BUCKET, Key=k)["Body"].read())
            for k in keys
            if k.startswith(f"{SHEETS}/") and k.endswith(".json")
        ]
        latest = {
            k.split("/")[-2]: json.loads(s3.get_object(Bucket=BUCKET, Key=k)["Body"].read())
            for k in keys
            if k.startswith(f"{SHEETS}/") and k.endswith("/latest.json")
        }
        for folder, sheet in sorted(latest.items()):
            if (sheet.get("superseded") or {}).get("status") == "cancelled":
                continue  # the deleted event: checked below, from the simulator's side
            start = starts.get(sheet.get("event"))
            tokens = (sheet.get("isdp") or {}).get("tokens") or []
            tokens += (sheet.get("polyv") or {}).get("watchTokens") or []
            if not tokens or start is None:
                failures.append(f"{folder}: no tokens on its run sheet")
                continue
            for entry in tokens:
                if not pendulum.parse(entry["validFrom"]) <= start <= pendulum.parse(entry["validUntil"]):
                    failures.append(
                        f"{folder}: a token is not valid at the start {start}: {entry['validUntil']}"
                    )
        for folder, expected in (("event-b", 2), ("event-a", 1)):  # each session on its event's sheet
            on_sheet = (latest.get(folder) or {}).get("sessions") or []
            if len(on_sheet) != expected or not all((s.get("durationSeconds") or 0) > 0 for s in on_sheet):
                failures.append(
                    f"{folder}'s run sheet does not hold its {expected} stream session(s): {on_sheet}"
                )
        session_lines = [
            json.loads(line)
            for k in keys
            if k.startswith(f"{SHEETS}/sessions/") and k.endswith(".jsonl")
            for line in s3.get_object(Bucket=BUCKET, Key=k)["Body"].read().decode().splitlines()
        ]
        by_session: dict[str, list[str]] = {}
        for record in session_lines:
            if record["stream"].rsplit("/", 1)[-1] not in SESSION_SCENARIO_STREAMS:
                continue
            by_session.setdefault(f"{record['stream']} {record['sessionId']}", []).append(record["kind"])
        if len(by_session) != 3 or any(sorted(k) != ["ended", "started"] for k in by_session.values()):
            failures.append(f"sessions JSON Lines hold {by_session}, not one started+ended per session (3)")
        go_live_a = ((latest.get("event-a") or {}).get("steps") or {}).get("go_live") or {}
        if go_live_a.get("status") != "failed" or "stream-a" not in str(go_live_a.get("error")):
            failures.append(f"event A's run sheet does not name its stream as not live: {go_live_a}")

        # Issue #29: what the vendors handed out for the edited events, and a clear after an event.
        edit_report = check_edits(sim, starts, edited_at, failures)
        cleared = clear_after_event(api, token, event_runs, sim, dag_runs_of, failures)
        edit_report += f"; {cleared}"

        # The Live events page, served by the api-server (a separate process from the workers):
        # it lists every instance from Airflow's records with no credential in it, and opens B's
        # run sheet (read from the bucket the workers wrote) only for a logged-in user.
        page_problems, list_html, sheet_html = live_events_page(api, token, b_run)
        failures += page_problems

        # Metrics: one `.requests` count per HTTP attempt, whoever made it (workers and triggerer).
        counted = metrics.counters()
        requests_counted = sum(v for k, v in counted.items() if k.endswith(".requests"))
        polls_counted = counted.get("live_provider.volcengine.DescribeLiveStreamState.requests", 0)
        received = len(sim.requests)
        if requests_counted != received:
            failures.append(
                f"metrics counted {requests_counted} vendor requests, the simulator received {received}"
            )
        if not polls_counted or not counted.get("live_provider.isdp.get_token_batch.requests"):
            failures.append(
                f"metrics lack the triggerer's polls or the workers' token calls: {sorted(counted)[:20]}"
            )

        # No secret outside the run sheets: task logs (every home), service logs, the metadata DB.
        found = secrets_in_play(sim, sheets)
        dump = subprocess.run(
            [str(pg / "pg_dump"), *psql[1:-1], "airflow"], capture_output=True, check=True
        ).stdout
        texts = {"metadata DB": dump.decode("utf-8", "replace")}
        for path in WORK.rglob("*"):
            if (
                path.is_file()
                and "venv" not in path.parts
                and "pg" not in path.parts
                and path.suffix in (".log", ".json", "")
            ):
                if "live_provider" in path.parts:
                    continue  # a scheduled run's own local outputs: credentials by design
                texts[str(path.relative_to(WORK))] = path.read_bytes().decode("utf-8", "replace")
        texts["Live events list page"] = list_html
        for where, text in texts.items():
            for index, secret in enumerate(found):
                if secret in text:
                    failures.append(f"secret #{index} leaked into {where}")
        log_files = sum(1 for w in texts if w.endswith(".log"))
        if log_files < 10:
            failures.append(f"only {log_files} log files were searched: task logs are missing")

        summary = (
            f"executor=CeleryExecutor runs={len(dag_runs)} live_event runs={len(event_runs)} "
            f"token calls={len(batches)}+{len(watch)} triggerer killed with {deferred_before_kill} waiting "
            f"tasks per worker={json.dumps(dict(sorted(per_worker.items())))} "
            f"objects={len(keys)} secrets searched={len(found)} in {len(texts)} files+DB "
            f"B deferred to the triggerer={[d.removeprefix('task_id=') for d in deferred]}"
        )
        summary += (
            f" metrics: {requests_counted} requests counted = {received} received ({polls_counted} polls)"
        )
        summary += f" live-events page: {len(list_html)} B list, sheet {'ok' if sheet_html else 'MISSING'}"
        summary += f" {session_report} edits: {edit_report}"
        if failures:
            log("FAILED: " + summary)
            for failure in failures:
                log(f"  - {failure}")
            return 1
        log("OK: " + summary)
        return 0
    finally:
        sim.stop()
        cluster.stop()
        metrics.close()


#: live_event runs the edits make, by event id: one per definition (the deleted one: its only run).
EDITED_RUNS = ["edit-viewer", "edit-viewer", "edit-earlier", "edit-earlier", "edit-deleted"]
EDITED_RUNS += ["edit-extended", "edit-extended"]


def edit_events(now: Any, a_start: Any) -> dict[str, Any]:
    """The four events issue #29 edits, before and after: a viewer added once the first watch
    token is out, moved earlier (from 3 h ahead to before A), deleted, and a running event extended."""
    from airflow_live_provider.simulator import isdp as isdp_sim
    from airflow_live_provider.simulator import polyv as polyv_sim
    from airflow_live_provider.simulator import volcengine as volc_sim

    def isdp(kind: str) -> dict[str, Any]:
        return {"channel_ids": [EDIT_CHANNELS[kind]], "user_account": isdp_sim.DEMO_USER_ACCOUNT}

    viewer = {
        "id": "edit-viewer",
        "name": "Edit: viewer added",
        "start": a_start.subtract(seconds=120).isoformat(),
        "duration_minutes": 5,
        "polyv": {"channel_id": polyv_sim.DEMO_TRANSMIT_CHANNEL_ID, "viewers": ["ev-1"]},
        "isdp": isdp("viewer"),
    }
    earlier = {
        "id": "edit-earlier",
        "name": "Edit: moved earlier",
        "start": now.add(hours=3).isoformat(),
        "duration_minutes": 5,
        "isdp": isdp("earlier"),
    }
    deleted = {
        "id": "edit-deleted",
        "name": "Edit: deleted",
        "start": a_start.isoformat(),
        "isdp": isdp("deleted"),
    }
    extended = {
        "id": "edit-extended",
        "name": "Edit: extended while running",
        "start": now.add(seconds=30).isoformat(),
        "duration_minutes": 5,
        "volcengine": {"vhost": volc_sim.DEMO_VHOST, "app": volc_sim.DEMO_APP, "stream": "extended"},
        "polyv": {"channel_id": polyv_sim.DEMO_TRANSMIT_CHANNEL_ID, "viewers": ["ex-1"]},
        "isdp": isdp("extended"),
    }
    after = [
        viewer | {"polyv": {**viewer["polyv"], "viewers": ["ev-1", "ev-2"]}},
        earlier | {"start": a_start.subtract(seconds=60).isoformat()},
        extended | {"duration_minutes": 12},
    ]
    return {
        "before": {"viewer": viewer, "earlier": earlier, "deleted": deleted, "extended": extended},
        "after": after,
    }


def edit_calendar(sim: Any, s3: Any, events: list[dict[str, Any]], edits: dict[str, Any]) -> Any:
    """Once the first runs issued what they issue at once (the viewer's first watch token, the
    running event's push URLs and join tokens), save the edited calendar; returns when."""
    import pendulum

    def first_credentials_out() -> bool:
        viewers = {t["viewerId"] for t in sim.polyv.watch_tokens.values()}
        pushed = {p["stream"] for p in sim.volcengine.push_url_log}
        joined = {c for t in sim.isdp.join_token_log for c in t["channelIds"]}
        return {"ev-1", "ex-1"} <= viewers and "extended" in pushed and EDIT_CHANNELS["extended"] in joined

    wait_for("the edited events' first credentials", first_credentials_out, timeout=240)
    ids = {e["id"]: e for e in edits["after"]}
    kept = [ids.get(e.get("id"), e) for e in events if e.get("id") != "edit-deleted"]
    s3.put_object(Bucket=BUCKET, Key="calendar.json", Body=json.dumps({"events": kept}).encode())
    edited_at = pendulum.now("UTC")
    log(f"calendar edited at {edited_at}: a viewer added, one event moved earlier, one deleted, one extended")
    return edited_at


def check_edits(sim: Any, starts: dict[str, Any], edited_at: Any, failures: list[str]) -> str:
    """From the simulator's own record: each credential of the edited definitions issued once and
    valid at the (new) start, none for the deleted event, nothing re-issued by the running edit."""
    import pendulum

    def joins(kind: str) -> list[dict[str, Any]]:
        return [t for t in sim.isdp.join_token_log if t["channelIds"] == [EDIT_CHANNELS[kind]]]

    def watch(viewer: str) -> list[dict[str, Any]]:
        return [t for t in sim.polyv.watch_tokens.values() if t["viewerId"] == viewer]

    expected = {
        "Edit: viewer added": ("viewer", ["ev-1", "ev-2"]),
        "Edit: moved earlier": ("earlier", []),
        "Edit: extended while running": ("extended", ["ex-1"]),
    }
    for name, (kind, viewers) in expected.items():
        start = starts[name].int_timestamp
        issued = joins(kind)
        if len(issued) != 1 or not issued[0]["validFrom"] <= start <= issued[0]["validUntil"]:
            failures.append(f"{name}: join tokens {issued}, not one valid at its start {starts[name]}")
        for viewer in viewers:
            tokens = watch(viewer)
            if len(tokens) != 1 or not tokens[0]["issuedAt"] <= start * 1000 <= tokens[0]["expiresAt"]:
                failures.append(
                    f"{name}: watch tokens of {viewer}: {len(tokens)}, not one valid at its start"
                )
    if joins("deleted"):
        failures.append(f"the deleted event got join tokens: {joins('deleted')}")
    pushes = [p for p in sim.volcengine.push_url_log if p["stream"] == "extended"]
    if len(pushes) != 1:
        failures.append(f"the extended event's push URLs were generated {len(pushes)} times (1)")
    elif pushes[0]["expires"] < starts["Edit: extended while running"].add(minutes=12).int_timestamp:
        failures.append("the extended event's push URLs expire before its new end")
    moved = starts["Edit: moved earlier"]
    lead = (moved - pendulum.instance(edited_at)).total_seconds()
    return (
        f"viewer added 1+1 watch tokens, moved earlier ({lead:.0f} s before its new start) 1 join token, "
        f"deleted 0, extended 1 push URL set"
    )


def clear_after_event(
    api: str, token: str, event_runs: dict[str, Any], sim: Any, dag_runs_of: Any, failures: list[str]
) -> str:
    """Clear the viewer-edited event's run (every task) after its event ended: it runs again,
    ends in success, and the vendors hand out nothing more."""
    import pendulum

    [run_id] = [
        r
        for r, v in event_runs.items()
        if r.startswith("event__edit-viewer__") and "ev-2" in json.dumps(v.get("conf"))
    ] or [None]
    if run_id is None:
        failures.append("no live_event run for the viewer-edited definition to clear")
        return "clear: no run"
    before = (len(sim.isdp.join_token_log), len(sim.polyv.watch_tokens), len(sim.volcengine.push_url_log))
    http(
        "POST",
        f"{api}/api/v2/dags/{EVENT_DAG}/clearTaskInstances",
        token,
        {"dry_run": False, "dag_run_id": run_id, "only_failed": False, "reset_dag_runs": True},
    )
    cleared_at = pendulum.now("UTC")

    def finished_again() -> str | None:
        found = [r for r in dag_runs_of(EVENT_DAG) if r["dag_run_id"] == run_id]
        if not found or found[0]["state"] not in ("success", "failed"):
            return None
        ended = found[0].get("end_date")
        return found[0]["state"] if ended and pendulum.parse(ended) >= cleared_at else None

    state = wait_for(f"the cleared run {run_id}", finished_again, timeout=300)
    after = (len(sim.isdp.join_token_log), len(sim.polyv.watch_tokens), len(sim.volcengine.push_url_log))
    if state != "success":
        failures.append(f"the run cleared after its event ended {state}")
    if after != before:
        failures.append(f"clearing a run after its event issued credentials again: {before} -> {after}")
    return f"cleared after its event: {state}, nothing issued"


class StatsdListener:
    """A UDP socket on loopback where every Airflow service's StatsD client sends; a thread keeps
    reading so nothing is dropped while the cluster runs."""

    def __init__(self) -> None:
        import threading

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        self.port = int(self.sock.getsockname()[1])
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                data = self.sock.recv(65535)
            except OSError:
                return
            self.lines.extend(data.decode("utf-8", "replace").splitlines())

    def counters(self) -> dict[str, int]:
        """``live_provider.*`` counters received so far (Airflow's ``airflow.`` prefix removed)."""
        time.sleep(2)  # the last packets of the last tasks
        found: dict[str, int] = {}
        for line in list(self.lines):
            name, _, rest = line.partition(":")
            value, _, kind = rest.partition("|")
            name = name.removeprefix("airflow.")
            if name.startswith("live_provider.") and kind.startswith("c"):
                found[name] = found.get(name, 0) + int(float(value))
        return found

    def close(self) -> None:
        self.sock.close()


LOAD_DAG_FILE = f'''"""{LOAD_STREAMS} watched streams on one connection, vhost and app: one shared poll."""
import pendulum
from airflow.sdk import DAG, AssetAny, task

from airflow_live_provider.assets import volcengine_stream_asset

STREAMS = [
    volcengine_stream_asset(
        "live.demo.example.com", "{LOAD_APP}", f"load-{{n:03d}}", poll_interval={SESSION_POLL_SECONDS}
    )
    for n in range({LOAD_STREAMS})
]
START = pendulum.datetime(2026, 1, 1, tz="UTC")
with DAG("{LOAD_DAG}", schedule=AssetAny(*STREAMS), start_date=START, catchup=False):

    @task
    def noted() -> None:
        print("a load stream changed")

    noted()
'''


def cluster_dags() -> Path:
    """The sample DAGs (and their calendar) as they are in the repository, plus the load DAG."""
    folder = WORK / "dags"
    folder.mkdir(exist_ok=True)
    for source in (ROOT / "dags").iterdir():
        if source.suffix in (".py", ".json"):
            shutil.copy2(source, folder / source.name)
    (folder / f"{LOAD_DAG}.py").write_text(LOAD_DAG_FILE)
    return folder


def asset_events(api: str, token: str) -> list[dict[str, Any]]:
    """Every asset event of the Volcengine session scope asset (the calendar's streams), oldest first."""
    assets = http("GET", f"{api}/api/v2/assets?uri_pattern=stream-sessions&limit=100", token)["assets"]
    ids = [a["id"] for a in assets if a["uri"] == SESSION_SCOPE]
    if not ids:
        return []
    found = http("GET", f"{api}/api/v2/assets/events?asset_id={ids[0]}&limit=100&order_by=timestamp", token)
    return list(found["asset_events"])


#: The streams of the session scenario (the calendar's other streams, e.g. issue #29's "extended",
#: which is online all along, are watched too, and left out of its counts).
SESSION_SCENARIO_STREAMS = (SESSION_STREAM, "stream-a")


def distinct_sessions(events: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """(stream, kind, session id) of each asset event on the scenario's streams, once each, oldest
    first: a watcher restarted while an event was pending fires it again (at-least-once), with the
    same identity."""
    seen: dict[tuple[str, str, str], None] = {}
    for event in events:
        payload = (event.get("extra") or {}).get("payload") or {}
        if str(payload.get("asset_uri")).rsplit("/", 1)[-1] not in SESSION_SCENARIO_STREAMS:
            continue
        seen[(str(payload.get("asset_uri")), str(payload.get("kind")), str(payload.get("session_id")))] = None
    return list(seen)


def stream_sessions(
    sim: Any,
    cluster: Any,
    session_runs: Any,
    session_events: Any,
    failures: list[str],
    *,
    restart: Any,
) -> str:
    """Issues #22 and #32 on the cluster. Three sessions of streams that come from the calendar the
    planner read through its Variable (an object in the bucket): event B's stream twice, event A's
    once. The triggerer is SIGKILLed and restarted six times at random moments: mid-session, right
    after a stream goes live (before or after its "started" fired) and right after it stops
    (before or after its "ended"). Each session must come out as one "started" and one "ended"
    (an event fired again after a restart carries the same session id), every run succeeds, and
    the 500 load streams cost one listing per poll, within Volcengine's 10 requests/s."""
    import random

    seed = random.randrange(10**6)
    rng = random.Random(seed)
    kills: list[str] = []

    def kill(why: str) -> None:
        cluster.kill("triggerer")
        kills.append(why)
        log(f"triggerer killed (SIGKILL) {why}; restarting it")
        time.sleep(3)
        restart(len(kills))

    def until(count: int, what: str) -> list[tuple[str, str, str]]:
        """Until ``count`` distinct session events arrived and every sessions run finished."""

        def done() -> list[tuple[str, str, str]] | None:
            found = distinct_sessions(session_events())
            runs = session_runs()
            settled = len(found) >= count and all(r["state"] in ("success", "failed") for r in runs)
            return found if settled else None

        # A dead triggerer is noticed after 15 s; its watchers then poll again on the new one.
        return list(wait_for(what, done, timeout=240))

    vhost, app = "live.demo.example.com", "live"
    # Session 1: B's stream, started by the timer during B's event (issue #22's session).
    first = until(1, "the 'started' of session 1")
    kill("mid-session")
    time.sleep(15 + SESSION_GRACE_SECONDS + 6 * SESSION_POLL_SECONDS)
    during = distinct_sessions(session_events())
    sim.volcengine.stop_session(vhost, app, SESSION_STREAM)
    time.sleep(rng.uniform(0, SESSION_POLL_SECONDS + SESSION_GRACE_SECONDS))
    kill("right after the stream stopped")
    until(2, "the 'ended' of session 1")
    # Session 2: A's stream (its event's go-live watch failed long ago).
    sim.volcengine.start_session(vhost, app, "stream-a")
    time.sleep(rng.uniform(0, SESSION_POLL_SECONDS + 2))
    kill("right after the stream went live")
    until(3, "the 'started' of session 2")
    sim.volcengine.stop_session(vhost, app, "stream-a")
    time.sleep(SESSION_GRACE_SECONDS + rng.uniform(0, SESSION_POLL_SECONDS))
    kill("around the 'ended'")
    until(4, "the 'ended' of session 2")
    # Session 3: B's stream again, a new push session.
    sim.volcengine.start_session(vhost, app, SESSION_STREAM)
    time.sleep(SESSION_POLL_SECONDS + rng.uniform(0, 2))
    kill("around the 'started'")
    until(5, "the 'started' of session 3")
    sim.volcengine.stop_session(vhost, app, SESSION_STREAM)
    time.sleep(rng.uniform(0, SESSION_POLL_SECONDS))
    kill("right after the stream stopped")
    found = until(6, "the 'ended' of session 3")
    time.sleep(15 + 3 * SESSION_POLL_SECONDS)  # the last restart's re-fires, if any, land too
    found = until(6, "every sessions run to finish")
    runs = session_runs()
    events = session_events()

    if first[:1] != [(f"volclive://{vhost}/{app}/{SESSION_STREAM}", "started", first[0][2])]:
        failures.append(f"the first session event is {first[:1]}, not B's stream starting")
    if len(during) != 1:
        failures.append(f"session events during the first session: {during} (one 'started' expected)")
    per_session: dict[tuple[str, str], list[str]] = {}
    for uri, kind, session in found:
        per_session.setdefault((uri, session), []).append(kind)
    streams = sorted(uri.rsplit("/", 1)[-1] for uri, _ in per_session)
    if sorted(per_session.values()) != [["started", "ended"]] * 3 or streams != sorted(
        [SESSION_STREAM, SESSION_STREAM, "stream-a"]
    ):
        failures.append(f"session events by session: {per_session} (three sessions, started then ended)")
    if not runs or any(r["run_type"] != "asset_triggered" or r["state"] != "success" for r in runs):
        failures.append(f"live_stream_sessions runs: {[(r['run_type'], r['state']) for r in runs]}")
    if len(kills) < 5:
        failures.append(f"the triggerer was killed {len(kills)} times during the sessions, not 5 or more")
    window = 10
    busiest = sim.max_requests_in_window(
        lambda r: r.query.get("Action") == DESCRIBE_ONLINE and r.query.get("App") == LOAD_APP, window
    )
    load_polls = sum(
        1 for r in sim.requests if r.query.get("Action") == DESCRIBE_ONLINE and r.query.get("App") == LOAD_APP
    )
    if not load_polls or busiest > 10 * window:
        failures.append(
            f"{LOAD_STREAMS} watched streams: {load_polls} polls, busiest {window} s held {busiest}"
        )
    return (
        f"sessions: 3 sessions (seed {seed}), {len(found)} distinct events from {len(events)} asset "
        f"events (all streams), {len(runs)} runs, triggerer killed {len(kills)} times ({'; '.join(kills)}); "
        f"{LOAD_STREAMS} watched streams: {load_polls} listings in all, at most {busiest} in any {window} s "
        f"(quota {10 * window})"
    )


def live_events_page(api: str, token: str, b_run: str) -> tuple[list[str], str, str]:
    """Problems with the Live events page, its list HTML and B's sheet HTML."""
    problems: list[str] = []

    def get(path: str, bearer: str | None) -> tuple[int, dict[str, str], str]:
        request = urllib.request.Request(f"{api}{path}")
        if bearer:
            request.add_header("Authorization", f"Bearer {bearer}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                headers = {k.lower(): v for k, v in response.headers.items()}
                return response.status, headers, response.read().decode()
        except urllib.error.HTTPError as error:
            headers = {k.lower(): v for k, v in error.headers.items()}
            return error.code, headers, error.read().decode("utf-8", "replace")

    status, _headers, list_html = get("/live-events/", token)
    if status != 200 or "Event B" not in list_html or "ISDP only 20" not in list_html:
        problems.append(f"Live events list: HTTP {status}, events listed: {'Event B' in list_html}")
    status, headers, sheet_html = get(f"/live-events/runs/{b_run}/sheet", token)
    if (
        status != 200
        or "no-store" not in headers.get("cache-control", "")
        or "join tokens" not in sheet_html
        or "Stream sessions" not in sheet_html
    ):
        problems.append(f"B's run sheet page: HTTP {status}, Cache-Control {headers.get('cache-control')}")
        sheet_html = ""
    # On Airflow's default settings (lazy provider discovery): the plugin through its entry point,
    # its Run sheet tab on run pages, no plugin import error (no second registration).
    status, _headers, body = get("/api/v2/plugins", token)
    views = (
        [
            v
            for p in json.loads(body or "{}").get("plugins", [])
            if p["name"] == "live_events"
            for v in p.get("external_views", [])
        ]
        if status == 200
        else []
    )
    if not any(v.get("destination") == "dag_run" for v in views):
        problems.append(f"/api/v2/plugins: HTTP {status}, live_events views {views}")
    status, _headers, body = get("/api/v2/plugins/importErrors", token)
    if status != 200 or json.loads(body).get("import_errors"):
        problems.append(f"plugin import errors: HTTP {status} {body[:300]}")
    status, _headers, body = get(f"/api/v2/dags/live_event/dagRuns/{b_run}", token)
    if status != 200 or "Event B" not in str(json.loads(body).get("note")):
        problems.append(f"B's run has no note naming it: HTTP {status} {body[:300]}")
    status, headers, _body = get(f"/live-events/dags/live_event/runs/{b_run}/tab", token)
    if status != 200:  # urllib follows the tab's redirect to the sheet
        problems.append(f"B's Run sheet tab: HTTP {status}")
    for path, expected in (
        (f"/live-events/runs/{b_run}/sheet", 401),
        ("/live-events/runs/..%2F..%2Fetc/sheet", 404),
    ):
        status, _headers, _body = get(path, None if expected == 401 else token)
        if status != expected:
            problems.append(f"{path}: HTTP {status}, expected {expected}")
    return problems, list_html, sheet_html


def secrets_in_play(sim: Any, sheets: list[dict[str, Any]]) -> list[str]:
    """Every credential the simulator holds or issued, and every secret the run sheets carry."""
    from airflow_live_provider.events.run_sheets import sheet_secrets

    found = set(sim.secrets())
    for sheet in sheets:
        found.update(sheet_secrets(sheet))
    return sorted(s for s in found if len(s) >= 6)


def main() -> int:
    if "--run" in sys.argv:
        return run()
    install()
    return subprocess.run([str(PY), str(Path(__file__).resolve()), "--run"]).returncode


if __name__ == "__main__":
    raise SystemExit(main())
