"""The tree in app.core.errors' docstring is the tree of UserError subclasses in app/."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re

import app.cli
import app.core
import app.core.errors
import app.hosts
from app.core.errors import UserError

# app.gui is left out: these tests also run with Qt absent (tests/without_qt.py).
PACKAGES = (app.core, app.hosts, app.cli)
# A branch of the drawing: "├── Name" or "└── Name", indented by its depth.
BRANCH = re.compile(r"^(?P<indent>[ │]*)[├└]── (?P<name>\w+)")


def drawn_parents() -> dict[str, str]:
    """Each class in the docstring's tree, and the class drawn above it."""
    doc = app.core.errors.__doc__ or ""
    parents: dict[str, str] = {}
    above: list[tuple[int, str]] = [(-1, "Exception")]
    for line in doc.splitlines():
        branch = BRANCH.match(line[4:])  # the drawing is indented by 4
        if branch is None:
            continue
        depth = len(branch["indent"])
        while above[-1][0] >= depth:
            above.pop()
        parents[branch["name"]] = above[-1][1]
        above.append((depth, branch["name"]))
    return parents


def user_errors() -> dict[str, str]:
    """Every UserError subclass defined in app/ (outside the GUI), and its base."""
    for package in PACKAGES:
        for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            importlib.import_module(module.name)
    found: dict[str, str] = {}
    pending = [UserError]
    while pending:
        cls = pending.pop()
        for sub in cls.__subclasses__():
            if sub.__module__.startswith(("app.core", "app.hosts", "app.cli")):
                found[sub.__name__] = cls.__name__
                pending.append(sub)
    return found


def test_the_docstring_draws_every_user_error_under_its_base() -> None:
    drawn = drawn_parents()

    assert drawn["UserError"] == "Exception"
    del drawn["UserError"]
    assert drawn == user_errors()


def test_the_errors_module_imports_nothing() -> None:
    """``mcp-tray attach`` loads it on every start, so it must stay this cheap."""
    tree = ast.parse(inspect.getsource(app.core.errors))
    imports = [node for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom)]

    assert [ast.unparse(node) for node in imports] == ["from __future__ import annotations"]
