"""The rules the codebase keeps: its layers, Qt only in app/gui, strict types, clean lint."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QT_MODULES = ("PySide6", "qasync", "shiboken6")


def test_the_layers_and_the_qt_boundary_hold() -> None:
    """The contracts in pyproject.toml ([tool.importlinter]): each layer imports only
    those below it, and nothing outside app/gui imports Qt."""
    # The lint-imports command; importlinter.cli is not runnable with -m (it would do nothing).
    command = "from importlinter.cli import lint_imports_command as run; raise SystemExit(run())"
    result = subprocess.run(
        [sys.executable, "-c", command],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 2 kept, 0 broken." in result.stdout, result.stdout


def test_importing_every_core_module_loads_no_qt() -> None:
    modules = [
        ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for path in sorted((ROOT / "app" / "core").rglob("*.py"))
        if path.name != "__init__.py"
    ]
    script = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        f"print([m for m in sys.modules if m.split('.')[0] in {QT_MODULES!r}])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert len(modules) > 10
    assert result.stdout.strip() == "[]"


def test_mypy_strict_passes() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy"], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


LINTED = ("app", "tests", "installers", "bench")


def test_ruff_lint_and_format_are_clean() -> None:
    for command in (["check", *LINTED], ["format", "--check", *LINTED]):
        result = subprocess.run(
            [sys.executable, "-m", "ruff", *command],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_the_readme_layout_names_every_module() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = [
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / "app").rglob("*.py"))
        if path.name != "__init__.py" and f"| `{path.relative_to(ROOT)}` |" not in readme
    ]
    assert missing == [], "add them to the module table in README.md's Development section"
