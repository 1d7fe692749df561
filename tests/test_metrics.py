"""Provider metrics through Airflow's own Stats, received as real StatsD packets on a UDP socket.

Airflow's StatsD logger is configured by the same ``AIRFLOW__METRICS__*`` variables a deployment
sets, pointed at a UDP socket this test binds on 127.0.0.1; hooks make real calls to the simulator
(throttling injected) and the test counts the packets that arrived.
"""

from __future__ import annotations

import re
import socket
import subprocess
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from airflow_live_provider import metrics
from airflow_live_provider.exceptions import LiveApiInputError
from airflow_live_provider.hooks.isdp import IsdpHook
from airflow_live_provider.hooks.polyv import PolyvHook
from airflow_live_provider.hooks.volcengine import VolcengineLiveHook
from airflow_live_provider.simulator import SimulatorServer
from airflow_live_provider.simulator import isdp as isdp_sim
from airflow_live_provider.simulator import polyv as polyv_sim
from airflow_live_provider.simulator import volcengine as volc_sim
from airflow_live_provider.vendors.polyv import GROUP_PACKAGE_LIST_PATH, WATCH_TOKEN_PATH

PREFIX = "airflow."  # Airflow's default [metrics] statsd_prefix
NAME = re.compile(
    r"live_provider\.(?:(?:polyv|volcengine|isdp)\.(?:[A-Za-z_]+\.(?:requests|errors|throttled|retries|latency)"
    r"|quota_wait)|event\.(?:token_lead\.(?:polyv|isdp)|go_live_delay)"
    r"|sessions\.(?:polyv|volcengine)\.(?:polls|poll_errors|bad_answers))"
)


@dataclass(frozen=True)
class Packet:
    name: str
    value: float
    kind: str  # c (counter), ms (timer), g (gauge)


class StatsdListener:
    """A UDP socket on loopback where Airflow's StatsD client sends."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.3)
        self.port = self.sock.getsockname()[1]
        self.raw: list[str] = []

    def env(self) -> dict[str, str]:
        return {
            "AIRFLOW__METRICS__STATSD_ON": "True",
            "AIRFLOW__METRICS__STATSD_HOST": "127.0.0.1",
            "AIRFLOW__METRICS__STATSD_PORT": str(self.port),
        }

    def drain(self) -> list[Packet]:
        """Every packet received so far (the sends happened before the calls returned)."""
        while True:
            try:
                data = self.sock.recv(65535)
            except TimeoutError:
                break
            self.raw.extend(data.decode().splitlines())
        packets = []
        for line in self.raw:
            name, _, rest = line.partition(":")
            value, _, kind = rest.partition("|")
            if name.startswith(PREFIX + "live_provider."):
                packets.append(Packet(name[len(PREFIX) :], float(value), kind.split("|")[0]))
        return packets

    def close(self) -> None:
        self.sock.close()


def counts(packets: list[Packet], kind: str = "c") -> Counter[str]:
    out: Counter[str] = Counter()
    for packet in packets:
        if packet.kind == kind:
            out[packet.name] += int(packet.value) if kind == "c" else 1
    return out


@pytest.fixture
def statsd(monkeypatch: pytest.MonkeyPatch) -> Iterator[StatsdListener]:
    """Airflow's metrics on (StatsD), sending to a fresh loopback socket; off again afterwards."""
    from airflow.sdk._shared.observability.metrics.base_stats_logger import NoStatsLogger
    from airflow.sdk.observability import stats
    from airflow.sdk.observability.metrics.stats_utils import get_stats_factory

    listener = StatsdListener()
    for name, value in listener.env().items():
        monkeypatch.setenv(name, value)
    stats.initialize(factory=get_stats_factory(), export_legacy_names=False)
    yield listener
    stats.initialize(factory=NoStatsLogger, export_legacy_names=False)
    listener.close()


def test_every_polyv_attempt_is_counted_with_throttling_and_retries(
    statsd: StatsdListener, live_connections: SimulatorServer
) -> None:
    live_connections.faults.add("429", path=GROUP_PACKAGE_LIST_PATH, times=2)
    rows = list(PolyvHook("polyv_group_default").iter_sub_accounts(page_size=10))
    assert len(rows) == polyv_sim.DEMO_SUB_ACCOUNT_COUNT
    sent = live_connections.requests_to(GROUP_PACKAGE_LIST_PATH)
    assert [r.status for r in sent].count(429) == 2

    packets = statsd.drain()
    counters = counts(packets)
    base = "live_provider.polyv.group_package_list"
    assert counters[f"{base}.requests"] == len(sent) == 5  # 3 pages + 2 throttled attempts
    assert counters[f"{base}.throttled"] == 2
    assert counters[f"{base}.errors"] == 2
    assert counters[f"{base}.retries"] == 2
    assert counts(packets, "ms")[f"{base}.latency"] == len(sent)
    assert all(p.value >= 0 for p in packets if p.kind == "ms")


def test_volcengine_actions_and_the_wait_on_our_own_quota(
    statsd: StatsdListener, live_connections: SimulatorServer
) -> None:
    live_connections.volcengine.set_stream(volc_sim.DEMO_VHOST, volc_sim.DEMO_APP, "show", state="online")
    hook = VolcengineLiveHook()
    for _ in range(3):  # DescribeAuth is spaced to 10/s: the 2nd and 3rd calls wait
        hook.describe_auth("push", vhost=volc_sim.DEMO_VHOST)
    hook.describe_live_stream_state(vhost=volc_sim.DEMO_VHOST, app=volc_sim.DEMO_APP, stream="show")

    packets = statsd.drain()
    counters = counts(packets)
    assert counters["live_provider.volcengine.DescribeAuth.requests"] == 3
    assert counters["live_provider.volcengine.DescribeLiveStreamState.requests"] == 1
    waits = [p.value for p in packets if p.name == "live_provider.volcengine.quota_wait"]
    assert len(waits) == 4 and max(waits) > 0  # every limited attempt; some waited


def test_isdp_token_and_openapi_calls_have_their_own_actions(
    statsd: StatsdListener, live_connections: SimulatorServer
) -> None:
    hook = IsdpHook()
    hook.get_token_batch(isdp_sim.DEMO_CHANNEL_IDS, isdp_sim.DEMO_USER_ACCOUNT)
    hook.get_token(isdp_sim.DEMO_CHANNEL_IDS[0], isdp_sim.DEMO_USER_ACCOUNT)
    counters = counts(statsd.drain())
    assert counters["live_provider.isdp.oauth_token.requests"] == 1
    assert counters["live_provider.isdp.get_token_batch.requests"] == 1
    assert counters["live_provider.isdp.get_token.requests"] == 1


def test_no_id_name_or_secret_reaches_a_metric_name(
    statsd: StatsdListener, live_connections: SimulatorServer
) -> None:
    viewer = "viewer-metrics-7731"
    live_connections.faults.add("429", path=WATCH_TOKEN_PATH, times=1)
    token = PolyvHook().get_watch_api_token(polyv_sim.DEMO_CHANNEL_ID, viewer, nickname="Ann Example")
    join = IsdpHook().get_token(isdp_sim.DEMO_CHANNEL_IDS[0], isdp_sim.DEMO_USER_ACCOUNT)
    VolcengineLiveHook().describe_auth("push", vhost=volc_sim.DEMO_VHOST)
    metrics.record_token_lead("polyv", 600)

    packets = statsd.drain()
    assert {p.name for p in packets} >= {
        "live_provider.polyv.get_watch_api_token.throttled",
        "live_provider.isdp.get_token.requests",
        "live_provider.volcengine.DescribeAuth.requests",
    }
    for packet in packets:
        assert NAME.fullmatch(packet.name), packet.name
    values = [
        polyv_sim.DEMO_CHANNEL_ID,
        viewer,
        "Ann Example",
        token,
        str(join["token"]),
        *isdp_sim.DEMO_CHANNEL_IDS,
        isdp_sim.DEMO_USER_ACCOUNT,
        volc_sim.DEMO_VHOST,
        *live_connections.secrets(),
    ]
    text = "\n".join(statsd.raw)
    for index, value in enumerate(values):
        assert value not in text, f"value #{index} is in a metric"


def test_polls_from_a_trigger_count_too(statsd: StatsdListener, live_connections: SimulatorServer) -> None:
    """A deferred sensor polls from the triggerer, in worker threads: those calls count as well."""
    import asyncio
    import time

    from airflow_live_provider.triggers.volcengine import VolcengineStreamStateTrigger
    from tests.helpers import first_event

    live_connections.volcengine.set_stream(volc_sim.DEMO_VHOST, volc_sim.DEMO_APP, "soon", online_in=0.5)
    trigger = VolcengineStreamStateTrigger(
        app=volc_sim.DEMO_APP,
        stream="soon",
        vhost=volc_sim.DEMO_VHOST,
        deadline=time.time() + 60,
        poke_interval=0.2,
    )
    assert asyncio.run(first_event(trigger)).payload["outcome"] == "online"
    polls = [r for r in live_connections.requests if r.query.get("Action") == "DescribeLiveStreamState"]
    assert counts(statsd.drain())["live_provider.volcengine.DescribeLiveStreamState.requests"] == len(polls)
    assert polls


def test_session_polls_failed_polls_and_wrong_shaped_answers_are_counted(
    statsd: StatsdListener, live_connections: SimulatorServer
) -> None:
    """A watcher group's polls: one good, one answered without StreamInfoList (a bad answer), one
    throttled (a failed poll): three polls, two errors, one bad answer."""
    import asyncio

    from airflow_live_provider.simulator.server import SimResponse
    from airflow_live_provider.triggers.volcengine import VolcengineStreamSessionTrigger

    listing = live_connections.routes[("GET", "/")]
    answers = iter(
        [
            listing,
            lambda req: SimResponse(200, {"ResponseMetadata": {"RequestId": "r"}, "Result": {}}),
            listing,
        ]
    )
    live_connections.routes[("GET", "/")] = lambda req: next(answers)(req)
    trigger = VolcengineStreamSessionTrigger(
        vhost=volc_sim.DEMO_VHOST, app=volc_sim.DEMO_APP, stream="s", poll_interval=0.01
    )

    async def three_polls() -> list[str | None]:
        errors: list[str | None] = []
        polls = VolcengineStreamSessionTrigger.open_shared_stream(trigger.serialize()[1])
        async for snapshot in polls:
            errors.append(snapshot.error)
            if len(errors) == 2:
                live_connections.faults.add("429", path="/", times=5)
            if len(errors) == 3:
                break
        await polls.aclose()  # type: ignore[attr-defined]
        return errors

    errors = asyncio.run(three_polls())
    assert errors[0] is None and "StreamInfoList" in (errors[1] or "") and errors[2]
    seen = counts(statsd.drain())
    assert seen["live_provider.sessions.volcengine.polls"] == 3
    assert seen["live_provider.sessions.volcengine.poll_errors"] == 2
    assert seen["live_provider.sessions.volcengine.bad_answers"] == 1
    with pytest.raises(LiveApiInputError, match="'maybe' is not one of ok, failed, bad_answer"):
        metrics.record_session_poll("polyv", "maybe")


def test_event_figures_are_gauges_per_vendor(statsd: StatsdListener) -> None:
    metrics.record_token_lead("isdp", 90)
    metrics.record_token_lead("polyv", -12.5)  # issued after the start
    metrics.record_go_live_delay(42)
    gauges = {p.name: p.value for p in statsd.drain() if p.kind == "g"}
    assert gauges == {
        "live_provider.event.token_lead.isdp": 90,
        "live_provider.event.token_lead.polyv": -12.5,
        "live_provider.event.go_live_delay": 42,
    }
    with pytest.raises(LiveApiInputError, match="'ftp' is not one of polyv, volcengine, isdp"):
        metrics.record_token_lead("ftp", 1)


def test_metrics_off_installs_no_observer(live_connections: SimulatorServer) -> None:
    """Airflow's default: the transport's only cost is one ``is None`` check per attempt."""
    assert not metrics.metrics_enabled()
    assert PolyvHook().client.transport.observer is None


def test_metrics_on_installs_the_stats_observer(
    statsd: StatsdListener, live_connections: SimulatorServer
) -> None:
    assert isinstance(VolcengineLiveHook().client.transport.observer, metrics.StatsObserver)


def test_action_names_come_from_one_table() -> None:
    from airflow_live_provider.transport import HttpRequest

    assert metrics.action_name("polyv", HttpRequest("POST", WATCH_TOKEN_PATH)) == "get_watch_api_token"
    assert metrics.action_name("polyv", HttpRequest("GET", "/live/v9/new/thing")) == "other"
    assert metrics.action_name("isdp", HttpRequest("POST", "/custom/oauth")) == "oauth_token"
    assert metrics.action_name("isdp", HttpRequest("POST", "/openapi/v1/x")) == "other"
    volc = HttpRequest("POST", "/", params={"Action": "DescribeAuth", "Version": "2023-01-01"})
    assert metrics.action_name("volcengine", volc) == "DescribeAuth"
    odd = HttpRequest("POST", "/", params={"Action": "x" * 65})
    assert metrics.action_name("volcengine", odd) == "other"


@pytest.mark.e2e
def test_airflow_dags_test_counts_every_request_the_simulator_received(
    tmp_path_factory: pytest.TempPathFactory, live_simulator: SimulatorServer
) -> None:
    """The issue's acceptance check: ``airflow dags test polyv_subaccount_snapshot`` with StatsD on
    emits one ``.requests`` per HTTP request the simulator received, latency timers, and the
    throttled attempts and retries of injected 429s."""
    from tests.dags.test_sample_dags import AIRFLOW, clean_env

    home = tmp_path_factory.mktemp("metrics-airflow-home")
    migrated = subprocess.run(
        [AIRFLOW, "db", "migrate"], env=clean_env(home), capture_output=True, text=True, timeout=300
    )
    assert migrated.returncode == 0, migrated.stderr[-3000:]
    listener = StatsdListener()
    try:
        live_simulator.faults.add("429", path=GROUP_PACKAGE_LIST_PATH, times=2)
        live_simulator.clear_requests()
        done = subprocess.run(
            [AIRFLOW, "dags", "test", "polyv_subaccount_snapshot"],
            env=clean_env(home, {**live_simulator.connection_env(), **listener.env()}),
            capture_output=True,
            text=True,
            timeout=600,
        )
        output = done.stdout + done.stderr
        assert done.returncode == 0 and "state=success" in output, output[-5000:]
        packets = listener.drain()
    finally:
        listener.close()
    received = [r for r in live_simulator.requests if r.path.startswith("/live/")]
    assert received, "the snapshot made no Polyv request"
    polyv_requests = {n: c for n, c in counts(packets).items() if n.startswith("live_provider.polyv.")}
    assert sum(c for n, c in polyv_requests.items() if n.endswith(".requests")) == len(received)
    assert polyv_requests["live_provider.polyv.group_package_list.throttled"] == 2
    assert polyv_requests["live_provider.polyv.group_package_list.retries"] == 2
    assert counts(packets, "ms")["live_provider.polyv.group_package_list.latency"] == len(received)


def test_an_event_run_reports_how_early_its_tokens_came_and_how_late_its_stream(
    statsd: StatsdListener, live_connections: SimulatorServer, tmp_path: Path
) -> None:
    """The event steps emit the gauges: seconds from issuing to the start, start to online."""
    import pendulum

    from airflow_live_provider.events.calendar import parse_calendar
    from airflow_live_provider.events.planner import definition_hash
    from airflow_live_provider.simulator import isdp as isdp_sim
    from airflow_live_provider.workflow.event_timeline import event_run, issue_credentials, record_go_live

    start = pendulum.now("UTC").add(seconds=60)
    [event] = parse_calendar(
        [
            {
                "name": "Gauged",
                "start": start.isoformat(),
                "isdp": {"channel_ids": ["10882"], "user_account": isdp_sim.DEMO_USER_ACCOUNT},
            }
        ]
    )
    run = event_run({"event": event, "definition": definition_hash(event), "output_dir": str(tmp_path)}, "r")
    issued = issue_credentials(run, "isdp")
    record_go_live(run, "done", live_at=start.add(seconds=42).isoformat())
    gauges = {p.name: p.value for p in statsd.drain() if p.kind == "g"}
    assert gauges["live_provider.event.token_lead.isdp"] == pytest.approx(issued["seconds_before_start"])
    assert 55 <= gauges["live_provider.event.token_lead.isdp"] <= 61
    assert gauges["live_provider.event.go_live_delay"] == pytest.approx(42, abs=1)
