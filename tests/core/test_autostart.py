"""Start at login on Linux: the XDG autostart entry (macOS and Windows are not run here)."""

from __future__ import annotations

import configparser
import re
import stat
import sys
from pathlib import Path

import pytest

from app.core.autostart import Autostart

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the XDG autostart path is Linux's"
)


def exec_arguments(line: str) -> list[str]:
    """Read an Exec= value back as the Desktop Entry spec defines it."""
    unescaped = line.replace("\\\\", "\\")  # the file's string escaping: \\ is one backslash
    arguments = re.findall(r'"((?:[^"\\]|\\.)*)"|(\S+)', unescaped)
    return [re.sub(r"\\(.)", r"\1", quoted) if quoted else bare for quoted, bare in arguments]


@pytest.fixture
def autostart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Autostart:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return Autostart(["/opt/MCP Tray/mcp-tray", "--config", "/home/ada/my $config.json"])


def test_enabling_writes_a_desktop_entry_that_runs_the_tray(
    autostart: Autostart, tmp_path: Path
) -> None:
    assert not autostart.enabled()

    autostart.enable()

    entry = tmp_path / "config" / "autostart" / "mcp-tray.desktop"
    assert autostart.enabled() and autostart.location == str(entry)
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read(entry)
    desktop = parser["Desktop Entry"]
    assert desktop["Type"] == "Application"
    assert exec_arguments(desktop["Exec"]) == autostart.command
    assert stat.S_IMODE(entry.stat().st_mode) == 0o644


def test_disabling_removes_it_and_is_idempotent(autostart: Autostart) -> None:
    autostart.enable()

    autostart.disable()
    autostart.disable()

    assert not autostart.enabled()
