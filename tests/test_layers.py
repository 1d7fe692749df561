"""The package's layers hold (README, Design): read every module's imports, lazy ones and
``TYPE_CHECKING`` ones included, and fail on an import circle, a private name imported across
modules, Airflow in the domain packages or the vendor clients, the domain reaching up into the
Airflow-concept folders or the workflow layer, the workflow layer reaching beyond what it may
use, or the domain and the core importing the workflow layer."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "airflow_live_provider"
#: The Airflow-concept folders and modules (the top layer).
AIRFLOW_CONCEPTS = (
    "operators",
    "sensors",
    "triggers",
    "plugins",
    "links",
    "hooks",
    "notifications",
    "assets",
    "lineage",
    "retry_policy",
    "get_provider_info",
    "testing",
)
#: The domain packages: no Airflow at all, nothing from the Airflow-concept folders nor from the
#: workflow layer (no exception).
DOMAIN = ("events", "reports")
#: The workflow layer: the multi-call steps over the hooks and the steps of one event run.
WORKFLOW = "workflow"
#: All the workflow layer may take from Airflow and from the Airflow-concept folders (besides the
#: domain and the core): Airflow's task exceptions, the hooks.
WORKFLOW_AIRFLOW = ("airflow.sdk.exceptions",)
WORKFLOW_CONCEPTS = ("hooks",)
#: Modules that know nothing of Airflow: the vendor clients, the HTTP core, errors, input checks.
AIRFLOW_FREE = ("vendors", "transport", "exceptions", "validation", "asset_names", "times")


def modules() -> dict[str, ast.Module]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        name = ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
        found[name.removesuffix(".__init__") or "__init__"] = ast.parse(path.read_text(), str(path))
    return found


def imports(tree: ast.Module, name: str) -> list[tuple[str, str]]:
    """``(module, imported name)`` for every import in the module, anywhere in it; our own
    modules relative to the package (``events.calendar``), others as written (``airflow.sdk``)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                found.append((node.module, alias.name))
        elif isinstance(node, ast.Import):
            found.extend((alias.name, "") for alias in node.names)
    return [
        (module.removeprefix("airflow_live_provider.").removeprefix("airflow_live_provider"), n)
        if module.startswith("airflow_live_provider")
        else (module, n)
        for module, n in found
    ]


MODULES = modules()


def ours(module: str, name: str) -> str | None:
    """The module of ours an import reaches (``from pkg import module`` counts as the module)."""
    for candidate in (f"{module}.{name}" if module else name, module):
        if candidate in MODULES:
            return candidate
    return None


def graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {m: set() for m in MODULES}
    for module, tree in MODULES.items():
        for target, name in imports(tree, module):
            if target.startswith("airflow") and not target.startswith("airflow_live_provider"):
                continue
            reached = ours(target, name)
            if reached and reached != module:
                edges[module].add(reached)
    return edges


def test_no_import_circle() -> None:
    edges = graph()
    seen: dict[str, int] = {}  # 1: on the path, 2: done
    circles: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        seen[module] = 1
        for nxt in sorted(edges[module]):
            if seen.get(nxt) == 1:
                circles.append(path[path.index(nxt) :] + [nxt])
            elif nxt not in seen:
                visit(nxt, [*path, nxt])
        seen[module] = 2

    for module in sorted(edges):
        if module not in seen:
            visit(module, [module])
    assert circles == []


def test_no_private_name_is_imported_across_modules() -> None:
    private = [
        (module, f"{target}.{name}")
        for module, tree in MODULES.items()
        for target, name in imports(tree, module)
        if name.startswith("_") and ours(target, "") not in (None, module) and not name.startswith("__")
    ]
    assert private == []


def layer(module: str) -> str:
    """``"concepts"``, ``"domain"``, ``"workflow"`` or ``"core"`` (everything else: the vendor
    clients, the HTTP core, outputs, redaction, metrics, the simulator...)."""
    top = module.split(".")[0]
    if top in AIRFLOW_CONCEPTS:
        return "concepts"
    if top in DOMAIN:
        return "domain"
    return "workflow" if top == WORKFLOW else "core"


def is_airflow(target: str) -> bool:
    return target == "airflow" or target.startswith("airflow.")


@pytest.mark.parametrize("module", sorted(m for m in MODULES if layer(m) == "domain"))
def test_the_domain_imports_neither_airflow_nor_the_airflow_concept_folders_nor_the_workflow(
    module: str,
) -> None:
    bad = []
    for target, name in imports(MODULES[module], module):
        reached = ours(target, name)
        if is_airflow(target):
            bad.append(target)
        elif reached and layer(reached) in ("concepts", "workflow"):
            bad.append(reached)
    assert bad == [], f"{module} imports {bad}: the domain stays below the workflow and Airflow layers"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if layer(m) == "workflow"))
def test_the_workflow_takes_from_airflow_only_the_task_exceptions_and_the_hooks(module: str) -> None:
    bad = []
    for target, name in imports(MODULES[module], module):
        reached = ours(target, name)
        if is_airflow(target):
            if target not in WORKFLOW_AIRFLOW:
                bad.append(target)
        elif reached and layer(reached) == "concepts" and reached.split(".")[0] not in WORKFLOW_CONCEPTS:
            bad.append(reached)
    assert bad == [], f"{module} imports {bad}: the workflow sits below the operators, sensors, triggers..."


@pytest.mark.parametrize("module", sorted(m for m in MODULES if layer(m) in ("domain", "core")))
def test_nothing_below_the_workflow_imports_it(module: str) -> None:
    bad = [
        reached
        for target, name in imports(MODULES[module], module)
        if (reached := ours(target, name)) and layer(reached) == "workflow"
    ]
    assert bad == [], f"{module} imports {bad}: only the Airflow-concept folders call the workflow"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.split(".")[0] in AIRFLOW_FREE))
def test_vendor_clients_and_the_http_core_know_nothing_of_airflow(module: str) -> None:
    airflow = [t for t, _ in imports(MODULES[module], module) if t == "airflow" or t.startswith("airflow.")]
    assert airflow == []


def test_the_rules_see_lazy_imports() -> None:
    """A check that reads only top-level imports would miss most of them (they are lazy on
    purpose): the event timeline's hook imports are inside functions and must be seen."""
    timeline = "workflow.event_timeline"
    reached = {ours(t, n) for t, n in imports(MODULES[timeline], timeline)}
    assert {"hooks.polyv", "hooks.isdp", "calendar_source"} <= reached
