"""The Activity tab: what the apps asked of the servers, and how each request ended.

Newest first: when, which app, which server, what it asked for (the tool,
or "List tools"), how long it took and how it ended, in words
("Answered", "Failed (error -32602)", "Cancelled", "Interrupted: the server
stopped"), with colour as a second sign only. Two lists narrow it to one
server and one app; below, each tool with how often it was asked, how often
it failed and how long it usually takes (the median). The words, the filter
and the counts are app.core.activity's; this only draws them.

The tab asks for the hub's record each time it is shown (``wanted``; the
tray answers with :meth:`ActivityTab.show_rows`) and takes new rows as they
come (:meth:`ActivityTab.add_rows`, a batch at a time from app.gui.bridge);
while it is hidden it only keeps them.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.core.activity import Outcome, Request, clock, matching, took, usage
from app.core.instances import is_instance
from app.core.overview import Colour

# Each column with its width; the last takes what is left.
COLUMNS: tuple[tuple[str, int], ...] = (
    ("When", 75),
    ("App", 110),
    ("Server", 110),
    ("Asked for", 180),
    ("Took", 70),
    ("Outcome", 0),
)
USAGE_COLUMNS: tuple[tuple[str, int], ...] = (
    ("Server", 110),
    ("Asked for", 180),
    ("Times", 70),
    ("Failed", 70),
    ("Usually takes", 0),
)
NUMBERS = (2, 3)  # of the per-tool table: right-aligned
OUTCOME = len(COLUMNS) - 1
RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
EVERY_SERVER, EVERY_APP = "Every server", "Every app"
ROWS_KEPT = 5000  # the tab's own copy: ten busy servers' worth of the hub's record
ROWS_DRAWN = 1000  # newest first; a table longer than this is read by nobody
NOTHING_YET = (
    "Nothing yet. Each time an app uses one of your servers (it calls a tool, lists "
    "them, reads a resource), a line shows here with how it went."
)
# The outcome's colour, beside its words (colour alone never says it).
TONES = {
    Outcome.OK: Colour.GREEN,
    Outcome.TOOL_ERROR: Colour.RED,
    Outcome.ERROR: Colour.RED,
    Outcome.CANCELLED: Colour.GREY,
    Outcome.CRASHED: Colour.AMBER,
    Outcome.INTERRUPTED: Colour.AMBER,
}


class ActivityTab(QWidget):
    wanted = Signal()  # shown: the record, please (show_rows)

    def __init__(self) -> None:
        super().__init__()
        self.server = QComboBox()
        self.app = QComboBox()
        self.server.addItem(EVERY_SERVER)
        self.app.addItem(EVERY_APP)
        self.server.currentTextChanged.connect(lambda _: self._redraw())
        self.app.currentTextChanged.connect(lambda _: self._redraw())
        self.table = _table(COLUMNS)
        self.usage = _table(USAGE_COLUMNS)
        self.nothing = QLabel(NOTHING_YET)
        self.nothing.setWordWrap(True)
        top = QHBoxLayout()
        for label, choice in (("Server", self.server), ("App", self.app)):
            top.addWidget(QLabel(label))
            top.addWidget(choice, 1)
        top.addStretch(1)
        self.usage_title = QLabel("Each tool: how often apps asked for it, and how long it took")
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.nothing)
        layout.addWidget(self.table, stretch=3)
        layout.addWidget(self.usage_title)
        layout.addWidget(self.usage, stretch=2)
        self._rows: list[Request] = []
        self._servers: list[str] = []

    # ----- what the tray gives it

    def set_servers(self, names: Sequence[str]) -> None:
        """The configured servers, for the Server list (an app's own process is its server's)."""
        self._servers = [name for name in names if not is_instance(name)]
        if self._fill_choices():
            self._redraw()

    def show_rows(self, rows: Sequence[Request]) -> None:
        """The hub's whole record, oldest first: it replaces what the tab kept, but for
        rows newer than it (come while it was on its way)."""
        newest = rows[-1].seq if rows else 0
        self._rows = [*rows, *(row for row in self._rows if row.seq > newest)][-ROWS_KEPT:]
        self._fill_choices()
        self._redraw()

    def add_rows(self, rows: Sequence[Request]) -> None:
        """New rows, oldest first; one the tab has already is left out."""
        newest = self._rows[-1].seq if self._rows else 0
        fresh = [row for row in rows if row.seq > newest]
        if not fresh:
            return
        self._rows = (self._rows + fresh)[-ROWS_KEPT:]
        if not self.isVisible():
            return  # drawn when shown again
        if self._fill_choices():
            self._redraw()
        else:
            self._draw_new(fresh)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        self.wanted.emit()

    # ----- drawing

    def _shown(self, rows: Sequence[Request]) -> list[Request]:
        server, app = self.server.currentText(), self.app.currentText()
        return matching(
            rows,
            server=None if server in ("", EVERY_SERVER) else server,
            app=None if app in ("", EVERY_APP) else app,
        )

    def _redraw(self) -> None:
        shown = self._shown(self._rows)[-ROWS_DRAWN:]
        self.table.setRowCount(0)
        self._draw_new(shown)

    def _draw_new(self, rows: Sequence[Request]) -> None:
        """Put ``rows`` (oldest first) at the top, newest first, and count again."""
        for row in self._shown(rows):
            self.table.insertRow(0)
            for column, text in enumerate(_cells(row)):
                item = QTableWidgetItem(text)
                if column == 0:
                    item.setToolTip(time.strftime("%A %d %B %Y, %H:%M:%S", time.localtime(row.at)))
                if column == OUTCOME:
                    item.setForeground(QBrush(QColor(TONES[row.outcome].value)))
                    item.setToolTip(text)
                self.table.setItem(0, column, item)
        if self.table.rowCount() > ROWS_DRAWN:
            self.table.setRowCount(ROWS_DRAWN)
        self._count()
        self.nothing.setVisible(not self._rows)

    def _count(self) -> None:
        found = usage(self._shown(self._rows))
        self.usage.setRowCount(len(found))
        for index, each in enumerate(found):
            cells = (
                each.server,
                each.words,
                str(each.calls),
                str(each.failed) if each.failed else "",
                took(each.median_s),
            )
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if column in NUMBERS:
                    item.setTextAlignment(RIGHT)
                self.usage.setItem(index, column, item)

    def _fill_choices(self) -> bool:
        """Offer every server and app there is; whether a choice had to change (it left)."""
        servers = sorted({*self._servers, *(row.server for row in self._rows)})
        apps = sorted({row.app for row in self._rows})
        changed = _choices(self.server, [EVERY_SERVER, *servers])
        return _choices(self.app, [EVERY_APP, *apps]) or changed


def _cells(row: Request) -> tuple[str, ...]:
    return (
        clock(row.at),
        row.app,
        row.server,
        row.what_words(),
        took(row.duration_s),
        row.outcome_words(),
    )


def _table(columns: Sequence[tuple[str, int]]) -> QTableWidget:
    """A read-only table of one-line rows, its columns as wide as ``columns`` say."""
    table = QTableWidget(0, len(columns))
    table.setHorizontalHeaderLabels([title for title, _ in columns])
    table.verticalHeader().hide()
    table.verticalHeader().setDefaultSectionSize(table.fontMetrics().height() + 8)
    table.setWordWrap(False)
    header = table.horizontalHeader()
    for index, (_, width) in enumerate(columns):
        if width:
            header.resizeSection(index, width)
    header.setStretchLastSection(True)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    return table


def _choices(box: QComboBox, items: list[str]) -> bool:
    """Give ``box`` these items, keeping the one chosen (quietly: the user chose nothing);
    whether the choice had to change, as it is gone."""
    if items == [box.itemText(i) for i in range(box.count())]:
        return False
    chosen = box.currentText()
    box.blockSignals(True)
    box.clear()
    box.addItems(items)
    box.setCurrentText(chosen if chosen in items else items[0])
    box.blockSignals(False)
    return box.currentText() != chosen
