"""The steps of one event instance's run (DAG ``live_event``), each on the instance's own clock.

The planner (:mod:`airflow_live_provider.events.planner`) starts one run per instance; its tasks call:

- :func:`provision_push` (Volcengine push auth, then push URLs valid through the end) and
  :func:`provision_receivers` (Polyv receive channels, idempotent), as soon as the run starts;
- :func:`issue_credentials` for ``polyv`` (watch tokens) and ``isdp`` (join tokens), each in its
  own task, at ``start - token_lead_seconds`` (the operator defers to that moment);
- :func:`record_go_live` from the go-live watch, and :func:`summarize` once every step is done.

Steps are independent: a Polyv failure never blocks ISDP tokens, a push-auth failure blocks
neither. Each step writes only its own record (``run_sheets.step_uri``) and then republishes the
run sheet from all records, so no step loses another's update. A record that exists but cannot be
read fails the step without issuing (only "not found" means "not done yet"). Before creating or
issuing, a step checks the calendar still holds the run's definition; a superseded or removed
instance issues nothing and says so on its sheet. Every secret a vendor returns is masked in the
logs as it arrives; the records and sheets (which the crew needs) carry them, the returned
summaries never do. Data flows one way: this module calls :mod:`airflow_live_provider.steps`,
which calls the hooks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSkipException

from airflow_live_provider.events.calendar import event_end, jit_moments
from airflow_live_provider.events.planner import current_definition, definition_hash, event_from_conf
from airflow_live_provider.events.run_sheets import (
    DONE,
    FAILED,
    JIT_KEY,
    MISSED,
    SUPERSEDED,
    event_folder,
    publish,
    read_step,
    read_steps,
    sheet_uri,
    steps_for,
    write_step,
)
from airflow_live_provider.exceptions import LiveApiError, LiveApiInputError
from airflow_live_provider.outputs import parse_time, utc_iso, writable_output

#: Push URLs generated ahead stay valid this long after the event's end (overruns happen).
PUSH_URL_GRACE = timedelta(hours=1)
#: What each just-in-time vendor issues, for messages and pages.
JIT_WHAT = {"polyv": "Polyv watch tokens", "isdp": "ISDP join tokens"}
#: The step that issues each vendor's just-in-time credentials.
JIT_STEP = {"polyv": "polyv_tokens", "isdp": "isdp_tokens"}
#: However close to the start a step wakes, it gets at least this long to issue (retries and
#: timeouts included): a vendor answering in under a second must not fail for want of time.
MIN_ISSUE_BUDGET = timedelta(seconds=60)


@dataclass(frozen=True)
class EventRun:
    """One ``live_event`` run: its instance (validated), where its sheets go, its run id."""

    event: dict[str, Any]
    conf: dict[str, Any]
    run_id: str
    folder: str

    @property
    def name(self) -> str:
        return str(self.event["name"])

    @property
    def start(self) -> datetime:
        return parse_time(self.event["start"])


def event_run(conf: Any, run_id: str | None) -> EventRun:
    """The run's instance from its ``conf``, and its run-sheet location proven writable before
    any vendor call."""
    event = event_from_conf(conf)
    conf = dict(conf)
    conf.setdefault("definition", definition_hash(conf["event"]))
    folder = event_folder(conf.get("output_dir") or None, event)
    rid = str(run_id or "manual")
    writable_output(sheet_uri(folder, rid), "output_dir")
    return EventRun(event=event, conf=conf, run_id=rid, folder=folder)


def ensure_current(run: EventRun, step: str) -> None:
    """Skip the step (recording why on the sheet) when the calendar no longer holds this run's
    definition: a newer run issues for the new one; nothing is issued for the stale one."""
    verdict, detail = current_definition(run.conf, run.event)
    if verdict in ("current", "unknown"):
        if detail:
            print(f"event {run.name!r}: {detail}; going on with this run's definition")
        return
    what = "was changed in the calendar" if verdict == "changed" else "was removed from the calendar"
    message = f"event {run.name!r} {what} ({detail}): {step} issues nothing for this run"
    write_step(
        run.folder, run.run_id, "superseded", {"status": SUPERSEDED, "verdict": verdict, "detail": detail}
    )
    publish(run.folder, run.run_id, run.event, latest=False)
    raise AirflowSkipException(message)


def _is_current(run: EventRun) -> bool:
    return read_step(run.folder, run.run_id, "superseded") is None


def _step(
    run: EventRun, step: str, body: Callable[[], dict[str, Any]]
) -> tuple[dict[str, str], dict[str, Any]]:
    """Run a step's body; record its result or its failure; republish the sheet. Returns the
    sheet's URIs and the record written (no need to read it back)."""
    try:
        result = body()
    except (LiveApiError, AirflowException) as exc:
        if not isinstance(exc, AirflowSkipException):
            write_step(run.folder, run.run_id, step, {"status": FAILED, "error": str(exc)[:2000]})
            publish(run.folder, run.run_id, run.event, latest=_is_current(run))
        raise
    record = write_step(run.folder, run.run_id, step, {"status": DONE, "runId": run.run_id, "result": result})
    return publish(run.folder, run.run_id, run.event, latest=_is_current(run)), record


def _summary(run: EventRun, step: str, **extra: Any) -> dict[str, Any]:
    return {
        "event": run.name,
        "occurrence": run.event.get("occurrence"),
        "start": run.event["start"],
        "step": step,
    } | extra


# -- ahead ---------------------------------------------------------------------------------------
def provision_push(run: EventRun, *, volcengine_conn_id: str = "volcengine_live_default") -> dict[str, Any]:
    """Push auth must be enabled (else the step fails before anything is created); push URLs
    valid through the end (+1 h, or ``valid_duration``)."""
    volc = run.event["volcengine"]
    end = event_end(run.event)
    push_until: datetime = end + PUSH_URL_GRACE
    if volc.get("valid_duration"):
        push_until = datetime.now(UTC) + timedelta(seconds=volc["valid_duration"])
        if push_until < end:
            raise LiveApiInputError(
                f"event {run.name!r}.volcengine.valid_duration",
                f"{volc['valid_duration']} s from now ends at {utc_iso(push_until)}, before the "
                f"event ends at {utc_iso(end)}; remove it (push URLs then last until "
                f"{int(PUSH_URL_GRACE.total_seconds() // 60)} min after the end) or raise it",
                vendor="calendar",
            )
    ensure_current(run, "volcengine")
    counted: dict[str, Any] = {}

    def body() -> dict[str, Any]:
        from airflow_live_provider.hooks.volcengine import VolcengineLiveHook
        from airflow_live_provider.steps import check_push_auth, generate_push_urls, push_url_count

        hook = VolcengineLiveHook(volcengine_conn_id=volcengine_conn_id)
        check_push_auth(hook, volc["vhost"], volc["app"], about=f"event {run.name!r}: ")
        pushed = generate_push_urls(
            hook,
            volc["vhost"],
            volc["app"],
            volc["stream"],
            domain=volc.get("domain"),
            expired_time=push_until,
        )
        counted.update(push_url_count=push_url_count(pushed.result), push_urls_valid_until=pushed.valid_until)
        return {"push": pushed.result, "validFrom": pushed.valid_from, "validUntil": pushed.valid_until}

    written, _record = _step(run, "volcengine", body)
    return _summary(run, "volcengine", push_auth="enabled", **counted) | written


def provision_receivers(run: EventRun, *, polyv_conn_id: str = "polyv_default") -> dict[str, Any]:
    """Polyv receive channels on the transmit channel (existing names are reused, never doubled)."""
    polyv = run.event["polyv"]
    ensure_current(run, "polyv_channels")

    def body() -> dict[str, Any]:
        from airflow_live_provider.hooks.polyv import PolyvHook

        receivers = PolyvHook(polyv_conn_id=polyv_conn_id).create_transmit_channels(
            polyv["channel_id"], polyv["receive_channel_names"]
        )
        return {
            "receiveChannels": [{k: r.get(k) for k in ("name", "channelId", "created")} for r in receivers]
        }

    written, record = _step(run, "polyv_channels", body)
    receive = record["result"]["receiveChannels"]
    return (
        _summary(
            run,
            "polyv_channels",
            transmit_channel_id=polyv["channel_id"],
            receive_channels=receive,
            created=sum(1 for r in receive if r.get("created")),
        )
        | written
    )


# -- just in time -----------------------------------------------------------------------------------
def credential_moment(run: EventRun, vendor: str) -> datetime:
    return jit_moments(run.event)[vendor]


def already_issued(run: EventRun, vendor: str) -> dict[str, Any] | None:
    """This run's record of the vendor's credentials when they were issued (then never again).

    A record that cannot be read raises: it is not taken for "not issued"."""
    record = read_step(run.folder, run.run_id, JIT_STEP[vendor])
    return record if record and record.get("status") == DONE else None


def issue_credentials(
    run: EventRun,
    vendor: str,
    *,
    polyv_conn_id: str = "polyv_default",
    isdp_conn_id: str = "isdp_default",
    now: datetime | None = None,
    min_budget: timedelta = MIN_ISSUE_BUDGET,
) -> dict[str, Any]:
    """Issue one vendor's just-in-time credentials now and record them (secret-free summary).

    Already issued by this run: nothing is issued again. Woken after the event's end: the step
    fails as missed. Before the start, retries stop at the start, or ``min_budget`` (default
    :data:`MIN_ISSUE_BUDGET`) from now if that is later. A token the vendor reports as expiring
    before the start is refused, not written.
    """
    if vendor not in JIT_STEP:
        raise LiveApiInputError("vendor", f"{vendor!r} issues nothing just in time; use polyv or isdp")
    step = JIT_STEP[vendor]
    if (done := already_issued(run, vendor)) is not None:
        return _jit_summary(run, vendor, done, issued_now=False)
    now = now or datetime.now(UTC)
    moment, end = credential_moment(run, vendor), event_end(run.event)
    if now >= end:
        message = (
            f"missed: {JIT_WHAT[vendor]} for event {run.name!r} were due at {utc_iso(moment)}; the step "
            f"ran at {utc_iso(now)}, after the event ended at {utc_iso(end)}. Nothing was issued"
        )
        write_step(run.folder, run.run_id, step, {"status": MISSED, "error": message})
        publish(run.folder, run.run_id, run.event, latest=_is_current(run))
        raise AirflowFailException(message)
    ensure_current(run, step)
    give_up = max(run.start, now + min_budget) if now < run.start else None

    def body() -> dict[str, Any]:
        try:
            if vendor == "polyv":
                return _issue_polyv(run, polyv_conn_id, give_up)
            return _issue_isdp(run, isdp_conn_id, give_up)
        except LiveApiError as exc:
            when = "before the start" if give_up else "(the event has started)"
            final = not exc.retryable  # a task retry helps only if the failure was transient
            raise (AirflowFailException if final else AirflowException)(
                f"event {run.name!r}: {JIT_WHAT[vendor]} could not be issued {when} at "
                f"{utc_iso(run.start)}: {exc}"
            ) from exc

    _written, record = _step(run, step, body)
    summary = _jit_summary(run, vendor, record, issued_now=True)
    if summary["seconds_before_start"] is not None:
        from airflow_live_provider.metrics import record_token_lead

        record_token_lead(vendor, summary["seconds_before_start"])
    return summary


def _jit_summary(run: EventRun, vendor: str, record: dict[str, Any], *, issued_now: bool) -> dict[str, Any]:
    """Secret-free: how many, issued when, the earliest expiry, how early before the start."""
    items = (record.get("result") or {}).get(JIT_KEY[vendor]) or []
    untils = [t["validUntil"] for t in items if isinstance(t, dict) and t.get("validUntil")]
    issued_at = record.get("at")
    lead = (run.start - parse_time(issued_at)).total_seconds() if issued_at else None
    return _summary(
        run,
        JIT_STEP[vendor],
        vendor=vendor,
        issued_now=issued_now,
        count=len(items),
        issued_at=issued_at,
        seconds_before_start=lead,
        valid_until=min(untils) if untils else None,
    )


def _issue_polyv(run: EventRun, conn_id: str, give_up: datetime | None) -> dict[str, Any]:
    from airflow_live_provider.hooks.polyv import PolyvHook
    from airflow_live_provider.steps import issue_watch_tokens

    polyv = run.event["polyv"]
    hook = PolyvHook(polyv_conn_id=conn_id)
    hook.give_up_at(give_up)
    channel = polyv.get("watch_channel_id") or polyv["channel_id"]
    tokens = issue_watch_tokens(hook, channel, polyv["viewers"])
    return {JIT_KEY["polyv"]: tokens.tokens, "validUntil": tokens.expires_at}


def _issue_isdp(run: EventRun, conn_id: str, give_up: datetime | None) -> dict[str, Any]:
    from airflow_live_provider.hooks.isdp import IsdpHook
    from airflow_live_provider.steps import fetch_join_tokens

    isdp = run.event["isdp"]
    hook = IsdpHook(isdp_conn_id=conn_id)
    hook.give_up_at(give_up)
    joined = fetch_join_tokens(hook, isdp["channel_ids"], isdp["user_account"], isdp["role"])
    requested = parse_time(joined.requested_at)
    if joined.expires_at and requested < run.start and parse_time(joined.expires_at) < run.start:
        lifetimes = sorted({str(e.get("expirationTime")) for e in joined.entries if e.get("expirationTime")})
        early = int((run.start - requested).total_seconds())
        raise AirflowFailException(
            f"event {run.name!r}: ISDP join tokens issued at {joined.requested_at}, {early} s before "
            f"the start at {utc_iso(run.start)}, expire at {joined.expires_at} (the vendor reports a "
            f"lifetime of {', '.join(lifetimes) or 'unknown'} s); they were not written. Issue them later: "
            f"isdp.token_lead_seconds (now {isdp['token_lead_seconds']}) must stay below that lifetime"
        )
    return {JIT_KEY["isdp"]: joined.entries, "validUntil": joined.expires_at}


# -- go-live and after --------------------------------------------------------------------------------
def record_go_live(
    run: EventRun, status: str, *, live_at: str | None = None, error: str | None = None
) -> None:
    """The go-live watch's outcome on the sheet: live at, or why not."""
    record: dict[str, Any] = {"status": status}
    if live_at:
        from airflow_live_provider.metrics import record_go_live_delay

        record["liveAt"] = live_at
        record["secondsAfterStart"] = (parse_time(live_at) - run.start).total_seconds()
        record_go_live_delay(record["secondsAfterStart"])
    if error:
        record["error"] = error[:2000]
    write_step(run.folder, run.run_id, "go_live", record)
    publish(run.folder, run.run_id, run.event, latest=_is_current(run))


def summarize(run: EventRun) -> dict[str, Any]:
    """After every step: what happened (secret-free), on the sheet and as XCom. Fails the run,
    naming each failed step and why, when any step failed or left no record."""
    records = read_steps(run.folder, run.run_id, run.event)
    superseded = records.get("superseded")
    outcome: dict[str, Any] = {}
    problems = []
    for step in steps_for(run.event):
        record = records.get(step)
        if record is None:
            status = SUPERSEDED if superseded else "no record"
            outcome[step] = {"status": status}
            if not superseded:
                problems.append(f"{step}: left no record (see the task's log)")
            continue
        outcome[step] = {k: record.get(k) for k in ("status", "at", "liveAt", "error") if record.get(k)}
        if record.get("status") in (FAILED, MISSED):
            problems.append(f"{step}: {record.get('error')}")
    status = SUPERSEDED if superseded else (FAILED if problems else DONE)
    write_step(run.folder, run.run_id, "outcome", {"status": status, "steps": outcome})
    written = publish(run.folder, run.run_id, run.event, latest=_is_current(run))
    if problems:
        raise AirflowFailException(f"event {run.name!r}: " + "; ".join(problems))
    return _summary(run, "outcome", status=status, steps=outcome) | written
