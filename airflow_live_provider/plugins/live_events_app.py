"""The Live events pages, served by the api-server behind Airflow's own login.

- ``/live-events/``: the event instances of the lead window and the recent past, from Airflow's
  own records only (the ``live_event`` runs, their ``conf`` and their task instances): name, start
  in the event's zone and in UTC, where each step stands, links to the run and each task's logs.
  It never reads a vendor or a run sheet, so it holds no credential. Each conf goes through the
  calendar's validator; a run it refuses is listed as unreadable, naming the field.
- ``/live-events/runs/<run id>/sheet``: that run's run sheet (the same page as ``latest.html``),
  the one place with credentials; ``Cache-Control: no-store``.

The list needs read access to the ``live_event`` DAG's runs, a run sheet the right to operate them
(``requires_access_dag("PUT", RUN)``: it holds credentials); a Bearer token or the UI's ``_token``
cookie; anonymous 401, no access 403. A run id is checked
against Airflow's run-id pattern and looked up in the database; the sheet's location comes from
that run's ``conf`` (where its own steps wrote it), never from the URL.
"""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pendulum
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from airflow_live_provider.events.calendar import (
    DEFAULT_DURATION_MINUTES,
    MAX_DURATION_MINUTES,
    event_end,
    event_slug,
    go_live_window,
    jit_moments,
    validate_event,
)
from airflow_live_provider.events.event_steps import JIT_STEP, LABELS, TASK_IDS, steps_for
from airflow_live_provider.events.planner import EVENT_DAG_ID
from airflow_live_provider.events.run_records import RunSheetUnreadable, event_folder, read_sheet, sheet_uri
from airflow_live_provider.events.run_sheet_page import local_time, render_html
from airflow_live_provider.exceptions import LiveApiInputError
from airflow_live_provider.plugins import URL_PREFIX
from airflow_live_provider.reports.pages import document
from airflow_live_provider.times import parse_instant, utc_iso

#: The tasks of a ``live_event`` run, in the order the page shows them.
TASKS = TASK_IDS
#: The token tasks and the vendor whose just-in-time moment they wait for.
TOKEN_TASKS = {task_id: vendor for vendor, task_id in JIT_STEP.items()}
#: Most runs the list shows (those nearest to now first): bounds the page's work on a busy site.
MAX_RUNS = 2000
#: A planner run id (``planner.instance_run_id``): the instance's start in UTC as its third part.
PLANNER_RUN_ID = re.compile(r"event__[a-z0-9-]*__([0-9]{8}T[0-9]{6}Z)__[0-9a-f]{8}", re.ASCII)
#: The same shape in SQL ``LIKE`` (``_`` is one character, ``\_`` a literal underscore): the start is
#: then the 16 characters before the last 10 (``__`` and the hash).
PLANNER_RUN_ID_LIKE = r"event\_\_%\_\_________T______Z\_\_________"
#: A run sheet's path under ``/runs/<run id>``.
SHEET_SUFFIX = "/sheet"
#: Airflow's own cap on a run id's length.
MAX_RUN_ID = 250
NO_STORE = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

_CSS = """
body{max-width:1100px}
.event{background:#fff;border:1px solid #dde3ea;border-radius:8px;padding:10px 12px;margin:10px 0}
.event h2{margin:0 0 2px;font-size:1.1rem}.event h2 a{color:inherit}
.when{margin:0}.id{overflow-wrap:anywhere}.links{margin:2px 0 6px}.links a{margin-right:1em}
.steps{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,250px),1fr));gap:4px 12px;
list-style:none;padding:0;margin:6px 0 0}
.steps li{border-left:4px solid #c9d1db;padding:2px 8px;background:#f8fafc}
.steps li.ok{border-color:#2e8b57}.steps li.bad{border-color:#b3261e}.steps li.warn{border-color:#d08a00}
.steps a{color:inherit}.steps b{font-weight:600}
.badge{font-size:.8rem;border-radius:10px;padding:1px 8px;background:#eef1f5;vertical-align:2px}
.badge.ok{background:#e3f4ea}.badge.bad{background:#fbe4e2}.badge.warn{background:#fdf0d9}
.unreadable{border-left:4px solid #b3261e}.problem{overflow-wrap:anywhere;margin:4px 0}
"""
#: Each start in the viewer's own zone too (the browser knows it; the server does not).
_VIEWER_TIME = """<script>
for (const e of document.querySelectorAll("[data-utc]")) {
  const t = new Date(e.dataset.utc).toLocaleString([], {weekday: "short", day: "2-digit", month: "short",
    hour: "2-digit", minute: "2-digit", timeZoneName: "short"});
  e.textContent = " · " + t + " (your time)";
}
</script>"""
_SHEET_CSS = ".back{margin:0 0 8px}"


# -- reading Airflow's records ---------------------------------------------------------------------
def valid_run_id(run_id: str) -> bool:
    """Airflow's own rule for a run id given by a user, and never a path step (``.``, ``..``)."""
    from airflow.configuration import conf

    pattern = conf.get("scheduler", "allowed_run_id_pattern", fallback="").strip() or r"^[A-Za-z0-9_.~:+-]+$"
    return (
        0 < len(run_id) <= MAX_RUN_ID
        and not run_id.startswith(".")
        and ".." not in run_id
        and re.match(pattern, run_id) is not None
    )


def run_id_start(run_id: str) -> datetime | None:
    """The instance's start (UTC) a planner run id carries
    (``event__<name>__<YYYYmmddTHHMMSSZ>__<hash>``, ``planner.instance_run_id``); None otherwise."""
    match = PLANNER_RUN_ID.fullmatch(run_id)
    if match is None:
        return None
    try:
        return datetime.strptime(match.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _minutes(value: Any) -> timedelta:
    """A duration from a conf as the validator would read it; the longest allowed when it cannot
    tell (the run is then read, and its conf decides)."""
    if value is None or value == "":
        return timedelta(minutes=DEFAULT_DURATION_MINUTES)
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit() and len(value) < 9:
        value = int(value.strip())
    if isinstance(value, int | float) and not isinstance(value, bool) and 1 <= value <= MAX_DURATION_MINUTES:
        return timedelta(minutes=value)
    return timedelta(minutes=MAX_DURATION_MINUTES)


def shows(event: dict[str, Any], state: Any, now: datetime, past: timedelta, lead: timedelta) -> bool:
    """Whether the list shows an instance: starting within the lead, not ended before the past
    window, or its run still running (a run stuck past its event's end shows until it ends)."""
    if parse_instant(event["start"]) > now + lead:
        return False
    return event_end(event) >= now - past or state == "running"


def event_runs(
    now: datetime, past: timedelta, lead: timedelta, limit: int = MAX_RUNS
) -> tuple[list[dict[str, Any]], int]:
    """The ``live_event`` runs the list shows, with their conf read (``event`` or ``problem``)
    and, for the readable ones, their tasks' states; and how many more were left out (``limit``).

    Runs are chosen by their instance's start, not by when they were created (a planner with a
    long lead creates runs weeks ahead): first only run ids, states and durations of the runs
    whose start (in the planner's run id) may fall in the window, of runs still running, and of
    runs started by hand (other ids) created within the window's reach; then the conf of the
    chosen runs only, then the task instances of those shown as events.
    """
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import and_, func, not_, or_, select

    earliest = now - past - timedelta(minutes=MAX_DURATION_MINUTES)  # a start that may still show
    latest = now + lead
    planner = DagRun.run_id.like(PLANNER_RUN_ID_LIKE, escape="\\")
    stamp = func.substr(DagRun.run_id, func.length(DagRun.run_id) - 25, 16)
    with create_session() as session:
        rows = session.execute(
            select(DagRun.run_id, DagRun.state, DagRun.conf["event"]["duration_minutes"])
            .where(DagRun.dag_id == EVENT_DAG_ID)
            .where(
                or_(
                    and_(planner, stamp >= _stamp(earliest), stamp <= _stamp(latest)),
                    and_(not_(planner), DagRun.run_after >= earliest),
                    and_(DagRun.state == "running", or_(not_(planner), stamp < _stamp(earliest))),
                )
            )
        ).all()
        candidates: list[tuple[timedelta, str, Any]] = []
        for run_id, state, minutes in rows:
            start = run_id_start(run_id)
            if start is not None and state != "running":
                if start > latest or start + _minutes(minutes) < now - past:
                    continue
            candidates.append((abs((start or now) - now), run_id, state))
        candidates.sort()  # nearest to now first, when there are more than the limit
        left_out = max(0, len(candidates) - limit)
        confs: dict[str, Any] = {}
        for chunk in _chunks([run_id for _, run_id, _ in candidates[:limit]]):
            confs.update(
                session.execute(
                    select(DagRun.run_id, DagRun.conf).where(
                        DagRun.dag_id == EVENT_DAG_ID, DagRun.run_id.in_(chunk)
                    )
                ).all()
            )
        runs: dict[str, dict[str, Any]] = {}
        for _, run_id, state in candidates[:limit]:
            event, problem = read_event(confs.get(run_id))
            if event is not None and not shows(event, state, now, past, lead):
                continue
            runs[run_id] = {"run_id": run_id, "state": state, "event": event, "problem": problem, "tasks": {}}
        for chunk in _chunks([run_id for run_id, run in runs.items() if run["event"] is not None]):
            tis = session.execute(
                select(TaskInstance.run_id, TaskInstance.task_id, TaskInstance.state, TaskInstance.end_date)
                .where(TaskInstance.dag_id == EVENT_DAG_ID, TaskInstance.run_id.in_(chunk))
                .where(TaskInstance.map_index == -1)
            ).all()
            for run_id, task_id, state, end in tis:
                runs[run_id]["tasks"][task_id] = {"state": state, "end": end}
            # A run whose instance was edited or cancelled ends in success with its steps
            # skipped: its summary's outcome says which (secret-free by design).
            for run_id, value in session.execute(
                select(XComModel.run_id, XComModel.value)
                .where(XComModel.dag_id == EVENT_DAG_ID, XComModel.run_id.in_(chunk))
                .where(XComModel.task_id == "summary", XComModel.key == "return_value")
            ).all():
                runs[run_id]["outcome"] = _outcome(value)
    return list(runs.values()), left_out


def _outcome(value: Any) -> str | None:
    """The ``status`` of a summary's XCom (``done``, ``superseded``, ``cancelled``), if readable."""
    try:
        if isinstance(value, bytes | str):
            value = json.loads(value)
    except ValueError:
        return None
    status = value.get("status") if isinstance(value, dict) else None
    return status if isinstance(status, str) else None


def _chunks(items: list[str], size: int = 500) -> list[list[str]]:
    """Bounded ``IN (...)`` lists (every database caps a statement's parameters)."""
    return [items[i : i + size] for i in range(0, len(items), size)]


def event_run_conf(run_id: str) -> dict[str, Any] | None:
    """One ``live_event`` run's conf, or None when Airflow has no such run."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        row = session.execute(
            select(DagRun.conf).where(DagRun.dag_id == EVENT_DAG_ID, DagRun.run_id == run_id)
        ).first()
    if row is None:
        return None
    return row[0] if isinstance(row[0], dict) else {}


def read_event(conf: Any) -> tuple[dict[str, Any] | None, str]:
    """The instance a run's conf carries, through the calendar's own validator (as the run's steps
    read it: ``"60"`` minutes is 60, a start's stray spaces are dropped), or None and the problem,
    naming the field (the run's first step refuses the same conf with the same words)."""
    if not isinstance(conf, dict) or not isinstance(conf.get("event"), dict):
        return None, "conf.event: is missing or not an object (live_event runs are started by the planner)"
    try:
        return validate_event(conf["event"], 0), ""
    except LiveApiInputError as exc:
        # The validator numbers calendar entries (events[0]); a run's conf holds one, its event.
        field = re.sub(r"^events\[0\]", "event", exc.field)
        return None, f"conf: {field}: {exc.problem}"
    except Exception as exc:  # noqa: BLE001 - any content: the page lists the run, never fails
        return None, f"conf.event: cannot be read ({type(exc).__name__})"


def sheet_folder(conf: dict[str, Any], event: dict[str, Any]) -> str | None:
    """Where the run's own steps wrote its sheet (its conf's ``output_dir``, else the default
    root); None when the conf would lead anywhere else (a path step, a folder-like slug)."""
    output_dir = conf.get("output_dir")
    if output_dir is not None and not isinstance(output_dir, str):
        return None
    if output_dir and any(part in (".", "..") for part in output_dir.split("://", 1)[-1].split("/")):
        return None
    slug = event_slug(event)
    if not re.fullmatch(r"[\w-]+", slug) or slug.startswith(("-", "_")):
        return None
    return event_folder(output_dir, event)


# -- the list page ---------------------------------------------------------------------------------
def _at(moment: datetime | None) -> str | None:
    return utc_iso(moment) if moment else None


def step_status(
    task_id: str, task: dict[str, Any] | None, event: dict[str, Any], now: datetime
) -> tuple[str, str]:
    """What a step's task instance says, in the crew's words, and its colour class."""
    zone = event.get("timezone")
    state = str((task or {}).get("state") or "")
    end = _at((task or {}).get("end"))
    if state == "success":
        if task_id == "go_live":
            return f"live at {local_time(end, zone)}", "ok"
        if task_id in TOKEN_TASKS:
            return f"issued {local_time(end, zone)}", "ok"
        return "done", "ok"
    if state in ("failed", "upstream_failed"):
        return "failed", "bad"
    if state == "skipped":
        return "skipped", "muted"
    if state == "running":
        return "running", "warn"
    if state == "up_for_retry":
        return "failed once, retrying", "warn"
    # No state yet, scheduled, queued, deferred, up_for_reschedule: waiting for its moment.
    try:
        moment = None
        if task_id in TOKEN_TASKS:
            moment = jit_moments(event).get(TOKEN_TASKS[task_id])
        elif task_id == "go_live" and (window := go_live_window(event)):
            moment = window[0]
    except Exception:  # noqa: BLE001 - a malformed conf still lists its run, without the moment
        moment = None
    if moment is None:
        return "waiting", "muted"
    if moment <= now:
        return f"due since {local_time(utc_iso(moment), zone)}, not done", "warn"
    return f"waiting until {local_time(utc_iso(moment), zone)}", "muted"


def shown_tasks(event: dict[str, Any]) -> list[str]:
    """The tasks that apply to an instance (the others skip at once), then the summary."""
    try:
        return [*steps_for(event), "summary"]
    except Exception:  # noqa: BLE001 - a malformed conf: show every task
        return list(TASKS)


def run_badge(run: dict[str, Any]) -> Any:
    """The run's state, or what its summary found: an edited run is "superseded", a deleted or
    cancelled event's run "cancelled" (both end in success, their steps skipped)."""
    outcome = run.get("outcome")
    return outcome if outcome in ("cancelled", "superseded") else run.get("state")


def _badge(state: Any) -> str:
    text = str(state or "queued")
    css = {"success": "ok", "failed": "bad", "running": "warn", "cancelled": "warn"}.get(text, "")
    return f"<span class='badge {css}'>{html.escape(text)}</span>"


def airflow_root(request: Request) -> str:
    """Airflow's own base path (the app is mounted at ``<base>/live-events``)."""
    root = str(request.scope.get("root_path") or "")
    return root[: -len(URL_PREFIX)] if root.endswith(URL_PREFIX) else root


def event_card(run: dict[str, Any], event: dict[str, Any], root: str, now: datetime) -> str:
    esc = html.escape
    run_id = str(run["run_id"])
    zone = event.get("timezone")
    start = utc_iso(parse_instant(event["start"]))
    run_url = f"{root}/dags/{EVENT_DAG_ID}/runs/{quote(run_id, safe='')}"
    sheet_url = f"{root}{URL_PREFIX}/runs/{quote(run_id, safe='')}/sheet"
    steps = []
    for task_id in shown_tasks(event):
        text, css = step_status(task_id, run["tasks"].get(task_id), event, now)
        steps.append(
            f"<li class='{css}'><a target='_top' href='{esc(run_url)}/tasks/{task_id}'>"
            f"{esc(LABELS.get(task_id, task_id))}</a>: <b class='{css}'>{esc(text)}</b></li>"
        )
    return (
        f"<div class='event'><h2><a href='{esc(sheet_url)}'>{esc(event['name'])}</a> "
        f"{_badge(run_badge(run))}</h2>"
        f"<p class='when'>{esc(local_time(start, zone))}</p>"
        f"<p class='muted'>{esc(start.replace('T', ' ').rstrip('Z'))} UTC"
        f"<span class='yours' data-utc='{esc(start)}'></span> · run "
        f"<span class='id'>{esc(run_id)}</span></p>"
        f"<p class='links'><a href='{esc(sheet_url)}'>Run sheet</a>"
        f"<a target='_top' href='{esc(run_url)}'>Airflow run</a></p>"
        f"<ul class='steps'>{''.join(steps)}</ul></div>"
    )


def unreadable_card(run: dict[str, Any], problem: str, root: str) -> str:
    """A run whose definition cannot be read: its id, state, the problem (naming the field)."""
    esc = html.escape
    run_id = str(run["run_id"])
    run_url = f"{root}/dags/{EVENT_DAG_ID}/runs/{quote(run_id, safe='')}"
    return (
        f"<div class='event unreadable'><h2><span class='id'>{esc(run_id)}</span> {_badge(run['state'])}</h2>"
        f"<p class='problem'>{esc(problem)}</p>"
        f"<p class='links'><a target='_top' href='{esc(run_url)}'>Airflow run</a></p></div>"
    )


def list_page(
    runs: list[dict[str, Any]], now: datetime, past: timedelta, lead: timedelta, root: str, left_out: int = 0
) -> str:
    """Now and next (soonest first), then the recent past (latest first), then the runs whose
    definition cannot be read (``runs`` as :func:`event_runs` gives them)."""
    coming: list[tuple[datetime, str]] = []
    recent: list[tuple[datetime, str]] = []
    unreadable: list[str] = []
    for run in runs:
        event = run["event"]
        if event is None:
            unreadable.append(unreadable_card(run, run["problem"], root))
            continue
        start, end = parse_instant(event["start"]), event_end(event)
        if not shows(event, run["state"], now, past, lead):
            continue
        card = event_card(run, event, root, now)
        (coming if end >= now else recent).append((start, card))
    coming.sort(key=lambda item: item[0])
    recent.sort(key=lambda item: item[0], reverse=True)
    hours = f"{lead.total_seconds() / 3600:g} h"
    parts = [
        "<h1>Live events</h1>",
        f"<p class='muted'>Event instances (runs of <code>{EVENT_DAG_ID}</code>) starting within {hours}, "
        f"running, or ended in the past {past.total_seconds() / 3600:g} h. Times in each event's own "
        f"zone, then UTC. As of {esc_time(now)}. Open a run sheet for push URLs and tokens.</p>",
        *(
            [
                f"<p class='problem'>{left_out} more runs in the window are not shown (the page shows the "
                f"{MAX_RUNS} nearest to now); narrow it with <code>?lead_hours=</code> and "
                "<code>?past_hours=</code>.</p>"
            ]
            if left_out
            else []
        ),
        f"<h2>Now and next ({len(coming)})</h2>",
        *([card for _, card in coming] or ["<p>No event in the window.</p>"]),
        f"<h2>Recent ({len(recent)})</h2>",
        *([card for _, card in recent] or ["<p>None.</p>"]),
    ]
    if unreadable:
        parts += [
            f"<h2>Cannot be read ({len(unreadable)})</h2>",
            "<p class='muted'>Runs whose definition (<code>conf</code>) the calendar's validator refuses; "
            "their steps refuse it too. Plan them again from a corrected calendar.</p>",
            *unreadable,
        ]
    return document("Live events", [*parts, _VIEWER_TIME], css=_CSS)


def esc_time(moment: datetime) -> str:
    return html.escape(moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"))


# -- the app ---------------------------------------------------------------------------------------
def login_url(request: Request) -> str:
    """The auth manager's login page, coming back to this page (else Airflow's home)."""
    try:
        from airflow.api_fastapi.app import get_auth_manager

        return get_auth_manager().get_url_login(next_url=str(request.url))
    except Exception:  # noqa: BLE001 - an auth manager without a login page
        return airflow_root(request) or "/"


def _page(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(body, status_code=status, headers=NO_STORE)


def _message(title: str, text: str, status: int) -> HTMLResponse:
    return _page(document(title, [f"<h1>{html.escape(title)}</h1>", f"<p>{text}</p>"]), status)


def build_app() -> FastAPI:
    """The FastAPI app the api-server mounts at ``/live-events``."""
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
    from airflow.api_fastapi.core_api.security import requires_access_dag, requires_authenticated

    may_read_runs = Depends(requires_access_dag("GET", DagAccessEntity.RUN, param_dag_id=EVENT_DAG_ID))
    # A run sheet holds live credentials (push URLs, tokens): only who may operate the event's runs
    # (PUT: clear, mark, re-run them, i.e. act on the event anyway) reads it, not every viewer.
    may_operate_runs = Depends(requires_access_dag("PUT", DagAccessEntity.RUN, param_dag_id=EVENT_DAG_ID))
    app = FastAPI(title="Live events", docs_url=None, redoc_url=None, openapi_url=None)

    @app.exception_handler(StarletteHTTPException)
    async def refused(request: Request, exc: StarletteHTTPException) -> HTMLResponse:
        """Refusals as short pages (nothing cached); 401 links to Airflow's login and back."""
        if exc.status_code == 401:
            login = html.escape(login_url(request))
            text = (
                f"Log in to Airflow first: <a href='{login}' target='_top'>log in</a> (you come back here)."
            )
        elif exc.status_code == 403 and request.url.path.endswith(SHEET_SUFFIX):
            text = (
                "Run sheets hold live credentials: your Airflow role must be allowed to operate the runs "
                f"of the <code>{EVENT_DAG_ID}</code> DAG (the built-in User role and above). The "
                f"<a href='{html.escape(airflow_root(request) + URL_PREFIX)}/'>Live events list</a> "
                "shows where each event stands."
            )
        elif exc.status_code == 403:
            text = f"Your Airflow role may not read the runs of the <code>{EVENT_DAG_ID}</code> DAG."
        elif exc.status_code == 404:
            text = "No such event run."
        else:
            text = html.escape(str(exc.detail))
        return _message(f"{exc.status_code}", text, exc.status_code)

    @app.get("/", response_class=HTMLResponse, dependencies=[may_read_runs])
    def live_events(
        request: Request,
        lead_hours: float = Query(24, gt=0, le=24 * 366),
        past_hours: float = Query(24, ge=0, le=24 * 366),
    ) -> HTMLResponse:
        now = pendulum.now("UTC")
        past, lead = timedelta(hours=past_hours), timedelta(hours=lead_hours)
        runs, left_out = event_runs(now, past, lead)
        return _page(list_page(runs, now, past, lead, airflow_root(request), left_out))

    @app.get(
        "/dags/{dag_id}/runs/{run_id}/tab",
        response_class=HTMLResponse,
        response_model=None,
        dependencies=[Depends(requires_authenticated())],
    )
    def run_tab(request: Request, dag_id: str, run_id: str) -> HTMLResponse | RedirectResponse:
        """The **Run sheet** tab of a run's page: a live_event run's sheet (its own checks apply),
        a short page for any other DAG's run."""
        home = html.escape(airflow_root(request) + URL_PREFIX)
        if dag_id != EVENT_DAG_ID:
            return _message(
                "Not an event run",
                f"This is a run of <code>{html.escape(dag_id)}</code>. Run sheets belong to runs of "
                f"<code>{EVENT_DAG_ID}</code>, one per event instance: see "
                f"<a href='{home}/'>Live events</a>.",
                200,
            )
        if not valid_run_id(run_id):
            raise HTTPException(404)
        sheet = f"{airflow_root(request)}{URL_PREFIX}/runs/{quote(run_id, safe='')}{SHEET_SUFFIX}"
        return RedirectResponse(sheet, status_code=307, headers=NO_STORE)

    @app.get("/runs/{run_id}" + SHEET_SUFFIX, response_class=HTMLResponse, dependencies=[may_operate_runs])
    def run_sheet(request: Request, run_id: str) -> HTMLResponse:
        if not valid_run_id(run_id):
            raise HTTPException(404)
        conf = event_run_conf(run_id)
        if conf is None:
            raise HTTPException(404)
        event, problem = read_event(conf)
        if event is None:
            return _message("Run definition unreadable", html.escape(problem), 422)
        folder = sheet_folder(conf, event)
        if folder is None:
            raise HTTPException(404)
        home = html.escape(airflow_root(request) + URL_PREFIX)
        back = f"<p class='back'><a href='{home}/'>&larr; Live events</a></p>"
        try:
            sheet = read_sheet(sheet_uri(folder, run_id))
        except RunSheetUnreadable:
            return _message(
                "Run sheet unreadable",
                "The run sheet exists but cannot be read now; try again, or see the run's task logs.",
                503,
            )
        if sheet is None or sheet.get("runId") != run_id:
            return _message(
                "No run sheet yet",
                f"{html.escape(event['name'])}: this run has not written its run sheet yet (its first "
                f"step does). Open this page again in a minute.</p>{back}<p>",
                200,
            )
        try:
            rendered = render_html(sheet)
        except Exception:  # noqa: BLE001 - a sheet file edited by hand: a short page, never a 500
            return _message(
                "Run sheet unreadable", "The run sheet cannot be shown; see the run's task logs.", 503
            )
        page = rendered.replace("<body>", f"<body>\n{back}", 1).replace(
            "</style>", f"{_SHEET_CSS}</style>", 1
        )
        return _page(page)

    return app
