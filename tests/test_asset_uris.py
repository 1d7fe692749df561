"""The ``polyv`` asset scheme, registered with Airflow: its own provider manager loads our handler
and factory, and Airflow's ``Asset`` normalises or refuses ``polyv://`` URIs through them."""

from __future__ import annotations

import pytest
from airflow.sdk import Asset
from airflow.sdk.definitions.asset import AssetUniqueKey
from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

from airflow_live_provider.assets import create_asset, polyv_snapshot_asset, sanitize_polyv_uri
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
