"""The package's own shape: modules share code through public names only."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "meshkit"
MODULES = sorted(PACKAGE.glob("*.py"))


def borrowed_private_names(path: Path) -> list[str]:
    """`from .other import _name` and `other._name`, where `other` is a sibling module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    siblings: set[str] = set()
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module is None:  # from . import events, _aws
                siblings.update(alias.asname or alias.name for alias in node.names)
            else:
                found += [
                    f"line {node.lineno}: from .{node.module} import {alias.name}"
                    for alias in node.names
                    if alias.name.startswith("_") and not alias.name.startswith("__")
                ]
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in siblings
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
        ):
            found.append(f"line {node.lineno}: {node.value.id}.{node.attr}")
    return found


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_a_module_uses_no_other_modules_underscore_names(path):
    """What modules share lives under a public name (in meshkit._shared if it is internal), so
    renaming a private helper never breaks another module."""
    assert borrowed_private_names(path) == []


def test_the_check_sees_a_borrowed_private_name(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("from . import events\nfrom .buses import _tags\nevents._check_bus(1, 2)\n")

    assert borrowed_private_names(module) == [
        "line 2: from .buses import _tags",
        "line 3: events._check_bus",
    ]
