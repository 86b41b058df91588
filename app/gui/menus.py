"""Drawing the menu that app.core.traymenu decides, and keeping it current in place.

:class:`LiveMenu` owns one QMenu and the QActions for its entries, by key.
Each refresh changes the text, check and icon of the actions already there,
and adds, moves or removes only those whose entries came or went. An open
menu therefore stays open and keeps its place across state changes, where
rebuilding it with ``clear()`` would close it under the pointer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache

from PySide6.QtCore import QPointF, QRect, QRectF, Qt
from PySide6.QtGui import QAction, QColor, QIcon, QPainter, QPainterPath, QPen, QPixmap
from PySide6.QtWidgets import QMenu

from app.core.overview import Look, Shape
from app.core.traymenu import Entry

ICON_PX = 64


class LiveMenu:
    """``on_entry(entry)`` runs when the user picks an entry that has a verb."""

    def __init__(self, menu: QMenu, on_entry: Callable[[Entry], None]) -> None:
        self.menu = menu
        self._on_entry = on_entry
        self._actions: dict[str, QAction] = {}
        self._entries: dict[str, Entry] = {}
        self._submenus: dict[str, LiveMenu] = {}

    def update(self, entries: Sequence[Entry]) -> None:
        top = not isinstance(self.menu.parentWidget(), QMenu)
        before = self._open_frames() if top and self.menu.isVisible() else {}
        wanted = {entry.key for entry in entries}
        for key in [key for key in self._actions if key not in wanted]:
            self._remove(key)
        for index, entry in enumerate(entries):
            action = self._actions.get(entry.key) or self._create(entry)
            current = self.menu.actions()
            if index >= len(current) or current[index] is not action:
                # Both move an action that is already in the menu.
                if index < len(current):
                    self.menu.insertAction(current[index], action)
                else:
                    self.menu.addAction(action)
            self._entries[entry.key] = entry
            self._draw(action, entry)
        if before:  # once every open submenu has its new size too
            self._keep_in_place(before)

    def _open_frames(self) -> dict[int, QRect]:
        """Where this menu and its open submenus are on the screen, by id."""
        frames = {id(self): self.menu.geometry()}
        for child in self._submenus.values():
            if child.menu.isVisible():
                frames |= child._open_frames()
        return frames

    def _keep_in_place(self, before: dict[int, QRect]) -> None:
        """After new words changed their widths, keep an open menu on its side: one that
        touched the screen's right edge (a tray in the top-right corner) still does, and
        an open submenu still touches its parent. Qt resizes an open menu from its left
        edge, which would push it off the screen or leave a gap. Only sideways: each row
        stays at its height, under the pointer."""
        frame = self.menu.geometry()
        screen = self.menu.screen().availableGeometry()
        parent = self.menu.parentWidget()
        was = before.get(id(self))
        x = frame.x()
        if isinstance(parent, QMenu):
            x = parent.x() - frame.width() if x < parent.x() else parent.geometry().right() + 1
        elif was is not None and was.right() >= screen.right():
            x = screen.right() + 1 - frame.width()
        x = max(screen.left(), min(x, screen.right() + 1 - frame.width()))
        if x != frame.x():
            self.menu.move(x, frame.y())
        for child in self._submenus.values():
            if child.menu.isVisible():
                child._keep_in_place(before)

    def _create(self, entry: Entry) -> QAction:
        if entry.children is not None:
            child = LiveMenu(QMenu(self.menu), self._on_entry)
            self._submenus[entry.key] = child
            action = child.menu.menuAction()
        else:
            action = QAction(self.menu)
            action.triggered.connect(lambda checked=False, key=entry.key: self._picked(key))
        action.setSeparator(entry.separator)
        self._actions[entry.key] = action
        return action

    def _draw(self, action: QAction, entry: Entry) -> None:
        if entry.separator:
            return
        if entry.children is not None:
            child = self._submenus[entry.key]
            child.menu.setTitle(entry.text)
            child.update(entry.children)
        else:
            action.setText(entry.text.replace("&", "&&"))  # "&" would mark a shortcut key
            action.setEnabled(bool(entry.verb))
        action.setCheckable(entry.checked is not None)
        if entry.checked is not None:
            action.setChecked(entry.checked)
        if entry.look is not None:
            action.setIcon(state_icon(entry.look))
        if entry.bold:
            font = action.font()
            font.setBold(True)
            action.setFont(font)

    def _remove(self, key: str) -> None:
        action = self._actions.pop(key)
        self._entries.pop(key, None)
        self.menu.removeAction(action)
        child = self._submenus.pop(key, None)
        if child is not None:
            child.menu.deleteLater()
        else:
            action.deleteLater()

    def _picked(self, key: str) -> None:
        entry = self._entries.get(key)
        if entry is not None and entry.verb:
            self._on_entry(entry)


@cache
def state_icon(look: Look) -> QIcon:
    """A server's state as a small picture: its colour and its shape, so colour is
    never the only sign (a filled dot runs, a ring rests, a half is on its way, a
    triangle needs you)."""
    pixmap = QPixmap(ICON_PX, ICON_PX)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    colour = QColor(look.colour.value)
    box = QRectF(10, 10, ICON_PX - 20, ICON_PX - 20)
    if look.shape is Shape.DOT:
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        painter.drawEllipse(box)
    elif look.shape is Shape.RING:
        painter.setPen(QPen(colour, 7))
        painter.drawEllipse(box.adjusted(4, 4, -4, -4))
    elif look.shape is Shape.HALF:
        painter.setPen(QPen(colour, 5))
        painter.drawEllipse(box.adjusted(3, 3, -3, -3))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        painter.drawPie(box, 90 * 16, 180 * 16)
    else:
        _warning(painter, colour)
    painter.end()
    return QIcon(pixmap)


def _warning(painter: QPainter, colour: QColor) -> None:
    triangle = QPainterPath(QPointF(ICON_PX / 2, 6))
    triangle.lineTo(QPointF(ICON_PX - 4, ICON_PX - 8))
    triangle.lineTo(QPointF(4, ICON_PX - 8))
    triangle.closeSubpath()
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(colour)
    painter.drawPath(triangle)
    painter.setBrush(QColor("white"))
    painter.drawRoundedRect(QRectF(ICON_PX / 2 - 4, 22, 8, 20), 3, 3)
    painter.drawEllipse(QRectF(ICON_PX / 2 - 4.5, 45, 9, 9))
