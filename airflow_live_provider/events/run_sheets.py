"""Run sheets: what the crew opens before a live event, composed from the run's step records.

Each step of an event run writes only its own record (:mod:`~airflow_live_provider.events.run_records`,
which also holds the file layout); :func:`publish` rebuilds the run's sheet from all of them and
writes it, with ``latest.json`` and its phone page ``latest.html``
(:mod:`~airflow_live_provider.events.run_sheet_page`). A superseded run (its instance changed in the
calendar) writes only its own sheet, never ``latest``.

Every credential carries ``validFrom``/``validUntil`` (UTC, the one output format). A credential
issued just in time is listed with ``justInTime: {status, issueAt}`` until it is issued, so an
early sheet says what will come and when instead of showing a credential that would be dead at
the start.
"""

from __future__ import annotations

from typing import Any

from airflow_live_provider.events.calendar import event_end, jit_moments
from airflow_live_provider.events.event_steps import steps_for
from airflow_live_provider.events.run_records import (
    DONE,
    ISSUED,
    JIT_KEY,
    PENDING,
    SESSIONS,
    latest_uri,
    read_steps,
    sheet_uri,
)
from airflow_live_provider.events.run_sheet_page import render_html
from airflow_live_provider.outputs import output_path, write_json, write_text
from airflow_live_provider.times import parse_instant, utc_iso


def new_sheet(event: dict[str, Any], run_id: str | None) -> dict[str, Any]:
    start = parse_instant(event["start"])
    return {
        "event": event["name"],
        "occurrence": event.get("occurrence"),
        "start": event["start"],
        "startUtc": utc_iso(start),
        "end": utc_iso(event_end(event)),
        "timezone": event.get("timezone"),
        "runId": run_id,
        "generatedAt": utc_iso(),
    }


def sheet_secrets(sheet: dict[str, Any]) -> list[str]:
    """Every credential a sheet carries: tokens, push URLs, their signatures (for leak searches)."""
    from airflow_live_provider.redaction import SECRET_KEYS, secret_values
    from airflow_live_provider.vendors.volcengine import push_url_secrets

    found = list(secret_values(sheet, SECRET_KEYS))
    found.extend(push_url_secrets((sheet.get("volcengine") or {}).get("push") or {}))
    return sorted({s for s in found if s})


def write_sheet(
    folder: str, run_id: str | None, sheet: dict[str, Any], *, latest: bool = True
) -> dict[str, str]:
    """The run's sheet, then (unless the run was superseded) ``latest.json`` and ``latest.html``."""
    run_path = output_path(sheet_uri(folder, run_id), "output_dir")
    written = {"run_sheet": write_json(run_path, sheet)}
    if latest:
        written["latest_sheet"] = write_json(output_path(latest_uri(folder), "output_dir"), sheet)
        written["latest_page"] = write_text(
            output_path(latest_uri(folder, ".html"), "output_dir"), render_html(sheet)
        )
    return written


def compose_sheet(
    event: dict[str, Any], run_id: str | None, records: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """The run sheet from the instance's definition and its steps' records (the layout users'
    automation reads: ``volcengine``, ``polyv``, ``isdp`` sections; plus ``steps``)."""
    sheet = new_sheet(event, run_id)
    if volc := event.get("volcengine"):
        sheet["volcengine"] = {k: volc.get(k) for k in ("vhost", "app", "stream", "domain")}
        sheet["volcengine"] |= (records.get("volcengine") or {}).get("result") or {}
    if polyv := event.get("polyv"):
        section: dict[str, Any] = {"transmitChannelId": polyv["channel_id"], "receiveChannels": []}
        section |= (records.get("polyv_channels") or {}).get("result") or {}
        if polyv.get("viewers"):
            section |= _jit(event, "polyv", records.get("polyv_tokens"))
        sheet["polyv"] = section
    if event.get("isdp"):
        sheet["isdp"] = _jit(event, "isdp", records.get("isdp_tokens"))
    sheet["steps"] = {
        step: {k: v for k, v in (records.get(step) or {"status": "waiting"}).items() if k != "result"}
        for step in [*steps_for(event), "outcome"]
    }
    if superseded := records.get("superseded"):
        sheet["superseded"] = superseded
    if sessions := (records.get(SESSIONS) or {}).get("sessions"):
        sheet["sessions"] = sessions
    return sheet


def _jit(event: dict[str, Any], vendor: str, record: dict[str, Any] | None) -> dict[str, Any]:
    """A just-in-time vendor section: what it is for, its credentials once issued, else when."""
    if vendor == "polyv":
        polyv = event["polyv"]
        inputs: dict[str, Any] = {
            "watchChannelId": polyv.get("watch_channel_id") or polyv["channel_id"],
            "viewers": [v["viewerId"] for v in polyv["viewers"]],
        }
    else:
        inputs = {k: event["isdp"][k] for k in ("channel_ids", "user_account", "role")}
    issue_at = utc_iso(jit_moments(event)[vendor])
    if record and record.get("status") == DONE:
        result = record.get("result") or {}
        return inputs | {
            JIT_KEY[vendor]: result.get(JIT_KEY[vendor]) or [],
            "justInTime": {
                "status": ISSUED,
                "issueAt": issue_at,
                "issuedAt": record.get("at"),
                "issuedBy": record.get("runId"),
            },
        }
    jit: dict[str, Any] = {"status": PENDING, "issueAt": issue_at}
    if record:  # failed, missed or superseded: say so instead of "pending"
        jit = {"status": record.get("status"), "issueAt": issue_at, "error": record.get("error")}
    return inputs | {JIT_KEY[vendor]: [], "justInTime": jit}


def publish(folder: str, run_id: str | None, event: dict[str, Any], *, latest: bool = True) -> dict[str, str]:
    """Rebuild the run sheet from every step's record and write it (and ``latest.*``).

    The records are read again after writing: a step that recorded meanwhile is composed in on a
    second pass, so a sheet never stays without a step's update.
    """
    records = read_steps(folder, run_id, event)
    for _ in range(3):
        written = write_sheet(folder, run_id, compose_sheet(event, run_id, records), latest=latest)
        again = read_steps(folder, run_id, event)
        if again == records:
            return written
        records = again
    return written
