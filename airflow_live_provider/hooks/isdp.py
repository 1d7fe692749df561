"""Huawei ISDP hook: an Airflow Connection turned into the Airflow-free vendor client.

Connection: host = the ISDP domain (default ``isdpcloud.huawei.com``), login = application ID,
password = application token, extras ``client_id`` and ``client_secret`` (a secret field; both
``isdp-saas-openapi`` on Huawei's SaaS when empty) and ``oauth_path`` (formerly ``token_path``,
still read; default ``/oauth2/oauth/rest_token``).
The client caches the OAuth access token for the life of the hook, shared by all its calls.
"""

from __future__ import annotations

from typing import Any

from airflow_live_provider.exceptions import InputProblems
from airflow_live_provider.hooks.base import LiveBaseHook
from airflow_live_provider.validation import MAX_ID_SETTING_LENGTH
from airflow_live_provider.vendors.isdp import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_ROLE,
    DEFAULT_TOKEN_PATH,
    IsdpClient,
    validate_token_path,
)


class IsdpHook(LiveBaseHook[IsdpClient]):
    conn_name_attr = "isdp_conn_id"
    default_conn_name = "isdp_default"
    conn_type = "isdp"
    hook_name = "Huawei ISDP"
    default_host = "isdpcloud.huawei.com"

    def __init__(self, isdp_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(isdp_conn_id, **kwargs)
        self.isdp_conn_id = isdp_conn_id

    def client_settings(
        self, *, login: Any, password: Any, extra: dict[str, Any], problems: InputProblems
    ) -> dict[str, Any]:
        # oauth_path was token_path: a field name with "token" is hidden by Airflow's form too.
        path_field = "extra.oauth_path" if extra.get("oauth_path") not in (None, "") else "extra.token_path"
        token_path = self.text(extra.get(path_field.removeprefix("extra.")), path_field, problems)
        if token_path is not None:
            token_path = problems.check(validate_token_path, token_path, f"{self.conn_id}.{path_field}")
        return {
            "app_id": self.text(
                login, "login", problems, what="ISDP application ID", max_len=MAX_ID_SETTING_LENGTH
            ),
            "app_token": self.text(password, "password", problems, what="ISDP application token"),
            "client_id": self.text(
                extra.get("client_id"),
                "extra.client_id",
                problems,
                default=DEFAULT_CLIENT_ID,
                max_len=MAX_ID_SETTING_LENGTH,
            ),
            "client_secret": self.text(
                extra.get("client_secret"), "extra.client_secret", problems, default=DEFAULT_CLIENT_SECRET
            ),
            "token_path": token_path or DEFAULT_TOKEN_PATH,
        }

    def make_client(self, base_url: str, settings: dict[str, Any], options: dict[str, Any]) -> IsdpClient:
        return IsdpClient(
            base_url,
            settings["app_id"],
            settings["app_token"],
            client_id=settings["client_id"],
            client_secret=settings["client_secret"],
            token_path=settings["token_path"],
            **options,
        )

    def get_access_token(self) -> str:
        """The cached OAuth access token (a credential: never log it)."""
        return self.client.get_access_token()

    def get_token(self, channel_id: str, user_account: str, role: int = DEFAULT_ROLE) -> dict[str, Any]:
        """SaasLive/getToken: a short-lived join token for one channel (a credential)."""
        return self.client.get_token(channel_id, user_account, role)

    def get_token_batch(
        self, channel_ids: list[str], user_account: str, role: int = DEFAULT_ROLE
    ) -> dict[str, Any] | list[Any]:
        """SaasLive/getTokenBatch: join tokens for several channels; ``data`` as the vendor sent it."""
        return self.client.get_token_batch(channel_ids, user_account, role)

    def probe(self) -> str:
        """Fetch an access token: read-only, and proves application and client credentials."""
        client = self.client
        client.get_access_token()
        expires_in = client.token_expires_in
        lifetime = f", valid for {expires_in:g} s" if expires_in is not None else ""
        return f"Connected to Huawei ISDP: access token issued for application {client.app_id}{lifetime}"
