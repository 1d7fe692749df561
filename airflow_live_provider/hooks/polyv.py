"""Polyv Live hook: an Airflow Connection turned into the Airflow-free vendor client.

login = appId, password = appSecret, host defaults to ``api.polyv.net``. Group calls
(:meth:`PolyvHook.iter_sub_accounts`) need the group main account's pair: that is what the
``polyv_group_default`` connection holds. Extras: ``signature_method`` (MD5/SHA256) and
``account_type`` (``group`` makes ``test_connection`` read the sub-account list instead of the
channel list, since a group main account may have no channel access).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from airflow_live_provider.exceptions import InputProblems
from airflow_live_provider.hooks.base import LiveBaseHook
from airflow_live_provider.validation import MAX_ID_SETTING_LENGTH
from airflow_live_provider.vendors.polyv import DEFAULT_HOST, SIGNATURE_METHODS, PolyvClient


class PolyvHook(LiveBaseHook[PolyvClient]):
    conn_name_attr = "polyv_conn_id"
    default_conn_name = "polyv_default"
    conn_type = "polyv"
    hook_name = "Polyv Live"
    default_host = DEFAULT_HOST

    def __init__(self, polyv_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(polyv_conn_id, **kwargs)
        self.polyv_conn_id = polyv_conn_id
        self._group_account = False

    def client_settings(
        self, *, login: Any, password: Any, extra: dict[str, Any], problems: InputProblems
    ) -> dict[str, Any]:
        method = (
            self.text(extra.get("signature_method"), "extra.signature_method", problems) or "MD5"
        ).upper()
        if method not in SIGNATURE_METHODS:
            problems.add(
                f"{self.conn_id}.extra.signature_method", f"{method!r} is not supported; use MD5 or SHA256"
            )
        account_type = (
            self.text(extra.get("account_type"), "extra.account_type", problems) or "normal"
        ).lower()
        if account_type not in ("normal", "group"):
            problems.add(
                f"{self.conn_id}.extra.account_type",
                f"{account_type!r} is not supported; use normal or group",
            )
        self._group_account = account_type == "group"
        return {
            "app_id": self.text(
                login, "login", problems, what="Polyv appId", max_len=MAX_ID_SETTING_LENGTH, word=True
            ),
            "app_secret": self.text(password, "password", problems, what="Polyv appSecret"),
            "signature_method": method,
        }

    def make_client(self, base_url: str, settings: dict[str, Any], options: dict[str, Any]) -> PolyvClient:
        return PolyvClient(base_url, **settings, **options)

    def get_watch_api_token(
        self,
        channel_id: str | int,
        viewer_id: str,
        *,
        nickname: str | None = None,
        avatar: str | None = None,
        openid: str | None = None,
        actor: str | None = None,
    ) -> str:
        """A watch-page SDK token (valid 5 hours) for one viewer of a channel."""
        return self.client.get_watch_api_token(
            channel_id, viewer_id, nickname=nickname, avatar=avatar, openid=openid, actor=actor
        )

    def iter_sub_accounts(
        self, *, emails: Sequence[str] | None = None, page_size: int = 100
    ) -> Iterator[dict[str, Any]]:
        """Every sub-account of the group, streamed one page at a time (secrets included)."""
        return self.client.iter_sub_accounts(emails=emails, page_size=page_size)

    def get_channel_live_status(self, channel_ids: Sequence[str | int]) -> dict[str, str]:
        """``{channelId: "live" | "end"}`` for up to 20 channels."""
        return self.client.get_channel_live_status(channel_ids)

    def get_channel_live_statuses(self, channel_ids: Sequence[str | int]) -> dict[str, str]:
        """``{channelId: "live" | "end"}`` for any number of channels, 20 per call."""
        return self.client.get_channel_live_statuses(channel_ids)

    def list_transmit_receivers(self, channel_id: str | int) -> list[dict[str, Any]]:
        """``[{channelId, name}]`` of a transmit channel's receive channels."""
        return self.client.list_transmit_receivers(channel_id)

    def create_transmit_channels(self, channel_id: str | int, names: Sequence[str]) -> list[dict[str, Any]]:
        """Idempotent: creates only the missing receivers; returns ``[{name, channelId, created}]``."""
        return self.client.create_transmit_channels(channel_id, names)

    def probe(self) -> str:
        """One-item read: the channel list, or the sub-account list for ``account_type=group``."""
        client = self.client
        return client.probe(group=self._group_account)
