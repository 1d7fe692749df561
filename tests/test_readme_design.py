"""The README's Design section matches the package's tree, file by file: every module is listed
under its folder, and nothing listed is gone (an ``__init__.py`` holding only a docstring may be
left out, as the section says)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "airflow_live_provider"


def design_tree() -> list[str]:
    """The code block that opens the Design section, up to its first line outside the package."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("\n## Design\n") :]
    block = section[section.index("```\n") + 4 :]
    lines = block[: block.index("```")].splitlines()
    assert lines[0].startswith("airflow_live_provider/")
    tree = []
    for line in lines[1:]:
        if line and not line.startswith(" "):
            break  # dags/, scripts/, tests/...: outside the package
        tree.append(line)
    return tree


def listed_paths() -> set[str]:
    """``sensors/base.py``-style paths of every entry (folders end with ``/``)."""
    listed: set[str] = set()
    folder = ""
    for line in design_tree():
        indent = len(line) - len(line.lstrip(" "))
        entry = line.strip()
        if not entry or entry.startswith("--") or indent > 4:
            continue  # a heading or a description's continuation
        names = [n.strip() for n in re.split(r" {2,}", entry, maxsplit=1)[0].split(",")]
        for name in names:
            if indent == 2:
                folder = name if name.endswith("/") else ""
                listed.add(name)
            else:
                assert folder, f"{name!r} is indented under no folder"
                listed.add(folder + name)
    return listed


def package_paths() -> set[str]:
    found = set()
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE).as_posix()
        body = ast.parse(path.read_text()).body
        only_docstring = all(
            isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) for node in body
        )
        if path.name == "__init__.py" and only_docstring and "/" in relative:
            found.add(relative.rsplit("/", 1)[0] + "/")  # the folder stands for it
            continue
        found.add(relative)
        if "/" in relative:
            found.add(relative.rsplit("/", 1)[0] + "/")
    return found


def test_every_module_is_listed_in_the_design_section() -> None:
    missing = sorted(package_paths() - listed_paths())
    assert missing == [], f"add to the README's Design section: {missing}"


def test_the_design_section_names_nothing_that_is_gone() -> None:
    stale = sorted(listed_paths() - package_paths())
    assert stale == [], f"the README's Design section lists what is not in the package: {stale}"
