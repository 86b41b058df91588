"""Small helpers the windows share."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QLayout, QPushButton


def empty(layout: QLayout) -> None:
    """Take every widget out of ``layout``: hidden at once, deleted once Qt gets to it
    (a widget only waiting for deletion would still be drawn where it was)."""
    while (item := layout.takeAt(0)) is not None:
        if (widget := item.widget()) is not None:
            widget.hide()
            widget.deleteLater()


def button(label: str, slot: Callable[[], object]) -> QPushButton:
    """A push button that calls ``slot`` when clicked."""
    pushed = QPushButton(label)
    pushed.clicked.connect(lambda checked=False: slot())
    return pushed
