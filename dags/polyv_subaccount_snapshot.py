"""Daily snapshot of every Polyv sub-account's remaining resources, with an HTML report beside it.

1. ``snapshot``: ``PolyvSubAccountSnapshotOperator`` (group main account ``polyv_group_default``)
   streams every sub-account, secrets removed, to ``<output_dir>/polyv_subaccounts_<stamp>.jsonl``
   and updates the asset ``polyv://polyv_group_default/sub-account-snapshots`` (the event's extra
   holds the file's URI, row count, totals and below-threshold count): ``polyv_resource_trend``
   runs after every snapshot.
2. ``report``: ``<same name>.html`` next to it: totals, the accounts with the least remaining
   minutes/concurrency/flow/space (inline SVG bars), expired/frozen accounts, accounts expiring
   within N days and the change since the previous snapshot in the same folder.
3. ``alert``: accounts below the threshold params fail the task or log a warning (``alert_mode``).

Kept light at parse time: no connection lookups, no network, heavy imports inside the tasks.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import DAG, Param, task

from airflow_live_provider.assets import SNAPSHOT_PREFIX, SNAPSHOT_SUFFIX, snapshot_folder
from airflow_live_provider.operators.polyv_snapshot import PolyvSubAccountSnapshotOperator
from airflow_live_provider.retry_policy import LiveRetryPolicy

# Each Param declares JSON Schema draft-07: Airflow validates every Param at each parse (in DAG()),
# and jsonschema first checks the schema against its draft's metaschema, which for the default
# draft (2020-12) costs about twice as much. The keywords used here mean the same in both drafts.
DRAFT_07 = {"$schema": "http://json-schema.org/draft-07/schema#"}

with DAG(
    dag_id="polyv_subaccount_snapshot",
    description="Daily Polyv sub-account resource snapshot with an HTML report",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["live", "polyv"],
    render_template_as_native_obj=True,
    user_defined_macros={"snapshot_folder": snapshot_folder},
    params={
        "output_dir": Param(
            "",
            type=["null", "string"],
            title="Snapshot folder",
            description="Any ObjectStoragePath URI (e.g. s3://bucket/live) every worker can read; "
            "empty means $AIRFLOW_HOME/live_provider/snapshots.",
            **DRAFT_07,
        ),
        "min_remaining_minutes": Param(
            1000,
            type=["null", "number"],
            minimum=0,
            maximum=1e9,
            title="Live minutes threshold (minutes)",
            description="Accounts with fewer remaining live minutes are flagged. Empty: no check.",
            **DRAFT_07,
        ),
        "min_remaining_concurrency": Param(
            5,
            type=["null", "number"],
            minimum=0,
            maximum=1e9,
            title="Concurrency threshold (viewers)",
            description="Accounts with less remaining concurrency are flagged. Empty: no check.",
            **DRAFT_07,
        ),
        "min_remaining_flow": Param(
            10,
            type=["null", "number"],
            minimum=0,
            maximum=1e9,
            title="VOD flow threshold (GB)",
            description="Accounts with less remaining VOD flow are flagged. Empty: no check.",
            **DRAFT_07,
        ),
        "min_remaining_space": Param(
            10,
            type=["null", "number"],
            minimum=0,
            maximum=1e9,
            title="VOD space threshold (GB)",
            description="Accounts with less remaining VOD space are flagged. Empty: no check.",
            **DRAFT_07,
        ),
        "expiring_within_days": Param(
            7,
            type="number",
            minimum=0,
            maximum=3650,
            title="Expiry warning (days)",
            description="List accounts whose package expires within this many days.",
            **DRAFT_07,
        ),
        "top_n": Param(
            10,
            type="integer",
            minimum=1,
            maximum=100,
            title="Accounts per chart",
            description="How many of the lowest accounts each 'least remaining' chart shows.",
            **DRAFT_07,
        ),
        "alert_mode": Param(
            "warn",
            enum=["fail", "warn", "off"],
            title="Alert mode",
            description="What accounts below a threshold do: fail the run, log a warning, or nothing.",
            **DRAFT_07,
        ),
    },
    doc_md=__doc__,
) as dag:
    # Its outlet is the group account's snapshot asset (polyv://polyv_group_default/...):
    # the polyv_resource_trend DAG is scheduled on it.
    snapshot = PolyvSubAccountSnapshotOperator(
        task_id="snapshot",
        output_uri=(
            "{{ snapshot_folder(params.output_dir) }}/"
            + SNAPSHOT_PREFIX
            + "{{ (dag_run.logical_date or dag_run.run_after).strftime('%Y%m%dT%H%M%S') }}"
            + SNAPSHOT_SUFFIX
        ),
        min_remaining_minutes="{{ params.min_remaining_minutes }}",
        min_remaining_concurrency="{{ params.min_remaining_concurrency }}",
        min_remaining_flow="{{ params.min_remaining_flow }}",
        min_remaining_space="{{ params.min_remaining_space }}",
        polyv_conn_id="polyv_group_default",
        # A refused appSecret fails at once; throttling waits at least the vendor's Retry-After;
        # 5xx and network errors retry after 30 s, then ~60 s (jittered).
        retries=2,
        retry_policy=LiveRetryPolicy(),
    )

    @task(multiple_outputs=False)
    def report(summary: dict[str, Any], params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Render the HTML report beside the snapshot, comparing with the previous snapshot."""
        from contextlib import ExitStack

        from airflow_live_provider.outputs import handed_off, write_text
        from airflow_live_provider.reports.snapshot_report import (
            RESOURCE_FIELDS,
            build_report,
            previous_snapshot_name,
        )

        params = params or {}
        path = handed_off(summary["path"])
        names = [child.name for child in path.parent.iterdir()]
        previous = previous_snapshot_name(path.name, names, prefix=SNAPSHOT_PREFIX, suffix=SNAPSHOT_SUFFIX)
        thresholds = {field: params.get(spec.param) for field, spec in RESOURCE_FIELDS.items()}
        with ExitStack() as files:
            current = files.enter_context(path.open("r", encoding="utf-8"))
            before = (
                files.enter_context((path.parent / previous).open("r", encoding="utf-8"))
                if previous
                else None
            )
            page, result, change = build_report(
                current,
                before,
                snapshot_name=path.name,
                previous_name=previous,
                top_n=int(params.get("top_n") or 10),
                expiring_within_days=float(params.get("expiring_within_days") or 0),
                thresholds=thresholds,
            )
        report_path = path.parent / (path.name[: -len(SNAPSHOT_SUFFIX)] + ".html")
        write_text(report_path, page)  # private and atomic: the page lists sub-account e-mails
        print(f"snapshot report: {report_path}")
        return {
            "report": str(report_path),
            "snapshot": str(path),
            "previous": previous,
            "count": result.count,
            "below_threshold": result.below_threshold[:20],
            "below_threshold_count": result.below_threshold_count,
            "expired_or_frozen_count": result.inactive_count,
            "expiring_count": result.expiring_count,
            "count_delta": change.count_delta if change else None,
        }

    @task(multiple_outputs=False)
    def alert(result: dict[str, Any], params: dict[str, Any] | None = None) -> int:
        """Fail or warn when accounts are below the thresholds; returns how many are."""
        import logging

        from airflow_live_provider.reports.snapshot_report import label

        mode = (params or {}).get("alert_mode", "warn")
        below = int(result["below_threshold_count"])
        if mode == "off" or below == 0:
            return below
        shown = ", ".join(
            f"{a['email'] or a['userId']} ({', '.join(label(f) for f in a['fields'])})"
            for a in result["below_threshold"]
        )
        message = (
            f"{below} Polyv sub-account(s) below the resource thresholds: {shown}; see {result['report']}"
        )
        if mode == "fail":
            from airflow.sdk.exceptions import AirflowFailException

            raise AirflowFailException(message)
        logging.getLogger("airflow.task").warning(message)
        return below

    alert(report(snapshot.output))  # type: ignore[arg-type]  # an XComArg resolves at run time
