"""Huawei ISDP operator: batch join tokens for a user, written to storage with their expiry.

Join tokens are short-lived credentials (120 s in the vendor's example) and XCom is stored and
shown in plain text, so every token is registered with Airflow's masker, the tokens go to a file
together with the moment they expire, and XCom holds only a summary unless ``tokens_in_xcom=True``.

Hooks and vendor modules are imported inside ``execute()``: DAG files import this module at
every parse, and those imports would be paid there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_live_provider.operators.common import (
    mask_all,
    mask_returned_secrets,
    output_path,
    task_output_uri,
    utc_iso,
    write_json,
)

if TYPE_CHECKING:  # imported in execute(): DAG files import this module at every parse
    from airflow_live_provider.hooks.isdp import IsdpHook

#: ``tokenBegin``/``tokenEnd`` carry no offset; the vendor's envelope timestamps are +08:00.
VENDOR_LOCAL_TIME = timezone(timedelta(hours=8))


def token_expiry(item: dict[str, Any], requested_at: datetime) -> datetime | None:
    """When a join token stops working.

    ``expirationTime`` (seconds) counted from *before* the request was sent is preferred: it
    needs no time zone and errs early. Without it, ``tokenEnd`` is used, read as Beijing time
    unless it carries an offset (the doc example's values have none).
    """
    seconds = item.get("expirationTime")
    if isinstance(seconds, str) and seconds.strip().isdigit():
        seconds = int(seconds)
    if isinstance(seconds, int | float) and not isinstance(seconds, bool) and seconds > 0:
        return requested_at + timedelta(seconds=float(seconds))
    end = item.get("tokenEnd")
    if isinstance(end, str) and end.strip():
        try:
            parsed = datetime.fromisoformat(end.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=VENDOR_LOCAL_TIME)
    return None


def token_entries(
    data: dict[str, Any] | list[Any], channel_ids: list[str], requested_at: datetime
) -> list[dict[str, Any]]:
    """One entry per token object, whatever shape ``data`` had, each with ``expiresAt``.

    An object answers for every requested channel; list items name their own ``channelId``
    when the vendor includes it.
    """
    items = data if isinstance(data, list) else [data]
    entries: list[dict[str, Any]] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        expiry = token_expiry(item, requested_at)
        channels = [str(item["channelId"])] if item.get("channelId") not in (None, "") else channel_ids
        entries.append({"channelIds": channels, "expiresAt": utc_iso(expiry) if expiry else None, **item})
    return entries


@dataclass(frozen=True)
class JoinTokens:
    """Join-token entries (each with ``expiresAt``), when they were requested, the earliest expiry."""

    entries: list[dict[str, Any]]
    requested_at: str
    expires_at: str | None


def fetch_join_tokens(hook: IsdpHook, channel_ids: list[str], user_account: str, role: int) -> JoinTokens:
    """getTokenBatch, every token masked, entries with their expiry counted from *before* the request."""
    requested_at = datetime.now(UTC)
    data = hook.get_token_batch(channel_ids, user_account, role)
    mask_returned_secrets(data)
    entries = token_entries(data, channel_ids, requested_at)
    mask_all(str(e["token"]) for e in entries if e.get("token"))
    expiries = [e["expiresAt"] for e in entries if e.get("expiresAt")]
    return JoinTokens(entries, utc_iso(requested_at), min(expiries) if expiries else None)


class IsdpTokenBatchOperator(BaseOperator):
    """SaasLive/getTokenBatch for ``user_account`` on ``channel_ids``; tokens to ``output_uri``.

    File (JSON): ``{channelIds, userAccount, role, generatedAt, expiresAt, tokens: [{channelIds,
    expiresAt, token, tokenBegin, tokenEnd, expirationTime, ...}]}``; ``expiresAt`` is UTC ISO-8601,
    the top-level one the earliest. XCom: ``{channel_ids, count, output_uri, expires_at}`` (+
    ``tokens``, the entries, only when ``tokens_in_xcom=True``). Default ``output_uri``:
    ``{default_output_root()}/isdp_tokens/{dag_id}/{run_id}/{task_id}[-{map_index}].json``.
    """

    template_fields: Sequence[str] = ("channel_ids", "user_account", "role", "output_uri")

    def __init__(
        self,
        *,
        channel_ids: list[str],
        user_account: str,
        role: int = 1,
        output_uri: str | None = None,
        tokens_in_xcom: bool = False,
        isdp_conn_id: str = "isdp_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.channel_ids = channel_ids
        self.user_account = user_account
        self.role = role
        self.output_uri = output_uri
        self.tokens_in_xcom = tokens_in_xcom
        self.isdp_conn_id = isdp_conn_id

    def default_output_uri(self, context: Mapping[str, Any]) -> str:
        return task_output_uri("isdp_tokens", self, context)

    def execute(self, context: Any) -> dict[str, Any]:
        # Every input is checked before the connection is read or a token fetched.
        from airflow_live_provider.hooks.isdp import IsdpHook
        from airflow_live_provider.vendors.isdp import (
            validate_channel_ids,
            validate_role,
            validate_user_account,
        )

        channel_ids = validate_channel_ids(self.channel_ids)
        user_account = validate_user_account(self.user_account)
        role = validate_role(self.role)
        path = output_path(self.output_uri or self.default_output_uri(context))
        fetched = fetch_join_tokens(IsdpHook(isdp_conn_id=self.isdp_conn_id), channel_ids, user_account, role)
        entries, expires_at = fetched.entries, fetched.expires_at
        written = write_json(
            path,
            {
                "channelIds": channel_ids,
                "userAccount": user_account,
                "role": role,
                "generatedAt": fetched.requested_at,
                "expiresAt": expires_at,
                "tokens": entries,
            },
        )
        self.log.info(
            "Wrote %d ISDP join token(s) for %d channel(s) to %s; they expire at %s",
            len(entries),
            len(channel_ids),
            written,
            expires_at or "an unknown time",
        )
        summary: dict[str, Any] = {
            "channel_ids": channel_ids,
            "count": len(entries),
            "output_uri": written,
            "expires_at": expires_at,
        }
        if self.tokens_in_xcom:
            summary["tokens"] = entries
        return summary
