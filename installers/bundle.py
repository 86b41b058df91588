"""What every platform's PyInstaller spec shares: the entry point, the bundled files,
and the modules PyInstaller cannot see being imported.

A spec adds ``installers/`` to ``sys.path`` and calls :func:`analysis_options`.
"""

from __future__ import annotations

from pathlib import Path

from PyInstaller.utils.hooks import collect_submodules, copy_metadata

ROOT = Path(__file__).resolve().parent.parent
ICON_SVG = ROOT / "resources" / "icons" / "mcp-tray.svg"


def analysis_options() -> dict[str, object]:
    return {
        "scripts": [str(ROOT / "installers" / "entry.py")],
        "pathex": [str(ROOT)],
        # resources/ lands at sys._MEIPASS/resources (app.resources.resource_folder).
        "datas": [
            (str(ROOT / "resources"), "resources"),
            # Packages that read their own version or entry points at run time.
            *copy_metadata("mcp"),
            *copy_metadata("keyring", recursive=True),
        ],
        "hiddenimports": [
            # Subcommands and backends are imported by name, inside functions.
            *collect_submodules("app"),
            *collect_submodules("keyring.backends"),
        ],
        # Never used at run time, and large.
        "excludes": ["tkinter", "pytest", "mypy", "hypothesis", "PyInstaller"],
        "noarchive": False,
    }
