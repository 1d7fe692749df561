"""Provider registration, read by Airflow's ProvidersManager through the entry point.

Connection forms are declared as data (``conn-fields`` / ``ui-field-behaviour``, Airflow >= 3.2):
no hook import is needed to render them.
"""

from __future__ import annotations

from typing import Any

from airflow_live_provider.transport import TRANSPORT_EXTRAS, TransportExtra


def _transport_field(spec: TransportExtra) -> dict[str, Any]:
    """The form field for one transport extra, from the same table the connection parser uses."""
    # 10, not 10.0, in the form.
    default: float | int = int(spec.default) if float(spec.default).is_integer() else spec.default
    bound: dict[str, Any] = {"minimum": 1} if spec.integer else {"exclusiveMinimum": 0}
    bound["maximum"] = int(spec.maximum)
    return {
        "label": spec.label,
        "description": f"{spec.description} Default {default}.",
        "schema": {"type": ["integer" if spec.integer else "number", "null"], **bound, "default": default},
    }


_TRANSPORT_FIELDS: dict[str, Any] = {spec.name: _transport_field(spec) for spec in TRANSPORT_EXTRAS}


def _connection_type(
    conn_type: str,
    hook: str,
    hook_name: str,
    *,
    relabeling: dict[str, str],
    placeholders: dict[str, str],
    conn_fields: dict[str, Any],
) -> dict[str, Any]:
    return {
        "connection-type": conn_type,
        "hook-class-name": hook,
        "hook-name": hook_name,
        "ui-field-behaviour": {
            "hidden-fields": ["schema", "port"],
            "relabeling": relabeling,
            "placeholders": placeholders,
        },
        "conn-fields": {**conn_fields, **_TRANSPORT_FIELDS},
    }


#: Extras renamed in a release, still read under their old name: ``{conn type: {old: new}}``.
RENAMED_EXTRAS = {"isdp": {"token_path": "oauth_path"}}


def form_labels(conn_type: str) -> dict[str, str]:
    """What the connection form calls each field (``host``, ``login``, ``extra.region``...), so
    errors name what the user sees."""
    labels = {"host": "Host", "port": "Port", "login": "Login", "password": "Password"}
    for entry in get_provider_info()["connection-types"]:
        if entry["connection-type"] == conn_type:
            labels.update(entry["ui-field-behaviour"]["relabeling"])
            labels.update({f"extra.{name}": field["label"] for name, field in entry["conn-fields"].items()})
    for old, new in RENAMED_EXTRAS.get(conn_type, {}).items():
        labels[f"extra.{old}"] = labels[f"extra.{new}"]
    return labels


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "airflow-live-provider",
        "name": "Live Streaming (Polyv, Volcengine Live, Huawei ISDP)",
        "description": "Hooks and operators for live-streaming vendors: Polyv, Volcengine Live, Huawei ISDP.",
        "connection-types": [
            _connection_type(
                "polyv",
                "airflow_live_provider.hooks.polyv.PolyvHook",
                "Polyv Live",
                relabeling={"login": "App ID", "password": "App Secret", "host": "API host"},
                placeholders={
                    "host": "api.polyv.net (or http://127.0.0.1:8999 for the simulator)",
                    "login": "appId (the group main account's for group calls)",
                    "password": "appSecret",
                },
                conn_fields={
                    "signature_method": {
                        "label": "Signature method",
                        "description": "MD5 (default) or SHA256.",
                        "schema": {"type": ["string", "null"], "enum": ["MD5", "SHA256"], "default": "MD5"},
                    },
                    "account_type": {
                        "label": "Account type",
                        "description": "group for a group main account (group calls, e.g. the sub-account "
                        "snapshot); normal otherwise. Decides what Test connection reads.",
                        "schema": {
                            "type": ["string", "null"],
                            "enum": ["normal", "group"],
                            "default": "normal",
                        },
                    },
                },
            ),
            _connection_type(
                "volcengine_live",
                "airflow_live_provider.hooks.volcengine.VolcengineLiveHook",
                "Volcengine Live",
                relabeling={"login": "Access Key ID", "password": "Secret Access Key", "host": "API host"},
                placeholders={
                    "host": "live.volcengineapi.com",
                    "login": "AKLT...",
                    "password": "Secret Access Key",
                },
                conn_fields={
                    "region": {
                        "label": "Region",
                        "description": "Signing region. Default cn-north-1.",
                        "schema": {"type": ["string", "null"], "default": "cn-north-1"},
                    },
                    "session_token": {
                        "label": "STS session token",
                        "description": "Only for temporary (STS) credentials.",
                        "schema": {"type": ["string", "null"], "format": "password"},
                    },
                },
            ),
            _connection_type(
                "isdp",
                "airflow_live_provider.hooks.isdp.IsdpHook",
                "Huawei ISDP",
                relabeling={
                    "login": "Application ID",
                    "password": "Application token",
                    "host": "ISDP domain",
                },
                placeholders={
                    "host": "isdpcloud.huawei.com",
                    "login": "application ID",
                    "password": "application token",
                },
                conn_fields={
                    "client_id": {
                        "label": "OAuth client ID",
                        "description": "isdp-saas-openapi on Huawei's SaaS.",
                        "schema": {"type": ["string", "null"], "default": "isdp-saas-openapi"},
                    },
                    # No default: Airflow shows a secret-looking field's default as *** and saving
                    # the form unchanged would store "***". Empty means isdp-saas-openapi.
                    "client_secret": {
                        "label": "OAuth client secret",
                        "description": "Empty: isdp-saas-openapi (Huawei's SaaS).",
                        "schema": {"type": ["string", "null"], "format": "password"},
                    },
                    # Was token_path (still read): a name with "token" is redacted by Airflow too.
                    "oauth_path": {
                        "label": "OAuth token URL path",
                        "description": "Empty: /oauth2/oauth/rest_token.",
                        "schema": {"type": ["string", "null"]},
                    },
                },
            ),
        ],
        "hooks": [
            {
                "integration-name": "Live Streaming",
                "python-modules": [
                    "airflow_live_provider.hooks.polyv",
                    "airflow_live_provider.hooks.volcengine",
                    "airflow_live_provider.hooks.isdp",
                ],
            }
        ],
        "operators": [
            {
                "integration-name": "Live Streaming",
                "python-modules": [
                    "airflow_live_provider.operators.polyv",
                    "airflow_live_provider.operators.polyv_snapshot",
                    "airflow_live_provider.operators.volcengine",
                    "airflow_live_provider.operators.isdp",
                    "airflow_live_provider.operators.events",
                ],
            }
        ],
        "sensors": [
            {
                "integration-name": "Live Streaming",
                "python-modules": [
                    "airflow_live_provider.sensors.volcengine",
                    "airflow_live_provider.sensors.polyv",
                ],
            }
        ],
        "triggers": [
            {
                "integration-name": "Live Streaming",
                "python-modules": [
                    "airflow_live_provider.triggers.volcengine",
                    "airflow_live_provider.triggers.polyv",
                    "airflow_live_provider.triggers.stream_sessions",
                    "airflow_live_provider.triggers.calendar",
                    "airflow_live_provider.triggers.event_moment",
                ],
            }
        ],
        "asset-uris": [
            {
                "schemes": ["polyv"],
                "handler": "airflow_live_provider.assets.sanitize_polyv_uri",
                "factory": "airflow_live_provider.assets.create_asset",
                "to_openlineage_converter": "airflow_live_provider.lineage.polyv_asset_to_openlineage",
            },
            {
                "schemes": ["volclive"],
                "handler": "airflow_live_provider.assets.sanitize_volclive_uri",
                "factory": "airflow_live_provider.assets.create_volclive_asset",
                "to_openlineage_converter": "airflow_live_provider.lineage.volclive_asset_to_openlineage",
            },
        ],
        "extra-links": [
            "airflow_live_provider.links.console.PolyvChannelLink",
            "airflow_live_provider.links.console.VolcengineStreamLink",
        ],
        "notifications": ["airflow_live_provider.notifications.live_ops.LiveOpsNotifier"],
        "config": {
            "live_provider": {
                "description": "Defaults of the live-streaming provider.",
                "options": {
                    "output_root": {
                        "description": "Where tokens, run sheets, snapshots and pages go when a task "
                        "is not given a location. Empty: $AIRFLOW_HOME/live_provider on the worker. "
                        "On a cluster whose tasks run on several hosts, give storage every worker "
                        "reads (an ObjectStoragePath URI such as s3://bucket/live, or a shared volume).",
                        "version_added": "0.2.0",
                        "type": "string",
                        "example": "s3://aws_default@my-bucket/live",
                        "default": "",
                    },
                    "max_active_event_runs": {
                        "description": "How many live_event runs (one per event instance) may be "
                        "active at once. Every instance waiting for its token moments or go-live window "
                        "is an active run, so this must exceed the instances of the busiest lead window "
                        "(a later instance would otherwise queue behind them). Each waiting run holds up "
                        "to three triggers: keep it within [triggerer] capacity x triggerers / 3.",
                        "version_added": "0.3.0",
                        "type": "integer",
                        "example": "512",
                        "default": "256",
                    },
                    "calendar_poll_seconds": {
                        "description": "How often the planner's calendar watcher reads the events "
                        "calendar (where the planner reads it: the Variable live_events_calendar, else "
                        "live_events.json in the DAGs folder) to run the planner when it changed. An "
                        "edit reaches the event runs within this plus one planner run.",
                        "version_added": "0.4.0",
                        "type": "integer",
                        "example": "30",
                        "default": "60",
                    },
                    "session_poll_seconds": {
                        "description": "How often the sample DAG live_stream_sessions' watchers poll "
                        "their vendor (one shared poll per connection and Volcengine vhost/app).",
                        "version_added": "0.3.0",
                        "type": "integer",
                        "example": "15",
                        "default": "30",
                    },
                    "live_ops_conn_id": {
                        "description": "An HTTP connection (a chat or paging webhook the team already "
                        "has) that the sample DAG live_event tells when one of its steps fails "
                        "(LiveOpsNotifier: the event, its start, the failed step, the vendor's error "
                        "scrubbed, links to the run and its run sheet). Empty: no notification.",
                        "version_added": "0.3.0",
                        "type": "string",
                        "example": "live_ops_webhook",
                        "default": "",
                    },
                    "live_ops_payload": {
                        "description": "The JSON shape of LiveOpsNotifier's message for the webhook "
                        "of live_ops_conn_id: generic ({text, event, start, failed_step, error, run_url, "
                        "run_sheet_url, ...}; Slack, Mattermost and similar read text), dingtalk, wecom "
                        "or feishu.",
                        "version_added": "0.3.0",
                        "type": "string",
                        "example": "dingtalk",
                        "default": "generic",
                    },
                    "session_offline_grace_seconds": {
                        "description": "How long a stream watched by live_stream_sessions must stay "
                        "offline before its session has ended (a shorter drop continues it).",
                        "version_added": "0.3.0",
                        "type": "integer",
                        "example": "120",
                        "default": "60",
                    },
                },
            }
        },
    }
