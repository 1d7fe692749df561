"""Volcengine Live hook: an Airflow Connection turned into the Airflow-free vendor client.

Connection: login = Access Key ID, password = Secret Access Key, extras ``region`` (default
``cn-north-1``) and ``session_token`` (STS; a secret field), host default ``live.volcengineapi.com``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from airflow_live_provider.exceptions import InputProblems
from airflow_live_provider.hooks.base import LiveBaseHook
from airflow_live_provider.validation import MAX_ID_SETTING_LENGTH
from airflow_live_provider.vendors.volcengine import (
    DEFAULT_REGION,
    DEFAULT_VERSION,
    MAX_ONLINE_STREAMS_PAGE_SIZE,
    OnlineStream,
    VolcengineLiveClient,
    validate_region,
)


class VolcengineLiveHook(LiveBaseHook[VolcengineLiveClient]):
    conn_name_attr = "volcengine_conn_id"
    default_conn_name = "volcengine_live_default"
    conn_type = "volcengine_live"
    hook_name = "Volcengine Live"
    default_host = "live.volcengineapi.com"

    def __init__(self, volcengine_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(volcengine_conn_id, **kwargs)
        self.volcengine_conn_id = volcengine_conn_id

    def client_settings(
        self, *, login: Any, password: Any, extra: dict[str, Any], problems: InputProblems
    ) -> dict[str, Any]:
        region = self.text(extra.get("region"), "extra.region", problems, default=DEFAULT_REGION)
        if region is not None:
            region = problems.check(validate_region, region, f"{self.conn_id}.extra.region")
        return {
            "access_key_id": self.text(
                login, "login", problems, what="Access Key ID", max_len=MAX_ID_SETTING_LENGTH, word=True
            ),
            "secret_access_key": self.text(password, "password", problems, what="Secret Access Key"),
            "region": region,
            "session_token": self.text(extra.get("session_token"), "extra.session_token", problems),
        }

    def make_client(
        self, base_url: str, settings: dict[str, Any], options: dict[str, Any]
    ) -> VolcengineLiveClient:
        return VolcengineLiveClient(
            base_url,
            settings["access_key_id"],
            settings["secret_access_key"],
            region=settings["region"],
            session_token=settings["session_token"],
            **options,
        )

    def describe_auth(
        self,
        scene_type: str,
        *,
        vhost: str | None = None,
        domain: str | None = None,
        app: str | None = None,
        version: str = DEFAULT_VERSION,
    ) -> list[dict[str, Any]]:
        """The push/pull auth settings (AuthList) of one vhost or domain; contains SecretKey values."""
        return self.client.describe_auth(scene_type, vhost=vhost, domain=domain, app=app, version=version)

    def generate_push_url(
        self,
        vhost: str,
        app: str,
        stream: str,
        *,
        domain: str | None = None,
        valid_duration: int | None = None,
        expired_time: str | None = None,
    ) -> dict[str, Any]:
        """GeneratePushURL 2023-01-01: the signed push addresses of one stream (credentials!)."""
        return self.client.generate_push_url(
            vhost, app, stream, domain=domain, valid_duration=valid_duration, expired_time=expired_time
        )

    def describe_live_stream_state(
        self, *, vhost: str | None = None, domain: str | None = None, app: str, stream: str
    ) -> dict[str, Any]:
        """``{"stream_state": "online" | "offline" | "forbidden", "type": ...}`` of one stream."""
        return self.client.describe_live_stream_state(vhost=vhost, domain=domain, app=app, stream=stream)

    def iter_online_streams(
        self,
        *,
        vhost: str | None = None,
        domain: str | None = None,
        app: str | None = None,
        stream: str | None = None,
        page_size: int = MAX_ONLINE_STREAMS_PAGE_SIZE,
    ) -> Iterator[OnlineStream]:
        """Every online stream (DescribeLiveStreamInfoByPage, paged, 10 requests/s per key)."""
        return self.client.iter_online_streams(
            vhost=vhost, domain=domain, app=app, stream=stream, page_size=page_size
        )

    def call(
        self,
        action: str,
        body: dict[str, Any] | None = None,
        *,
        version: str = DEFAULT_VERSION,
        method: str = "POST",
        query: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Any other Live action; returns its ``Result``. GET actions take ``query``, not ``body``."""
        return self.client.call(action, body, version=version, method=method, query=query)

    def probe(self) -> str:
        """ListDomainDetail, first page of one: read-only, and proves the signature is accepted."""
        result = self.client.call("ListDomainDetail", {"PageNum": 1, "PageSize": 1})
        return f"Connected to Volcengine Live: {result.get('Total', 0)} domain(s) visible"
