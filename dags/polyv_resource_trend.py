"""Resource trend and runway forecast, run after every sub-account snapshot.

Scheduled on the asset ``polyv://polyv_group_default/sub-account-snapshots`` (an outlet of the
``snapshot`` task of ``polyv_subaccount_snapshot``). One task, ``trend``:
- reads the last N snapshots in the folder of the snapshot that triggered it (streaming, oldest
  first by the time each was really taken; temporaries are never read),
- writes ``polyv_resource_trend_<stamp>.html`` beside them: totals over time (SVG line charts),
  the group's burn rate and runway per resource, the accounts forecast to run out within
  ``runway_days`` sorted by runway, and accounts whose usage jumped,
- returns a secret-free summary as XCom (counts, the worst runways, the page's URI).

Triggered by hand (no asset event), it reads the ``snapshot_dir`` param or the default folder.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import DAG, Param, task

from airflow_live_provider.assets import polyv_snapshot_asset

# Each Param declares JSON Schema draft-07: Airflow validates every Param at each parse (in DAG()),
# and jsonschema first checks the schema against its draft's metaschema, which for the default
# draft (2020-12) costs about twice as much. The keywords used here mean the same in both drafts.
DRAFT_07 = {"$schema": "http://json-schema.org/draft-07/schema#"}

with DAG(
    dag_id="polyv_resource_trend",
    description="Polyv resource trend, burn rates and runway forecast after every snapshot",
    schedule=[polyv_snapshot_asset("polyv_group_default")],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["live", "polyv"],
    params={
        "snapshot_dir": Param(
            "",
            type=["null", "string"],
            title="Snapshot folder",
            description="Empty: the folder of the snapshot that triggered this run (else "
            "$AIRFLOW_HOME/live_provider/snapshots). Any ObjectStoragePath URI, e.g. s3://bucket/live.",
            **DRAFT_07,
        ),
        "snapshots": Param(
            30,
            type="integer",
            minimum=2,
            maximum=366,
            title="Snapshots to read",
            description="How many of the latest snapshots the trend spans.",
            **DRAFT_07,
        ),
        "runway_days": Param(
            30,
            type="number",
            minimum=1,
            maximum=3650,
            title="Runway horizon (days)",
            description="List the accounts forecast to run out of a resource within this many days.",
            **DRAFT_07,
        ),
    },
    doc_md=__doc__,
) as dag:

    @task(multiple_outputs=False)
    def trend(params: dict[str, Any] | None = None, **context: Any) -> dict[str, Any]:
        """Read the snapshots, write the page, return the summary."""
        from airflow_live_provider.assets import SNAPSHOT_PREFIX, SNAPSHOT_SUFFIX, snapshot_folder
        from airflow_live_provider.outputs import handed_off, writable_output, write_text
        from airflow_live_provider.reports.trend import (
            build_trend,
            render_trend_html,
            snapshot_names,
            trend_summary,
        )

        params = params or {}
        until = None
        folder_uri = params.get("snapshot_dir") or ""
        events = [e for evs in (context.get("triggering_asset_events") or {}).values() for e in evs]
        latest = events[-1].extra.get("snapshot_uri") if events else None
        if not folder_uri and latest:
            folder_uri, _, until = str(latest).rpartition("/")
        location = snapshot_folder(folder_uri, "snapshot_dir")  # checked: a param is never rendered
        folder = handed_off(location, "snapshot_dir")
        names = snapshot_names(
            (child.name for child in folder.iterdir()),
            prefix=SNAPSHOT_PREFIX,
            suffix=SNAPSHOT_SUFFIX,
            last=int(params.get("snapshots") or 30),
            until=until,
        )
        if not names:
            raise FileNotFoundError(
                f"no {SNAPSHOT_PREFIX}*{SNAPSHOT_SUFFIX} snapshot in {folder}: run "
                "polyv_subaccount_snapshot first, or set snapshot_dir to where its snapshots are"
            )
        stamp = names[-1][len(SNAPSHOT_PREFIX) : -len(SNAPSHOT_SUFFIX)]
        # Proven writable before the snapshots are read (the page goes beside them).
        page_path = writable_output(f"{location}/polyv_resource_trend_{stamp}.html", "snapshot_dir")
        result = build_trend(
            [(name, lambda p=folder / name: p.open("r", encoding="utf-8")) for name in names],
            runway_days=float(params.get("runway_days") or 30),
        )
        page = write_text(page_path, render_trend_html(result))
        summary = trend_summary(result, page=page)
        print(
            f"resource trend: {page} ({summary['snapshots']} snapshot(s), "
            f"{summary['running_out_count']} forecast(s) to run out within the horizon)"
        )
        return summary

    trend()
