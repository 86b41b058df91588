"""The Logs tab: one server's story, its own output and MCP Tray's lines about it.

What the server wrote to stderr (already redacted by the hub) is shown as
it is; MCP Tray's lifecycle lines (started, stopped with an error,
restarting in 2 s, paused after 5 failed starts) are set apart in colour and
weight, so a crash reads as a story rather than five identical lines. Search
says where it is ("3 of 12") or that nothing matches.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtGui import QColor, QFont, QGuiApplication, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.core.supervise.stderr import parse_log_line

LOG_LINES_SHOWN = 5000  # the widget keeps this many; the file keeps more
LIFECYCLE_COLOUR = "#0b5cad"
STAMP_COLOUR = "#6e7781"


class LogsTab(QWidget):
    def __init__(self) -> None:
        super().__init__()
        self.server = QComboBox()
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search")
        self.search.setClearButtonEnabled(True)
        self.search.returnPressed.connect(self.find_next)
        self.search.textChanged.connect(lambda text: self.find_next(from_start=True))
        self.matches = QLabel()
        self.matches.setMinimumWidth(self.matches.fontMetrics().horizontalAdvance("888 of 8888"))
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setMaximumBlockCount(LOG_LINES_SHOWN)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        copy, clear = QPushButton("Copy all"), QPushButton("Clear")
        copy.clicked.connect(self.copy_all)
        clear.clicked.connect(self.clear)
        top = QHBoxLayout()
        top.addWidget(QLabel("Server"))
        top.addWidget(self.server, 1)
        top.addWidget(self.search, 2)
        top.addWidget(self.matches)
        top.addWidget(copy)
        top.addWidget(clear)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.text)
        self.server.currentTextChanged.connect(self.switched)
        self._ask_history: Callable[[str], None] = lambda server: None
        self._formats = _formats(self.text.font())

    def set_history(self, ask: Callable[[str], None]) -> None:
        """Who fetches a server's earlier lines; it answers with show_server()."""
        self._ask_history = ask

    def set_servers(self, names: Sequence[str]) -> None:
        current = self.server.currentText()
        if list(names) == [self.server.itemText(i) for i in range(self.server.count())]:
            return
        self.server.blockSignals(True)
        self.server.clear()
        self.server.addItems(list(names))
        self.server.blockSignals(False)
        if current in names:
            self.server.setCurrentText(current)
        elif names:
            self.switched(self.server.currentText())

    def show_server(self, server: str, lines: Sequence[str]) -> None:
        self.server.blockSignals(True)
        self.server.setCurrentText(server)
        self.server.blockSignals(False)
        self.text.clear()
        for line in lines:
            self._add(line)
        self.text.moveCursor(QTextCursor.MoveOperation.End)
        self._count()

    def switched(self, server: str) -> None:
        if server:
            self.text.clear()
            self._ask_history(server)

    def append(self, server: str, line: str) -> None:
        if server == self.server.currentText():
            self._add(line)
            self._count()

    def clear(self) -> None:
        self.text.clear()
        self._count()

    def find_next(self, *, from_start: bool = False) -> bool:
        """Select the next match of the search text (wrapping around) and say which it is."""
        needle = self.search.text()
        if from_start:
            self.text.moveCursor(QTextCursor.MoveOperation.Start)
        found = bool(needle) and self.text.find(needle)
        if needle and not found:
            self.text.moveCursor(QTextCursor.MoveOperation.Start)
            found = self.text.find(needle)
        self._count()
        return found

    def copy_all(self) -> None:
        QGuiApplication.clipboard().setText(self.text.toPlainText())

    def _add(self, stamped: str) -> None:
        entry = parse_log_line(stamped)
        cursor = QTextCursor(self.text.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        if not self.text.document().isEmpty():
            cursor.insertBlock()
        if entry.stamp:
            cursor.insertText(f"{entry.stamp} ", self._formats["stamp"])
        kind = "lifecycle" if entry.lifecycle else "output"
        text = f"— {entry.text}" if entry.lifecycle else entry.text
        cursor.insertText(text, self._formats[kind])

    def _count(self) -> None:
        """ "3 of 12" for the selected match, "12 matches" before one is selected."""
        needle = self.search.text().casefold()
        if not needle:
            self.matches.setText("")
            return
        text = self.text.toPlainText().casefold()
        total = text.count(needle)
        if total == 0:
            self.matches.setText("No matches")
            return
        cursor = self.text.textCursor()
        if cursor.hasSelection() and cursor.selectedText().casefold() == needle:
            index = text.count(needle, 0, cursor.selectionStart()) + 1
            self.matches.setText(f"{index} of {total}")
        else:
            self.matches.setText(f"{total} match{'es' if total != 1 else ''}")


def _formats(base: QFont) -> dict[str, QTextCharFormat]:
    stamp, output, lifecycle = QTextCharFormat(), QTextCharFormat(), QTextCharFormat()
    stamp.setForeground(QColor(STAMP_COLOUR))
    lifecycle.setForeground(QColor(LIFECYCLE_COLOUR))
    lifecycle.setFontWeight(QFont.Weight.Bold)
    return {"stamp": stamp, "output": output, "lifecycle": lifecycle}
