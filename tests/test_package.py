"""The package's own shape: modules share code through public names only."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "meshkit"
MODULES = sorted(PACKAGE.rglob("*.py"))


def borrowed_private_names(path: Path) -> list[str]:
    """`from .other import _name` and `other._name`, where `other` is a sibling module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    siblings: set[str] = set()
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level >= 1:
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


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
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


def public_callables() -> list[tuple[str, object]]:
    """Every function, class and public method a public module exports in ``__all__``."""
    import importlib
    import inspect
    import pkgutil

    import meshkit

    found: list[tuple[str, object]] = []
    for info in pkgutil.walk_packages(meshkit.__path__, "meshkit."):
        if any(part.startswith("_") for part in info.name.split(".")[1:]):
            continue
        module = importlib.import_module(info.name)
        for name in getattr(module, "__all__", []):
            value = getattr(module, name)
            if getattr(value, "__module__", None) != module.__name__:
                continue  # a re-export: checked where it is defined
            if inspect.isfunction(value):
                found.append((f"{info.name}.{name}", value))
            elif inspect.isclass(value) and not issubclass(value, BaseException):
                found.append((f"{info.name}.{name}", value))
                for attr, member in vars(value).items():
                    if attr.startswith("_") or not inspect.isfunction(member):
                        continue
                    found.append((f"{info.name}.{name}.{attr}", member))
    return found


def test_every_public_function_and_class_shows_an_example():
    """numpydoc docstrings with an ``Examples`` section that runs: ``make test`` runs them as
    doctests (``--doctest-modules``), so an example that stops working fails the build."""
    missing = [
        name
        for name, value in public_callables()
        if "Examples\n" not in (value.__doc__ or "") or ">>>" not in (value.__doc__ or "")
    ]
    assert missing == []
