"""Small helpers the windows share."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtGui import QFont, QIcon
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLayout, QPushButton, QVBoxLayout


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


def heading(logo: QIcon, title: str, *, size: int, under: QLabel | None = None) -> QHBoxLayout:
    """The logo beside a large bold title, and ``under`` it an optional line."""
    picture = QLabel()
    picture.setPixmap(logo.pixmap(size, size))
    name = QLabel(title)
    font = QFont(name.font())
    font.setPointSizeF(font.pointSizeF() * size / 30)
    font.setBold(True)
    name.setFont(font)
    words = QVBoxLayout()
    words.setSpacing(0)
    words.addWidget(name)
    if under is not None:
        words.addWidget(under)
    row = QHBoxLayout()
    row.addWidget(picture)
    row.addLayout(words, stretch=1)
    return row
