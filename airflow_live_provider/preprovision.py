"""One live event's timeline across the vendors: provisioning ahead, credentials just in time.

The sample DAG runs these per event instance (a mapped task group):

1. :func:`provision_ahead`, in every run inside the lead window: the Volcengine push-auth check
   first (an event whose push authentication is off fails before anything is created), push URLs
   valid through the event's end, Polyv receive channels (idempotent). Failures surface hours
   before the event. The run sheet lists the just-in-time credentials as pending, with when.
2. :func:`due_credentials` then :func:`issue_just_in_time`: short-lived credentials (Polyv watch
   tokens, ISDP join tokens) issued at ``start - token_lead_seconds`` so they are valid at the
   start. A run waits (deferral, in the operator) only for moments inside its own schedule
   interval; a moment already past is issued at once (late start, scheduler outage). What is
   already issued for this instance (read back from ``latest.json``) is never issued again, so
   an hourly schedule issues each credential once.

Every secret a vendor returns is masked in the logs as it arrives; the run sheets (which the crew
needs) carry them, the returned summaries never do. Data flows one way: this module calls
:mod:`airflow_live_provider.steps`, which calls the hooks.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pendulum
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from airflow_live_provider.events import event_end, jit_moments, validate_event
from airflow_live_provider.exceptions import LiveApiError, LiveApiInputError
from airflow_live_provider.outputs import parse_time, utc_iso, writable_output
from airflow_live_provider.run_sheets import (
    ISSUED,
    JIT_KEY,
    PENDING,
    event_folder,
    latest_uri,
    new_sheet,
    read_sheet,
    sheet_uri,
    write_sheet,
)

#: Push URLs generated ahead stay valid this long after the event's end (overruns happen).
PUSH_URL_GRACE = timedelta(hours=1)
#: What each just-in-time vendor issues, for messages and pages.
JIT_WHAT = {"polyv": "Polyv watch tokens", "isdp": "ISDP join tokens"}


def _start(event: dict[str, Any]) -> datetime:
    return parse_time(event["start"])


def _jit_inputs(event: dict[str, Any], vendor: str) -> dict[str, Any]:
    """What a just-in-time credential was issued for: if any of it changes, it is issued again."""
    if vendor == "polyv":
        polyv = event["polyv"]
        return {
            "watchChannelId": polyv.get("watch_channel_id") or polyv["channel_id"],
            "viewers": [v["viewerId"] for v in polyv["viewers"]],
        }
    isdp = event["isdp"]
    return {k: isdp[k] for k in ("channel_ids", "user_account", "role")}


def already_issued(sheet: dict[str, Any] | None, event: dict[str, Any], vendor: str) -> dict[str, Any] | None:
    """The vendor section of an earlier sheet if it holds this instance's credentials, issued for
    the same start and the same inputs; else None (then they are still to be issued)."""
    if not sheet or sheet.get("start") != event["start"]:
        return None
    section = sheet.get(vendor) or {}
    jit = section.get("justInTime") or {}
    if jit.get("status") != ISSUED:
        return None
    if any(section.get(k) != v for k, v in _jit_inputs(event, vendor).items()):
        return None
    return section


def _jit_section(event: dict[str, Any], vendor: str, latest: dict[str, Any] | None) -> dict[str, Any]:
    """The just-in-time part of a vendor section: carried over from ``latest`` when issued, else pending."""
    key = JIT_KEY[vendor]
    earlier = already_issued(latest, event, vendor)
    if earlier is not None:
        return {key: earlier.get(key), "justInTime": earlier.get("justInTime")}
    return {key: [], "justInTime": {"status": PENDING, "issueAt": utc_iso(jit_moments(event)[vendor])}}


def provision_ahead(
    event: dict[str, Any],
    *,
    output_dir: str | None,
    run_id: str | None,
    volcengine_conn_id: str = "volcengine_live_default",
    polyv_conn_id: str = "polyv_default",
) -> dict[str, Any]:
    """Push auth, push URLs and receive channels for one event instance; writes its run sheet.

    The whole event (every vendor section) is validated first, and the run sheet's location, so
    bad input fails before the first request, not after channels were created.
    """
    event = validate_event(event, 0)
    name = event["name"]
    folder = event_folder(output_dir, event)
    writable_output(sheet_uri(folder, run_id), "output_dir")  # a bad location fails before any request
    end = event_end(event)
    volc = event.get("volcengine")
    push_until: datetime | None = None
    if volc:
        push_until = end + PUSH_URL_GRACE
        if volc.get("valid_duration"):
            push_until = datetime.now(UTC) + timedelta(seconds=volc["valid_duration"])
            if push_until < end:
                raise LiveApiInputError(
                    f"event {name!r}.volcengine.valid_duration",
                    f"{volc['valid_duration']} s from now ends at {utc_iso(push_until)}, before the "
                    f"event ends at {utc_iso(end)}; remove it (push URLs then last until "
                    f"{int(PUSH_URL_GRACE.total_seconds() // 60)} min after the end) or raise it",
                    vendor="calendar",
                )
    latest = read_sheet(latest_uri(folder))
    sheet = new_sheet(event, run_id)
    summary: dict[str, Any] = {"event": name, "occurrence": event.get("occurrence"), "start": event["start"]}

    if volc:
        from airflow_live_provider.hooks.volcengine import VolcengineLiveHook
        from airflow_live_provider.steps import check_push_auth, generate_push_urls, push_url_count

        volc_hook = VolcengineLiveHook(volcengine_conn_id=volcengine_conn_id)
        # DescribeAuth takes the vhost alone; the push domain is for GeneratePushURL.
        check_push_auth(volc_hook, volc["vhost"], volc["app"], about=f"event {name!r}: ")
        pushed = generate_push_urls(
            volc_hook,
            volc["vhost"],
            volc["app"],
            volc["stream"],
            domain=volc.get("domain"),
            expired_time=push_until,
        )
        sheet["volcengine"] = {k: volc.get(k) for k in ("vhost", "app", "stream", "domain")} | {
            "push": pushed.result,
            "validFrom": pushed.valid_from,
            "validUntil": pushed.valid_until,
        }
        summary["volcengine"] = {
            "push_auth": "enabled",
            "push_url_count": push_url_count(pushed.result),
            "push_urls_valid_until": pushed.valid_until,
        }

    if polyv := event.get("polyv"):
        receivers: list[dict[str, Any]] = []
        if polyv["receive_channel_names"]:
            from airflow_live_provider.hooks.polyv import PolyvHook

            # Idempotent: existing receive channels with these names are reused, not recreated.
            receivers = PolyvHook(polyv_conn_id=polyv_conn_id).create_transmit_channels(
                polyv["channel_id"], polyv["receive_channel_names"]
            )
        receive = [{k: r.get(k) for k in ("name", "channelId", "created")} for r in receivers]
        sheet["polyv"] = {"transmitChannelId": polyv["channel_id"], "receiveChannels": receive}
        sheet["polyv"] |= _jit_inputs(event, "polyv")
        summary["polyv"] = {
            "transmit_channel_id": polyv["channel_id"],
            "receive_channels": receive,
            "created": sum(1 for r in receive if r.get("created")),
        }
        if polyv["viewers"]:
            sheet["polyv"] |= _jit_section(event, "polyv", latest)
            summary["polyv"]["watch_tokens"] = _jit_summary(sheet["polyv"], "polyv")

    if event.get("isdp"):
        sheet["isdp"] = _jit_inputs(event, "isdp") | _jit_section(event, "isdp", latest)
        summary["isdp"] = {"channel_ids": event["isdp"]["channel_ids"]} | {
            "join_tokens": _jit_summary(sheet["isdp"], "isdp")
        }

    return summary | write_sheet(folder, run_id, sheet)


def _jit_summary(section: dict[str, Any], vendor: str) -> dict[str, Any]:
    """Secret-free: status, when (to be) issued, how many, the earliest expiry."""
    jit = section.get("justInTime") or {}
    items = section.get(JIT_KEY[vendor]) or []
    untils = [t["validUntil"] for t in items if t.get("validUntil")]
    return {
        "status": jit.get("status"),
        "issue_at": jit.get("issueAt"),
        "count": len(items),
        "valid_until": min(untils) if untils else None,
    }


def jit_status(event: dict[str, Any], *, output_dir: str | None) -> dict[str, Any]:
    """Secret-free: per just-in-time vendor, its status in ``latest.json``; plus where that is."""
    uri = latest_uri(event_folder(output_dir, validate_event(event, 0)))
    sheet = read_sheet(uri) or {}
    status = {v: _jit_summary(sheet[v], v) for v in JIT_KEY if (sheet.get(v) or {}).get("justInTime")}
    return {"just_in_time": status, "latest_sheet": uri}


def due_credentials(
    event: dict[str, Any],
    *,
    output_dir: str | None,
    run_time: datetime,
    run_window: timedelta,
    now: datetime | None = None,
) -> dict[str, pendulum.DateTime]:
    """``{vendor: moment}`` this run must issue: not issued yet, and due before the next run.

    A moment inside ``[run_time, run_time + run_window)`` is waited for; one already past is due
    at once. Nothing is due once the event has ended. Later moments belong to later runs.
    """
    event = validate_event(event, 0)
    now = now or datetime.now(UTC)
    if now >= event_end(event):
        return {}
    latest = read_sheet(latest_uri(event_folder(output_dir, event)))
    horizon = run_time + run_window
    return {
        vendor: moment
        for vendor, moment in sorted(jit_moments(event).items(), key=lambda item: item[1])
        if moment < horizon and already_issued(latest, event, vendor) is None
    }


def issue_just_in_time(
    event: dict[str, Any],
    vendors: list[str],
    *,
    output_dir: str | None,
    run_id: str | None,
    polyv_conn_id: str = "polyv_default",
    isdp_conn_id: str = "isdp_default",
) -> dict[str, Any]:
    """Issue the named just-in-time credentials now; update the run sheet and ``latest``.

    Before the start, retries stop at the start: a vendor failure ends the task while the crew
    can still act, not with tokens that arrive late. What was issued is written even if a later
    vendor fails. A token the vendor reports as expiring before the start is not written.
    """
    event = validate_event(event, 0)
    name, start = event["name"], _start(event)
    folder = event_folder(output_dir, event)
    writable_output(sheet_uri(folder, run_id), "output_dir")  # before any token is issued
    sheet = read_sheet(latest_uri(folder))
    if not sheet or sheet.get("start") != event["start"]:
        sheet = new_sheet(event, run_id)
    moments = jit_moments(event)
    give_up = start if datetime.now(UTC) < start else None
    issued: dict[str, Any] = {}
    failure: BaseException | None = None
    for vendor in vendors:
        try:
            if vendor == "polyv":
                issued["polyv"] = _issue_polyv(event, sheet, polyv_conn_id, give_up)
            elif vendor == "isdp":
                issued["isdp"] = _issue_isdp(event, sheet, isdp_conn_id, give_up)
            else:
                raise LiveApiInputError(
                    "vendors", f"{vendor!r} issues nothing just in time; use polyv or isdp"
                )
        except (LiveApiError, AirflowException) as exc:
            failure = exc
            break
        sheet[vendor]["justInTime"] = {
            "status": ISSUED,
            "issueAt": utc_iso(moments[vendor]),
            "issuedAt": utc_iso(),
            "issuedBy": run_id,
        }
    sheet["runId"], sheet["generatedAt"] = run_id, utc_iso()
    written = write_sheet(folder, run_id, sheet)
    if failure is not None:
        what = JIT_WHAT.get(vendors[len(issued)], vendors[len(issued)])
        when = "before the start" if give_up else "(the event has started)"
        # Retrying the task helps only if the vendor's failure was transient.
        final = isinstance(failure, AirflowFailException) or (
            isinstance(failure, LiveApiError) and not failure.retryable
        )
        raise (AirflowFailException if final else AirflowException)(
            f"event {name!r}: {what} could not be issued {when} at {utc_iso(start)}: {failure}"
        ) from failure
    return {
        "event": name,
        "occurrence": event.get("occurrence"),
        "start": event["start"],
        "issued": issued,
    } | written


def _issue_polyv(
    event: dict[str, Any], sheet: dict[str, Any], conn_id: str, give_up: datetime | None
) -> dict[str, Any]:
    from airflow_live_provider.hooks.polyv import PolyvHook
    from airflow_live_provider.steps import issue_watch_tokens

    hook = PolyvHook(polyv_conn_id=conn_id)
    hook.give_up_at(give_up)
    inputs = _jit_inputs(event, "polyv")
    tokens = issue_watch_tokens(hook, inputs["watchChannelId"], event["polyv"]["viewers"])
    section = sheet.setdefault("polyv", {"transmitChannelId": event["polyv"]["channel_id"]})
    section |= inputs | {JIT_KEY["polyv"]: tokens.tokens}
    return {"count": len(tokens.tokens), "valid_until": tokens.expires_at}


def _issue_isdp(
    event: dict[str, Any], sheet: dict[str, Any], conn_id: str, give_up: datetime | None
) -> dict[str, Any]:
    from airflow_live_provider.hooks.isdp import IsdpHook
    from airflow_live_provider.steps import fetch_join_tokens

    isdp = event["isdp"]
    hook = IsdpHook(isdp_conn_id=conn_id)
    hook.give_up_at(give_up)
    joined = fetch_join_tokens(hook, isdp["channel_ids"], isdp["user_account"], isdp["role"])
    start = _start(event)
    requested = parse_time(joined.requested_at)
    if joined.expires_at and requested < start and parse_time(joined.expires_at) < start:
        lifetimes = sorted({str(e.get("expirationTime")) for e in joined.entries if e.get("expirationTime")})
        early = int((start - requested).total_seconds())
        raise AirflowFailException(
            f"event {event['name']!r}: ISDP join tokens issued at {joined.requested_at}, {early} s before "
            f"the start at {utc_iso(start)}, expire at {joined.expires_at} (the vendor reports a lifetime "
            f"of {', '.join(lifetimes) or 'unknown'} s); they were not written. Issue them later: "
            f"isdp.token_lead_seconds (now {isdp['token_lead_seconds']}) must stay below that lifetime"
        )
    section = sheet.setdefault("isdp", {})
    section |= _jit_inputs(event, "isdp") | {JIT_KEY["isdp"]: joined.entries}
    return {"count": len(joined.entries), "valid_until": joined.expires_at}
