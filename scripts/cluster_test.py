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
]
BUCKET = "live-provider"
WORKERS = ("cluster-w1", "cluster-w2")
RUN_TIMEOUT = 360  # seconds for every DAG run to finish


TREND_DAG = "polyv_resource_trend"


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
    stamp = VENV / f".installed-{AIRFLOW_VERSION}"
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

    def start(self, name: str, args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        out = open(self.logs / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append((name, proc))
        return proc

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
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
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
            "AIRFLOW__SCHEDULER__CREATE_CRON_DATA_INTERVALS": "False",
            # Runs the scheduler starts itself (the snapshot DAG's @daily run once unpaused) get no
            # output_dir: their default location must be one every worker reads too.
            "AIRFLOW__LIVE_PROVIDER__OUTPUT_ROOT": f"s3://aws_default@{BUCKET}/default",
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
                [airflow, "celery", "worker", "--celery-hostname", f"{name}@%h", "--concurrency", "1"],
                worker_env,
            )
        wait_for("the API server", lambda: http("GET", f"{api}/api/v2/monitor/health"), timeout=180)
        password = json.loads((WORK / "passwords.json").read_text())["admin"]
        token = http("POST", f"{api}/auth/token", body={"username": "admin", "password": password})[
            "access_token"
        ]
        for dag_id in ("polyv_subaccount_snapshot", "live_event_preprovision", TREND_DAG):
            wait_for(
                f"DAG {dag_id}", lambda d=dag_id: http("GET", f"{api}/api/v2/dags/{d}", token), timeout=180
            )

        # The event calendar, in the bucket like everything else: one event close enough that
        # its ISDP tokens and its go-live watch defer into the triggerer, one 3 h ahead.
        now = pendulum.now("UTC")
        start = now.add(seconds=130).replace(microsecond=0)

        def event(name: str, when: Any, stream: str, isdp_lead: int) -> dict[str, Any]:
            return {
                "name": name,
                "start": when.isoformat(),
                "volcengine": {"vhost": volc_sim.DEMO_VHOST, "app": volc_sim.DEMO_APP, "stream": stream},
                "polyv": {
                    "channel_id": polyv_sim.DEMO_TRANSMIT_CHANNEL_ID,
                    "receive_channel_names": [f"{stream}-a", f"{stream}-b"],
                    "viewers": ["viewer-1", "viewer-2"],
                },
                "isdp": {
                    "channel_ids": list(isdp_sim.DEMO_CHANNEL_IDS),
                    "user_account": isdp_sim.DEMO_USER_ACCOUNT,
                    "token_lead_seconds": isdp_lead,
                },
            }

        calendar = {
            "events": [
                event("Cluster go-live", start, "cluster", 40),
                event("Later", now.add(hours=3), "later", 90),
            ]
        }
        s3.put_object(Bucket=BUCKET, Key="calendar.json", Body=json.dumps(calendar).encode())
        # ISDP's moment (start - 40 s) and the stream going live (at +100 s) both come well after
        # the workers reach those steps: both defer into the triggerer.
        sim.volcengine.set_stream(volc_sim.DEMO_VHOST, volc_sim.DEMO_APP, "cluster", online_in=100)
        outputs = f"s3://aws_default@{BUCKET}"
        confs = {
            "polyv_subaccount_snapshot": {"output_dir": f"{outputs}/snapshots"},
            "live_event_preprovision": {
                "calendar_path": f"{outputs}/calendar.json",
                "output_dir": f"{outputs}/run_sheets",
            },
        }
        # The trend DAG is not triggered: the scheduler runs it when the snapshot's asset event lands.
        http("PATCH", f"{api}/api/v2/dags/{TREND_DAG}?update_mask=is_paused", token, {"is_paused": False})
        runs: dict[str, str] = {}
        for dag_id, conf in confs.items():
            http("PATCH", f"{api}/api/v2/dags/{dag_id}?update_mask=is_paused", token, {"is_paused": False})
            created = http(
                "POST", f"{api}/api/v2/dags/{dag_id}/dagRuns", token, {"logical_date": None, "conf": conf}
            )
            runs[dag_id] = created["dag_run_id"]
            log(f"triggered {dag_id}: {created['dag_run_id']}")

        def all_runs_done() -> list[dict[str, Any]] | None:
            found = []
            for dag_id in [*confs, TREND_DAG]:
                dag_runs = http("GET", f"{api}/api/v2/dags/{dag_id}/dagRuns", token)["dag_runs"]
                if not dag_runs:
                    return None  # the trend run appears only after the snapshot's asset event
                found += dag_runs
            if all(r["state"] in ("success", "failed") for r in found):
                return found
            return None

        dag_runs = wait_for("every DAG run to finish", all_runs_done, timeout=RUN_TIMEOUT)
        per_worker: dict[str, int] = {}
        for dag_run in dag_runs:
            if dag_run["state"] != "success":
                failures.append(f"{dag_run['dag_id']} run {dag_run['dag_run_id']} ended {dag_run['state']}")
            tis = http(
                "GET",
                f"{api}/api/v2/dags/{dag_run['dag_id']}/dagRuns/{dag_run['dag_run_id']}/taskInstances",
                token,
            )["task_instances"]
            for ti in tis:
                if ti["state"] == "success":
                    per_worker[ti["hostname"]] = per_worker.get(ti["hostname"], 0) + 1
        # One trend run per snapshot run (unpausing the snapshot DAG also starts its @daily run),
        # each started by the scheduler because that snapshot's asset event landed.
        trend_runs = [r["run_type"] for r in dag_runs if r["dag_id"] == TREND_DAG]
        snapshot_runs = [r for r in dag_runs if r["dag_id"] == "polyv_subaccount_snapshot"]
        if trend_runs != ["asset_triggered"] * len(snapshot_runs):
            failures.append(f"trend runs {trend_runs} for {len(snapshot_runs)} snapshot run(s)")
        if not set(WORKERS) <= set(per_worker):
            failures.append(f"tasks did not run on both workers: {per_worker}")
        # The real triggerer ran the just-in-time wait and the go-live watch: it wrote their logs.
        trigger_logs = (
            WORK
            / "home-main"
            / "logs"
            / "dag_id=live_event_preprovision"
            / f"run_id={runs['live_event_preprovision']}"
        )
        deferred = sorted(p.parts[-3] for p in trigger_logs.glob("task_id=*/map_index=0/*.trigger.*.log"))
        if deferred != ["task_id=event.go_live", "task_id=event.issue_tokens"]:
            failures.append(f"the close event's steps did not both defer to the triggerer: {deferred}")

        # What must be in the bucket, and valid at the event's start.
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
        expected = {
            "snapshot": lambda k: k.startswith("snapshots/polyv_subaccounts_") and k.endswith(".jsonl"),
            "report": lambda k: k.startswith("snapshots/polyv_subaccounts_") and k.endswith(".html"),
            "trend page": lambda k: k.startswith("snapshots/polyv_resource_trend_") and k.endswith(".html"),
            "run sheet": lambda k: k.startswith("run_sheets/cluster-go-live/manual__"),
            "latest sheet": lambda k: k == "run_sheets/cluster-go-live/latest.json",
            "latest page": lambda k: k == "run_sheets/cluster-go-live/latest.html",
            "later event's sheet": lambda k: k == "run_sheets/later/latest.json",
        }
        for what, matches in expected.items():
            if not any(matches(k) for k in keys):
                failures.append(f"missing in s3://{BUCKET}: {what} (have {keys})")
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
            if k.startswith("run_sheets/") and k.endswith(".json")
        ]
        latest = next(
            (s for s in sheets if s.get("event") == "Cluster go-live" and s["isdp"]["tokens"]), None
        )
        if latest is None:
            failures.append("the close event's run sheet has no ISDP join tokens")
        else:
            for token_entry in latest["isdp"]["tokens"]:
                valid = (
                    pendulum.parse(token_entry["validFrom"])
                    <= start
                    <= pendulum.parse(token_entry["validUntil"])
                )
                if not valid:
                    failures.append(
                        f"an ISDP join token is not valid at the start {start}: {token_entry['validUntil']}"
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
        for where, text in texts.items():
            for index, secret in enumerate(found):
                if secret in text:
                    failures.append(f"secret #{index} leaked into {where}")
        log_files = sum(1 for w in texts if w.endswith(".log"))
        if log_files < 10:
            failures.append(f"only {log_files} log files were searched: task logs are missing")

        summary = (
            f"executor=CeleryExecutor runs={len(dag_runs)} "
            f"tasks per worker={json.dumps(dict(sorted(per_worker.items())))} "
            f"objects={len(keys)} secrets searched={len(found)} in {len(texts)} files+DB "
            f"deferred to the triggerer={[d.removeprefix('task_id=') for d in deferred]}"
        )
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


def secrets_in_play(sim: Any, sheets: list[dict[str, Any]]) -> list[str]:
    """Every credential the simulator holds or issued, and every secret the run sheets carry."""
    from airflow_live_provider.run_sheets import sheet_secrets

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
