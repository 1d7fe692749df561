"""docker-compose.yaml and Dockerfile, checked by structure (no Docker engine runs here).

The compose file is parsed as Docker Compose reads it: YAML anchors and ``<<`` merge keys are
resolved, then ``${VAR:-default}`` / ``$$`` interpolation is applied with an empty environment
(what a user gets with no .env file). The simulator service's command is also run for real.
"""

from __future__ import annotations

import json
import os
import re
import select
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
import yaml

from airflow_live_provider.get_provider_info import get_provider_info
from airflow_live_provider.simulator import SimulatorServer

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"

#: The official Airflow 3 docker-compose layout, service -> command.
AIRFLOW_COMMANDS = {
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-worker": "celery worker",
    "airflow-triggerer": "triggerer",
}
AIRFLOW_SERVICES = (*AIRFLOW_COMMANDS, "airflow-init")
OFFICIAL_SERVICES = ("postgres", "redis", *AIRFLOW_SERVICES)
SIMULATOR_URL = "http://simulator:8999"
DEFAULT_DAGS_FOLDER = "/opt/airflow/dags"

_VAR = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<default>[^}]*))?\}"
    r"|(?P<named>[A-Za-z_][A-Za-z0-9_]*))"
)


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Docker Compose variable interpolation (the subset this project uses), recursively."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        if match.group("escaped"):
            return "$"
        name = match.group("braced") or match.group("named")
        op, default = match.group("op"), match.group("default") or ""
        if op == ":-":
            return env.get(name) or default
        if op == "-":
            return env.get(name, default)
        if op in (":?", "?"):
            assert name in env, f"compose requires variable {name}: {default}"
        return env.get(name, "")

    return _VAR.sub(substitute, value)


@pytest.fixture(scope="module")
def raw_compose() -> dict[str, Any]:
    """The compose file with anchors and merge keys resolved, before interpolation."""
    data = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def compose(raw_compose: dict[str, Any]) -> dict[str, Any]:
    """The compose file as Docker Compose sees it with no .env file."""
    return interpolate(raw_compose, {})


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


@pytest.fixture(scope="module")
def simulator_env() -> dict[str, str]:
    """What the simulator itself says the connections are, with the compose service's URL."""
    with SimulatorServer(port=0) as server:
        return server.connection_env(SIMULATOR_URL)


@pytest.fixture(scope="module")
def vendors_without_demo_connections() -> list[str]:
    with SimulatorServer(port=0) as server:
        vendors = {"polyv": server.polyv, "volcengine": server.volcengine, "isdp": server.isdp}
        return [name for name, sim in vendors.items() if not sim.connections(SIMULATOR_URL)]


def environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment as a dict (compose accepts a mapping or ``KEY=VALUE`` list)."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def command_argv(service: dict[str, Any]) -> list[str]:
    command = service.get("command", [])
    return command.split() if isinstance(command, str) else [str(part) for part in command]


def container_ports(service: dict[str, Any]) -> set[int]:
    """Ports other services can reach: ``expose`` plus the container side of ``ports``."""
    ports = {int(str(p).split("/")[0]) for p in service.get("expose", [])}
    for mapping in service.get("ports", []):
        target = mapping.get("target") if isinstance(mapping, dict) else str(mapping).split(":")[-1]
        ports.add(int(str(target).split("/")[0]))
    return ports


def bind_mounts(service: dict[str, Any]) -> dict[str, str]:
    """``{container path: host path}`` of a service's short-syntax or long-syntax volumes."""
    mounts: dict[str, str] = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            mounts[volume["target"]] = volume["source"]
        else:
            source, target = str(volume).split(":")[:2]
            mounts[target] = source
    return mounts


def dependencies(service: dict[str, Any]) -> dict[str, str]:
    """``{service: condition}``; the short list form means ``service_started``."""
    depends = service.get("depends_on") or {}
    if isinstance(depends, list):
        return {name: "service_started" for name in depends}
    return {name: (spec or {}).get("condition", "service_started") for name, spec in depends.items()}


def conn_vars(service: dict[str, Any]) -> dict[str, str]:
    return {k: v for k, v in environment(service).items() if k.startswith("AIRFLOW_CONN_")}


def conn_host(value: str) -> str:
    """The host of an ``AIRFLOW_CONN_*`` value: JSON (``host`` field) or a connection URI."""
    if value.lstrip().startswith("{"):
        return str(json.loads(value)["host"])
    return value


# -- the official layout ------------------------------------------------------------------------


def test_every_service_of_the_official_layout_runs_its_command(services: dict[str, dict[str, Any]]) -> None:
    missing = [name for name in (*OFFICIAL_SERVICES, "simulator") if name not in services]
    assert not missing, f"services missing from docker-compose.yaml: {missing}"
    for name, command in AIRFLOW_COMMANDS.items():
        assert command_argv(services[name]) == command.split(), name
    assert "8080" in {str(p).split(":")[0] for p in services["airflow-apiserver"]["ports"]}
    assert 8080 in container_ports(services["airflow-apiserver"])
    assert environment(services["airflow-init"])["_AIRFLOW_DB_MIGRATE"] == "true"


def test_long_running_services_have_healthchecks_and_dependencies_wait_for_them(
    services: dict[str, dict[str, Any]],
) -> None:
    active = {name: svc for name, svc in services.items() if not svc.get("profiles")}
    for name, svc in active.items():
        if name == "airflow-init":
            continue  # a one-shot job: the others wait for it to complete instead
        test = svc.get("healthcheck", {}).get("test")
        assert test and test[0] in ("CMD", "CMD-SHELL"), f"{name} has no healthcheck"

    for name, svc in services.items():
        for dep, condition in dependencies(svc).items():
            assert dep in services, f"{name} depends on unknown service {dep}"
            if condition == "service_healthy":
                assert services[dep].get("healthcheck"), f"{name} waits for {dep} health, it has none"
            else:
                assert (dep, condition) == ("airflow-init", "service_completed_successfully"), (name, dep)

    for name in AIRFLOW_COMMANDS:
        deps = dependencies(services[name])
        assert deps.get("postgres") == deps.get("redis") == "service_healthy", name
        assert deps.get("airflow-init") == "service_completed_successfully", name
    worker_deps = dependencies(services["airflow-worker"])
    # Workers run tasks through the API server's Execution API, against the simulator.
    assert worker_deps["airflow-apiserver"] == "service_healthy"
    assert worker_deps["simulator"] == "service_healthy"

    # A start order exists: no dependency cycle.
    order: list[str] = []
    remaining = {name: set(dependencies(svc)) for name, svc in active.items()}
    while remaining:
        ready = [name for name, deps in remaining.items() if deps <= set(order)]
        assert ready, f"dependency cycle among {sorted(remaining)}"
        order += ready
        for name in ready:
            del remaining[name]


def test_every_airflow_service_uses_the_celery_executor_with_the_compose_broker_and_database(
    services: dict[str, dict[str, Any]],
) -> None:
    for name in AIRFLOW_SERVICES:
        env = environment(services[name])
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        for key in (
            "AIRFLOW__CELERY__BROKER_URL",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
            "AIRFLOW__CELERY__RESULT_BACKEND",
        ):
            target = urlsplit(env[key])
            assert target.hostname in services, f"{name} {key} points at {target.hostname}"
            assert (target.port or 0) in {0, *container_ports(services[target.hostname])}, (name, key)
        assert not env.get("_PIP_ADDITIONAL_REQUIREMENTS"), f"{name}: install through the Dockerfile"


def test_airflow_services_and_simulator_run_the_image_built_from_the_dockerfile(
    services: dict[str, dict[str, Any]],
) -> None:
    images = set()
    for name in (*AIRFLOW_SERVICES, "simulator"):
        build = services[name].get("build")
        assert build is not None, f"{name} does not build the project's image"
        context = build if isinstance(build, str) else build.get("context", ".")
        dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
        assert (COMPOSE_FILE.parent / context / dockerfile).resolve() == DOCKERFILE, name
        images.add(services[name].get("image"))
    assert len(images) == 1 and None not in images, f"one image tag for all, got {images}"


def test_jwt_secret_and_execution_api_url_are_shared_by_every_airflow_service(
    services: dict[str, dict[str, Any]],
) -> None:
    secrets = {environment(services[name]).get("AIRFLOW__API_AUTH__JWT_SECRET") for name in AIRFLOW_SERVICES}
    assert len(secrets) == 1, f"JWT secrets differ between Airflow services: {len(secrets)} values"
    (secret,) = secrets
    assert secret, "AIRFLOW__API_AUTH__JWT_SECRET is empty with no .env file"
    # HS512 wants a key of at least 64 bytes; PyJWT warns (InsecureKeyLengthWarning) below that.
    assert len(secret.encode()) >= 64, f"the default JWT secret is {len(secret.encode())} bytes; use >= 64"

    urls = {
        environment(services[name]).get("AIRFLOW__CORE__EXECUTION_API_SERVER_URL")
        for name in AIRFLOW_SERVICES
    }
    assert urls == {"http://airflow-apiserver:8080/execution/"}
    assert 8080 in container_ports(services["airflow-apiserver"])


def test_jwt_secret_can_be_overridden_for_all_services_at_once(raw_compose: dict[str, Any]) -> None:
    custom = interpolate(raw_compose, {"AIRFLOW_JWT_SECRET": "from-dot-env"})["services"]
    assert {environment(custom[name])["AIRFLOW__API_AUTH__JWT_SECRET"] for name in AIRFLOW_SERVICES} == {
        "from-dot-env"
    }


def test_dags_are_mounted_where_the_dag_processor_and_workers_read_them(
    services: dict[str, dict[str, Any]],
) -> None:
    for name in ("airflow-dag-processor", "airflow-worker", "airflow-scheduler", "airflow-triggerer"):
        dags_folder = environment(services[name]).get("AIRFLOW__CORE__DAGS_FOLDER", DEFAULT_DAGS_FOLDER)
        mounts = {PurePosixPath(target): source for target, source in bind_mounts(services[name]).items()}
        source = mounts.get(PurePosixPath(dags_folder))
        assert source is not None, f"{name}: nothing mounted at {dags_folder}"
        assert (COMPOSE_FILE.parent / source).resolve() == (ROOT / "dags").resolve(), (name, source)
    assert (ROOT / "dags").is_dir()


def test_output_root_is_shared_between_workers(services: dict[str, dict[str, Any]]) -> None:
    """Tasks write files under $AIRFLOW_HOME/live_provider; with several workers it must be shared."""
    for name in ("airflow-worker", "airflow-triggerer"):
        assert "/opt/airflow/live_provider" in bind_mounts(services[name]), name


# -- connections -> the simulator ---------------------------------------------------------------


def test_every_connection_targets_a_compose_service_and_port(services: dict[str, dict[str, Any]]) -> None:
    found = 0
    for name in AIRFLOW_SERVICES:
        for var, value in conn_vars(services[name]).items():
            target = urlsplit(conn_host(value))
            assert target.scheme in ("http", "https"), f"{var}: host must be a full base URL"
            assert target.hostname in services, f"{var} points at {target.hostname}, not a compose service"
            port = target.port or (443 if target.scheme == "https" else 80)
            assert port in container_ports(services[target.hostname]), f"{var}: {target.hostname}:{port}"
            found += 1
    assert found, "no AIRFLOW_CONN_* in the Airflow services"


def test_connections_equal_the_simulators_demo_connections(
    services: dict[str, dict[str, Any]],
    simulator_env: dict[str, str],
    vendors_without_demo_connections: list[str],
) -> None:
    expected = {var: json.loads(value) for var, value in simulator_env.items()}
    for name in AIRFLOW_SERVICES:
        actual = {var: json.loads(value) for var, value in conn_vars(services[name]).items()}
        assert actual == expected, f"{name}: AIRFLOW_CONN_* differ from the simulator's demo connections"
    assert not vendors_without_demo_connections, "every vendor's sample DAG tasks need a default connection"
    registered = {conn["connection-type"] for conn in get_provider_info()["connection-types"]}
    assert {conn["conn_type"] for conn in expected.values()} == registered


def test_simulator_service_port_healthcheck_and_public_url_agree(services: dict[str, dict[str, Any]]) -> None:
    sim = services["simulator"]
    argv = command_argv(sim)
    assert argv[:3] == ["python", "-m", "airflow_live_provider.simulator"]
    port = int(argv[argv.index("--port") + 1])
    assert argv[argv.index("--bind") + 1] == "0.0.0.0"  # reachable from the other containers
    assert argv[argv.index("--public-url") + 1] == f"http://simulator:{port}" == SIMULATOR_URL
    assert port in container_ports(sim)
    health = urlsplit(sim["healthcheck"]["test"][-1])
    assert (health.hostname, health.port) == ("localhost", port)
    assert not sim.get("ports"), "the simulator is a test double: never publish it on the host"


# -- the simulator service's command, for real ----------------------------------------------


class Output:
    """A child's stdout read straight from the pipe with a deadline, so a stuck child fails the test."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        self.fd = proc.stdout.fileno()
        self.text = ""

    def _read(self, deadline: float) -> bool:
        """Append what the child wrote; False at end of file."""
        ready, _, _ = select.select([self.fd], [], [], max(0.0, deadline - time.monotonic()))
        assert ready, f"timed out reading the simulator's output; so far: {self.text!r}"
        chunk = os.read(self.fd, 65536)
        self.text += chunk.decode("utf-8")
        return bool(chunk)

    def read_until(self, pattern: str, *, seconds: float = 30) -> re.Match[str] | None:
        deadline = time.monotonic() + seconds
        while not (match := re.search(pattern, self.text)) and self._read(deadline):
            pass
        return match

    def read_to_eof(self, *, seconds: float = 30) -> str:
        deadline = time.monotonic() + seconds
        while self._read(deadline):
            pass
        return self.text


@pytest.fixture
def simulator_process(
    services: dict[str, dict[str, Any]],
) -> Iterator[tuple[subprocess.Popen[bytes], Output, int]]:
    """The compose simulator command (``--port 0`` so tests never collide), run with this Python."""
    argv = command_argv(services["simulator"])
    argv[argv.index("--port") + 1] = "0"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_CONN_")}
    proc = subprocess.Popen(
        [sys.executable, *argv[1:]],
        cwd=ROOT,
        env={**env, **environment(services["simulator"])},
        stdout=subprocess.PIPE,
    )
    try:
        output = Output(proc)
        match = output.read_until(r"listening on 0\.0\.0\.0:(\d+)")
        assert match, output.text
        yield proc, output, int(match.group(1))
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()


def test_simulator_command_serves_health_and_prints_the_compose_connections(
    simulator_process: tuple[subprocess.Popen[bytes], Output, int],
    services: dict[str, dict[str, Any]],
    simulator_env: dict[str, str],
) -> None:
    proc, output, port = simulator_process
    health = urlsplit(services["simulator"]["healthcheck"]["test"][-1])
    response = requests.get(f"http://127.0.0.1:{port}{health.path}", timeout=10)
    assert response.status_code == 200 and response.json() == {"status": "ok"}

    proc.send_signal(signal.SIGTERM)  # what `docker compose stop` sends (via dumb-init)
    text = output.read_to_eof()
    assert proc.wait(timeout=30) == 0
    exported = dict(
        line.removeprefix("export ").split("=", 1) for line in text.splitlines() if line.startswith("export ")
    )
    printed = {var: json.loads(shell_unquote(value)) for var, value in exported.items()}
    assert printed == {var: json.loads(value) for var, value in simulator_env.items()}
    for var, value in printed.items():
        assert value["host"] == SIMULATOR_URL, var  # --public-url, not the bound address


def shell_unquote(value: str) -> str:
    """Undo ``shlex.quote`` (the CLI prints shell-ready export lines)."""
    (word,) = shlex.split(value)
    return word


# -- Dockerfile -----------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` with comments dropped and continuation lines joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [
        (parts[0].upper(), parts[1] if len(parts) > 1 else "")
        for parts in (line.split(None, 1) for line in lines if line and not line.startswith("#"))
    ]


def test_dockerfile_extends_the_official_image_at_the_makefile_airflow_version() -> None:
    instructions = dockerfile_instructions()
    froms = [args for op, args in instructions if op == "FROM"]
    assert froms == ["apache/airflow:3.3.2"]
    makefile_version = re.search(r"^AIRFLOW_VERSION \?= (\S+)$", (ROOT / "Makefile").read_text(), re.M)
    assert makefile_version and froms[0] == f"apache/airflow:{makefile_version.group(1)}"


def test_dockerfile_installs_the_project_as_the_airflow_user() -> None:
    user = "root"  # the official image's USER is airflow, but do not rely on it
    installs = []
    copied: dict[str, str] = {}
    for op, args in dockerfile_instructions():
        if op == "USER":
            user = args.split(":")[0]
        elif op == "COPY":
            *sources, dest = [a for a in args.split() if not a.startswith("--")]
            for source in sources:
                copied[source] = dest
        elif op == "RUN" and "pip install" in args:
            installs.append((user, args))
    assert installs, "no pip install in the Dockerfile"
    for user, args in installs:
        assert user == "airflow", f"pip install runs as {user}"
        assert '"apache-airflow==${AIRFLOW_VERSION}"' in args, "pin Airflow so pip cannot change it"
    project_dir = copied["pyproject.toml"].rstrip("/")
    assert any(project_dir in args.split() for _, args in installs), "the copied project is not installed"
    assert copied["airflow_live_provider"].startswith(project_dir)

    ignored = {line.strip().rstrip("/") for line in DOCKERIGNORE.read_text().splitlines()}
    assert {".venv", ".git"} <= ignored
    for source in copied:
        assert (ROOT / source).exists(), f"COPY {source}: not in the build context"
        assert source.rstrip("/") not in ignored, f"COPY {source}: excluded by .dockerignore"


# -- Docker Compose itself, where it is installed ------------------------------------------


def _compose_cli() -> list[str] | None:
    for candidate in (["docker", "compose"], ["docker-compose"]):
        if shutil.which(candidate[0]) is None:
            continue
        probe = subprocess.run([*candidate, "version"], capture_output=True, text=True, timeout=30)
        if probe.returncode == 0:
            return candidate
    return None


def test_docker_compose_config_accepts_the_file_and_resolves_it_as_these_tests_do(
    services: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    """Compose's own validation, and a check of this module's interpolation against the real one."""
    cli = _compose_cli()
    if cli is None:
        pytest.skip("Docker Compose is not installed here; the structure tests above still apply")
    no_dot_env = tmp_path / "empty.env"  # a user's .env must not change what is compared
    no_dot_env.write_text("")
    result = subprocess.run(
        [*cli, "--env-file", str(no_dot_env), "-f", str(COMPOSE_FILE), "config"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/")},
    )
    assert result.returncode == 0, result.stderr
    # `config` prints a valid compose file: literal dollars come back escaped as $$.
    resolved = interpolate(yaml.safe_load(result.stdout)["services"], {})
    assert set(resolved) <= set(services)  # the CLI leaves out services behind profiles
    for name in (*OFFICIAL_SERVICES, "simulator"):
        assert environment(resolved[name]) == environment(services[name]), name
        assert command_argv(resolved[name]) == command_argv(services[name]), name
        assert resolved[name].get("image") == services[name].get("image"), name
