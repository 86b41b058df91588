"""How this installation of MCP Tray runs itself, from wherever it was installed.

Three ways to be installed, and the command line that lasts for each:

- a **bundle** (PyInstaller, ``sys.frozen``): the bundle's own executable.
  On Windows the bundle has two, ``mcp-tray.exe`` (a console program, for
  ``attach`` and the command line) and ``MCP Tray.exe`` (no console window,
  for the Start menu and start at login), side by side;
- a **Python environment** (``pipx``, ``uv tool``, a venv, an editable
  checkout): the ``mcp-tray`` script installed next to its Python;
- otherwise this Python running the package (``python -m app``).

The paths are absolute, so what is written into an app's config (``connect``),
into start-at-login, or into the default config keeps working from any folder.
"""

from __future__ import annotations

import os
import sys
from collections.abc import MutableMapping
from pathlib import Path

CONSOLE_EXE = "mcp-tray.exe"
WINDOWED_EXE = "MCP Tray.exe"


def bundled() -> bool:
    return bool(getattr(sys, "frozen", False))


def cli_command(*args: str) -> list[str]:
    """The command line running ``mcp-tray ARGS`` with stdin and stdout usable (attach)."""
    if bundled():
        if sys.platform == "win32":
            return [str(Path(sys.executable).with_name(CONSOLE_EXE)), *args]
        return [sys.executable, *args]
    script = Path(sys.executable).parent / (
        "mcp-tray.exe" if sys.platform == "win32" else "mcp-tray"
    )
    if script.exists():
        return [str(script), *args]
    return [sys.executable, "-m", "app", *args]


def tray_command() -> list[str]:
    """The command line starting the tray (start at login)."""
    if bundled():
        if sys.platform == "win32":
            return [str(Path(sys.executable).with_name(WINDOWED_EXE))]
        return [sys.executable]
    return [sys.executable, "-m", "app"]


def demo_command() -> list[str]:
    """The command line serving the bundled demo server (the default config's one server)."""
    if bundled():
        return cli_command("demo")
    return [sys.executable, "-m", "app.demo"]


def restore_user_environment(environ: MutableMapping[str, str], bundle_dir: str) -> None:
    """Undo what a bundle's loader changed in the environment, so that servers started
    from the bundle see the user's own.

    On Linux the loader puts the bundle's library folder first in
    ``LD_LIBRARY_PATH`` (keeping the user's value in ``LD_LIBRARY_PATH_ORIG``);
    a server such as ``node`` or the system's ``python`` would otherwise load
    the bundle's copies of libssl or libstdc++ instead of its own. The bundle
    itself has already loaded what it needs by then.
    """
    for name in ("LD_LIBRARY_PATH", "DYLD_LIBRARY_PATH"):
        original = environ.pop(f"{name}_ORIG", None)
        if original is not None:
            environ[name] = original
        elif name in environ:
            kept = [part for part in environ[name].split(os.pathsep) if part != bundle_dir]
            if kept:
                environ[name] = os.pathsep.join(kept)
            else:
                del environ[name]
