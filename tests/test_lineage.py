"""The provider's data as OpenLineage datasets: the registered converters (looked up the way the
OpenLineage provider does) and the operators' on-complete lineage after real runs against the
simulator. The run of the snapshot DAG under the OpenLineage listener is in
tests/dags/test_operations_dags.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.openlineage.utils.utils import translate_airflow_asset
from airflow.sdk import Asset
from openlineage.client.serde import Serde

from airflow_live_provider.assets import polyv_channel_asset, polyv_snapshot_asset, volcengine_stream_asset
from airflow_live_provider.lineage import storage_dataset
from airflow_live_provider.simulator import SimulatorServer
from airflow_live_provider.simulator import isdp as isdp_sim
from airflow_live_provider.simulator import polyv as polyv_sim
from airflow_live_provider.simulator import volcengine as volc_sim
from tests.helpers import assert_no_secret_in


def names(datasets: list[Any]) -> list[tuple[str, str]]:
    return [(d.namespace, d.name) for d in datasets]


def test_asset_uris_reach_openlineage_through_the_registered_converters() -> None:
    """Without a converter the OpenLineage provider drops the asset (None)."""
    assets = [
        polyv_snapshot_asset("polyv_group_default"),
        Asset("POLYV://polyv_group_default//sub-account-snapshots/"),  # normalised first
        polyv_channel_asset("2094979"),
        volcengine_stream_asset("Live.Example.com", "live", "keynote"),
    ]
    found = [translate_airflow_asset(a, None) for a in assets]
    assert [(d.namespace, d.name) if d else None for d in found] == [
        ("polyv://polyv_group_default", "sub-account-snapshots"),
        ("polyv://polyv_group_default", "sub-account-snapshots"),
        ("polyv://polyv_default", "channels/2094979"),
        ("volclive://live.example.com", "live/keynote"),
    ]


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("file:///data/live/x.jsonl", ("file", "/data/live/x.jsonl")),
        ("file://localhost/data/x.json", ("file", "/data/x.json")),
        ("/data/x.json", ("file", "/data/x.json")),
        ("s3://aws_default@live-bucket/live/x.jsonl", ("s3://live-bucket", "live/x.jsonl")),
        ("s3://AKIAKEY:supersecretvalue@bucket/k", ("s3://bucket", "k")),
        ("gcs://bucket/a/b", ("gs://bucket", "a/b")),
    ],
)
def test_output_files_are_named_as_openlineage_names_files(uri: str, expected: tuple[str, str]) -> None:
    made = storage_dataset(uri)
    assert (made.namespace, made.name) == expected
    assert "supersecretvalue" not in json.dumps(Serde.to_dict(made))


def lineage_json(op: Any) -> tuple[Any, str]:
    lineage = op.get_openlineage_facets_on_complete(None)
    return lineage, json.dumps([Serde.to_dict(d) for d in lineage.inputs + lineage.outputs])


def test_token_and_channel_operators_report_their_vendor_data_and_files_never_a_secret(
    sim_connections: SimulatorServer, tmp_path: Path
) -> None:
    from airflow_live_provider.operators.isdp import IsdpTokenBatchOperator
    from airflow_live_provider.operators.polyv import (
        PolyvCreateTransmitChannelsOperator,
        PolyvWatchTokenOperator,
    )
    from airflow_live_provider.operators.volcengine import VolcengineGeneratePushUrlOperator

    context = {"run_id": "manual__1", "ts_nodash": "20261123T100000"}
    channel = polyv_sim.DEMO_CHANNEL_ID
    watch = PolyvWatchTokenOperator(
        task_id="watch", channel_id=channel, viewer_ids=["v1"], output_uri=f"file://{tmp_path}/w.json"
    )
    watch.execute(context)
    lineage, text = lineage_json(watch)
    assert names(lineage.inputs) == [("polyv://polyv_default", f"channels/{channel}")]
    assert names(lineage.outputs) == [("file", f"{tmp_path}/w.json")]

    transmit = polyv_sim.DEMO_TRANSMIT_CHANNEL_ID
    receivers = PolyvCreateTransmitChannelsOperator(task_id="rx", channel_id=transmit, names=["a", "b"])
    created = receivers.execute(context)
    rx_lineage, rx_text = lineage_json(receivers)
    assert names(rx_lineage.inputs) == [("polyv://polyv_default", f"channels/{transmit}")]
    assert names(rx_lineage.outputs) == [
        ("polyv://polyv_default", f"channels/{c['channelId']}") for c in created
    ]

    isdp = IsdpTokenBatchOperator(
        task_id="join",
        channel_ids=list(isdp_sim.DEMO_CHANNEL_IDS),
        user_account=isdp_sim.DEMO_USER_ACCOUNT,
        output_uri=f"file://{tmp_path}/j.json",
    )
    isdp.execute(context)
    isdp_lineage, isdp_text = lineage_json(isdp)
    assert names(isdp_lineage.inputs) == [
        ("isdp://isdp_default", f"channels/{c}") for c in isdp_sim.DEMO_CHANNEL_IDS
    ]
    assert names(isdp_lineage.outputs) == [("file", f"{tmp_path}/j.json")]

    push = VolcengineGeneratePushUrlOperator(
        task_id="push",
        vhost=volc_sim.DEMO_VHOST,
        app=volc_sim.DEMO_APP,
        stream="keynote",
        output_uri=f"file://{tmp_path}/p.json",
    )
    push.execute(context)
    push_lineage, push_text = lineage_json(push)
    assert names(push_lineage.inputs) == [
        (f"volclive://{volc_sim.DEMO_VHOST}", f"{volc_sim.DEMO_APP}/keynote")
    ]
    assert names(push_lineage.outputs) == [("file", f"{tmp_path}/p.json")]

    # Every token, URL and password the runs produced is in the files, none in the lineage.
    from airflow_live_provider.redaction import secret_values
    from airflow_live_provider.vendors.volcengine import push_url_secrets

    issued = set(sim_connections.secrets())
    for name in ("w.json", "j.json"):
        issued.update(secret_values(json.loads((tmp_path / name).read_text())))
    issued.update(push_url_secrets(json.loads((tmp_path / "p.json").read_text())["result"]))
    secrets = sorted(s for s in issued if len(s) >= 6)
    assert any("volcSecret=" in s for s in secrets) and len(secrets) > 5
    assert_no_secret_in(text + rx_text + isdp_text + push_text, *secrets)


def test_a_failed_run_reports_its_inputs_and_no_output(sim_connections: SimulatorServer) -> None:
    """OpenLineage asks a failed task too (extract_on_failure falls back to on_complete)."""
    from airflow_live_provider.operators.polyv_snapshot import PolyvSubAccountSnapshotOperator

    op = PolyvSubAccountSnapshotOperator(task_id="snap", output_uri="memory://nowhere/x.jsonl")
    with pytest.raises(Exception):  # noqa: B017 (memory:// is refused before any request)
        op.execute({"ts_nodash": "20261123T100000"})
    lineage = op.get_openlineage_facets_on_complete(None)
    assert names(lineage.inputs) == [("polyv://polyv_group_default", "sub-accounts")]
    assert names(lineage.outputs) == [("polyv://polyv_group_default", "sub-account-snapshots")]
