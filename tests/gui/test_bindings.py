"""Guards against Qt binding releases that would crash a tray that runs for days."""

from __future__ import annotations

import sys

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication

EMISSIONS = 1000


def test_a_signal_delivered_to_a_python_slot_keeps_none_alive(qapp: QApplication) -> None:
    # PySide6 6.12.0 released one reference to None per emission: after a few
    # thousand (qasync's socket notifiers emit for every I/O event) None is
    # freed and the interpreter aborts. pyproject.toml excludes that release.
    action = QAction("x")
    action.triggered.connect(lambda: None)
    before = sys.getrefcount(None)

    for _ in range(EMISSIONS):
        action.trigger()

    assert sys.getrefcount(None) > before - EMISSIONS // 2
