"""Start at login: one switch, wired the way each desktop expects it.

- **Linux** (and other XDG desktops): ``$XDG_CONFIG_HOME/autostart/mcp-tray.desktop``.
- **macOS**: a LaunchAgent, ``~/Library/LaunchAgents/dev.mcp-tray.plist``, run at load.
- **Windows**: the ``MCP Tray`` value under ``HKCU\\...\\CurrentVersion\\Run``.

The command recorded is this installation's own (app.core.installation):
a bundle's executable, or this Python with ``-m app``. Only the Linux path
is exercised by the tests here.
"""

from __future__ import annotations

import os
import plistlib
import subprocess
import sys
from pathlib import Path

from app.core.atomic import write_atomically
from app.core.installation import tray_command
from app.resources import resource_path

APP_ID = "mcp-tray"
LAUNCH_AGENT_LABEL = "dev.mcp-tray"
RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
RUN_VALUE = "MCP Tray"


class Autostart:
    """Whether MCP Tray starts at login, for the current user."""

    def __init__(self, command: list[str] | None = None, *, home: Path | None = None) -> None:
        self.command = command or tray_command()
        self._home = home or Path.home()

    @property
    def location(self) -> str:
        """Where the setting lives, for messages."""
        if sys.platform == "win32":
            return f"HKCU\\{RUN_KEY}\\{RUN_VALUE}"
        return str(self._file())

    def enabled(self) -> bool:
        if sys.platform == "win32":
            return _read_run_value() is not None
        return self._file().exists()

    def enable(self) -> None:
        if sys.platform == "win32":
            _write_run_value(subprocess.list2cmdline(self.command))
        elif sys.platform == "darwin":
            write_atomically(self._file(), self._launch_agent(), mode=0o644)
        else:
            write_atomically(self._file(), self._desktop_entry().encode(), mode=0o644)

    def disable(self) -> None:
        if sys.platform == "win32":
            _delete_run_value()
        else:
            self._file().unlink(missing_ok=True)

    def _file(self) -> Path:
        if sys.platform == "darwin":
            return self._home / "Library" / "LaunchAgents" / f"{LAUNCH_AGENT_LABEL}.plist"
        config = os.environ.get("XDG_CONFIG_HOME") or str(self._home / ".config")
        return Path(config) / "autostart" / f"{APP_ID}.desktop"

    def _desktop_entry(self) -> str:
        """The bundled desktop entry (the one the Linux installer puts in the menu too)."""
        template = resource_path(f"{APP_ID}.desktop").read_text(encoding="utf-8")
        entry = template.replace("@EXEC@", _desktop_exec(self.command))
        return entry.rstrip("\n") + "\nX-GNOME-Autostart-enabled=true\n"

    def _launch_agent(self) -> bytes:
        agent = {
            "Label": LAUNCH_AGENT_LABEL,
            "ProgramArguments": self.command,
            "RunAtLoad": True,
            "ProcessType": "Interactive",
        }
        return plistlib.dumps(agent)


def _desktop_exec(command: list[str]) -> str:
    r"""The Exec= line, quoted as the Desktop Entry spec asks.

    Two layers: inside double quotes, the characters "`$\ take a backslash;
    then the file's own string escaping doubles every backslash.
    """

    def quote(argument: str) -> str:
        if not any(char in argument for char in " \t\"'\\><~|&;$*?#()`"):
            return argument
        escaped = "".join(f"\\{char}" if char in '"`$\\' else char for char in argument)
        return '"' + escaped.replace("\\", "\\\\") + '"'

    return " ".join(quote(argument).replace("%", "%%") for argument in command)


if sys.platform == "win32":
    import winreg

    def _read_run_value() -> str | None:
        try:
            with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY) as key:
                value, _ = winreg.QueryValueEx(key, RUN_VALUE)
                return str(value)
        except OSError:
            return None

    def _write_run_value(line: str) -> None:
        with winreg.CreateKey(winreg.HKEY_CURRENT_USER, RUN_KEY) as key:
            winreg.SetValueEx(key, RUN_VALUE, 0, winreg.REG_SZ, line)

    def _delete_run_value() -> None:
        try:
            with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY, 0, winreg.KEY_SET_VALUE) as key:
                winreg.DeleteValue(key, RUN_VALUE)
        except FileNotFoundError:
            pass
