"""A text editor to open the config file with, when the desktop has no program for ``.json``.

The tray first asks the desktop to open the file (its usual program for
JSON). A fresh desktop often has none, or maps JSON to a browser; then the
first text editor found here is used, and with none, the tray shows where
the file is. Graphical editors only: a terminal editor would open nowhere.
Qt-free.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

# Most common first; each opens a file given as its last argument.
LINUX_EDITORS = (
    "gnome-text-editor",
    "gedit",
    "kate",
    "kwrite",
    "mousepad",
    "xed",
    "pluma",
    "featherpad",
    "leafpad",
    "code",
)


def text_editor_command(path: Path) -> list[str] | None:
    """The command that opens ``path`` in a graphical text editor here, or None."""
    if sys.platform == "darwin":
        return ["open", "-t", str(path)]  # TextEdit, or the user's chosen text editor
    if sys.platform == "win32":
        return ["notepad.exe", str(path)]
    for editor in LINUX_EDITORS:
        found = shutil.which(editor)
        if found:
            return [found, str(path)]
    return None
