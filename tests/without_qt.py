"""A pytest plugin: ``python -m pytest -p tests.without_qt -p no:pytest-qt tests/core``.

Makes PySide6 and qasync impossible to import, as on a machine without them,
so the core's tests show that app/core runs (not merely type-checks) without
Qt: the tray is one face of the core, ``mcp-tray serve`` and ``attach`` are
others.
"""

from __future__ import annotations

import sys

for name in ("PySide6", "shiboken6", "qasync"):
    sys.modules[name] = None  # type: ignore[assignment]  # import now raises ImportError
