"""The ``polyv`` and ``volclive`` asset schemes, registered with Airflow: its own provider manager
loads our handlers and factories, and Airflow's ``Asset`` normalises or refuses URIs through them."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from airflow.sdk import Asset
from airflow.sdk.definitions.asset import AssetUniqueKey
from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

from airflow_live_provider.assets import (
    create_asset,
    create_volclive_asset,
    polyv_channel_asset,
    polyv_snapshot_asset,
    sanitize_polyv_uri,
    sanitize_volclive_uri,
    volcengine_stream_asset,
)
from airflow_live_provider.exceptions import LiveApiInputError

CANONICAL = "polyv://polyv_group_default/sub-account-snapshots"


def test_airflow_loads_the_polyv_handler_and_factory() -> None:
    manager = ProvidersManagerTaskRuntime()
    assert manager.asset_uri_handlers["polyv"] is sanitize_polyv_uri
    assert manager.asset_factories["polyv"] is create_asset


def test_a_hand_written_asset_is_the_operators_asset() -> None:
    """Airflow identifies an asset by name and URI: the operator's asset is named by its URI."""
    by_hand = Asset(CANONICAL)
    assert AssetUniqueKey.from_asset(by_hand) == AssetUniqueKey.from_asset(polyv_snapshot_asset())


@pytest.mark.parametrize(
    "written",
    [
        "POLYV://polyv_group_default/sub-account-snapshots",
        "polyv://polyv_group_default/sub-account-snapshots/",
        "polyv://polyv_group_default//sub-account-snapshots",
        "polyv://polyv_group_default/sub-account-snapshots#latest",
    ],
)
def test_variants_normalise_to_the_operators_uri(written: str) -> None:
    assert Asset(written).uri == CANONICAL


@pytest.mark.parametrize(
    ("written", "reason"),
    [
        ("polyv://polyv_group_default/sub-accounts", "'sub-accounts' is not a Polyv data product"),
        ("polyv://polyv_group_default", "'(nothing)' is not a Polyv data product"),
        ("polyv:///sub-account-snapshots", "names no connection"),
        ("polyv://polyv_group_default:8080/sub-account-snapshots", "is not a connection id"),
        ("polyv://me@polyv_group_default/sub-account-snapshots", "is not a connection id"),
        ("polyv://polyv%20group/sub-account-snapshots", "is not a connection id"),
        ("polyv://polyv_group_default/sub-account-snapshots?day=1", "has a query string"),
    ],
)
def test_malformed_polyv_uris_are_refused_clearly(written: str, reason: str) -> None:
    with pytest.raises(LiveApiInputError, match="use polyv://<connection id>/sub-account-snapshots") as err:
        Asset(written)
    assert reason in str(err.value)
    assert isinstance(err.value, ValueError)  # what Airflow expects from a URI handler


def test_hook_lineage_builds_polyv_assets_with_the_factory() -> None:
    from airflow.sdk.lineage import HookLineageCollector

    asset = HookLineageCollector().create_asset(scheme="polyv", asset_kwargs={"conn_id": "polyv_group_eu"})
    assert asset is not None
    assert AssetUniqueKey.from_asset(asset) == AssetUniqueKey.from_asset(
        polyv_snapshot_asset("polyv_group_eu")
    )


# -- stream sessions: volclive:// streams and polyv://<conn>/channels/<id> -------------------------
STREAM_URI = "volclive://live.example.com/live/keynote"


def test_airflow_loads_the_volclive_handler_and_factory() -> None:
    manager = ProvidersManagerTaskRuntime()
    assert manager.asset_uri_handlers["volclive"] is sanitize_volclive_uri
    assert manager.asset_factories["volclive"] is create_volclive_asset


@pytest.mark.parametrize(
    "written",
    [
        STREAM_URI,
        "VOLCLIVE://Live.Example.COM/live/keynote",
        "volclive://live.example.com/live/keynote/",
        "volclive://live.example.com//live/keynote#now",
    ],
)
def test_volclive_variants_normalise_to_one_uri(written: str) -> None:
    assert Asset(written).uri == STREAM_URI


@pytest.mark.parametrize(
    ("written", "reason"),
    [
        ("volclive://live.example.com/live", "has 2 parts, not 3"),
        ("volclive://live.example.com/live/keynote/extra", "has 4 parts, not 3"),
        ("volclive:///live/keynote", "names no vhost"),
        ("volclive://live.example.com:1935/live/keynote", "is not a stream"),
        ("volclive://me@live.example.com/live/keynote", "is not a stream"),
        ("volclive://live.example.com/live/keynote?x=1", "has a query string"),
        ("volclive://live.example.com/l!ve/keynote", "is not a valid application name"),
        (f"volclive://live.example.com/{'a' * 31}/keynote", "use 1-30 characters"),
        (f"volclive://live.example.com/live/{'s' * 101}", "use 1-100 characters"),
        ("volclive://live.example.com/live/key%20note", "is not a valid stream name"),
    ],
)
def test_malformed_volclive_uris_are_refused_clearly(written: str, reason: str) -> None:
    with pytest.raises(LiveApiInputError, match="use volclive://<vhost>/<app>/<stream>") as err:
        Asset(written)
    assert reason in str(err.value)


def test_polyv_channel_uris_are_accepted_and_checked() -> None:
    assert Asset("polyv://polyv_default/channels/2094979/").uri == "polyv://polyv_default/channels/2094979"
    for bad, reason in [
        ("polyv://polyv_default/channels/20a9", "'20a9' is not a Polyv channel id"),
        ("polyv://polyv_default/channels", "'channels' is not a Polyv data product"),
        ("polyv://polyv_default/channels/1/2", "'channels/1/2' is not a Polyv data product"),
    ]:
        with pytest.raises(LiveApiInputError, match="polyv://<connection id>/channels/<channel id>") as err:
            Asset(bad)
        assert reason in str(err.value)


def test_a_stream_asset_is_one_line_with_its_watcher() -> None:
    from airflow_live_provider.triggers.volcengine import VolcengineStreamSessionTrigger

    asset = volcengine_stream_asset("Live.Example.com", "live", "keynote", poll_interval=15)
    assert asset.uri == asset.name == STREAM_URI
    assert AssetUniqueKey.from_asset(asset) == AssetUniqueKey.from_asset(Asset(STREAM_URI))
    (watcher,) = asset.watchers
    assert watcher.name == "sessions"
    assert isinstance(watcher.trigger, VolcengineStreamSessionTrigger)
    assert watcher.trigger.serialize()[1]["poll_interval"] == 15.0
    assert watcher.trigger.asset_uri() == asset.uri  # what its events carry as asset_uri


def test_a_polyv_channel_asset_is_one_line_with_its_watcher() -> None:
    asset = polyv_channel_asset(2094979, polyv_conn_id="polyv_eu")
    assert asset.uri == asset.name == "polyv://polyv_eu/channels/2094979"
    (watcher,) = asset.watchers
    assert watcher.trigger.serialize()[1]["channel_id"] == "2094979"
    assert watcher.trigger.asset_uri() == asset.uri


def test_a_dag_scheduled_on_watched_assets_serializes() -> None:
    """What the DAG processor does with it: the watchers' triggers are stored with their kwargs."""
    from airflow.sdk import DAG, AssetAny
    from airflow.serialization.serialized_objects import DagSerialization

    with DAG(
        "sessions",
        schedule=AssetAny(
            volcengine_stream_asset("live.example.com", "live", "keynote"), polyv_channel_asset("1")
        ),
    ) as dag:
        pass
    text = json.dumps(DagSerialization.to_dict(dag))
    assert "triggers.volcengine.VolcengineStreamSessionTrigger" in text
    assert "triggers.polyv.PolyvChannelSessionTrigger" in text


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: volcengine_stream_asset("live.example.com", "live", "key note"), "stream"),
        (lambda: volcengine_stream_asset("live example", "live", "keynote"), "vhost"),
        (lambda: volcengine_stream_asset("live.example.com", "live", "k", poll_interval=0), "poll_interval"),
        (lambda: polyv_channel_asset("12a"), "channel_id"),
    ],
)
def test_helpers_refuse_bad_input_naming_the_field(make: Any, field: str) -> None:
    with pytest.raises(LiveApiInputError) as err:
        make()
    assert err.value.field == field


def test_importing_the_assets_module_imports_no_trigger() -> None:
    """DAG files import it at every parse: the triggers load only when a helper is called."""
    code = (
        "import sys, airflow_live_provider.assets; "
        "print(sorted(m for m in sys.modules if m.startswith(('airflow_live_provider.triggers', "
        "'airflow_live_provider.vendors', 'airflow.triggers'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"
