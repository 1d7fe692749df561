"""The Polyv sub-account snapshot operator, in a module of its own.

Its DAG file imports it at every parse: apart from the other Polyv operators it needs no operator
link, whose Airflow base class (``BaseOperatorLink``, an attrs class) alone cost 0.56 ms of that
parse. :mod:`airflow_live_provider.operators.polyv` re-exports it. Hooks, vendor modules and the
report are imported inside ``execute()``, for the same reason.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_live_provider.exceptions import LiveApiInputError

if TYPE_CHECKING:  # imported in execute(): DAG files import this module at every parse
    from airflow_live_provider.reports.snapshot_report import SnapshotSummary

WRITE_BATCH = 100

MAX_THRESHOLD = 1e9  # as the DAG's Param schema says


def _threshold(value: Any, field: str) -> float | None:
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(value, bool) or not math.isfinite(number) or not 0 <= number <= MAX_THRESHOLD:
        raise LiveApiInputError(
            field,
            f"{value!r} is not a number from 0 to {MAX_THRESHOLD:g} (or None to skip it)",
            vendor="polyv",
        )
    return number


class PolyvSubAccountSnapshotOperator(BaseOperator):
    """Every sub-account of a Polyv group, streamed to a JSON Lines file; a small summary as XCom.

    Each row is the vendor's record plus ``snapshotTime`` (ISO-8601 UTC, the same on every row).
    Every field named in :data:`~airflow_live_provider.redaction.SECRET_KEYS` (``appSecret``,
    ``vodSecretKey``, ``vodBakSecretKey``, ``writeToken``, ``readToken``, any ``token``,
    ``password``, ``channelPasswd``...) is removed unless ``include_secrets=True``; then the same
    fields are kept in the file and go nowhere else: no log line, exception or XCom carries a
    row's field (tested), so they are not registered with the log masker, whose cost every later
    log line of the task would pay (a regex of 50,000 alternatives at 10,000 accounts). A threshold
    flags accounts whose remaining resource is strictly below it (thresholds are templated, so a
    DAG can pass its params: ``"{{ params.min_remaining_minutes }}"`` with native rendering).

    Its outlet is :func:`~airflow_live_provider.assets.polyv_snapshot_asset` of the connection
    (unless ``outlets`` is given): every run emits an asset event whose ``extra`` holds the
    snapshot's URI, row count, time, totals and below-threshold count. The file is also reported
    to Airflow's hook lineage collector, so lineage backends (OpenLineage) see it unconfigured.
    """

    template_fields: Sequence[str] = (
        "output_uri",
        "emails",
        "min_remaining_minutes",
        "min_remaining_concurrency",
        "min_remaining_flow",
        "min_remaining_space",
    )

    def __init__(
        self,
        *,
        output_uri: str | None = None,
        include_secrets: bool = False,
        emails: list[str] | None = None,
        page_size: int = 100,
        min_remaining_minutes: float | None = None,
        min_remaining_concurrency: float | None = None,
        min_remaining_flow: float | None = None,
        min_remaining_space: float | None = None,
        polyv_conn_id: str = "polyv_group_default",
        **kwargs: Any,
    ) -> None:
        from airflow_live_provider.assets import polyv_snapshot_asset

        kwargs.setdefault("outlets", [polyv_snapshot_asset(polyv_conn_id)])
        super().__init__(**kwargs)
        self.output_uri = output_uri
        self.include_secrets = include_secrets
        self.emails = emails
        self.page_size = page_size
        self.min_remaining_minutes = min_remaining_minutes
        self.min_remaining_concurrency = min_remaining_concurrency
        self.min_remaining_flow = min_remaining_flow
        self.min_remaining_space = min_remaining_space
        self.polyv_conn_id = polyv_conn_id
        #: What the last execute() wrote (its URI and row count), for OpenLineage.
        self.written: tuple[str, int] | None = None

    def default_output_uri(self, context: Mapping[str, Any]) -> str:
        from airflow_live_provider.assets import SNAPSHOT_PREFIX, SNAPSHOT_SUFFIX, snapshot_folder
        from airflow_live_provider.outputs import path_segment

        stamp = context.get("ts_nodash") or datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        return f"{snapshot_folder()}/{SNAPSHOT_PREFIX}{path_segment(str(stamp))}{SNAPSHOT_SUFFIX}"

    def execute(self, context: Any) -> dict[str, Any]:
        from airflow_live_provider.hooks.polyv import PolyvHook
        from airflow_live_provider.outputs import open_for_write, writable_output
        from airflow_live_provider.redaction import SECRET_KEYS, strip_secrets
        from airflow_live_provider.reports.snapshot_report import RESOURCE_FIELDS, SnapshotSummary
        from airflow_live_provider.times import utc_iso
        from airflow_live_provider.vendors.polyv import validate_emails, validate_page_size

        thresholds = {
            key: _threshold(getattr(self, spec.param), spec.param) for key, spec in RESOURCE_FIELDS.items()
        }
        page_size = validate_page_size(self.page_size)
        emails = validate_emails(self.emails)
        path = writable_output(self.output_uri or self.default_output_uri(context))
        snapshot_time = utc_iso()
        summary = SnapshotSummary(thresholds=thresholds, track_status=False)  # constant memory
        hook = PolyvHook(polyv_conn_id=self.polyv_conn_id)
        accounts = hook.iter_sub_accounts(emails=emails, page_size=page_size)
        # Rows may hold secrets (include_secrets=True): they go to the file only. Nothing below
        # logs or raises a row's value (errors name counts, paths and vendor codes; the summary
        # keeps e-mails, ids, statuses and numbers), so they need no log masking.
        # On a failure open_for_write publishes nothing: the final name keeps the previous
        # snapshot (if any), never half of this one.
        # One encoder for every row (json.dumps builds one per call when given options).
        encode = json.JSONEncoder(ensure_ascii=False, default=str, allow_nan=False).encode
        with open_for_write(path) as fh:
            lines: list[str] = []  # one write per page-sized batch: cheaper on fsspec files
            for account in accounts:
                row = dict(account) if self.include_secrets else strip_secrets(account, SECRET_KEYS)
                row["snapshotTime"] = snapshot_time
                try:
                    line = encode(row)
                except ValueError:  # NaN/Infinity are not JSON: kept as text (looked for only then)
                    for key, value in row.items():
                        if isinstance(value, float) and not math.isfinite(value):
                            row[key] = str(value)
                    line = encode(row)
                lines.append(line + "\n")
                summary.add(row)
                if len(lines) >= WRITE_BATCH:
                    fh.write("".join(lines))
                    lines.clear()
            fh.write("".join(lines))
        location = str(path)
        self.written = (location, summary.count)
        self.log.info("Wrote %d Polyv sub-account(s) to %s", summary.count, location)
        if summary.unusable_count:
            self.log.warning("%s", summary.unusable_text())
        totals = summary.totals_rounded()
        self._announce(context, hook, location, summary, snapshot_time, totals)
        return {
            "path": location,
            "count": summary.count,
            "snapshot_time": snapshot_time,
            "totals": totals,
            "below_threshold": summary.below_threshold,
            "below_threshold_count": summary.below_threshold_count,
            "expired_or_frozen": [
                {"email": a["email"], "userId": a["userId"], "status": a["status"]} for a in summary.inactive
            ],
            "expired_or_frozen_count": summary.inactive_count,
            "unusable_values_count": summary.unusable_count,
        }

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: read ``polyv://<conn id>`` ``sub-accounts``; wrote the snapshot file (with
        its row count) and the outlet assets (the snapshot asset by default)."""
        from airflow_live_provider.lineage import (
            SUB_ACCOUNTS,
            asset_datasets,
            operator_lineage,
            polyv_dataset,
            storage_dataset,
        )

        outputs = [storage_dataset(self.written[0], rows=self.written[1])] if self.written else []
        return operator_lineage(
            inputs=[polyv_dataset(self.polyv_conn_id, SUB_ACCOUNTS)],
            outputs=outputs + asset_datasets(self.outlets),
        )

    def _announce(
        self,
        context: Any,
        hook: Any,
        location: str,
        summary: SnapshotSummary,
        snapshot_time: str,
        totals: Mapping[str, float],
    ) -> None:
        """Asset events (with the snapshot's figures) for every asset outlet, and hook lineage."""
        from airflow.sdk import Asset
        from airflow.sdk.lineage import get_hook_lineage_collector

        from airflow_live_provider.assets import snapshot_event_extra

        extra = snapshot_event_extra(
            uri=location,
            count=summary.count,
            snapshot_time=snapshot_time,
            totals=totals,
            below_threshold_count=summary.below_threshold_count,
        )
        outlet_events = context.get("outlet_events") if isinstance(context, Mapping) else None
        for outlet in self.outlets:
            if isinstance(outlet, Asset) and outlet_events is not None:
                outlet_events[outlet].extra.update(extra)
        get_hook_lineage_collector().add_output_asset(context=hook, uri=location)
