"""Airflow's own ProvidersManager discovers the provider, its hooks and connection forms."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from airflow.providers_manager import ProvidersManager
from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

from airflow_live_provider.get_provider_info import get_provider_info

CONN_TYPES = {
    "polyv": ("airflow_live_provider.hooks.polyv.PolyvHook", "polyv_default"),
    "volcengine_live": (
        "airflow_live_provider.hooks.volcengine.VolcengineLiveHook",
        "volcengine_live_default",
    ),
    "isdp": ("airflow_live_provider.hooks.isdp.IsdpHook", "isdp_default"),
}
SECRET_FIELDS = {("volcengine_live", "session_token"), ("isdp", "client_secret")}


@pytest.fixture(scope="module")
def manager() -> ProvidersManager:
    return ProvidersManager()


def test_provider_is_discovered_through_the_entry_point(manager: ProvidersManager) -> None:
    info = manager.providers["airflow-live-provider"]
    assert info.data["package-name"] == "airflow-live-provider"
    assert info.version == "0.2.0"


@pytest.mark.parametrize("conn_type", sorted(CONN_TYPES))
def test_connection_types_resolve_to_importable_hooks(conn_type: str) -> None:
    hook_class_name, default_conn = CONN_TYPES[conn_type]
    hook_info = ProvidersManagerTaskRuntime().hooks[conn_type]
    assert hook_info is not None, f"{conn_type} hook failed to import"
    assert hook_info.hook_class_name == hook_class_name
    module, _, name = hook_class_name.rpartition(".")
    hook_class = getattr(importlib.import_module(module), name)
    assert hook_class.conn_type == conn_type
    assert hook_class.default_conn_name == default_conn


def test_connection_forms_are_declared_as_data(manager: ProvidersManager) -> None:
    widgets = manager.connection_form_widgets
    for conn_type in CONN_TYPES:
        assert conn_type in manager.field_behaviours
        behaviour = manager.field_behaviours[conn_type]
        assert "login" in behaviour["relabeling"] and "password" in behaviour["relabeling"]
        for field in ("connect_timeout", "read_timeout", "max_attempts", "total_retry_seconds"):
            assert f"extra__{conn_type}__{field}" in widgets, f"{conn_type}.{field} missing from the form"
        max_attempts = widgets[f"extra__{conn_type}__max_attempts"].field
        assert max_attempts["value"] == 5
        assert "integer" in max_attempts["schema"]["type"] and max_attempts["schema"]["minimum"] == 1
        total = widgets[f"extra__{conn_type}__total_retry_seconds"].field
        assert total["value"] == 120 and total["schema"]["exclusiveMinimum"] == 0
    for conn_type, field in SECRET_FIELDS:
        assert widgets[f"extra__{conn_type}__{field}"].is_sensitive, (
            f"{conn_type}.{field} must be a secret field"
        )
    assert not widgets["extra__volcengine_live__region"].is_sensitive
    assert widgets["extra__volcengine_live__region"].field["value"] == "cn-north-1"


def test_every_declared_module_imports() -> None:
    info = get_provider_info()
    for group in ("hooks", "operators", "sensors", "triggers"):
        for entry in info[group]:
            for module in entry["python-modules"]:
                importlib.import_module(module)


def test_the_trigger_is_registered_with_airflow(manager: ProvidersManager) -> None:
    """The triggerer only runs triggers of registered providers' modules."""
    registered = {(t.trigger_class_name, t.package_name) for t in manager.trigger}
    assert ("airflow_live_provider.triggers.volcengine", "airflow-live-provider") in registered


def test_airflow_cli_lists_the_provider_and_its_hooks(tmp_path: Path) -> None:
    airflow = str(Path(sys.executable).with_name("airflow"))
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path)}
    providers = subprocess.run(
        [airflow, "providers", "list", "-o", "plain"], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert "airflow-live-provider" in providers
    hooks = subprocess.run(
        [airflow, "providers", "hooks", "-o", "plain"], env=env, capture_output=True, text=True, check=True
    ).stdout
    for conn_type, (hook_class_name, _) in CONN_TYPES.items():
        assert conn_type in hooks and hook_class_name in hooks


def test_importing_operators_does_not_import_requests() -> None:
    """DAG files import our operators at parse time: keep that light (requests alone ~100 ms)."""
    code = (
        "import sys, airflow.sdk\n"
        "import airflow_live_provider.operators.polyv, airflow_live_provider.operators.volcengine\n"
        "import airflow_live_provider.operators.isdp, airflow_live_provider.operators.events\n"
        "import airflow_live_provider.sensors.volcengine, airflow_live_provider.sensors.polyv\n"
        "print('requests' in sys.modules, 'airflow.triggers.base' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    # Neither requests (~100 ms) nor Airflow's trigger machinery (~17 ms) is paid at parse time.
    assert out.strip().splitlines()[-1] == "False False"


def test_packaging_is_typed_and_licensed() -> None:
    """Users' type checkers see the package as typed; the license text ships with it."""
    import tomllib
    from pathlib import Path

    import airflow_live_provider

    root = Path(__file__).resolve().parents[1]
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    assert (Path(airflow_live_provider.__file__).parent / "py.typed").exists()
    assert project["license"] == "Apache-2.0" and project["license-files"] == ["LICENSE"]
    assert "Apache License" in (root / "LICENSE").read_text()[:200]
    assert "Framework :: Apache Airflow :: Provider" in project["classifiers"]


def test_no_form_field_airflow_would_hide_has_a_default() -> None:
    """Airflow shows a hidden field's default as *** and saves *** if the form is saved unchanged."""
    from airflow.sdk._shared.secrets_masker import should_hide_value_for_key

    for conn in get_provider_info()["connection-types"]:
        for name, field in conn["conn-fields"].items():
            if should_hide_value_for_key(name) or field["schema"].get("format") == "password":
                assert "default" not in field["schema"], (conn["connection-type"], name)


def test_provider_info_passes_airflows_schema() -> None:
    """The same JSON schema Airflow validates every provider's info against."""
    import json

    import airflow
    import jsonschema

    schema = json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())
    info = get_provider_info()
    jsonschema.validate(info, schema)
    assert {"extra-links", "asset-uris"} <= set(info)


def test_extra_links_are_registered_with_airflow(manager: ProvidersManager) -> None:
    for name in get_provider_info()["extra-links"]:
        assert name in manager.extra_links_class_names
