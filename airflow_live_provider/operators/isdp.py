"""Huawei ISDP operator: batch join tokens for a user, written to storage with their expiry.

Join tokens are short-lived credentials (120 s in the vendor's example) and XCom is stored and
shown in plain text, so every token is registered with Airflow's masker, the tokens go to a file
together with the moment they expire, and XCom holds only a summary unless ``tokens_in_xcom=True``.

Hooks and vendor modules are imported inside ``execute()``: DAG files import this module at
every parse, and those imports would be paid there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from airflow.sdk import BaseOperator

from airflow_live_provider.outputs import task_output, task_output_uri, write_json


class IsdpTokenBatchOperator(BaseOperator):
    """SaasLive/getTokenBatch for ``user_account`` on ``channel_ids``; tokens to ``output_uri``.

    File (JSON): ``{channelIds, userAccount, role, generatedAt, expiresAt, tokens: [{channelIds,
    validFrom, validUntil, token, tokenBegin, tokenEnd, expirationTime, ...}]}``; times are UTC
    ISO-8601, the top-level ``expiresAt`` the earliest ``validUntil``. XCom: ``{channel_ids, count,
    output_uri, expires_at}`` (+ ``tokens``, the entries, only when ``tokens_in_xcom=True``).
    Default ``output_uri``:
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
        #: The token file the last execute() wrote, for OpenLineage (a path, never a token).
        self.written_uri: str | None = None

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
        path = task_output(self.output_uri, lambda: self.default_output_uri(context))
        from airflow_live_provider.workflow.vendor_steps import fetch_join_tokens

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
        self.written_uri = written
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

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the channels (``isdp://<conn id>`` ``channels/<id>``) in, the token file
        out (its location only)."""
        from airflow_live_provider.lineage import isdp_channel_dataset, operator_lineage, storage_dataset

        channels = self.channel_ids if isinstance(self.channel_ids, list | tuple) else []
        return operator_lineage(
            inputs=[isdp_channel_dataset(self.isdp_conn_id, c) for c in channels],
            outputs=[storage_dataset(self.written_uri)] if self.written_uri else [],
        )
