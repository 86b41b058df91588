"""Where the bundled files (icons, the desktop entry template) are, however MCP Tray was installed.

- a PyInstaller bundle unpacks them under ``sys._MEIPASS/resources``;
- an installed wheel carries them inside the package, as ``app/_resources``;
- a source checkout has them in ``resources/`` beside the package.
"""

from __future__ import annotations

import sys
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def resource_folder() -> Path:
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        return Path(bundle) / "resources"
    if (_PACKAGE / "_resources").is_dir():
        return _PACKAGE / "_resources"
    return _PACKAGE.parent / "resources"


def resource_path(*parts: str) -> Path:
    return resource_folder().joinpath(*parts)
