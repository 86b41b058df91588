"""The windows: servers and their logs in one window, and the secret dialog.

:class:`MainWindow` has two tabs. "Servers" is a status table of every server
with the actions of the tray menu; without a system tray it is what the
user sees at start, with a line saying why. "Logs" shows one server's live
stderr (already redacted by the hub) with search, copy and clear.

Nothing here blocks: dialogs open with ``open()``/``show()``, never
``exec()``, and anything that touches the hub or the keyring is a task on
the event loop.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent, QGuiApplication, QShowEvent, QTextCursor, QTextDocument
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.core.overview import duration

LOG_LINES_SHOWN = 5000  # the widget keeps this many; the file keeps more
COLUMNS = ("Server", "State", "PID", "Restarts", "Uptime", "Last error")


class MainWindow(QWidget):
    """Servers and logs. ``action(verb, server)`` runs what a button asks for."""

    shown = Signal()

    def __init__(self, action: Callable[[str, str], None]) -> None:
        super().__init__()
        self.setWindowTitle("MCP Tray")
        self.resize(900, 520)
        self._action = action
        self.banner = QLabel()
        self.banner.setWordWrap(True)
        self.banner.hide()
        self.tabs = QTabWidget()
        self.servers = ServersTab(action)
        self.logs = LogsTab()
        self.tabs.addTab(self.servers, "Servers")
        self.tabs.addTab(self.logs, "Logs")
        layout = QVBoxLayout(self)
        layout.addWidget(self.banner)
        layout.addWidget(self.tabs)

    def say(self, text: str) -> None:
        """A line above the tabs (no tray host, say); empty hides it."""
        self.banner.setText(text)
        self.banner.setVisible(bool(text))

    def show_logs(self, server: str, lines: Sequence[str]) -> None:
        self.logs.show_server(server, lines)
        self.tabs.setCurrentWidget(self.logs)
        self.bring_forward()

    def bring_forward(self) -> None:
        self.show()
        self.setWindowState(self.windowState() & ~Qt.WindowState.WindowMinimized)
        self.raise_()
        self.activateWindow()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        self.shown.emit()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        # Closing the window hides it; the tray (or Quit) ends the app.
        event.ignore()
        self.hide()


class ServersTab(QWidget):
    def __init__(self, action: Callable[[str, str], None]) -> None:
        super().__init__()
        self._action = action
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(
            len(COLUMNS) - 1, QHeaderView.ResizeMode.Stretch
        )
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        buttons = QHBoxLayout()
        self.buttons: dict[str, QPushButton] = {}
        for verb, label in (
            ("restart", "Restart"),
            ("toggle", "Stop"),
            ("logs", "Show logs"),
            ("secret", "Set secret…"),
        ):
            button = QPushButton(label)
            button.clicked.connect(lambda checked=False, v=verb: self._selected(v))
            buttons.addWidget(button)
            self.buttons[verb] = button
        buttons.addStretch()
        for verb, label in (
            ("open-config", "Open config"),
            ("reload", "Reload config"),
            ("quit", "Quit"),
        ):
            button = QPushButton(label)
            button.clicked.connect(lambda checked=False, v=verb: self._action(v, ""))
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addLayout(buttons)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self._rows: list[dict[str, Any]] = []
        self._has_secrets: set[str] = set()

    def update_rows(self, rows: Sequence[dict[str, Any]], has_secrets: set[str]) -> None:
        selected = self.selected_server()
        self._rows, self._has_secrets = list(rows), has_secrets
        self.table.setRowCount(len(rows))
        for index, row in enumerate(rows):
            cells = (
                row["name"],
                row["state"],
                str(row["pid"] or ""),
                str(row["restarts"]),
                duration(row["uptime_s"]) if row["uptime_s"] is not None else "",
                row["last_error"] or "",
            )
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.table.setItem(index, column, item)
            if row["name"] == selected:
                self.table.selectRow(index)
        if selected is None and rows:
            self.table.selectRow(0)
        self._update_buttons()

    def selected_server(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        item = self.table.item(rows[0].row(), 0)
        return item.text() if item is not None else None

    def _selected(self, verb: str) -> None:
        server = self.selected_server()
        if server is not None:
            self._action(verb, server)

    def _update_buttons(self) -> None:
        server = self.selected_server()
        row = next((r for r in self._rows if r["name"] == server), None)
        for button in self.buttons.values():
            button.setEnabled(row is not None)
        if row is not None:
            stopped = row["state"] in ("stopped", "disabled")
            self.buttons["toggle"].setText("Start" if stopped else "Stop")
            self.buttons["secret"].setEnabled(row["name"] in self._has_secrets)


class LogsTab(QWidget):
    def __init__(self) -> None:
        super().__init__()
        self.server = QComboBox()
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search")
        self.search.returnPressed.connect(self.find_next)
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setMaximumBlockCount(LOG_LINES_SHOWN)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        copy, clear = QPushButton("Copy"), QPushButton("Clear")
        copy.clicked.connect(self.copy_all)
        clear.clicked.connect(self.text.clear)
        top = QHBoxLayout()
        top.addWidget(QLabel("Server"))
        top.addWidget(self.server, 1)
        top.addWidget(self.search, 2)
        top.addWidget(copy)
        top.addWidget(clear)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.text)
        self.server.currentTextChanged.connect(self.switched)
        self._ask_history: Callable[[str], None] = lambda server: None

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
        self.text.setPlainText("\n".join(lines))
        self.text.moveCursor(QTextCursor.MoveOperation.End)

    def switched(self, server: str) -> None:
        if server:
            self.text.clear()
            self._ask_history(server)

    def append(self, server: str, line: str) -> None:
        if server == self.server.currentText():
            self.text.appendPlainText(line)

    def find_next(self) -> bool:
        """Select the next match of the search text (wrapping around)."""
        needle = self.search.text()
        if not needle:
            return False
        flags = QTextDocument.FindFlag(0)
        if self.text.find(needle, flags):
            return True
        self.text.moveCursor(QTextCursor.MoveOperation.Start)
        return self.text.find(needle, flags)

    def copy_all(self) -> None:
        QGuiApplication.clipboard().setText(self.text.toPlainText())


class SecretDialog(QDialog):
    """Asks for one secret of one server, masked; ``submitted(server, name, value)`` on OK."""

    submitted = Signal(str, str, str)

    def __init__(self, server: str, names: Sequence[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Set a secret for {server}")
        self.server = server
        self.name = QComboBox()
        self.name.setEditable(True)
        self.name.addItems(list(names))
        self.value = QLineEdit()
        self.value.setEchoMode(QLineEdit.EchoMode.Password)
        self.value.setPlaceholderText("kept in the system keyring, never shown or logged")
        form = QFormLayout(self)
        form.addRow(QLabel(f"{server} reads it as ${{secret:NAME}} in its config."))
        form.addRow("Name", self.name)
        form.addRow("Value", self.value)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self._save)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

    def _save(self) -> None:
        name, value = self.name.currentText().strip(), self.value.text()
        if not name or not value:
            return
        self.value.clear()  # the value does not linger in the widget
        self.submitted.emit(self.server, name, value)
        self.accept()
