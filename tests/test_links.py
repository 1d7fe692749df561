"""Extra links to the vendors' consoles: built from real operator instances, and from a task run
end to end by ``airflow dags test`` (Airflow stores the link in XCom when the task ends)."""

from __future__ import annotations

import html
import json
import secrets
import shutil
import socket
import sqlite3
import subprocess
import textwrap
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pendulum
import pytest
from airflow.sdk import DAG

from airflow_live_provider.get_provider_info import get_provider_info
from airflow_live_provider.links.console import PolyvChannelLink, VolcengineStreamLink
from airflow_live_provider.operators.polyv import (
    PolyvCreateTransmitChannelsOperator,
    PolyvSubAccountSnapshotOperator,
    PolyvWatchTokenOperator,
)
from airflow_live_provider.operators.volcengine import (
    VolcengineDescribeAuthOperator,
    VolcengineGeneratePushUrlOperator,
)
from airflow_live_provider.sensors.polyv import PolyvChannelLiveSensor
from airflow_live_provider.sensors.volcengine import VolcengineStreamLiveSensor
from airflow_live_provider.simulator import SimulatorServer
from airflow_live_provider.simulator import polyv as polyv_sim
from airflow_live_provider.simulator import volcengine as volc_sim

POLYV_URL = f"https://live.polyv.net/#/channel/{polyv_sim.DEMO_CHANNEL_ID}"
VOLC_URL = "https://console.volcengine.com/live/main/stream/online?vhost=live.example.com&app=live&stream=s1"


def link(operator: Any) -> str:
    """What Airflow stores for the operator's one link when its task ends ("" shows no link)."""
    (only,) = operator.operator_extra_links
    return only.get_link(operator, ti_key=None)


def test_operators_and_sensors_on_a_channel_or_stream_link_to_it() -> None:
    with DAG("links_instances", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")):
        channel = polyv_sim.DEMO_CHANNEL_ID
        watch = PolyvWatchTokenOperator(task_id="watch", channel_id=channel, viewer_ids=["v1"])
        transmit = PolyvCreateTransmitChannelsOperator(task_id="transmit", channel_id=channel, names=["a"])
        live = PolyvChannelLiveSensor(task_id="live", channel_id=int(channel))
        push = VolcengineGeneratePushUrlOperator(
            task_id="push", vhost="live.example.com", app="live", stream="s1"
        )
        stream = VolcengineStreamLiveSensor(
            task_id="stream", vhost="live.example.com", app="live", stream="s1"
        )
        snapshot = PolyvSubAccountSnapshotOperator(task_id="snapshot")
        auth = VolcengineDescribeAuthOperator(task_id="auth", scene_type="push", vhost="live.example.com")
    assert link(watch) == link(transmit) == link(live) == POLYV_URL
    assert link(push) == link(stream) == VOLC_URL
    # Acting on no single channel or stream: no link.
    assert not snapshot.operator_extra_links and not auth.operator_extra_links
    assert {type(x).__name__ for op in (watch, push) for x in op.operator_extra_links} == {
        "PolyvChannelLink",
        "VolcengineStreamLink",
    }


def test_a_link_is_built_from_the_rendered_values() -> None:
    with DAG("links_rendered", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")):
        sensor = VolcengineStreamLiveSensor(
            task_id="stream", domain="push.example.com", app="live", stream="{{ params.stream }}"
        )
    assert link(sensor) == ""  # not rendered yet: "{{ params.stream }}" is no stream name
    sensor.render_template_fields({"params": {"stream": "launch-2026"}})
    assert link(sensor) == (
        "https://console.volcengine.com/live/main/stream/online?domain=push.example.com&app=live&stream=launch-2026"
    )


@pytest.mark.parametrize(
    "fields",
    [
        {"vhost": None, "domain": None, "app": "live", "stream": "s1"},  # where is it?
        {"vhost": "live.example.com", "app": "", "stream": "s1"},
        {"vhost": "live.example.com", "app": "live", "stream": "a b"},
        {"vhost": "https://live.example.com/x", "app": "live", "stream": "s1"},
    ],
)
def test_no_volcengine_link_when_it_cannot_be_built(fields: dict[str, Any]) -> None:
    sensor = VolcengineStreamLiveSensor(task_id="s", **fields)
    assert link(sensor) == ""


@pytest.mark.parametrize("channel", ["", "abc", "12 34", "{{ params.channel }}", None, "1/../2"])
def test_no_polyv_link_when_the_channel_is_not_a_channel_id(channel: Any) -> None:
    sensor = PolyvChannelLiveSensor(task_id="s", channel_id=channel)
    assert link(sensor) == ""


def test_the_links_are_registered_in_the_provider_info() -> None:
    registered = get_provider_info()["extra-links"]
    assert registered == [
        f"{PolyvChannelLink.__module__}.PolyvChannelLink",
        f"{VolcengineStreamLink.__module__}.VolcengineStreamLink",
    ]


DAG_FILE = textwrap.dedent(
    f"""
    import pendulum
    from airflow.sdk import DAG, Param

    from airflow_live_provider.sensors.polyv import PolyvChannelLiveSensor
    from airflow_live_provider.sensors.volcengine import VolcengineStreamLiveSensor

    with DAG(
        dag_id="console_links",
        schedule=None,
        start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
        params={{"stream": Param("show", type="string")}},
    ):
        PolyvChannelLiveSensor(
            task_id="channel_live", channel_id="{polyv_sim.DEMO_CHANNEL_ID}", poke_interval=1, timeout=60
        )
        VolcengineStreamLiveSensor(
            task_id="stream_live",
            vhost="{volc_sim.DEMO_VHOST}",
            app="{volc_sim.DEMO_APP}",
            stream="{{{{ params.stream }}}}",
            deferrable=False,
            poke_interval=1,
            timeout=60,
        )
    """
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.load(response)


def chromium_dom(url: str) -> str:
    """The page as headless Chromium renders it. Every name but 127.0.0.1 resolves to nothing and
    any other traffic goes to a dead proxy on loopback: the browser never leaves this machine."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    assert browser is not None
    done = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--proxy-server=http://127.0.0.1:9",
            "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
            "--virtual-time-budget=20000",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    return done.stdout


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The real path: ``airflow dags test`` runs the sensors (Airflow's task runner calls the
    links on the rendered task and stores the URLs), then an API server over that home, ready
    (its health answered) or the fixture fails saying why."""
    from tests.dags.test_sample_dags import AIRFLOW, clean_env

    with SimulatorServer() as live_simulator:
        home = tmp_path_factory.mktemp("links-home")
        dags = tmp_path_factory.mktemp("links-dags")
        (dags / "console_links.py").write_text(DAG_FILE)
        port = free_port()
        env = clean_env(
            home,
            {
                **live_simulator.connection_env(),
                "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
                "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(64),
                "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
            },
        )
        migrated = subprocess.run(
            [AIRFLOW, "db", "migrate"], env=env, capture_output=True, text=True, timeout=300
        )
        assert migrated.returncode == 0, migrated.stderr[-3000:]
        live_simulator.polyv.go_live(polyv_sim.DEMO_CHANNEL_ID)
        live_simulator.volcengine.set_stream(volc_sim.DEMO_VHOST, volc_sim.DEMO_APP, "launch", state="online")
        done = subprocess.run(
            [AIRFLOW, "dags", "test", "console_links", "-c", json.dumps({"stream": "launch"})],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        output = done.stdout + done.stderr
        assert done.returncode == 0 and "state=success" in output, output[-5000:]
        with sqlite3.connect(Path(home) / "airflow.db") as db:
            rows = db.execute("SELECT task_id, key, value FROM xcom WHERE key LIKE '_link_%'").fetchall()
        log = home / "api-server.log"
        with log.open("wb") as sink:
            api = subprocess.Popen(
                [AIRFLOW, "api-server", "--host", "127.0.0.1", "--port", str(port)],
                env=env,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
            try:
                base = f"http://127.0.0.1:{port}"
                deadline = time.monotonic() + 180
                while True:
                    try:
                        get_json(f"{base}/api/v2/monitor/health")
                        break
                    except OSError as exc:
                        tail = log.read_text(errors="replace")[-3000:]
                        assert api.poll() is None, f"the API server exited: {tail}"
                        assert time.monotonic() < deadline, f"the API server never answered ({exc}): {tail}"
                        time.sleep(1)
                run_id = get_json(f"{base}/api/v2/dags/console_links/dagRuns")["dag_runs"][0]["dag_run_id"]
                yield {
                    "base": base,
                    "run": urllib.parse.quote(run_id, safe=""),
                    "links": {(task, key): json.loads(value) for task, key, value in rows},
                }
            finally:
                api.terminate()
                api.wait(timeout=60)


STREAM_URL = (
    f"https://console.volcengine.com/live/main/stream/online?vhost={volc_sim.DEMO_VHOST}"
    f"&app={volc_sim.DEMO_APP}&stream=launch"
)
EXPECTED = {"channel_live": ("Polyv channel", POLYV_URL), "stream_live": ("Volcengine stream", STREAM_URL)}


@pytest.mark.e2e
def test_a_task_that_ran_has_its_console_links_in_airflows_api(ran: dict[str, Any]) -> None:
    """The URLs Airflow stored for the task, and what its API answers the UI."""
    assert ran["links"] == {
        ("channel_live", "_link_PolyvChannelLink"): POLYV_URL,
        ("stream_live", "_link_VolcengineStreamLink"): STREAM_URL,
    }
    for task, (name, url) in EXPECTED.items():
        answer = get_json(
            f"{ran['base']}/api/v2/dags/console_links/dagRuns/{ran['run']}/taskInstances/{task}/links"
        )
        assert answer["extra_links"] == {name: url}


@pytest.mark.e2e
def test_airflows_ui_shows_the_console_links(ran: dict[str, Any]) -> None:
    """The UI in headless Chromium shows them in the task's Details (only this needs Chromium)."""
    if not (shutil.which("chromium") or shutil.which("chromium-browser")):
        pytest.skip("no Chromium here: the links were checked through the API the UI calls")
    for task, (name, url) in EXPECTED.items():
        dom = chromium_dom(f"{ran['base']}/dags/console_links/runs/{ran['run']}/tasks/{task}/details")
        assert "Extra Links" in dom and name in dom, dom[-2000:]
        assert f'href="{html.escape(url)}"' in dom
