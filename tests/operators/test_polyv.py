"""Polyv operators against the simulator (execute() called directly, no DB needed)."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.log import _secrets_masker

from airflow_live_provider.exceptions import LiveApiError, LiveApiInputError
from airflow_live_provider.operators.polyv import (
    PolyvCreateTransmitChannelsOperator,
    PolyvSubAccountSnapshotOperator,
    PolyvWatchTokenOperator,
)
from airflow_live_provider.outputs import default_output_root
from airflow_live_provider.redaction import SECRET_KEYS
from airflow_live_provider.simulator import SimulatorServer
from airflow_live_provider.simulator import polyv as sim
from airflow_live_provider.vendors.polyv import GROUP_PACKAGE_LIST_PATH, TRANSMIT_BATCH_CREATE_PATH
from tests.helpers import assert_no_secret_in


class _TI:
    dag_id = "preprovision"

    def __init__(self, map_index: int = -1) -> None:
        self.map_index = map_index


def context(run_id: str = "manual__2026-11-23T10:00:00+00:00", map_index: int = -1) -> dict[str, Any]:
    return {"run_id": run_id, "ti": _TI(map_index), "ts_nodash": "20261123T100000"}


#: The credential fields of a simulated Polyv sub-account.
SUB_ACCOUNT_SECRET_FIELDS = ("appSecret", "vodSecretKey", "vodBakSecretKey", "writeToken", "readToken")


def logs_text(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(r.getMessage() for r in caplog.records)


def local(uri: str) -> Path:
    assert uri.startswith("file://")
    return Path(uri[len("file://") :])


def is_masked(value: str) -> bool:
    return value not in _secrets_masker().redact(f"value {value}")


# -- watch tokens ------------------------------------------------------------------------------
def test_watch_tokens_to_file_not_xcom(
    sim_connections: SimulatorServer, tmp_path: Path, all_logs: pytest.LogCaptureFixture
) -> None:
    op = PolyvWatchTokenOperator(
        task_id="tokens",
        channel_id=sim.DEMO_CHANNEL_ID,
        viewer_ids=["v1", {"viewerId": "v2", "nickname": "Ann", "actor": "VIP"}],
        output_uri=f"file://{tmp_path}/tokens.json",
    )
    xcom = op.execute(context())
    doc = json.loads((tmp_path / "tokens.json").read_text())
    assert doc["channelId"] == sim.DEMO_CHANNEL_ID and [t["viewerId"] for t in doc["tokens"]] == ["v1", "v2"]
    tokens = [t["token"] for t in doc["tokens"]]
    issued = sim_connections.polyv.watch_tokens
    assert [issued[t]["viewerId"] for t in tokens] == ["v1", "v2"] and issued[tokens[1]]["nickname"] == "Ann"
    generated = datetime.fromisoformat(doc["generatedAt"])
    for token in doc["tokens"]:
        valid_from, valid_until = (datetime.fromisoformat(token[k]) for k in ("validFrom", "validUntil"))
        assert (valid_until - valid_from).total_seconds() == 5 * 3600 and valid_from >= generated
    assert doc["expiresAt"] == min(t["validUntil"] for t in doc["tokens"])
    assert xcom == {
        "channel_id": sim.DEMO_CHANNEL_ID,
        "count": 2,
        "output_uri": f"file://{tmp_path}/tokens.json",
        "expires_at": doc["expiresAt"],
    }
    assert all(is_masked(t) for t in tokens)
    assert_no_secret_in(json.dumps(xcom) + logs_text(all_logs), *tokens)


def test_watch_tokens_in_xcom_only_when_asked(sim_connections: SimulatorServer, tmp_path: Path) -> None:
    op = PolyvWatchTokenOperator(
        task_id="tokens",
        channel_id=sim.DEMO_CHANNEL_ID,
        viewer_ids=["v1"],
        output_uri=str(tmp_path / "t.json"),
        tokens_in_xcom=True,
    )
    xcom = op.execute(context())
    assert xcom["tokens"][0]["token"] in sim_connections.polyv.watch_tokens


def test_watch_tokens_default_path_per_run_and_map_index(sim_connections: SimulatorServer) -> None:
    op = PolyvWatchTokenOperator(task_id="tokens", channel_id=sim.DEMO_CHANNEL_ID, viewer_ids=["v1"])
    xcom = op.execute(context(map_index=3))
    path = local(xcom["output_uri"])
    assert path.parts[-4:] == (
        "watch_tokens",
        "preprovision",
        # ':' and '+' are not kept in a folder name: the safe form plus a hash of the run id,
        # so two run ids never share a folder.
        "manual__2026-11-23T10_00_00_00_00~4fd567e8ea5a",
        "tokens-3.json",
    )
    assert path.exists() and str(path).startswith(str(local(default_output_root())))


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"viewer_ids": []}, "viewer_ids"),
        ({"viewer_ids": "v1"}, "viewer_ids"),
        ({"viewer_ids": ["v1", "v1"]}, "viewer_ids[1]"),
        ({"viewer_ids": [{"nickname": "no id"}]}, "viewer_ids[0].viewerId"),
        ({"viewer_ids": [{"viewerId": "v", "vip": True}]}, "viewer_ids[0]"),
        # Optional fields are checked up front too: no token is fetched for v1 first.
        ({"viewer_ids": ["v1", {"viewerId": "v2", "nickname": 12345}]}, "viewer_ids[1].nickname"),
        ({"viewer_ids": ["v1", {"viewerId": "v2", "avatar": "x" * 1025}]}, "viewer_ids[1].avatar"),
        ({"viewer_ids": ["v1", {"viewerId": "v2", "openid": ["o"]}]}, "viewer_ids[1].openid"),
        ({"viewer_ids": ["v1", {"viewerId": "v2", "actor": 1}]}, "viewer_ids[1].actor"),
        ({"viewer_ids": ["v1"], "channel_id": "not-a-number"}, "channel_id"),
        ({"viewer_ids": ["v1"], "output_uri": "relative/path.json"}, "output_uri"),
    ],
)
def test_watch_token_bad_input_sends_nothing(
    sim_connections: SimulatorServer, kwargs: dict, field: str
) -> None:
    kwargs.setdefault("channel_id", sim.DEMO_CHANNEL_ID)
    with pytest.raises(LiveApiInputError) as info:
        PolyvWatchTokenOperator(task_id="t", **kwargs).execute(context())
    assert info.value.field == field
    assert len(sim_connections.requests) == 0


def test_templated_fields_render_before_the_calls(sim_connections: SimulatorServer, tmp_path: Path) -> None:
    ctx = {**context(), "params": {"channel": sim.DEMO_CHANNEL_ID, "viewer": "v-9"}, "ds": "2026-11-23"}
    tokens = PolyvWatchTokenOperator(
        task_id="tokens",
        channel_id="{{ params.channel }}",
        viewer_ids=["{{ params.viewer }}"],
        output_uri=f"file://{tmp_path}/{{{{ ds }}}}-tokens.json",
    )
    tokens.render_template_fields(ctx)
    xcom = tokens.execute(ctx)
    assert xcom["channel_id"] == sim.DEMO_CHANNEL_ID
    assert xcom["output_uri"].endswith("/2026-11-23-tokens.json")
    issued = sim_connections.polyv.watch_tokens.values()
    assert [t["viewerId"] for t in issued] == ["v-9"]

    create = PolyvCreateTransmitChannelsOperator(
        task_id="create", channel_id="{{ params.channel }}", names=["{{ ds }}-cn"]
    )
    create.render_template_fields({**ctx, "params": {"channel": sim.DEMO_TRANSMIT_CHANNEL_ID}})
    assert [r["name"] for r in create.execute(ctx)] == ["2026-11-23-cn"]

    snapshot = PolyvSubAccountSnapshotOperator(
        task_id="snapshot", output_uri=f"file://{tmp_path}/{{{{ ds }}}}.jsonl", emails=["{{ params.email }}"]
    )
    snapshot.render_template_fields({**ctx, "params": {"email": sim.sub_account_email(0)}})
    assert snapshot.execute(ctx)["count"] == 1
    assert (tmp_path / "2026-11-23.jsonl").exists()


# -- snapshot ----------------------------------------------------------------------------------
def test_snapshot_streams_rows_without_secrets(
    sim_connections: SimulatorServer, tmp_path: Path, all_logs: pytest.LogCaptureFixture
) -> None:
    op = PolyvSubAccountSnapshotOperator(
        task_id="snap",
        output_uri=f"file://{tmp_path}/snap.jsonl",
        page_size=10,
        min_remaining_minutes=100,
        min_remaining_flow=1,
    )
    summary = op.execute(context())
    rows = [json.loads(line) for line in (tmp_path / "snap.jsonl").read_text().splitlines()]
    expected = [sim_connections.polyv.sub_account(i) for i in range(sim.DEMO_SUB_ACCOUNT_COUNT)]
    assert len(rows) == summary["count"] == sim.DEMO_SUB_ACCOUNT_COUNT
    assert {r["snapshotTime"] for r in rows} == {summary["snapshot_time"]}
    assert summary["snapshot_time"].endswith("Z")
    assert all(not set(SUB_ACCOUNT_SECRET_FIELDS) & set(r) for r in rows)
    assert [r["email"] for r in rows] == [a["email"] for a in expected]
    secrets = [a[f] for a in expected for f in SUB_ACCOUNT_SECRET_FIELDS]
    assert_no_secret_in(
        (tmp_path / "snap.jsonl").read_text() + json.dumps(summary) + logs_text(all_logs), *secrets
    )
    # Summary: computed from the vendor's data, not hard-coded.
    for key in ("remainMinutes", "remainConcurrent", "remainFlow", "remainSpace"):
        assert summary["totals"][key] == pytest.approx(sum(a[key] for a in expected))
    low = [a for a in expected if a["remainMinutes"] < 100 or a["remainFlow"] < 1]
    assert summary["below_threshold_count"] == len(low) == 3
    assert summary["below_threshold"][0] == {
        "email": low[0]["email"],
        "userId": low[0]["userId"],
        "fields": ["remainMinutes", "remainFlow"],
    }
    stopped = [(a["email"], a["status"]) for a in expected if a["status"] != "normal"]
    assert [(s["email"], s["status"]) for s in summary["expired_or_frozen"]] == stopped
    assert summary["expired_or_frozen_count"] == 2 and summary["path"] == f"file://{tmp_path}/snap.jsonl"


def test_snapshot_include_secrets_keeps_them_in_the_file_only(
    sim_connections: SimulatorServer,
    tmp_path: Path,
    all_logs: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """include_secrets=True: every kept value goes to the file and nowhere else (no log record at
    DEBUG, not the XCom, not the error of a run that fails half way), so none is registered with
    the log masker: 10,000 accounts would otherwise make every later log line of the task match
    50,000 patterns (13.5 ms a line)."""
    polyv = sim_connections.polyv
    polyv.set_sub_account_count(250)
    masker = _secrets_masker()
    registered = len(masker.patterns)  # Airflow adds the connection's password and extra: < 5
    op = PolyvSubAccountSnapshotOperator(
        task_id="snap", output_uri=str(tmp_path / "s.jsonl"), include_secrets=True, page_size=100
    )
    result = op.execute(context())
    rows = [json.loads(line) for line in (tmp_path / "s.jsonl").read_text().splitlines()]
    assert rows[0]["appSecret"] == polyv.sub_account(0)["appSecret"]
    kept = [row[f] for row in rows for f in SUB_ACCOUNT_SECRET_FIELDS]
    assert len(kept) == 250 * 5 and all(kept)
    assert_no_secret_in(logs_text(all_logs) + json.dumps(result), *kept)
    assert len(masker.patterns) - registered < 5 and not any(is_masked(v) for v in kept)

    # Half way: page 3 fails for good after pages 1 and 2 were read and written.
    conn = json.loads(os.environ["AIRFLOW_CONN_POLYV_GROUP_DEFAULT"])
    conn["extra"]["max_attempts"] = 2
    monkeypatch.setenv("AIRFLOW_CONN_POLYV_GROUP_DEFAULT", json.dumps(conn))
    plain = polyv.sub_account

    def then_fail(index: int) -> dict[str, Any]:
        if index == 100:  # page 2 is being served: every later request fails
            sim_connections.faults.add("503", path=GROUP_PACKAGE_LIST_PATH, times=10)
        return plain(index)

    monkeypatch.setattr(polyv, "sub_account", then_fail)
    all_logs.clear()
    with pytest.raises(LiveApiError) as info:
        PolyvSubAccountSnapshotOperator(
            task_id="snap", output_uri=str(tmp_path / "t.jsonl"), include_secrets=True, page_size=100
        ).execute(context())
    assert_no_secret_in(logs_text(all_logs) + str(info.value) + repr(info.value), *kept)
    assert len(masker.patterns) - registered < 10 and not any(is_masked(v) for v in kept)


def test_snapshot_strips_and_masks_the_same_keys(
    sim_connections: SimulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A secret field beyond the five sub-account ones (a channel password, a token) is stripped
    by default (its value is nowhere in the file) and kept with include_secrets=True: one key set
    for both."""
    plain = sim_connections.polyv.sub_account
    extra = {"channelPasswd": "chan-pass-0001", "token": "tok-extra-0001"}
    monkeypatch.setattr(sim_connections.polyv, "sub_account", lambda i: {**plain(i), **extra})
    emails = [sim.sub_account_email(0)]
    PolyvSubAccountSnapshotOperator(task_id="a", output_uri=str(tmp_path / "a.jsonl"), emails=emails).execute(
        context()
    )
    text = (tmp_path / "a.jsonl").read_text()
    [stripped] = [json.loads(line) for line in text.splitlines()]
    assert not set(SECRET_KEYS) & set(stripped) and "email" in stripped
    account = plain(0)
    assert_no_secret_in(text, *extra.values(), *(account[f] for f in SUB_ACCOUNT_SECRET_FIELDS))
    PolyvSubAccountSnapshotOperator(
        task_id="b", output_uri=str(tmp_path / "b.jsonl"), emails=emails, include_secrets=True
    ).execute(context())
    [kept] = [json.loads(line) for line in (tmp_path / "b.jsonl").read_text().splitlines()]
    assert kept["channelPasswd"] == extra["channelPasswd"] and kept["token"] == extra["token"]
    assert all(kept[f] == account[f] for f in SUB_ACCOUNT_SECRET_FIELDS)


def test_snapshot_default_path_and_paging(sim_connections: SimulatorServer) -> None:
    sim_connections.polyv.set_sub_account_count(250)
    summary = PolyvSubAccountSnapshotOperator(task_id="snap").execute(context())
    path = local(summary["path"])
    assert path.name == "polyv_subaccounts_20261123T100000.jsonl" and path.parent.name == "snapshots"
    assert summary["count"] == 250 and sum(1 for _ in path.open()) == 250
    assert len(sim_connections.requests_to(GROUP_PACKAGE_LIST_PATH)) == 3
    assert summary["below_threshold"] == [] and summary["below_threshold_count"] == 0  # no thresholds set


def test_snapshot_caps_lists_but_counts_everything(sim_connections: SimulatorServer, tmp_path: Path) -> None:
    sim_connections.polyv.set_sub_account_count(300)
    summary = PolyvSubAccountSnapshotOperator(
        task_id="snap", output_uri=str(tmp_path / "s.jsonl"), min_remaining_concurrency=10_000
    ).execute(context())
    assert summary["below_threshold_count"] == 300 and len(summary["below_threshold"]) == 100


def test_snapshot_failure_leaves_no_partial_file(sim_connections: SimulatorServer, tmp_path: Path) -> None:
    sim_connections.polyv.set_sub_account_count(30)
    op = PolyvSubAccountSnapshotOperator(task_id="snap", output_uri=str(tmp_path / "s.jsonl"), page_size=10)
    # Page 2 fails for good: an auth error is never retried.
    sim_connections.polyv.group_apps[sim.DEMO_GROUP_APP_ID] = "rotated"
    route = sim_connections.routes[("GET", GROUP_PACKAGE_LIST_PATH)]
    calls = []

    def first_page_then_rotated(req: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            sim_connections.polyv.group_apps[sim.DEMO_GROUP_APP_ID] = sim.DEMO_GROUP_APP_SECRET
            response = route(req)
            sim_connections.polyv.group_apps[sim.DEMO_GROUP_APP_ID] = "rotated"
            return response
        return route(req)

    sim_connections.routes[("GET", GROUP_PACKAGE_LIST_PATH)] = first_page_then_rotated
    with pytest.raises(LiveApiError, match="invalid signature"):
        op.execute(context())
    assert list(tmp_path.iterdir()) == []
    # A failing re-run keeps the snapshot an earlier attempt completed (it used to delete it).
    (tmp_path / "s.jsonl").write_text("the complete earlier snapshot\n")
    calls.clear()
    with pytest.raises(LiveApiError, match="invalid signature"):
        op.execute(context())
    assert (tmp_path / "s.jsonl").read_text() == "the complete earlier snapshot\n"
    assert [p.name for p in tmp_path.iterdir()] == ["s.jsonl"]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"min_remaining_minutes": -1}, "min_remaining_minutes"),
        ({"min_remaining_space": "lots"}, "min_remaining_space"),
        ({"page_size": 500}, "page_size"),
        ({"emails": ["nobody"]}, "emails[0]"),
        ({"output_uri": "   "}, "output_uri"),
    ],
)
def test_snapshot_bad_input_sends_nothing(
    sim_connections: SimulatorServer, tmp_path: Path, kwargs: dict, field: str
) -> None:
    with pytest.raises(LiveApiInputError) as info:
        PolyvSubAccountSnapshotOperator(task_id="snap", **kwargs).execute(context())
    assert info.value.field == field
    assert len(sim_connections.requests) == 0


# -- transmit channels -------------------------------------------------------------------------
def test_create_transmit_channels_operator_is_idempotent(sim_connections: SimulatorServer) -> None:
    op = PolyvCreateTransmitChannelsOperator(
        task_id="receivers", channel_id=sim.DEMO_TRANSMIT_CHANNEL_ID, names=["Hall A", "Hall B"]
    )
    first = op.execute(context())
    second = op.execute(context())
    assert [(r["name"], r["created"]) for r in first] == [("Hall A", True), ("Hall B", True)]
    assert [r["created"] for r in second] == [False, False]
    assert [r["channelId"] for r in first] == [r["channelId"] for r in second]
    passwords = [r["channelPasswd"] for r in sim_connections.polyv.receivers(sim.DEMO_TRANSMIT_CHANNEL_ID)]
    assert_no_secret_in(json.dumps(first), *passwords)
    assert len(sim_connections.requests_to(TRANSMIT_BATCH_CREATE_PATH)) == 1


def test_create_transmit_channels_operator_bad_names(sim_connections: SimulatorServer) -> None:
    op = PolyvCreateTransmitChannelsOperator(
        task_id="r", channel_id=sim.DEMO_TRANSMIT_CHANNEL_ID, names=["A", ""]
    )
    with pytest.raises(LiveApiInputError, match=r"names\[1\]"):
        op.execute(context())
    assert len(sim_connections.requests) == 0


def test_snapshot_summary_is_the_reports_summary(sim_connections: SimulatorServer, tmp_path: Path) -> None:
    """One summary implementation: the XCom summary equals the report's summary of the same file,
    and every threshold parameter in the one resource table is an operator argument."""
    import inspect

    from airflow_live_provider.reports.snapshot_report import RESOURCE_FIELDS, summarize

    params = set(inspect.signature(PolyvSubAccountSnapshotOperator.__init__).parameters)
    assert {spec.param for spec in RESOURCE_FIELDS.values()} <= params
    thresholds = {"remainMinutes": 100.0, "remainSpace": 1.0}
    kwargs = {RESOURCE_FIELDS[k].param: v for k, v in thresholds.items()}
    xcom = PolyvSubAccountSnapshotOperator(
        task_id="snap", output_uri=str(tmp_path / "s.jsonl"), **kwargs
    ).execute(context())
    with (tmp_path / "s.jsonl").open() as fh:
        report = summarize(json.loads(line) for line in fh)
    with (tmp_path / "s.jsonl").open() as fh:
        flagged = summarize((json.loads(line) for line in fh), thresholds=thresholds)
    assert xcom["totals"] == report.totals_rounded()
    assert xcom["below_threshold"] == flagged.below_threshold and xcom["below_threshold_count"] > 0
    assert xcom["expired_or_frozen_count"] == report.inactive_count == 2
    assert xcom["snapshot_time"] == report.snapshot_time.isoformat().replace("+00:00", "Z")  # type: ignore[union-attr]


def test_an_existing_folder_as_output_uri_fails_before_any_token(
    sim_connections: SimulatorServer, tmp_path: Path
) -> None:
    sim_connections.clear_requests()
    op = PolyvWatchTokenOperator(
        task_id="tokens", channel_id=sim.DEMO_CHANNEL_ID, viewer_ids=["v1"], output_uri=str(tmp_path)
    )
    with pytest.raises(LiveApiInputError, match="output_uri.*is a folder"):
        op.execute(context())
    assert list(sim_connections.requests) == []


def test_snapshot_emits_its_asset_event_and_lineage(
    sim_connections: SimulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default outlet is the connection's snapshot asset; the event's extra carries the file's
    URI and figures (no secret); the file is reported to Airflow's hook lineage collector."""
    from airflow.sdk import plugins_manager
    from airflow.sdk.execution_time.context import OutletEventAccessors
    from airflow.sdk.lineage import HookLineageReader, get_hook_lineage_collector

    from airflow_live_provider.assets import polyv_snapshot_asset

    monkeypatch.setattr(plugins_manager, "get_hook_lineage_readers_plugins", lambda: [HookLineageReader])
    get_hook_lineage_collector.cache_clear()
    try:
        op = PolyvSubAccountSnapshotOperator(
            task_id="snap",
            output_uri=str(tmp_path / "s.jsonl"),
            min_remaining_minutes=100,
            polyv_conn_id="polyv_group_default",
        )
        asset = polyv_snapshot_asset("polyv_group_default")
        assert op.outlets == [asset] and asset.uri == "polyv://polyv_group_default/sub-account-snapshots"
        events = OutletEventAccessors()
        xcom = op.execute({**context(), "outlet_events": events})
        outputs = get_hook_lineage_collector().collected_assets.outputs
    finally:
        get_hook_lineage_collector.cache_clear()
    extra = events[asset].extra
    assert extra["snapshot_uri"] == xcom["path"] == f"file://{tmp_path}/s.jsonl"
    assert extra["count"] == sim.DEMO_SUB_ACCOUNT_COUNT and extra["totals"] == xcom["totals"]
    assert extra["below_threshold_count"] == xcom["below_threshold_count"] == 3
    assert extra["snapshot_time"] == xcom["snapshot_time"]
    assert_no_secret_in(json.dumps(extra), *sim_connections.secrets())
    assert [item.asset.uri for item in outputs] == [f"file://{tmp_path}/s.jsonl"]


def test_snapshot_thresholds_are_templated_from_params(
    sim_connections: SimulatorServer, tmp_path: Path
) -> None:
    """The DAG passes its threshold params to the operator, so the XCom count is the report's."""
    from airflow.sdk import DAG

    with DAG("thresholds", render_template_as_native_obj=True, schedule=None):
        op = PolyvSubAccountSnapshotOperator(
            task_id="snap",
            output_uri=str(tmp_path / "s.jsonl"),
            min_remaining_minutes="{{ params.minutes }}",
            min_remaining_flow="{{ params.flow }}",
        )
    ctx = {**context(), "params": {"minutes": 1000, "flow": None}}
    op.render_template_fields(ctx)  # type: ignore[arg-type]
    assert op.min_remaining_minutes == 1000 and op.min_remaining_flow is None
    assert op.execute(ctx)["below_threshold_count"] == 3


def test_an_unreachable_object_store_fails_before_any_token(
    sim_connections: SimulatorServer, tmp_path: Path
) -> None:
    """An ``ftp://`` output whose server does not answer (a closed loopback port) is refused in
    the pre-flight check, not after the tokens were issued."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again when the block ends
    sim_connections.clear_requests()
    op = PolyvWatchTokenOperator(
        task_id="tokens",
        channel_id=sim.DEMO_CHANNEL_ID,
        viewer_ids=["v1"],
        output_uri=f"ftp://user:Ftp-pa55-7QzX@127.0.0.1:{port}/tokens.json",
    )
    with pytest.raises(LiveApiInputError, match=f"output_uri: cannot reach ftp://127.0.0.1:{port}/") as info:
        op.execute(context())
    assert_no_secret_in(str(info.value) + repr(info.value), "Ftp-pa55-7QzX")
    assert list(sim_connections.requests) == []
