"""Pre-provisioning of one live event across the vendors (the body of the sample DAG's mapped task).

Kept out of the DAG file so the file stays cheap to parse and the logic is testable against the
simulator. Order matters: the Volcengine push-auth check runs first, so an event whose push
authentication is off fails before anything is created. Every secret a vendor returns is
registered with Airflow's masker as soon as it arrives; the run sheet (which the crew needs)
carries them, the returned summary never does.
"""

from __future__ import annotations

from typing import Any

from airflow_live_provider.events import slug, validate_event
from airflow_live_provider.operators.common import (
    default_output_root,
    mask_all,
    mask_returned_secrets,
    output_path,
    path_segment,
    utc_iso,
    write_json,
)


def run_sheet_uri(output_dir: str | None, event_name: str, run_id: str | None) -> str:
    """``<output_dir>/<event slug>/<run id>.json``; default ``$AIRFLOW_HOME/live_provider/run_sheets``."""
    folder = (output_dir or "").strip().rstrip("/") or f"{default_output_root()}/run_sheets"
    return f"{folder}/{slug(event_name)}/{path_segment(run_id or 'manual')}.json"


def provision_event(
    event: dict[str, Any],
    *,
    sheet_uri: str,
    volcengine_conn_id: str = "volcengine_live_default",
    polyv_conn_id: str = "polyv_default",
    isdp_conn_id: str = "isdp_default",
) -> dict[str, Any]:
    """Provision one calendar event, write its run sheet, return a secret-free summary.

    The whole event (every vendor section) is validated again first, so a direct caller's bad
    input fails before the first request, not after channels were created or tokens fetched.
    """
    event = validate_event(event, 0)
    sheet_path = output_path(sheet_uri, "output_dir")  # a bad location fails before any request
    name = event["name"]
    sheet: dict[str, Any] = {
        "event": name,
        "start": event["start"],
        "generatedAt": utc_iso(),
    }
    summary: dict[str, Any] = {"event": name, "start": event["start"], "run_sheet": str(sheet_path)}

    if volc := event.get("volcengine"):
        from airflow_live_provider.hooks.volcengine import VolcengineLiveHook
        from airflow_live_provider.operators.volcengine import (
            ensure_auth_enabled,
            push_url_count,
            push_url_secrets,
        )

        volc_hook = VolcengineLiveHook(volcengine_conn_id=volcengine_conn_id)
        # DescribeAuth takes the vhost alone; the push domain is for GeneratePushURL.
        auth = volc_hook.describe_auth("push", vhost=volc["vhost"], app=volc["app"])
        mask_returned_secrets(auth)
        target = f"vhost {volc['vhost']!r} (app {volc['app']!r})"
        ensure_auth_enabled(auth, "push", target, about=f"event {name!r}: ")
        push = volc_hook.generate_push_url(
            volc["vhost"],
            volc["app"],
            volc["stream"],
            domain=volc.get("domain"),
            valid_duration=volc.get("valid_duration"),
        )
        mask_all(push_url_secrets(push))
        sheet["volcengine"] = {k: volc.get(k) for k in ("vhost", "app", "stream", "domain")} | {"push": push}
        summary["volcengine"] = {"push_auth": "enabled", "push_url_count": push_url_count(push)}

    if polyv := event.get("polyv"):
        from airflow_live_provider.hooks.polyv import PolyvHook
        from airflow_live_provider.operators.polyv import issue_watch_tokens

        polyv_hook = PolyvHook(polyv_conn_id=polyv_conn_id)
        receivers: list[dict[str, Any]] = []
        if polyv["receive_channel_names"]:
            # Idempotent: existing receive channels with these names are reused, not recreated.
            receivers = polyv_hook.create_transmit_channels(
                polyv["channel_id"], polyv["receive_channel_names"]
            )
        watch_channel = polyv.get("watch_channel_id") or polyv["channel_id"]
        issued = issue_watch_tokens(polyv_hook, watch_channel, polyv["viewers"])
        tokens, expires = issued.tokens, issued.expires_at
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
        from airflow_live_provider.operators.isdp import fetch_join_tokens

        joined = fetch_join_tokens(
            IsdpHook(isdp_conn_id=isdp_conn_id), isdp["channel_ids"], isdp["user_account"], isdp["role"]
        )
        sheet["isdp"] = {k: isdp.get(k) for k in ("channel_ids", "user_account", "role")} | {
            "tokens": joined.entries,
            "tokensExpireAt": joined.expires_at,
        }
        summary["isdp"] = {
            "channel_ids": isdp["channel_ids"],
            "token_count": len(joined.entries),
            "tokens_expire_at": joined.expires_at,
        }

    write_json(sheet_path, sheet)
    return summary
