"""Hourly pre-provisioning of the live events that start within the lead window.

``select_events`` reads the events calendar (param ``calendar_path``, else the Variable
``live_events_calendar``, else ``live_events.json`` next to this file), validates it (errors name
the event and the field) and keeps the events starting in ``[run time, run time + lead_hours)``.
``provision`` is mapped, one instance per event:

1. Volcengine: DescribeAuth for push must be enabled (the task fails clearly if not); GeneratePushURL.
2. Polyv: create the receive channels of the transmit channel (idempotent: existing names are
   reused, never created twice) and mint a watch token per viewer.
3. ISDP: join tokens for the event's channels.
4. The run sheet (JSON, carrying the push URLs and tokens the crew needs) goes to
   ``<output_dir>/<event>/<run id>.json``; XCom holds only a summary without secrets, and every
   secret is masked in the logs.

Re-running for the same events creates nothing new and writes a fresh run sheet. Nothing here
looks up a connection or touches the network at parse time; vendor imports live in the tasks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import DAG, Param, task

DEFAULT_CALENDAR = str(Path(__file__).with_name("live_events.json"))
CALENDAR_VARIABLE = "live_events_calendar"
WATCH_TOKEN_LIFETIME_HOURS = 5  # Polyv: a watch API token is valid for 5 hours


def _read_text(location: str) -> str:
    from airflow.sdk import ObjectStoragePath

    uri = location if "://" in location else f"file://{Path(location).expanduser().resolve()}"
    return ObjectStoragePath(uri).read_text(encoding="utf-8")


with DAG(
    dag_id="live_event_preprovision",
    description="Provision push URLs, receive channels and tokens for upcoming live events",
    schedule="@hourly",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["live", "polyv", "volcengine", "isdp"],
    params={
        "calendar_path": Param(
            "",
            type=["null", "string"],
            description="Events calendar (JSON or YAML; path or URI). Empty: the Variable "
            f"{CALENDAR_VARIABLE}, else live_events.json next to this DAG file.",
        ),
        "lead_hours": Param(24, type="number", exclusiveMinimum=0, description="Lead window in hours"),
        "output_dir": Param(
            "",
            type=["null", "string"],
            description="Folder (any ObjectStoragePath URI) for run sheets; empty means "
            "$AIRFLOW_HOME/live_provider/run_sheets.",
        ),
    },
    doc_md=__doc__,
) as dag:

    @task
    def select_events(params: dict[str, Any] | None = None, dag_run: Any = None) -> list[dict[str, Any]]:
        """Load and validate the calendar; keep the events starting within the lead window."""
        from datetime import timedelta

        from airflow.sdk import Variable

        from airflow_live_provider.events import load_calendar, select_upcoming

        params = params or {}
        location = (
            params.get("calendar_path") or Variable.get(CALENDAR_VARIABLE, default=None) or DEFAULT_CALENDAR
        )
        events = load_calendar(_read_text(location), source=location)
        run_time = getattr(dag_run, "run_after", None) or pendulum.now("UTC")
        now = pendulum.instance(run_time).in_timezone("UTC")
        lead = timedelta(hours=float(params.get("lead_hours") or 24))
        chosen = select_upcoming(events, now, lead)
        print(
            f"calendar {location}: {len(events)} event(s), {len(chosen)} starting between "
            f"{now.isoformat()} and {(now + lead).isoformat()}: {[e['name'] for e in chosen]}"
        )
        return chosen

    @task(map_index_template="{{ event_name }}")
    def provision(
        event: dict[str, Any], params: dict[str, Any] | None = None, run_id: str | None = None
    ) -> dict[str, Any]:
        """Provision one event on every vendor it names and write its run sheet."""
        import re

        from airflow.sdk import get_current_context
        from airflow.sdk.exceptions import AirflowFailException

        from airflow_live_provider.events import slug
        from airflow_live_provider.operators.common import (
            default_output_root,
            mask_all,
            mask_returned_secrets,
            output_path,
            write_json,
        )

        get_current_context()["event_name"] = event["name"]  # type: ignore[typeddict-unknown-key]
        params = params or {}
        name = event["name"]
        folder = (params.get("output_dir") or "").strip().rstrip("/") or f"{default_output_root()}/run_sheets"
        safe_run = re.sub(r"[^A-Za-z0-9_.\-]+", "_", run_id or "manual").strip("_")
        sheet_path = output_path(f"{folder}/{slug(name)}/{safe_run}.json", "output_dir")
        now = pendulum.now("UTC")
        sheet: dict[str, Any] = {"event": name, "start": event["start"], "generatedAt": now.isoformat()}
        summary: dict[str, Any] = {"event": name, "start": event["start"], "run_sheet": str(sheet_path)}

        if volc := event.get("volcengine"):
            from airflow_live_provider.hooks.volcengine import VolcengineLiveHook
            from airflow_live_provider.operators.volcengine import push_url_secrets

            volc_hook = VolcengineLiveHook()
            target = f"vhost {volc['vhost']!r} app {volc['app']!r}"
            # DescribeAuth takes the vhost alone; the push domain is for GeneratePushURL.
            auth = volc_hook.describe_auth("push", vhost=volc["vhost"], app=volc["app"])
            mask_returned_secrets(auth)
            if not auth or not all(item.get("AuthStatus") for item in auth):
                raise AirflowFailException(
                    f"event {name!r}: push authentication is OFF for {target} (DescribeAuth); enable push "
                    "authentication in the Volcengine Live console before the event"
                )
            push = volc_hook.generate_push_url(
                volc["vhost"],
                volc["app"],
                volc["stream"],
                domain=volc.get("domain"),
                valid_duration=volc.get("valid_duration"),
            )
            mask_all(push_url_secrets(push))
            sheet["volcengine"] = {k: volc[k] for k in ("vhost", "app", "stream", "domain")} | {"push": push}
            summary["volcengine"] = {
                "push_auth": "enabled",
                "push_url_count": len(push.get("PushURLList") or []),
            }

        if polyv := event.get("polyv"):
            from airflow_live_provider.hooks.polyv import PolyvHook

            polyv_hook = PolyvHook()
            receivers: list[dict[str, Any]] = []
            if polyv["receive_channel_names"]:
                receivers = polyv_hook.create_transmit_channels(
                    polyv["channel_id"], polyv["receive_channel_names"]
                )
            watch_channel = polyv.get("watch_channel_id") or polyv["channel_id"]
            tokens = []
            for viewer in polyv["viewers"]:
                spec = {"viewerId": viewer} if isinstance(viewer, str) else dict(viewer)
                viewer_id = spec.pop("viewerId")
                token = polyv_hook.get_watch_api_token(watch_channel, viewer_id, **spec)
                mask_all([token])
                tokens.append({"viewerId": viewer_id, "token": token})
            expires = pendulum.now("UTC").add(hours=WATCH_TOKEN_LIFETIME_HOURS).isoformat()
            receive = [{k: r.get(k) for k in ("name", "channelId", "created")} for r in receivers]
            sheet["polyv"] = {
                "transmitChannelId": polyv["channel_id"],
                "receiveChannels": receive,
                "watchChannelId": watch_channel,
                "watchTokens": tokens,
                "watchTokensExpireAt": expires,
            }
            summary["polyv"] = {
                "transmit_channel_id": polyv["channel_id"],
                "receive_channels": receive,
                "created": sum(1 for r in receive if r.get("created")),
                "watch_token_count": len(tokens),
                "watch_tokens_expire_at": expires,
            }

        if isdp := event.get("isdp"):
            from airflow_live_provider.hooks.isdp import IsdpHook

            joined = IsdpHook().get_token_batch(isdp["channel_ids"], isdp["user_account"], isdp["role"])
            mask_returned_secrets(joined)
            sheet["isdp"] = {k: isdp[k] for k in ("channel_ids", "user_account", "role")} | {"tokens": joined}
            summary["isdp"] = {
                "channel_ids": isdp["channel_ids"],
                "token_count": len(joined) if isinstance(joined, list) else 1,
            }

        write_json(sheet_path, sheet)
        print(f"event {name!r}: run sheet written to {sheet_path}")
        return summary

    provision.expand(event=select_events())
