"""Polyv operators: watch tokens for viewers, a sub-account snapshot, transmit receive channels.

The snapshot operator lives in :mod:`.polyv_snapshot` (its DAG file imports only that module) and
is importable from here too.

Hooks are built in ``execute()``. Tokens are credentials: each is masked in the task log and
written to a file; XCom carries a summary unless the user asks for tokens there explicitly.

Hooks and vendor modules are imported inside ``execute()``: DAG files import this module at
every parse, and those imports would be paid there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from airflow.sdk import BaseOperator

from airflow_live_provider.links.console import PolyvChannelLink
from airflow_live_provider.operators.polyv_snapshot import PolyvSubAccountSnapshotOperator

__all__ = [
    "PolyvCreateTransmitChannelsOperator",
    "PolyvSubAccountSnapshotOperator",
    "PolyvWatchTokenOperator",
]


class PolyvWatchTokenOperator(BaseOperator):
    """Watch-page SDK tokens (valid 5 h) for a list of viewers of one channel, written to a file."""

    template_fields: Sequence[str] = ("channel_id", "viewer_ids", "output_uri")
    operator_extra_links = (PolyvChannelLink(),)
    template_fields_renderers = {"viewer_ids": "json"}

    def __init__(
        self,
        *,
        channel_id: str,
        viewer_ids: list[str] | list[dict],
        output_uri: str | None = None,
        tokens_in_xcom: bool = False,
        polyv_conn_id: str = "polyv_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.channel_id = channel_id
        self.viewer_ids = viewer_ids
        self.output_uri = output_uri
        self.tokens_in_xcom = tokens_in_xcom
        self.polyv_conn_id = polyv_conn_id
        #: The token file the last execute() wrote, for OpenLineage (a path, never a token).
        self.written_uri: str | None = None

    def default_output_uri(self, context: Mapping[str, Any]) -> str:
        from airflow_live_provider.outputs import task_output_uri

        return task_output_uri("watch_tokens", self, context)

    def execute(self, context: Any) -> dict[str, Any]:
        from airflow_live_provider.hooks.polyv import PolyvHook
        from airflow_live_provider.outputs import task_output, write_json
        from airflow_live_provider.vendors.names import validate_channel_id
        from airflow_live_provider.vendors.polyv import normalize_viewers

        channel_id = validate_channel_id(self.channel_id)
        viewers = normalize_viewers(self.viewer_ids)
        path = task_output(self.output_uri, lambda: self.default_output_uri(context))
        from airflow_live_provider.workflow.vendor_steps import issue_watch_tokens

        issued = issue_watch_tokens(PolyvHook(polyv_conn_id=self.polyv_conn_id), channel_id, viewers)
        tokens, expires_at = issued.tokens, issued.expires_at
        location = write_json(
            path,
            {
                "channelId": channel_id,
                "generatedAt": issued.generated_at,
                "expiresAt": expires_at,
                "tokens": tokens,
            },
        )
        self.written_uri = location
        self.log.info("Wrote %d watch token(s) for channel %s to %s", len(tokens), channel_id, location)
        result: dict[str, Any] = {
            "channel_id": channel_id,
            "count": len(tokens),
            "output_uri": location,
            "expires_at": expires_at,
        }
        if self.tokens_in_xcom:
            result["tokens"] = tokens
        return result

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the channel (``polyv://<conn id>`` ``channels/<id>``) in, the token file
        out (its location only)."""
        from airflow_live_provider.lineage import operator_lineage, polyv_channel_dataset, storage_dataset

        return operator_lineage(
            inputs=[polyv_channel_dataset(self.polyv_conn_id, self.channel_id)],
            outputs=[storage_dataset(self.written_uri)] if self.written_uri else [],
        )


class PolyvCreateTransmitChannelsOperator(BaseOperator):
    """Make sure a transmit channel has a receive channel per name (idempotent; re-runs are safe).

    XCom: ``[{name, channelId, created}]`` in the order given; channel passwords are never kept.
    """

    template_fields: Sequence[str] = ("channel_id", "names")
    operator_extra_links = (PolyvChannelLink(),)
    template_fields_renderers = {"names": "json"}

    def __init__(
        self,
        *,
        channel_id: str,
        names: list[str],
        polyv_conn_id: str = "polyv_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.channel_id = channel_id
        self.names = names
        self.polyv_conn_id = polyv_conn_id
        #: The receive channel ids of the last execute(), for OpenLineage.
        self.receive_channel_ids: list[str] = []

    def execute(self, context: Any) -> list[dict[str, Any]]:
        from airflow_live_provider.hooks.polyv import PolyvHook
        from airflow_live_provider.vendors.names import validate_channel_id
        from airflow_live_provider.vendors.polyv import validate_names

        channel_id = validate_channel_id(self.channel_id)
        names = validate_names(self.names)
        hook = PolyvHook(polyv_conn_id=self.polyv_conn_id)
        result = hook.create_transmit_channels(channel_id, names)
        self.receive_channel_ids = [str(item["channelId"]) for item in result]
        created = sum(1 for item in result if item["created"])
        self.log.info(
            "Transmit channel %s: %d receive channel(s) created, %d already there",
            channel_id,
            created,
            len(result) - created,
        )
        return [{"name": r["name"], "channelId": r["channelId"], "created": r["created"]} for r in result]

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the transmit channel in, each of its receive channels out (all
        ``polyv://<conn id>`` ``channels/<id>``; no channel password)."""
        from airflow_live_provider.lineage import operator_lineage, polyv_channel_dataset

        return operator_lineage(
            inputs=[polyv_channel_dataset(self.polyv_conn_id, self.channel_id)],
            outputs=[polyv_channel_dataset(self.polyv_conn_id, c) for c in self.receive_channel_ids],
        )
