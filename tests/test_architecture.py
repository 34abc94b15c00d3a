"""The dependency rules docs/architecture.md draws, checked against the code.

A newcomer reads the tables in docs/architecture.md to learn which package
(and which of the hub's apps) may import which; these tests read the same
tables, so the page and the code cannot drift apart.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "src" / "epitrace"
ARCHITECTURE = ROOT / "docs" / "architecture.md"


def _table_after(heading: str) -> dict[str, set[str]]:
    """{first column: names in the last column} of the first table under ``heading``."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    section = text.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")][2:]
    table = {}
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        name = cells[0].strip("`")
        table[name] = {n.strip().strip("`") for n in cells[-1].split(",") if n.strip()}
    return table


def _epitrace_imports(path: Path) -> Iterator[tuple[int, str, list[str]]]:
    """(line, imported module, names) of every import of an epitrace module in ``path``."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "epitrace" or node.module.startswith("epitrace."):
                yield node.lineno, node.module, [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("epitrace."):
                    yield node.lineno, alias.name, []


def _package_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "epitrace"


def _sources() -> list[Path]:
    return sorted(p for p in SOURCE.rglob("*.py") if "migrations" not in p.parts)


def test_packages_import_only_what_the_architecture_page_allows() -> None:
    allowed = _table_after("Packages and their dependencies")
    crossings = []
    for path in _sources():
        package = path.relative_to(SOURCE).parts[0].removesuffix(".py")
        if package == "__init__":
            continue
        assert package in allowed, f"{package} is missing from docs/architecture.md"
        for line, module, _ in _epitrace_imports(path):
            target = _package_of(module)
            if target not in (package, "epitrace") and target not in allowed[package]:
                crossings.append(f"{path.relative_to(ROOT)}:{line}: {package} imports {module}")
    assert crossings == []


def test_no_module_imports_a_private_name_of_another() -> None:
    private = []
    for path in _sources():
        for line, module, names in _epitrace_imports(path):
            private += [
                f"{path.relative_to(ROOT)}:{line}: {module}.{name}"
                for name in names
                if name.startswith("_") and not re.fullmatch(r"__\w+__", name)
            ]
    assert private == []


HUB_APPS = sorted(
    p.name for p in (SOURCE / "hub").iterdir() if p.is_dir() and (p / "__init__.py").exists()
)


def _hub_app_of(module: str) -> str | None:
    """The hub app ``module`` belongs to; None for the hub's core modules and the rest."""
    parts = module.split(".")
    return parts[2] if len(parts) > 2 and parts[1] == "hub" and parts[2] in HUB_APPS else None


@pytest.mark.parametrize("app_dir", HUB_APPS)
def test_hub_apps_import_each_other_only_as_drawn(app_dir: str) -> None:
    allowed = _table_after("The hub's apps")
    assert app_dir in allowed, f"hub/{app_dir} is missing from docs/architecture.md"
    crossings = []
    for path in sorted((SOURCE / "hub" / app_dir).rglob("*.py")):
        if "migrations" in path.parts:
            continue
        for line, module, _ in _epitrace_imports(path):
            target = _hub_app_of(module)
            if target and target != app_dir and target not in allowed[app_dir]:
                crossings.append(f"{path.relative_to(ROOT)}:{line}: {app_dir} imports {module}")
    assert crossings == []
