"""The steps of one event instance's run (DAG ``live_event``), each on the instance's own clock.

The planner (:mod:`airflow_live_provider.events.planner`) starts one run per definition of an
instance; its tasks call:

- :func:`provision_push` (Volcengine push auth, then push URLs valid through the end) and
  :func:`provision_receivers` (Polyv receive channels, idempotent), as soon as the run starts;
- :func:`issue_credentials` for ``polyv`` (watch tokens) and ``isdp`` (join tokens), each in its
  own task, at ``start - token_lead_seconds`` (the operator defers to that moment);
- :func:`record_go_live` from the go-live watch, and :func:`summarize` once every step is done.

**The calendar decides.** Every step first asks the calendar, where the planner reads it now
(:func:`check_current`): an instance changed since the run was made is *superseded* (the run for
the new definition takes over), one removed or marked cancelled is *cancelled*; either issues
nothing more and ends without failing. A calendar that cannot be read fails the step as
retryable: an old definition is never issued on a guess.

**Issued once per instance.** What a step obtained is also kept for the instance
(``run_records.write_issued``), whichever run issued it. A step reuses what is still right for the
current definition (same stream, channel, viewer or account; valid through the end or at the
start) and issues only what is missing: an added viewer gets a token, the others keep theirs; an
edit during the event, a clear or a retry issues nothing new; an extension past the push URLs'
validity gets new ones. A record that exists but cannot be read fails the step without issuing
(only "not found" means "not done yet"); a done record is never overwritten by a failure. Every
secret a vendor returns is masked in the logs as it arrives; the records and sheets (which the
crew needs) carry them, the returned summaries never do. Data flows one way: this module calls
:mod:`airflow_live_provider.workflow.vendor_steps`, which calls the hooks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSkipException

from airflow_live_provider.events.calendar import event_end, go_live_window, jit_moments, read_calendar
from airflow_live_provider.events.event_steps import JIT_STEP, steps_for
from airflow_live_provider.events.planner import calendar_verdict, definition_hash, event_from_conf
from airflow_live_provider.events.run_records import (
    CANCELLED,
    DONE,
    FAILED,
    JIT_KEY,
    MISSED,
    SUPERSEDED,
    event_folder,
    read_issued,
    read_step,
    read_steps,
    sheet_uri,
    write_issued,
    write_step,
)
from airflow_live_provider.events.run_sheets import publish
from airflow_live_provider.exceptions import LiveApiError, LiveApiInputError
from airflow_live_provider.outputs import writable_output
from airflow_live_provider.times import parse_instant, utc_iso

#: Push URLs generated ahead stay valid this long after the event's end (overruns happen).
PUSH_URL_GRACE = timedelta(hours=1)
#: What each just-in-time vendor issues, for messages and pages.
JIT_WHAT = {"polyv": "Polyv watch tokens", "isdp": "ISDP join tokens"}
#: However close to the start a step wakes, it gets at least this long to issue (retries and
#: timeouts included): a vendor answering in under a second must not fail for want of time.
MIN_ISSUE_BUDGET = timedelta(seconds=60)


class CalendarUnreadable(AirflowException):
    """The calendar cannot be read at a step's moment: the step fails (and is retried) rather than
    issue a definition that may have been edited or cancelled."""


@dataclass
class EventRun:
    """One ``live_event`` run: its instance (validated), where its sheets go, its run id, and
    whether this step found it current (only then does it publish ``latest.*``)."""

    event: dict[str, Any]
    conf: dict[str, Any]
    run_id: str
    folder: str
    current: bool = False

    @property
    def name(self) -> str:
        return str(self.event["name"])

    @property
    def start(self) -> datetime:
        return parse_instant(self.event["start"])


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


def current_verdict(run: EventRun) -> tuple[str, str]:
    """``(verdict, detail)`` for this run's definition against the calendar as the planner reads
    it now (see :func:`calendar_verdict`). A run made by hand with only ``{"event": ...}`` has no
    calendar: its own definition is current. Unreadable: :class:`CalendarUnreadable`."""
    if not run.conf.get("calendar"):
        return "current", ""
    from airflow_live_provider.calendar_source import calendar_location

    try:
        events = read_calendar(calendar_location(str(run.conf["calendar"])))
    except Exception as exc:  # any reason: read error, parse error, validation error
        raise CalendarUnreadable(
            f"event {run.name!r}: the calendar cannot be read now ({type(exc).__name__}: "
            f"{str(exc)[:300]}); nothing was issued. Fix it; the step is retried"
        ) from None
    verdict, detail, _found = calendar_verdict(run.conf, run.event, events)
    return verdict, detail


def refresh_current(run: EventRun) -> bool:
    """Whether this run's definition is current now (False when the calendar cannot be read),
    without recording anything: for a step that has an outcome to record either way."""
    try:
        run.current = current_verdict(run)[0] == "current"
    except CalendarUnreadable:
        run.current = False
    return run.current


def check_current(run: EventRun, step: str) -> None:
    """Go on only when the calendar still holds this run's definition; else record why on the
    sheet (superseded, or cancelled: then ``latest.*`` says so too) and skip the step."""
    run.current = False
    verdict, detail = current_verdict(run)
    if verdict == "current":
        run.current = True
        return
    status = CANCELLED if verdict == "cancelled" else SUPERSEDED
    what = "was changed in the calendar" if status == SUPERSEDED else "was cancelled"
    message = f"event {run.name!r} {what} ({detail}): {step} issues nothing for this run"
    write_step(run.folder, run.run_id, "superseded", {"status": status, "verdict": verdict, "detail": detail})
    # Cancelled: nobody else will update the instance's latest page, so this run says it there.
    publish(run.folder, run.run_id, run.event, latest=status == CANCELLED)
    raise AirflowSkipException(message)


def _step(
    run: EventRun, step: str, body: Callable[[], dict[str, Any]]
) -> tuple[dict[str, str], dict[str, Any]]:
    """Run a step's body; record its result or its failure; republish the sheet. Returns the
    sheet's URIs and the record written. A failure never overwrites a done record."""
    try:
        result = body()
    except (LiveApiError, AirflowException) as exc:
        if not isinstance(exc, AirflowSkipException) and not _done(run, step):
            write_step(run.folder, run.run_id, step, {"status": FAILED, "error": str(exc)[:2000]})
            publish(run.folder, run.run_id, run.event, latest=run.current)
        raise
    record = write_step(run.folder, run.run_id, step, {"status": DONE, "runId": run.run_id, "result": result})
    return publish(run.folder, run.run_id, run.event, latest=run.current), record


def _done(run: EventRun, step: str) -> dict[str, Any] | None:
    record = read_step(run.folder, run.run_id, step)
    return record if record and record.get("status") == DONE else None


def _keep(run: EventRun, step: str, basis: dict[str, Any], result: dict[str, Any]) -> None:
    """What the instance now holds from ``step`` (for later runs of it to reuse)."""
    write_issued(run.folder, step, {"runId": run.run_id, "basis": basis, "result": result})


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
    valid through the end (+1 h, or ``valid_duration``). Push URLs the instance already holds for
    the same stream and valid through its (current) end are kept: nothing is generated again."""
    check_current(run, "volcengine")
    volc = run.event["volcengine"]
    end = event_end(run.event)
    basis = {k: volc.get(k) for k in ("vhost", "app", "stream", "domain")}
    held = read_issued(run.folder, "volcengine")
    if held and held.get("basis") == basis and _valid_through(held.get("result"), end):
        written, _record = _step(run, "volcengine", lambda: held["result"] | {"reused": held.get("runId")})
        return _summary(run, "volcengine", push_auth="enabled", reused=True) | written
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
    counted: dict[str, Any] = {}

    def body() -> dict[str, Any]:
        from airflow_live_provider.hooks.volcengine import VolcengineLiveHook
        from airflow_live_provider.workflow.vendor_steps import (
            check_push_auth,
            generate_push_urls,
            push_url_count,
        )

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
        result = {"push": pushed.result, "validFrom": pushed.valid_from, "validUntil": pushed.valid_until}
        _keep(run, "volcengine", basis, result)
        return result

    written, _record = _step(run, "volcengine", body)
    return _summary(run, "volcengine", push_auth="enabled", **counted) | written


def _valid_through(result: Any, moment: datetime) -> bool:
    until = (result or {}).get("validUntil") if isinstance(result, dict) else None
    return isinstance(until, str) and parse_instant(until) >= moment


def provision_receivers(run: EventRun, *, polyv_conn_id: str = "polyv_default") -> dict[str, Any]:
    """Polyv receive channels on the transmit channel (existing names are reused, never doubled;
    names the instance already holds need no call at all)."""
    check_current(run, "polyv_channels")
    polyv = run.event["polyv"]
    names = list(polyv["receive_channel_names"])
    basis = {"channel_id": polyv["channel_id"]}
    held = read_issued(run.folder, "polyv_channels")
    known = {
        r.get("name"): r
        for r in ((held or {}).get("result") or {}).get("receiveChannels") or []
        if isinstance(r, dict) and held and held.get("basis") == basis
    }

    def body() -> dict[str, Any]:
        own = (_done(run, "polyv_channels") or {}).get("result") or {}
        if [r.get("name") for r in own.get("receiveChannels") or []] == names:
            return dict(own)  # this run's own record (a clear, a retry): as it was
        if all(name in known for name in names):
            return {"receiveChannels": [known[name] | {"created": False} for name in names]}
        from airflow_live_provider.hooks.polyv import PolyvHook

        receivers = PolyvHook(polyv_conn_id=polyv_conn_id).create_transmit_channels(
            polyv["channel_id"], names
        )
        result = {
            "receiveChannels": [{k: r.get(k) for k in ("name", "channelId", "created")} for r in receivers]
        }
        _keep(
            run, "polyv_channels", basis, {"receiveChannels": [*known.values(), *result["receiveChannels"]]}
        )
        return result

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


def _jit_basis(run: EventRun, vendor: str) -> dict[str, Any]:
    """What a vendor's just-in-time credentials are issued for (besides each viewer or channel)."""
    if vendor == "polyv":
        polyv = run.event["polyv"]
        return {"channel": polyv.get("watch_channel_id") or polyv["channel_id"]}
    isdp = run.event["isdp"]
    return {"user_account": isdp["user_account"], "role": isdp["role"]}


def _still_good(item: Any, run: EventRun, held_start: Any) -> bool:
    """A held credential is right for the current definition when valid at its (current) start
    (or issued after it, during the event); one without a known expiry only if the start did
    not move."""
    if not isinstance(item, dict):
        return False
    until = item.get("validUntil")
    if isinstance(until, str) and until:
        return parse_instant(until) >= run.start
    return held_start == run.event["start"]


def held_credentials(run: EventRun, vendor: str) -> tuple[list[dict[str, Any]], list[Any]]:
    """``(kept, missing)``: the instance's credentials of this vendor still right for the current
    definition, and the viewers (Polyv) or channel ids (ISDP) that still need one."""
    held = read_issued(run.folder, JIT_STEP[vendor])
    basis = _jit_basis(run, vendor)
    usable = held if held and held.get("basis") == basis else None
    items = ((usable or {}).get("result") or {}).get(JIT_KEY[vendor]) or []
    held_start = (usable or {}).get("start")
    if vendor == "polyv":
        viewers = run.event["polyv"]["viewers"]
        by_viewer = {
            str(entry.get("viewer", {}).get("viewerId")): entry
            for entry in ((usable or {}).get("viewers") or [])
            if isinstance(entry, dict)
        }
        kept, missing = [], []
        for viewer in viewers:
            entry = by_viewer.get(viewer["viewerId"])
            if entry and entry.get("viewer") == viewer and _still_good(entry.get("token"), run, held_start):
                kept.append(entry["token"])
            else:
                missing.append(viewer)
        return kept, missing
    wanted = [str(c) for c in run.event["isdp"]["channel_ids"]]
    good = [item for item in items if _still_good(item, run, held_start)]
    covered = {str(c) for item in good for c in item.get("channelIds") or []}
    kept = [item for item in good if {str(c) for c in item.get("channelIds") or []} & set(wanted)]
    return kept, [c for c in wanted if c not in covered]


def already_issued(run: EventRun, vendor: str) -> bool:
    """Whether the instance holds every credential of this vendor its current definition needs
    (then nothing is issued again). A record that cannot be read raises: it is not taken for
    "not issued"."""
    return not held_credentials(run, vendor)[1]


def issue_credentials(
    run: EventRun,
    vendor: str,
    *,
    polyv_conn_id: str = "polyv_default",
    isdp_conn_id: str = "isdp_default",
    now: datetime | None = None,
    min_budget: timedelta = MIN_ISSUE_BUDGET,
) -> dict[str, Any]:
    """Issue what the instance still lacks of one vendor's just-in-time credentials, now, and
    record them all (secret-free summary).

    Held and still right (same viewer or channel and account, valid at the start): kept, not
    issued again. Woken after the event's end with something missing: the step fails as missed.
    Before the start, retries stop at the start, or ``min_budget`` (default
    :data:`MIN_ISSUE_BUDGET`) from now if that is later. A token the vendor reports as expiring
    before the start is refused, not written.
    """
    if not isinstance(vendor, str) or vendor not in JIT_STEP:
        raise LiveApiInputError("vendor", f"{vendor!r} issues nothing just in time; use polyv or isdp")
    if vendor not in jit_moments(run.event):
        raise LiveApiInputError(
            "vendor",
            f"event {run.name!r} has no {vendor} credentials to issue (no such section, or no viewers)",
        )
    step = JIT_STEP[vendor]
    check_current(run, step)
    if read_issued(run.folder, step) is None and (own := _done(run, step)) is not None:
        return _jit_summary(run, vendor, own, issued_now=False)  # recorded before instances kept any
    kept, missing = held_credentials(run, vendor)
    if not missing:
        done = _done(run, step)
        if done is None:
            _written, done = _step(run, step, lambda: {JIT_KEY[vendor]: kept, "reused": True})
        return _jit_summary(run, vendor, done, issued_now=False)
    now = now or datetime.now(UTC)
    moment, end = credential_moment(run, vendor), event_end(run.event)
    if now >= end:
        message = (
            f"missed: {JIT_WHAT[vendor]} for event {run.name!r} were due at {utc_iso(moment)}; the step "
            f"ran at {utc_iso(now)}, after the event ended at {utc_iso(end)}. Nothing was issued"
        )
        if not _done(run, step):
            write_step(run.folder, run.run_id, step, {"status": MISSED, "error": message})
            publish(run.folder, run.run_id, run.event, latest=run.current)
        raise AirflowFailException(message)
    give_up = max(run.start, now + min_budget) if now < run.start else None

    def body() -> dict[str, Any]:
        try:
            if vendor == "polyv":
                return _issue_polyv(run, polyv_conn_id, give_up, kept, missing)
            return _issue_isdp(run, isdp_conn_id, give_up, kept, missing)
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
    lead = (run.start - parse_instant(issued_at)).total_seconds() if issued_at else None
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


def _issue_polyv(
    run: EventRun, conn_id: str, give_up: datetime | None, kept: list[dict[str, Any]], missing: list[Any]
) -> dict[str, Any]:
    from airflow_live_provider.hooks.polyv import PolyvHook
    from airflow_live_provider.workflow.vendor_steps import issue_watch_tokens

    hook = PolyvHook(polyv_conn_id=conn_id)
    hook.give_up_at(give_up)
    channel = _jit_basis(run, "polyv")["channel"]
    tokens = issue_watch_tokens(hook, channel, missing)
    new = {viewer["viewerId"]: token for viewer, token in zip(missing, tokens.tokens, strict=True)}
    held = {t["viewerId"]: t for t in kept}
    viewers = run.event["polyv"]["viewers"]
    ordered = [held.get(v["viewerId"]) or new[v["viewerId"]] for v in viewers]
    write_issued(
        run.folder,
        "polyv_tokens",
        {
            "runId": run.run_id,
            "basis": _jit_basis(run, "polyv"),
            "start": run.event["start"],
            "viewers": [{"viewer": v, "token": t} for v, t in zip(viewers, ordered, strict=True)],
        },
    )
    untils = [t["validUntil"] for t in ordered]
    return {JIT_KEY["polyv"]: ordered, "validUntil": min(untils) if untils else tokens.expires_at}


def _issue_isdp(
    run: EventRun, conn_id: str, give_up: datetime | None, kept: list[dict[str, Any]], missing: list[Any]
) -> dict[str, Any]:
    from airflow_live_provider.hooks.isdp import IsdpHook
    from airflow_live_provider.workflow.vendor_steps import fetch_join_tokens

    isdp = run.event["isdp"]
    hook = IsdpHook(isdp_conn_id=conn_id)
    hook.give_up_at(give_up)
    joined = fetch_join_tokens(hook, missing, isdp["user_account"], isdp["role"])
    requested = parse_instant(joined.requested_at)
    if joined.expires_at and requested < run.start and parse_instant(joined.expires_at) < run.start:
        lifetimes = sorted({str(e.get("expirationTime")) for e in joined.entries if e.get("expirationTime")})
        early = int((run.start - requested).total_seconds())
        raise AirflowFailException(
            f"event {run.name!r}: ISDP join tokens issued at {joined.requested_at}, {early} s before "
            f"the start at {utc_iso(run.start)}, expire at {joined.expires_at} (the vendor reports a "
            f"lifetime of {', '.join(lifetimes) or 'unknown'} s); they were not written. Issue them later: "
            f"isdp.token_lead_seconds (now {isdp['token_lead_seconds']}) must stay below that lifetime"
        )
    entries = [*kept, *joined.entries]
    write_issued(
        run.folder,
        "isdp_tokens",
        {
            "runId": run.run_id,
            "basis": _jit_basis(run, "isdp"),
            "start": run.event["start"],
            "result": {JIT_KEY["isdp"]: entries},
        },
    )
    untils = [e["validUntil"] for e in entries if e.get("validUntil")]
    return {JIT_KEY["isdp"]: entries, "validUntil": min(untils) if untils else None}


# -- go-live and after --------------------------------------------------------------------------------
def go_live_held(run: EventRun) -> dict[str, Any] | None:
    """The instance's "live at" for this stream when its stream went live in the current window
    (any run's watch): a clear, a retry or an edit's new run does not watch, nor miss, again."""
    held = read_issued(run.folder, "go_live")
    window = go_live_window(run.event)
    if not held or window is None or held.get("basis") != _stream(run):
        return None
    live_at = (held.get("result") or {}).get("liveAt")
    return held if isinstance(live_at, str) and parse_instant(live_at) >= window[0] else None


def record_go_live(
    run: EventRun, status: str, *, live_at: str | None = None, error: str | None = None
) -> None:
    """The go-live watch's outcome on the sheet: live at, or why not (never over a "live at")."""
    if status != DONE and (_done(run, "go_live") or go_live_held(run)):
        return
    record: dict[str, Any] = {"status": status}
    if live_at:
        from airflow_live_provider.metrics import record_go_live_delay

        record["liveAt"] = live_at
        record["secondsAfterStart"] = (parse_instant(live_at) - run.start).total_seconds()
        record_go_live_delay(record["secondsAfterStart"])
        _keep(run, "go_live", _stream(run), {"liveAt": live_at})
    if error:
        record["error"] = error[:2000]
    write_step(run.folder, run.run_id, "go_live", record)
    publish(run.folder, run.run_id, run.event, latest=run.current)


def _stream(run: EventRun) -> dict[str, Any]:
    volc = run.event.get("volcengine") or {}
    return {k: volc.get(k) for k in ("vhost", "app", "stream")}


def reuse_go_live(run: EventRun) -> bool:
    """Record the instance's earlier "live at" on this run (True), or say there is none."""
    held = go_live_held(run)
    if held is None:
        return False
    if not _done(run, "go_live"):
        live_at = held["result"]["liveAt"]
        record = {
            "status": DONE,
            "liveAt": live_at,
            "secondsAfterStart": (parse_instant(live_at) - run.start).total_seconds(),
            "reused": held.get("runId"),
        }
        write_step(run.folder, run.run_id, "go_live", record)
        publish(run.folder, run.run_id, run.event, latest=run.current)
    return True


def summarize(run: EventRun) -> dict[str, Any]:
    """After every step: what happened (secret-free), on the sheet and as XCom. Fails the run,
    naming each failed step and why, when any step failed or left no record; a superseded or
    cancelled run ends without failing."""
    try:
        check_current(run, "summary")
    except AirflowSkipException:
        pass
    records = read_steps(run.folder, run.run_id, run.event)
    superseded = records.get("superseded")
    outcome: dict[str, Any] = {}
    problems = []
    for step in steps_for(run.event):
        record = records.get(step)
        if record is None:
            status = superseded.get("status", SUPERSEDED) if superseded else "no record"
            outcome[step] = {"status": status}
            if not superseded:
                problems.append(f"{step}: left no record (see the task's log)")
            continue
        outcome[step] = {k: record.get(k) for k in ("status", "at", "liveAt", "error") if record.get(k)}
        if record.get("status") in (FAILED, MISSED) and not superseded:
            problems.append(f"{step}: {record.get('error')}")
    status = superseded.get("status", SUPERSEDED) if superseded else (FAILED if problems else DONE)
    write_step(run.folder, run.run_id, "outcome", {"status": status, "steps": outcome})
    written = publish(run.folder, run.run_id, run.event, latest=run.current or status == CANCELLED)
    if problems:
        raise AirflowFailException(f"event {run.name!r}: " + "; ".join(problems))
    return _summary(run, "outcome", status=status, steps=outcome) | written
