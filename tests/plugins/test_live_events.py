"""The Live events pages through a real api-server on loopback (SQLite, SimpleAuthManager).

One api-server for the module: ``live_event`` runs are created through Airflow's REST API with
the planner's own run ids and conf, their task states set through the API, and run sheets written
where the runs' steps would write them. Then the pages are read as the crew would: with a Bearer
token or the UI's ``_token`` cookie, as a user without a role, and anonymously.
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pendulum
import pytest

from airflow_live_provider.events.calendar import load_calendar
from airflow_live_provider.events.planner import plan_event_runs
from airflow_live_provider.events.run_records import event_folder
from airflow_live_provider.events.run_sheets import compose_sheet, write_sheet
from airflow_live_provider.times import parse_instant, utc_iso
from tests.helpers import assert_no_secret_in

ROOT = Path(__file__).resolve().parents[2]
AIRFLOW = str(Path(sys.executable).with_name("airflow"))
# SimpleAuthManager's built-in roles, and nobody: a user with no role.
USERS = {"admin": "admin", "op": "op", "user": "user", "viewer": "viewer", "nobody": ""}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: str

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Site:
    port: int
    env: dict[str, str]
    out: Path
    tokens: dict[str, str] = field(default_factory=dict)
    runs: dict[str, str] = field(default_factory=dict)  # event name -> run id
    starts: dict[str, str] = field(default_factory=dict)  # event name -> start, UTC
    secrets: list[str] = field(default_factory=list)

    def request(
        self,
        method: str,
        path: str,
        *,
        user: str | None = "admin",
        cookie: bool = False,
        body: Any = None,
    ) -> Response:
        """One raw request (http.client sends the path as given: no dot-segment clean-up)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        headers = {"Content-Type": "application/json", "Accept": "text/html,application/json"}
        if user:
            if cookie:
                headers["Cookie"] = f"_token={self.tokens[user]}"
            else:
                headers["Authorization"] = f"Bearer {self.tokens[user]}"
        try:
            conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
            resp = conn.getresponse()
            return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read().decode())
        finally:
            conn.close()

    def api(self, method: str, path: str, body: Any = None) -> Any:
        resp = self.request(method, path, body=body)
        assert resp.status < 300, f"{method} {path}: {resp.status} {resp.body[:500]}"
        return resp.json()


def _calendar(now: pendulum.DateTime) -> str:
    def at(delta: timedelta) -> str:
        return (now + delta).in_timezone("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")

    isdp = {"channel_ids": ["10882"], "user_account": "135965565", "role": 1}
    polyv = {"channel_id": "3151318", "receive_channel_names": ["keynote-cn"], "viewers": ["viewer-1"]}
    events = [
        {"name": "Keynote", "start": at(timedelta(hours=3)), "timezone": "Asia/Shanghai", "polyv": polyv},
        {
            "name": "Morning brief",
            "start": at(timedelta(minutes=40)),
            "timezone": "Europe/Berlin",
            "isdp": isdp,
        },
        {"name": "Yesterday show", "start": at(timedelta(hours=-5)), "timezone": "UTC", "isdp": isdp},
        {"name": "Next week", "start": at(timedelta(days=6)), "timezone": "UTC", "isdp": isdp},
    ]
    return json.dumps({"events": events})


def _wait(what: str, check: Any, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert proc.poll() is None, f"the api-server exited while waiting for {what}"
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{what} not ready within {timeout:.0f} s")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    home = tmp_path_factory.mktemp("ui-home")
    (home / "dags").mkdir()
    for dag_file in ("live_event.py", "live_event_preprovision.py"):
        shutil.copy(ROOT / "dags" / dag_file, home / "dags" / dag_file)
    out = home / "out"
    passwords = {user: f"pw-{user}-{secrets.token_hex(4)}" for user in USERS}
    (home / "passwords.json").write_text(json.dumps(passwords))
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")},
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{u}:{r}" for u, r in USERS.items()),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__LIVE_PROVIDER__OUTPUT_ROOT": f"file://{out}",
    }  # otherwise Airflow's defaults ([core] lazy_discover_providers = True among them)
    subprocess.run([AIRFLOW, "db", "migrate"], env=env, check=True, capture_output=True)
    subprocess.run([AIRFLOW, "dags", "reserialize"], env=env, check=True, capture_output=True)
    log = open(home / "api-server.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [AIRFLOW, "api-server", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    site = Site(port=port, env=env, out=out)
    try:
        _wait(
            "the api-server",
            lambda: site.request("GET", "/api/v2/monitor/health", user=None).status == 200,
            proc,
        )
        for user in USERS:
            resp = site.request(
                "POST", "/auth/token", user=None, body={"username": user, "password": passwords[user]}
            )
            assert resp.status in (200, 201), resp.body
            site.tokens[user] = resp.json()["access_token"]
        _populate(site)
        yield site
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def _populate(site: Site) -> None:
    """The planner's runs (its run ids and conf), some task states, and run sheets with tokens."""
    now = pendulum.now("UTC")
    events = load_calendar(_calendar(now))
    sheets_root = f"file://{site.out}/run_sheets"
    planned = []
    # Plan as the planner would have at each event's own moment (the past one 6 h ago).
    for moment in (now, now - timedelta(hours=6), now + timedelta(days=6) - timedelta(hours=1)):
        planned += plan_event_runs(events, moment, timedelta(hours=24), calendar="test", output_dir=None)
    seen = set()
    for index, run in enumerate(planned):
        run_id, conf = run["trigger_run_id"], run["conf"]
        if run_id in seen:
            continue
        seen.add(run_id)
        event = conf["event"]
        # One run names its output_dir; the others use the api-server's [live_provider] output_root.
        if event["name"] == "Keynote":
            conf["output_dir"] = sheets_root
        site.api(
            "POST",
            "/api/v2/dags/live_event/dagRuns",
            {"dag_run_id": run_id, "logical_date": None, "conf": conf},
        )
        site.runs[event["name"]] = run_id
        site.starts[event["name"]] = utc_iso(parse_instant(event["start"]))
        if event["name"] == "Next week":
            continue  # its run has not written a sheet yet
        records: dict[str, dict[str, Any]] = {}
        if event.get("isdp"):
            token = f"isdp-{index}-{secrets.token_hex(12)}"
            site.secrets.append(token)
            records["isdp_tokens"] = {
                "status": "done",
                "at": "2026-01-01T00:00:00Z",
                "result": {
                    "tokens": [
                        {
                            "channelIds": ["10882"],
                            "token": token,
                            "validFrom": event["start"],
                            "validUntil": event["start"],
                        }
                    ]
                },
            }
        if event.get("polyv"):
            token = f"polyv-{index}-{secrets.token_hex(12)}"
            site.secrets.append(token)
            records["polyv_tokens"] = {
                "status": "done",
                "at": "2026-01-01T00:00:00Z",
                "result": {
                    "watchTokens": [{"viewerId": "viewer-1", "token": token, "validUntil": event["start"]}]
                },
            }
        write_sheet(event_folder(sheets_root, event), run_id, compose_sheet(event, run_id, records))
    tasks = "/api/v2/dags/live_event/dagRuns/{}/taskInstances/{}"
    site.api("PATCH", tasks.format(site.runs["Morning brief"], "isdp_tokens"), {"new_state": "success"})
    site.api("PATCH", tasks.format(site.runs["Keynote"], "polyv_channels"), {"new_state": "failed"})
    _hand_made_runs(site, now)


#: Runs made by hand (not by the planner) in the lead window, conf as a user might write it.
SCRIPT_NAME = "<script>alert('pwned')</script> Launch"


def _hand_made_runs(site: Site, now: pendulum.DateTime) -> None:
    def planner_like(name: str, hours: float) -> tuple[str, pendulum.DateTime]:
        start = now.add(hours=hours).in_timezone("UTC").replace(microsecond=0)
        return f"event__{name}__{start.strftime('%Y%m%dT%H%M%SZ')}__0badc0de", start

    isdp = {"channel_ids": ["10882"], "user_account": "135965565", "role": 1, "token_lead_seconds": 90}
    odd = {
        # minutes as text: the calendar's validator reads "60" as 60, as the run's steps do
        "Odd duration": ("odd-duration", 4, lambda s: {"start": utc_iso(s), "duration_minutes": "60"}),
        # a zone that does not exist: unreadable, named
        "Mars base": ("mars-base", 4.5, lambda s: {"start": utc_iso(s), "timezone": "Mars/Olympus"}),
        # a stray space after the start: the validator strips it
        "Spaced start": ("spaced-start", 5, lambda s: {"start": utc_iso(s) + " ", "timezone": "UTC"}),
        SCRIPT_NAME: ("script-alert-pwned-script-launch", 5.5, lambda s: {"start": utc_iso(s)}),
    }
    for name, (slug, hours, fields) in odd.items():
        run_id, start = planner_like(slug, hours)
        conf = {"event": {"name": name, **fields(start), "isdp": isdp}, "calendar": "by hand"}
        site.api(
            "POST",
            "/api/v2/dags/live_event/dagRuns",
            {"dag_run_id": run_id, "logical_date": None, "conf": conf},
        )
        site.runs[name] = run_id
    for run_id, conf in BROKEN_CONFS.items():
        site.api(
            "POST",
            "/api/v2/dags/live_event/dagRuns",
            {"dag_run_id": run_id, "logical_date": None, "conf": conf},
        )


#: Confs of any shape (run ids not the planner's): listed as unreadable, never a 500.
BROKEN_CONFS: dict[str, Any] = {
    "by-hand-no-event": {"note": "no event at all"},
    "by-hand-event-text": {"event": "Keynote tomorrow"},
    "by-hand-name-number": {"event": {"name": 5, "start": "2026-12-01T00:00:00Z"}},
    "by-hand-duration-list": {
        "event": {"name": "Listy", "start": "2026-12-01T00:00:00Z", "duration_minutes": [60], "isdp": {}}
    },
    "by-hand-start-year-0": {"event": {"name": "Ancient", "start": "0000-01-01T00:00:00Z", "isdp": {}}},
    "by-hand-vendor-text": {"event": {"name": "Texty", "start": "2026-12-01T00:00:00Z", "isdp": "10882"}},
}


# -- the list page ---------------------------------------------------------------------------------
def test_list_page_shows_the_window_soonest_first_without_a_secret(site: Site) -> None:
    resp = site.request("GET", "/live-events/")
    assert resp.status == 200, resp.body
    page = resp.body
    coming, _, recent = page.partition("<h2>Recent")
    # Soonest first; the past one under Recent; next week's outside the 24 h lead window.
    assert coming.index("Morning brief") < coming.index("Keynote")
    assert "Yesterday show" in recent and "Yesterday show" not in coming
    assert "Next week" not in page
    # Start in the event's own zone and in UTC, the task states in the crew's words, the links.
    assert "(Asia/Shanghai)" in coming and "(Europe/Berlin)" in coming and " UTC" in coming
    assert f"data-utc='{site.starts['Keynote']}'" in coming  # shown in the viewer's zone by the browser
    brief = coming[coming.index("Morning brief") : coming.index("Keynote")]
    assert "ISDP join tokens</a>: <b class='ok'>issued" in brief
    assert "Polyv" not in brief and "Push" not in brief  # an ISDP-only event shows only its steps
    assert "ISDP join tokens</a>: <b class='warn'>due since" in recent  # its moment passed, not done
    keynote = coming[coming.index("Keynote") :]
    assert "Polyv receive channels</a>: <b class='bad'>failed" in keynote
    assert "Polyv watch tokens</a>: <b class='muted'>waiting until" in keynote
    run_id = site.runs["Keynote"]
    assert f"/dags/live_event/runs/{run_id}/tasks/polyv_tokens" in page
    assert f"/live-events/runs/{run_id}/sheet" in page
    assert_no_secret_in(page, *site.secrets)
    assert_no_secret_in(json.dumps(resp.headers), *site.secrets)
    assert resp.headers["cache-control"] == "no-store"


def test_malformed_runs_never_take_the_list_down(site: Site) -> None:
    """Each run's conf goes through the calendar's validator: what it reads is a card, what it
    refuses is listed as unreadable naming the field; a name is text, never markup."""
    resp = site.request("GET", "/live-events/")
    assert resp.status == 200, resp.body
    page = resp.body
    cards, _, unreadable = page.partition("<h2>Cannot be read")
    coming = cards.partition("<h2>Recent")[0]
    assert "Odd duration</a>" in coming and "Spaced start</a>" in coming
    assert "&lt;script&gt;alert(&#x27;pwned&#x27;)&lt;/script&gt; Launch</a>" in coming
    assert "<script>alert" not in page
    mars = unreadable[unreadable.index(site.runs["Mars base"]) :]
    assert (
        "conf: event &#x27;Mars base&#x27;.timezone: &#x27;Mars/Olympus&#x27; is not a known IANA zone"
        in mars
    )
    for run_id in BROKEN_CONFS:
        assert f"<span class='id'>{run_id}</span>" in unreadable
    assert (
        "by-hand-event-text</span>" in unreadable and "conf.event: is missing or not an object" in unreadable
    )
    assert "conf: event.name: 5 is a int, not text" in unreadable  # not the calendar's "events[0]"


@pytest.mark.parametrize("name", ["Mars base", *BROKEN_CONFS])
def test_a_sheet_of_an_unreadable_run_names_the_problem(site: Site, name: str) -> None:
    run_id = site.runs.get(name, name)
    resp = site.request("GET", f"/live-events/runs/{run_id}/sheet")
    assert resp.status == 422, resp.body
    assert "Run definition unreadable" in resp.body and "conf" in resp.body


def test_a_sheet_of_a_script_named_event_is_text(site: Site) -> None:
    resp = site.request("GET", f"/live-events/runs/{site.runs[SCRIPT_NAME]}/sheet")
    assert resp.status == 200 and "No run sheet yet" in resp.body
    assert "&lt;script&gt;alert(&#x27;pwned&#x27;)&lt;/script&gt; Launch" in resp.body
    assert "<script>alert" not in resp.body


def test_list_page_takes_the_ui_session_cookie(site: Site) -> None:
    resp = site.request("GET", "/live-events/", cookie=True)
    assert resp.status == 200 and "Morning brief" in resp.body


# -- the run sheet page ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["Keynote", "Yesterday show"])
def test_sheet_page_shows_the_tokens_uncached(site: Site, name: str) -> None:
    """Keynote's run names its output_dir; Yesterday show's uses the api-server's output_root."""
    resp = site.request("GET", f"/live-events/runs/{site.runs[name]}/sheet", cookie=True)
    assert resp.status == 200, resp.body
    assert f"<h1>{name}</h1>" in resp.body
    assert sum(token in resp.body for token in site.secrets) == 1
    assert resp.headers["cache-control"] == "no-store"
    assert 'name="viewport"' in resp.body
    assert_no_secret_in(json.dumps(resp.headers), *site.secrets)


def test_a_run_with_no_sheet_yet_says_so(site: Site) -> None:
    resp = site.request("GET", f"/live-events/runs/{site.runs['Next week']}/sheet")
    assert resp.status == 200 and "No run sheet yet" in resp.body


# -- refusals --------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/live-events/", "/live-events/runs/{run}/sheet"])
def test_anonymous_is_refused(site: Site, path: str) -> None:
    resp = site.request("GET", path.format(run=site.runs["Keynote"]), user=None)
    assert resp.status == 401
    assert "/auth/login?next=" in resp.body  # a browser gets the way to Airflow's login
    assert_no_secret_in(resp.body, *site.secrets)


@pytest.mark.parametrize("path", ["/live-events/", "/live-events/runs/{run}/sheet"])
def test_a_user_without_access_to_the_dag_is_refused(site: Site, path: str) -> None:
    resp = site.request("GET", path.format(run=site.runs["Keynote"]), user="nobody")
    assert resp.status == 403
    assert_no_secret_in(resp.body, *site.secrets)


def test_a_viewer_gets_the_list_but_no_run_sheet(site: Site) -> None:
    """A run sheet holds credentials: reading runs (Viewer) is not enough, operating them is."""
    sheet = f"/live-events/runs/{site.runs['Keynote']}/sheet"
    resp = site.request("GET", sheet, user="viewer", cookie=True)
    assert resp.status == 403
    assert "operate the runs" in resp.body
    assert_no_secret_in(resp.body, *site.secrets)
    listed = site.request("GET", "/live-events/", user="viewer")
    assert listed.status == 200 and "Keynote" in listed.body
    assert_no_secret_in(listed.body, *site.secrets)


@pytest.mark.parametrize("user", ["user", "op", "admin"])
def test_roles_that_operate_runs_read_run_sheets(site: Site, user: str) -> None:
    for path in ("/live-events/", f"/live-events/runs/{site.runs['Keynote']}/sheet"):
        resp = site.request("GET", path, user=user)
        assert resp.status == 200, (path, resp.body)
    assert sum(token in resp.body for token in site.secrets) == 1


@pytest.mark.parametrize(
    "run",
    [
        "..",
        "%2e%2e",
        "..%2F..%2Frun_sheets%2Fkeynote%2Flatest",
        "%2F..%2F..%2Fetc%2Fpasswd",
        "event__keynote__20990101T000000Z__00000000",
        "planted",
    ],
)
def test_unknown_and_traversing_run_ids_are_404(site: Site, run: str) -> None:
    # A sheet planted for a run Airflow does not know is never served: the id is resolved in the DB.
    planted = site.out / "run_sheets" / "keynote" / "planted.json"
    planted.write_text(json.dumps({"event": "Keynote", "start": "2026-01-01T00:00:00Z", "runId": "planted"}))
    resp = site.request("GET", f"/live-events/runs/{run}/sheet")
    assert resp.status == 404, resp.body
    assert_no_secret_in(resp.body, *site.secrets)


def test_a_run_whose_conf_climbs_out_is_404(site: Site) -> None:
    isdp = {"channel_ids": ["10882"], "user_account": "135965565"}
    event = {"name": "Keynote", "start": "2026-12-01T00:00:00Z", "isdp": isdp}
    conf = {"event": event, "output_dir": f"{site.out}/../.."}
    site.api(
        "POST",
        "/api/v2/dags/live_event/dagRuns",
        {"dag_run_id": "climber", "logical_date": None, "conf": conf},
    )
    assert site.request("GET", "/live-events/runs/climber/sheet").status == 404


# -- the Run sheet tab on a run's page --------------------------------------------------------------
def test_the_run_sheet_tab_is_registered_on_run_pages(site: Site) -> None:
    served = {p["name"]: p for p in site.api("GET", "/api/v2/plugins")["plugins"]}
    [tab] = [v for v in served["live_events"]["external_views"] if v["destination"] == "dag_run"]
    assert tab["name"] == "Run sheet" and tab["url_route"] == "live-event-run-sheet"
    assert tab["href"] == "/live-events/dags/{DAG_ID}/runs/{RUN_ID}/tab"


def test_the_tab_of_an_event_run_opens_its_sheet(site: Site) -> None:
    run_id = site.runs["Keynote"]
    resp = site.request("GET", f"/live-events/dags/live_event/runs/{run_id}/tab", user="op", cookie=True)
    assert resp.status == 307 and resp.headers["location"] == f"/live-events/runs/{run_id}/sheet"
    assert site.request("GET", resp.headers["location"], user="op", cookie=True).status == 200
    # The sheet's own check applies to whoever follows the tab.
    resp = site.request("GET", f"/live-events/dags/live_event/runs/{run_id}/tab", user="viewer", cookie=True)
    assert site.request("GET", resp.headers["location"], user="viewer", cookie=True).status == 403


def test_the_tab_elsewhere_says_not_an_event_run(site: Site) -> None:
    resp = site.request("GET", "/live-events/dags/%3Cb%3Eother/runs/manual__1/tab", user="viewer")
    assert resp.status == 200 and "Not an event run" in resp.body
    assert "&lt;b&gt;other" in resp.body and "<b>other" not in resp.body
    assert site.request("GET", "/live-events/dags/other/runs/manual__1/tab", user=None).status == 401


# -- notes on the planner's runs -------------------------------------------------------------------
def test_the_planners_runs_carry_a_note(site: Site, tmp_path: Path) -> None:
    """The real planner (``dags test`` on the api-server's database) asks for each run with a note:
    event name, start in its zone and UTC, vendors; Airflow serves it with the run."""
    start = pendulum.now("UTC").add(hours=7).replace(second=0, microsecond=0)
    isdp = {"channel_ids": ["10882"], "user_account": "135965565"}
    volc = {"vhost": "live.example.com", "app": "live", "stream": "opener"}
    events = [
        {"name": "Planned *opener*", "start": utc_iso(start), "timezone": "Asia/Shanghai", "isdp": isdp},
        {"name": "Planned closer", "start": utc_iso(start.add(hours=1)), "volcengine": volc, "isdp": isdp},
    ]
    calendar = tmp_path / "calendar.json"
    calendar.write_text(json.dumps({"events": events}))
    done = subprocess.run(
        [
            AIRFLOW,
            "dags",
            "test",
            "live_event_preprovision",
            "-c",
            json.dumps({"calendar_path": str(calendar)}),
        ],
        env=site.env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    runs = site.api("GET", "/api/v2/dags/live_event/dagRuns?limit=100")["dag_runs"]
    notes = {
        r["conf"]["event"]["name"]: r["note"] for r in runs if r["conf"].get("calendar") == str(calendar)
    }
    local = start.in_timezone("Asia/Shanghai")
    assert notes == {
        "Planned *opener*": f"**Planned \\*opener\\*** · {local:%a %d %b %Y %H:%M} (Asia/Shanghai) · "
        f"{start:%H:%M} UTC · Huawei ISDP",
        "Planned closer": f"**Planned closer** · {start.add(hours=1):%a %d %b %Y %H:%M} UTC · "
        "Volcengine Live, Huawei ISDP",
    }


# -- registration ----------------------------------------------------------------------------------
def test_airflow_lists_the_plugin(site: Site) -> None:
    """On Airflow's default settings: the CLI and the api-server list it, with no import error."""
    out = subprocess.run(
        [AIRFLOW, "plugins", "-o", "json"], env=site.env, capture_output=True, text=True, check=True
    )
    plugins = {p["name"]: p for p in json.loads(out.stdout[out.stdout.index("[") :])}
    plugin = plugins["live_events"]
    assert "/live-events" in json.dumps(plugin["fastapi_apps"])
    assert "Live events" in json.dumps(plugin["external_views"])
    served = site.api("GET", "/api/v2/plugins")["plugins"]
    assert [p["name"] for p in served].count("live_events") == 1
    assert site.api("GET", "/api/v2/plugins/importErrors")["import_errors"] == []
    resp = site.request("GET", "/live-events/")
    assert resp.status == 200 and "<h1>Live events</h1>" in resp.body  # the page, not the UI's shell


@pytest.mark.parametrize("lazy", ["True", "False"])
@pytest.mark.parametrize("checkout_on_path", [False, True], ids=["installed", "checkout-on-path"])
def test_the_plugin_loads_once_however_providers_are_discovered(
    tmp_path: Path, lazy: str, checkout_on_path: bool
) -> None:
    """Loaded through the ``airflow.plugins`` entry point, so lazy discovery (the default) has it,
    and eager discovery does not register it a second time (that would be an import error). Also
    with the checkout on ``PYTHONPATH``, as the demo and the cluster test run Airflow: no build
    leftover there (``*.egg-info``, removed by ``make install``) makes a second distribution."""
    code = (
        "import json\n"
        "from airflow import plugins_manager\n"
        "plugins_manager.ensure_plugins_loaded()\n"
        "names = [p['name'] for p in plugins_manager.get_plugin_info()]\n"
        "print(json.dumps([names.count('live_events'), plugins_manager.get_import_errors()]))\n"
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")},
        "AIRFLOW_HOME": str(tmp_path),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__LAZY_DISCOVER_PROVIDERS": lazy,
        **({"PYTHONPATH": str(ROOT)} if checkout_on_path else {}),
    }
    cwd = ROOT if checkout_on_path else tmp_path
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=cwd, capture_output=True, text=True, check=True
    )
    count, errors = json.loads(out.stdout.strip().splitlines()[-1])
    assert count == 1
    # Ours only: the OpenLineage provider (a dev dependency) registers its own plugin twice under
    # eager discovery, which Airflow reports as its import error.
    assert {k: v for k, v in errors.items() if "OpenLineage" not in k} == {}


def test_provider_info_stays_within_airflows_schema_without_a_second_plugin_entry() -> None:
    """The plugin comes from the entry point alone: a ``plugins`` entry in the provider info would
    register it again whenever providers are discovered eagerly."""
    import importlib

    import jsonschema

    from airflow_live_provider.get_provider_info import get_provider_info

    schema_path = Path(importlib.import_module("airflow").__file__ or "").with_name(
        "provider_info.schema.json"
    )
    info = get_provider_info()
    jsonschema.validate(info, json.loads(schema_path.read_text()))
    assert "plugins" not in info
    from importlib.metadata import entry_points

    from airflow_live_provider.plugins.live_events import LiveEventsPlugin

    (entry,) = {e.value for e in entry_points(group="airflow.plugins", name="live_events")}
    assert entry == "airflow_live_provider.plugins.live_events:LiveEventsPlugin"
    assert LiveEventsPlugin.fastapi_apps[0]["url_prefix"] == "/live-events"


def test_loading_the_plugin_stays_light() -> None:
    """Every task process imports every plugin (for macros): FastAPI and Airflow's API security
    are imported only when the api-server first serves the page."""
    code = (
        "import sys, airflow.sdk\n"
        "import airflow_live_provider.plugins.live_events\n"
        "print('fastapi' in sys.modules, 'airflow.api_fastapi.core_api.security' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "False False"


# End to end (a real Airflow process, server or browser): `make test-e2e`.
pytestmark = pytest.mark.e2e
