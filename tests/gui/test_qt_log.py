"""Qt's own complaints land in the app's log, where reports and tests see them."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from PySide6.QtCore import qInstallMessageHandler, qWarning
from PySide6.QtWidgets import QApplication

from app.gui.app import log_qt_messages


def test_a_qt_warning_reaches_the_apps_log_as_a_warning(
    qapp: QApplication, caplog: pytest.LogCaptureFixture, expect_warnings: Callable[[str], None]
) -> None:
    expect_warnings("the display went away")
    previous = log_qt_messages()
    try:
        qWarning("the display went away")
    finally:
        qInstallMessageHandler(previous)  # type: ignore[arg-type]  # Qt hands back an opaque handler

    assert [(r.name, r.levelname, r.getMessage()) for r in caplog.records] == [
        ("app.qt", "WARNING", "the display went away")
    ]
