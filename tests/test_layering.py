"""The package layering of docs/DESIGN.md, checked on the import graph with `ast`.

likeness (CLI, studio) -> flows -> {consent, provenance, models, media};
provenance may use consent and media; models may use media; consent and media use
none of the others; nothing imports flows but likeness, nothing imports likeness
-- except `likeness/errors.py`, the stdlib-only error hierarchy every package
shares (and which must itself stay a leaf).

Function-level (lazy) imports count the same as module-level ones: a lazy import
is still a dependency, only a cheaper one.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("likeness", "flows", "consent", "provenance", "models", "media")
ERRORS_LEAF = "likeness.errors"

# package -> the first-party packages it may import (besides itself and ERRORS_LEAF)
ALLOWED: dict[str, frozenset[str]] = {
    "likeness": frozenset({"flows", "consent", "provenance", "models", "media"}),
    "flows": frozenset({"consent", "provenance", "models", "media"}),
    "provenance": frozenset({"consent", "media"}),
    "models": frozenset({"media"}),
    "consent": frozenset(),
    "media": frozenset(),
}


def imported_modules(path: Path, root: Path = ROOT) -> list[tuple[str, int]]:
    """Every absolute module name `path` imports, with its line (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package_parts = path.relative_to(root).with_suffix("").parts[:-1]
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package_parts[: len(package_parts) - node.level + 1]
                module = ".".join((*base, node.module) if node.module else base)
            else:
                module = node.module or ""
            leaf = [alias for alias in node.names if f"{module}.{alias.name}" == ERRORS_LEAF]
            if leaf:  # `from likeness import errors` names the leaf module itself
                found.append((ERRORS_LEAF, node.lineno))
            if len(leaf) < len(node.names):
                found.append((module, node.lineno))
    return found


def layering_violations(root: Path = ROOT) -> list[str]:
    problems: list[str] = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            rel = path.relative_to(root).as_posix()
            if rel.startswith("likeness/migrations/"):
                continue  # alembic scripts: only sqlalchemy/alembic
            for module, line in imported_modules(path, root):
                top = module.split(".")[0]
                if top not in PACKAGES or top == package:
                    continue
                if module == ERRORS_LEAF:
                    continue
                if top not in ALLOWED[package]:
                    problems.append(f"{rel}:{line} imports {module} ({package} may not use {top})")
    return problems


def test_packages_import_only_downwards() -> None:
    assert layering_violations() == []


def test_errors_module_is_a_stdlib_leaf() -> None:
    path = ROOT / "likeness" / "errors.py"
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    foreign = [f"{module} (line {line})" for module, line in imported_modules(path)
               if module.split(".")[0] not in stdlib]
    assert foreign == []


def test_the_check_catches_an_upward_import(tmp_path: Path) -> None:
    """The rule is falsifiable: a media module importing flows is reported."""
    for package in PACKAGES:
        (tmp_path / package).mkdir()
    (tmp_path / "media" / "bad.py").write_text("from flows.dub import run_dub\n")
    (tmp_path / "models" / "ok.py").write_text("from media.probe import probe\n"
                                               "from likeness.errors import BadInput\n")
    (tmp_path / "consent" / "lazy.py").write_text(
        "def f():\n    from provenance.ledger import store\n")
    assert layering_violations(tmp_path) == [
        "consent/lazy.py:2 imports provenance.ledger (consent may not use provenance)",
        "media/bad.py:1 imports flows.dub (media may not use flows)",
    ]


@pytest.mark.parametrize("package", PACKAGES)
def test_every_package_is_scanned(package: str) -> None:
    assert any((ROOT / package).rglob("*.py")), f"{package} has no modules to check"
