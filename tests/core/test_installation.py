"""How an installation runs itself, and the environment a bundle hands to servers."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from app.core import installation
from app.core.installation import restore_user_environment

BUNDLE = "/opt/mcp-tray/_internal"


def test_a_bundle_gives_servers_the_user_s_library_path_back() -> None:
    environ = {
        "LD_LIBRARY_PATH": f"{BUNDLE}:/usr/local/cuda/lib64",
        "LD_LIBRARY_PATH_ORIG": "/usr/local/cuda/lib64",
    }

    restore_user_environment(environ, BUNDLE)

    assert environ == {"LD_LIBRARY_PATH": "/usr/local/cuda/lib64"}


def test_a_library_path_only_the_bundle_set_is_removed() -> None:
    environ = {"LD_LIBRARY_PATH": BUNDLE, "HOME": "/home/ada"}

    restore_user_environment(environ, BUNDLE)

    assert environ == {"HOME": "/home/ada"}


def test_outside_a_bundle_commands_run_the_installed_script_or_the_package(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    python = tmp_path / "bin" / "python"
    python.parent.mkdir()
    monkeypatch.setattr(sys, "executable", str(python))

    without_script = installation.cli_command("attach", "notes")
    (tmp_path / "bin" / "mcp-tray").touch()
    with_script = installation.cli_command("attach", "notes")

    assert without_script == [str(python), "-m", "app", "attach", "notes"]
    assert with_script == [str(tmp_path / "bin" / "mcp-tray"), "attach", "notes"]
    assert installation.demo_command() == [str(python), "-m", "app.demo"]


def test_a_bundle_runs_its_own_executable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", "/opt/mcp-tray/mcp-tray")

    assert installation.cli_command("attach", "notes") == [
        "/opt/mcp-tray/mcp-tray",
        "attach",
        "notes",
    ]
    assert installation.demo_command() == ["/opt/mcp-tray/mcp-tray", "demo"]
    assert installation.tray_command() == ["/opt/mcp-tray/mcp-tray"]
