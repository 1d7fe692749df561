"""The simulator core: loopback only, fault injection, request log, CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import requests

from airflow_live_provider.simulator import SimRequest, SimResponse, SimulatorServer


@pytest.fixture
def counter(simulator: SimulatorServer) -> list[int]:
    commits: list[int] = []

    def handler(req: SimRequest) -> SimResponse:
        commits.append(1)
        return SimResponse(200, {"ok": True})

    simulator.routes[("POST", "/commit")] = handler
    return commits


def test_refuses_to_bind_beyond_loopback() -> None:
    with pytest.raises(ValueError, match="loopback"):
        SimulatorServer(host="0.0.0.0")


def test_unknown_route_is_a_404(simulator: SimulatorServer) -> None:
    assert requests.get(simulator.base_url + "/nope", timeout=5).status_code == 404


def test_lost_after_commit_runs_the_handler_then_drops_the_response(
    simulator: SimulatorServer, counter: list[int]
) -> None:
    simulator.faults.add("lost_after_commit", path="/commit")
    with pytest.raises(requests.ConnectionError):
        requests.post(simulator.base_url + "/commit", timeout=5)
    assert counter == [1], "the change must be committed although the client saw no response"
    assert requests.post(simulator.base_url + "/commit", timeout=5).status_code == 200
    assert [r.status for r in simulator.requests_to("/commit")] == ["lost", 200]


def test_reset_does_not_reach_the_handler(simulator: SimulatorServer, counter: list[int]) -> None:
    simulator.faults.add("reset", path="/commit", times=2)
    for _ in range(2):
        with pytest.raises(requests.ConnectionError):
            requests.post(simulator.base_url + "/commit", timeout=5)
    assert counter == []


def test_scheduled_faults_match_their_path_prefix(simulator: SimulatorServer, counter: list[int]) -> None:
    simulator.faults.add("503", path="/other")
    assert requests.post(simulator.base_url + "/commit", timeout=5).status_code == 200
    simulator.faults.add("429", path="/com", retry_after=3)
    response = requests.post(simulator.base_url + "/commit", timeout=5)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "3"


def test_random_faults_hit_about_the_requested_share(simulator: SimulatorServer, counter: list[int]) -> None:
    simulator.faults.set_random(0.2, kinds=("503",), seed=7)
    statuses = [requests.post(simulator.base_url + "/commit", timeout=5).status_code for _ in range(200)]
    failed = statuses.count(503)
    assert 20 <= failed <= 60, failed
    assert len(counter) == 200 - failed


def test_unknown_fault_kind_is_refused(simulator: SimulatorServer) -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        simulator.faults.add("teapot")


def test_connection_env_points_every_default_connection_at_the_server(simulator: SimulatorServer) -> None:
    env = simulator.connection_env()
    assert set(env) >= {
        "AIRFLOW_CONN_POLYV_DEFAULT",
        "AIRFLOW_CONN_POLYV_GROUP_DEFAULT",
        "AIRFLOW_CONN_VOLCENGINE_LIVE_DEFAULT",
        "AIRFLOW_CONN_ISDP_DEFAULT",
    }
    for value in env.values():
        assert json.loads(value)["host"] == simulator.base_url


def test_cli_prints_the_connection_exports_and_serves() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "airflow_live_provider.simulator", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("# vendor simulator listening on 127.0.0.1:"), first
        base_url = first.rsplit("clients use ", 1)[1].strip().rstrip(")")
        lines = [proc.stdout.readline() for _ in range(5)]
        exports = [line for line in lines if line.startswith("export AIRFLOW_CONN_")]
        assert any("AIRFLOW_CONN_POLYV_DEFAULT=" in line for line in exports)
        assert requests.get(base_url + "/nope", timeout=5).status_code == 404
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--bind", "0.0.0.0"], "not a loopback address; add --allow-remote"),
        (["--bind", ""], "not a loopback address"),
        (["--fault-rate", "-3"], "--fault-rate -3.0 is not a fraction"),
        (["--fault-kinds", "429,nope"], "unknown ['nope']"),
        (["--port", "70000"], "--port 70000"),
        (["--latency-ms", "-1"], "must be >= 0"),
    ],
)
def test_cli_refuses_bad_arguments(argv: list[str], says: str, capsys: pytest.CaptureFixture[str]) -> None:
    from airflow_live_provider.simulator.__main__ import main

    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2 and says in capsys.readouterr().err


def test_ipv6_loopback_serves() -> None:
    import socket as socket_module

    if not socket_module.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    try:
        server = SimulatorServer(host="::1")
    except OSError:
        pytest.skip("::1 cannot be bound here")
    with server:
        assert server.base_url.startswith("http://[::1]:")
        assert requests.get(server.base_url + "/nowhere", timeout=5).status_code == 404


def test_bad_content_length_is_a_400_and_slow_clients_are_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket as socket_module

    from airflow_live_provider.simulator import server as server_module

    monkeypatch.setattr(server_module, "CONNECTION_TIMEOUT", 0.5)
    with SimulatorServer() as server:
        with socket_module.create_connection(("127.0.0.1", server.port), timeout=5) as raw:
            raw.sendall(b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n")
            assert raw.recv(200).startswith(b"HTTP/1.1 400")
        with socket_module.create_connection(("127.0.0.1", server.port), timeout=5) as slow:
            slow.sendall(b"GET /x HTTP/1.1\r\n")  # and then nothing: the thread must not wait forever
            assert slow.recv(100) == b""  # closed by the server after its timeout


def test_max_requests_in_window_counts_the_busiest_interval(simulator: SimulatorServer) -> None:
    from airflow_live_provider.simulator.server import LoggedRequest

    for at, path in [(0.0, "/a"), (0.5, "/a"), (0.99, "/a"), (1.0, "/a"), (1.2, "/b"), (5.0, "/a")]:
        simulator.requests.append(LoggedRequest("GET", path, {}, 200, at=100.0 + at))
    assert simulator.max_requests_in_window(lambda r: r.path == "/a", 1.0) == 3  # [0, 1) half-open
    assert simulator.max_requests_in_window(lambda r: True, 1.0) == 4  # 0.5, 0.99, 1.0, 1.2
    assert simulator.max_requests_in_window(lambda r: True, 1.25) == 5
    assert simulator.max_requests_in_window(lambda r: r.path == "/c", 1.0) == 0
    assert simulator.max_requests_in_window(lambda r: True, 10.0) == 6


def test_logged_requests_carry_their_time(simulator: SimulatorServer) -> None:
    requests.get(simulator.base_url + "/nowhere", timeout=5)
    requests.get(simulator.base_url + "/nowhere", timeout=5)
    first, second = simulator.requests
    assert 0 < first.at <= second.at
    assert simulator.max_requests_in_window(lambda r: r.path == "/nowhere", 3600.0) == 2
