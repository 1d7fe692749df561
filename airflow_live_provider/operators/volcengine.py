"""Volcengine Live operators: the pre-event auth check and signed push URL generation.

Both results hold credentials (auth ``SecretKey`` values, push URLs signed with ``volcSecret``),
and XCom is stored and shown in plain text, so: every such value is registered with Airflow's
masker, the auth XCom carries redaction markers unless ``include_secrets=True``, and push URLs go
to a file with only a summary in XCom unless ``urls_in_xcom=True``.

Hooks and vendor modules are imported inside ``execute()``: DAG files import this module at
every parse, and those imports would be paid there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from airflow.sdk import BaseOperator

from airflow_live_provider.links.console import VolcengineStreamLink
from airflow_live_provider.outputs import task_output, task_output_uri, write_json
from airflow_live_provider.redaction import mask_returned_secrets, redact
from airflow_live_provider.workflow.vendor_steps import (
    ensure_auth_enabled,
    generate_push_urls,
    push_url_count,
)


class VolcengineDescribeAuthOperator(BaseOperator):
    """DescribeAuth for one vhost or domain; optionally fail when push/pull auth is off.

    XCom: the AuthList, every ``SecretKey`` replaced by a redaction marker unless
    ``include_secrets=True`` (the keys are masked in logs either way).
    """

    template_fields: Sequence[str] = ("scene_type", "vhost", "domain", "app", "version")

    def __init__(
        self,
        *,
        scene_type: str,
        vhost: str | None = None,
        domain: str | None = None,
        app: str | None = None,
        version: str = "2023-01-01",
        require_auth_enabled: bool = False,
        include_secrets: bool = False,
        volcengine_conn_id: str = "volcengine_live_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.scene_type = scene_type
        self.vhost = vhost
        self.domain = domain
        self.app = app
        self.version = version
        self.require_auth_enabled = require_auth_enabled
        self.include_secrets = include_secrets
        self.volcengine_conn_id = volcengine_conn_id

    def execute(self, context: Any) -> list[dict[str, Any]]:
        # Validate the rendered values before the connection is even read.
        from airflow_live_provider.hooks.volcengine import VolcengineLiveHook
        from airflow_live_provider.vendors.volcengine import describe_auth_body

        describe_auth_body(
            self.scene_type, vhost=self.vhost, domain=self.domain, app=self.app, version=self.version
        )
        hook = VolcengineLiveHook(volcengine_conn_id=self.volcengine_conn_id)
        auth_list = hook.describe_auth(
            self.scene_type, vhost=self.vhost, domain=self.domain, app=self.app, version=self.version
        )
        mask_returned_secrets(auth_list)
        target = f"vhost {self.vhost!r}" if self.vhost else f"domain {self.domain!r}"
        if self.app:
            target += f" (app {self.app!r})"
        enabled = [bool(item.get("AuthStatus")) for item in auth_list]
        self.log.info(
            "DescribeAuth %s %s (version %s): %d setting(s), auth enabled: %s",
            self.scene_type,
            target,
            self.version,
            len(auth_list),
            enabled,
        )
        if self.require_auth_enabled:
            ensure_auth_enabled(auth_list, self.scene_type, target)
        return auth_list if self.include_secrets else redact(auth_list)


class VolcengineGeneratePushUrlOperator(BaseOperator):
    """GeneratePushURL for one stream; the signed URLs go to ``output_uri`` (JSON), masked in logs.

    XCom: ``{vhost, app, stream, count, output_uri}`` (+ ``urls``, the full result, only when
    ``urls_in_xcom=True``). ``count`` is the number of push addresses (one per push domain).
    Default ``output_uri``:
    ``{default_output_root()}/push_urls/{dag_id}/{run_id}/{task_id}[-{map_index}].json``.
    """

    template_fields: Sequence[str] = (
        "vhost",
        "app",
        "stream",
        "domain",
        "valid_duration",
        "expired_time",
        "output_uri",
    )
    operator_extra_links = (VolcengineStreamLink(),)

    def __init__(
        self,
        *,
        vhost: str,
        app: str,
        stream: str,
        domain: str | None = None,
        valid_duration: int | None = None,
        expired_time: str | None = None,
        output_uri: str | None = None,
        urls_in_xcom: bool = False,
        volcengine_conn_id: str = "volcengine_live_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.vhost = vhost
        self.app = app
        self.stream = stream
        self.domain = domain
        self.valid_duration = valid_duration
        self.expired_time = expired_time
        self.output_uri = output_uri
        self.urls_in_xcom = urls_in_xcom
        self.volcengine_conn_id = volcengine_conn_id
        #: The push-URL file the last execute() wrote, for OpenLineage (a path, never a URL).
        self.written_uri: str | None = None

    def default_output_uri(self, context: Mapping[str, Any]) -> str:
        return task_output_uri("push_urls", self, context)

    def execute(self, context: Any) -> dict[str, Any]:
        # Everything is checked before the vendor is called (the client re-checks the rest).
        from airflow_live_provider.hooks.volcengine import VolcengineLiveHook
        from airflow_live_provider.times import parse_instant
        from airflow_live_provider.vendors.names import validate_app, validate_stream
        from airflow_live_provider.vendors.volcengine import validate_expired_time, validate_valid_duration

        validate_app(self.app)
        validate_stream(self.stream)
        duration = validate_valid_duration(self.valid_duration)
        expired_time = validate_expired_time(self.expired_time)
        path = task_output(self.output_uri, lambda: self.default_output_uri(context))
        hook = VolcengineLiveHook(volcengine_conn_id=self.volcengine_conn_id)
        until = parse_instant(expired_time, "expired_time") if expired_time else None
        pushed = generate_push_urls(
            hook,
            self.vhost,
            self.app,
            self.stream,
            domain=self.domain or None,
            valid_duration=duration,
            expired_time=until,
        )
        result = pushed.result
        count = push_url_count(result)
        written = write_json(
            path,
            {
                "vhost": self.vhost,
                "app": self.app,
                "stream": self.stream,
                "domain": self.domain or None,
                "generatedAt": pushed.valid_from,
                "validFrom": pushed.valid_from,
                "validUntil": pushed.valid_until,
                "result": result,
            },
        )
        self.written_uri = written
        self.log.info("Wrote %d push address(es) for %s/%s to %s", count, self.app, self.stream, written)
        summary: dict[str, Any] = {
            "vhost": self.vhost,
            "app": self.app,
            "stream": self.stream,
            "count": count,
            "output_uri": written,
        }
        if self.urls_in_xcom:
            summary["urls"] = result
        return summary

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the stream (``volclive://<vhost>`` ``<app>/<stream>``) in, the push-URL file
        out (its location only: the URLs are credentials)."""
        from airflow_live_provider.lineage import operator_lineage, storage_dataset, volclive_dataset

        return operator_lineage(
            inputs=[volclive_dataset(self.vhost, self.app, self.stream)] if self.vhost else [],
            outputs=[storage_dataset(self.written_uri)] if self.written_uri else [],
        )
