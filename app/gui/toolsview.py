"""The selected server's tools in the window: a tick per tool, and what each one does.

Ticked, the apps see the tool; a click on the tick switches it (the tray
writes the config, as the menu's Tools submenu does: ``switched(server,
tool, on)``). A tool the server changed since the user accepted it is held
from the apps until reviewed: its tick is greyed, its line says so, and a
Review… button above the list opens the Review window (``review(server)``).

The tray fills the list (:meth:`ToolsView.show_tools`) when asked
(``wanted(server)``): when the window shows, when another server is
selected, and when the selected one restarted or its held tools changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.core.supervise.states import State
from app.core.supervise.status import ServerStatus

COLUMNS = ("Tool", "What it does")
TOOL_COLUMN_WIDTH = 200
HELD_WORDS = "New or changed — waiting for your review"
HELD_COLOUR = "#7d4e00"  # a dark amber: the words must stay readable on white
NO_DESCRIPTION = "(it says nothing about itself)"
NOT_RUNNING = "Tools: they show here while the server runs."
NONE_OFFERED = "Tools: this server offers none."


class ToolsView(QWidget):
    wanted = Signal(str)  # the server's tools, please (show_tools)
    switched = Signal(str, str, bool)  # server, tool, on: the user clicked its tick
    review = Signal(str)  # server: the user pressed Review…

    def __init__(self) -> None:
        super().__init__()
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.held_note = QLabel()
        self.held_note.setWordWrap(True)
        self.review_button = QPushButton("Review…")
        self.review_button.clicked.connect(lambda: self.review.emit(self._server))
        held_row = QHBoxLayout()
        held_row.addWidget(self.held_note, stretch=1)
        held_row.addWidget(self.review_button)
        self.table = _table()
        self.table.itemChanged.connect(self._ticked)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.summary)
        layout.addLayout(held_row)
        layout.addWidget(self.table, stretch=1)
        self._row: ServerStatus | None = None
        self._asked_for: tuple[object, ...] = ()
        self._show_held(())
        self.table.hide()

    # ----- what the servers tab tells it

    def follow(self, row: ServerStatus | None) -> None:
        """The selected server (None: none). The tools are asked for again when it is
        another server, or it restarted, or its held tools changed."""
        self._row = row
        running = row is not None and row.state is State.RUNNING
        key = (row.name, row.pid, row.held_tools) if row is not None and running else ()
        if row is None or not running:
            self._asked_for = ()
            self.summary.setText(NOT_RUNNING if row else "")
            self._show_held(row.held_tools if row else ())
            self.table.setRowCount(0)
            self.table.hide()
            return
        if key != self._asked_for and self.isVisible():
            self._asked_for = key
            self.wanted.emit(row.name)

    def ask_again(self) -> None:
        """The next :meth:`follow` asks for the tools even if nothing it sees changed (a
        tool was switched)."""
        self._asked_for = ()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        self.ask_again()  # hidden, it asked for nothing: what it shows may be old
        self.follow(self._row)

    @property
    def _server(self) -> str:
        return self._row.name if self._row else ""

    # ----- what the tray gives it

    def show_tools(self, server: str, tools: Sequence[dict[str, Any]]) -> None:
        """``server``'s tools as the hub lists them ({"name", "description", "on"});
        ignored if another server is selected by now."""
        if self._row is None or server != self._row.name:
            return
        held = self._row.held_tools
        on = sum(1 for tool in tools if tool["on"])
        self.summary.setText(
            f"Tools: {on} of {len(tools)} on. Your apps see the ticked ones; "
            "untick one to hide it from them (the server keeps running)."
            if tools
            else NONE_OFFERED
        )
        self._show_held(held)
        self.table.blockSignals(True)  # filling is not the user ticking
        self.table.setRowCount(len(tools))
        for index, tool in enumerate(tools):
            for column, item in enumerate(_items(tool, held=tool["name"] in held)):
                self.table.setItem(index, column, item)
        self.table.blockSignals(False)
        self.table.setVisible(bool(tools))

    def _show_held(self, held: Sequence[str]) -> None:
        count = len(held)
        what = "a tool" if count == 1 else f"{count} tools"
        them = "it" if count == 1 else "them"
        self.held_note.setText(
            f"{self._server} changed {what}. Your apps don't see {them} until you review {them}."
            if count
            else ""
        )
        self.held_note.setVisible(bool(count))
        self.review_button.setVisible(bool(count))

    def _ticked(self, item: QTableWidgetItem) -> None:
        if item.column() == 0 and self._server:
            on = item.checkState() == Qt.CheckState.Checked
            self.switched.emit(self._server, item.text(), on)

    def tick(self, tool: str) -> QTableWidgetItem:
        """The tick of ``tool`` (for tests and for whoever reads the table)."""
        found = self.table.findItems(tool, Qt.MatchFlag.MatchExactly)
        return next(item for item in found if item.column() == 0)


def _items(tool: dict[str, Any], *, held: bool) -> tuple[QTableWidgetItem, QTableWidgetItem]:
    name = QTableWidgetItem(str(tool["name"]))
    described = str(tool.get("description") or "").strip()
    first_line = described.splitlines()[0] if described else NO_DESCRIPTION
    about = QTableWidgetItem(f"{HELD_WORDS}. {first_line}" if held else first_line)
    about.setToolTip(described or NO_DESCRIPTION)
    name.setToolTip(described or NO_DESCRIPTION)
    if held:
        # Its tick is not the user's to give until they have looked: Review… is.
        name.setFlags(Qt.ItemFlag.ItemIsSelectable)
        name.setCheckState(Qt.CheckState.Unchecked)
        about.setForeground(QBrush(QColor(HELD_COLOUR)))
    else:
        name.setFlags(
            Qt.ItemFlag.ItemIsEnabled
            | Qt.ItemFlag.ItemIsSelectable
            | Qt.ItemFlag.ItemIsUserCheckable
        )
        name.setCheckState(Qt.CheckState.Checked if tool["on"] else Qt.CheckState.Unchecked)
    about.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
    return name, about


def _table() -> QTableWidget:
    table = QTableWidget(0, len(COLUMNS))
    table.setHorizontalHeaderLabels(COLUMNS)
    table.verticalHeader().hide()
    table.setWordWrap(False)
    table.horizontalHeader().resizeSection(0, TOOL_COLUMN_WIDTH)
    table.horizontalHeader().setStretchLastSection(True)
    table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    return table
