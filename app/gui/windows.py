"""The main window: every server and everything the menu offers, in one place.

Top to bottom: the app's name with the status line; a banner when the config
file has a mistake (with Open config) and one for anything else worth a
line (no system tray, say); four tabs ("Servers": a table in plain words,
the selected server's details, its tools with a tick each (app.gui.toolsview)
and a row of buttons that never move, those its state does not allow greyed
with the reason; "Logs":
app.gui.logs; "Activity": app.gui.activity; "Settings": the switches and the
HTTP addresses); and a row
with Add a server…, Connect an app…, Open config and, apart from them, Quit. Without a
system tray this window stands in for the icon, so it holds every action
the menu has.

The window only draws and asks: ``action(verb, server)`` (the verbs of
app.core.traymenu) does the work, in the tray.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent, QGuiApplication, QIcon, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.core.overview import human_duration, look, restarts
from app.core.problems import config_error_line, problem
from app.core.supervise.status import ServerStatus
from app.core.traymenu import (
    ADD,
    CONNECT,
    EDIT,
    HTTP,
    LOGIN,
    MUTE,
    NEW_KEY,
    OPEN_CONFIG,
    PLACES,
    QUIT,
    REVIEW,
    Button,
    Settings,
    labels_by_place,
    server_buttons,
)
from app.gui.activity import ActivityTab
from app.gui.logs import LogsTab
from app.gui.menus import state_icon
from app.gui.toolsview import ToolsView
from app.gui.widgets import button, empty, heading

COLUMNS = ("Server", "State", "Running for", "Problem")
SERVERS, LOGS, SETTINGS = "servers", "logs", "settings"
ACTIVITY = "activity"

Action = Callable[[str, str], None]


class MainWindow(QWidget):
    """Servers, logs, activity and settings. ``closed`` fires when the user closes it (it
    hides)."""

    shown = Signal()
    closed = Signal()

    def __init__(self, action: Action, *, logo: QIcon) -> None:
        super().__init__()
        self.setWindowTitle("MCP Tray")
        self.setWindowIcon(logo)
        self.resize(900, 560)
        self._action = action
        self.headline = QLabel()
        self.config_banner = ConfigBanner(action)
        self.banner = QLabel()
        self.banner.setWordWrap(True)
        self.banner.hide()
        self.tabs = QTabWidget()
        self.servers = ServersTab(action)
        self.logs = LogsTab()
        self.activity = ActivityTab()
        self.settings = SettingsTab(action)
        self.tabs.addTab(self.servers, "Servers")
        self.tabs.addTab(self.logs, "Logs")
        self.tabs.addTab(self.activity, "Activity")
        self.tabs.addTab(self.settings, "Settings")
        self._pages = {SERVERS: self.servers, LOGS: self.logs, SETTINGS: self.settings}
        self._pages[ACTIVITY] = self.activity
        layout = QVBoxLayout(self)
        layout.addLayout(heading(logo, "MCP Tray", size=40, under=self.headline))
        layout.addWidget(self.config_banner)
        layout.addWidget(self.banner)
        layout.addWidget(self.tabs, stretch=1)
        layout.addLayout(self._bottom_row())

    def _bottom_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        steps = ((ADD, "Add a server…"), (CONNECT, "Connect an app…"), (OPEN_CONFIG, "Open config"))
        for verb, label in steps:
            row.addWidget(button(label, partial(self._action, verb, "")))
        row.addStretch(1)
        row.addWidget(button("Quit", lambda: self._action(QUIT, "")))
        return row

    def update_view(
        self,
        rows: Sequence[ServerStatus],
        *,
        headline: str,
        secrets: Mapping[str, Sequence[str]],
        settings: Settings,
        config_error: str,
        http_addresses: Sequence[tuple[str, str]],
    ) -> None:
        self.headline.setText(headline)
        self.config_banner.show_error(config_error)
        self.servers.update_rows(rows, secrets)
        self.logs.set_servers([row.name for row in rows])
        self.activity.set_servers([row.name for row in rows])
        self.settings.update_settings(settings, http_addresses)

    def say(self, text: str) -> None:
        """A line above the tabs (no tray host, say); empty hides it."""
        self.banner.setText(text)
        self.banner.setVisible(bool(text))

    def show_logs(self, server: str, lines: Sequence[str]) -> None:
        self.logs.show_server(server, lines)
        self.bring_forward(LOGS)

    def bring_forward(self, page: str = SERVERS) -> None:
        self.tabs.setCurrentWidget(self._pages[page])
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
        self.closed.emit()


class ConfigBanner(QFrame):
    """The config file's mistake, where it is, and Open config; hidden when there is none."""

    def __init__(self, action: Action) -> None:
        super().__init__()
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setStyleSheet("ConfigBanner { background: #fff1f0; border: 1px solid #cf222e; }")
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.text.setStyleSheet("color: #3c1014;")
        fix = button("Open config", lambda: action(OPEN_CONFIG, ""))
        row = QHBoxLayout(self)
        row.addWidget(self.text, stretch=1)
        row.addWidget(fix)
        self.hide()

    def show_error(self, first_error: str) -> None:
        if first_error:
            self.text.setText(
                f"{config_error_line(first_error)}\n"
                "Your servers keep running as they were until the file is fixed."
            )
        self.setVisible(bool(first_error))


class ServersTab(QWidget):
    """The table, the selected server's details and tools, and a button for each action.

    The buttons stay in their places whatever the selected server's state, so that
    none moves under the pointer; those its state does not allow are greyed out.
    """

    def __init__(self, action: Action) -> None:
        super().__init__()
        self._action = action
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(len(COLUMNS) - 1, QHeaderView.ResizeMode.Stretch)
        header.resizeSection(1, 210)
        header.resizeSection(2, 140)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.details = QLabel()
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.tools = ToolsView()
        self.tools.review.connect(lambda server: self._action(REVIEW, server))
        self.buttons: dict[str, QPushButton] = {}  # by place (app.core.traymenu PLACES)
        self._shown: dict[str, Button] = {}
        below = QWidget()  # the selected server: its details over its tools
        beneath = QVBoxLayout(below)
        beneath.setContentsMargins(0, 0, 0, 0)
        beneath.addWidget(self.details)
        beneath.addSpacing(6)
        beneath.addWidget(self.tools, stretch=1)
        split = QSplitter(Qt.Orientation.Vertical)  # the user may give either more room
        split.addWidget(self.table)
        split.addWidget(below)
        split.setChildrenCollapsible(False)
        split.setSizes([150, 250])
        layout = QVBoxLayout(self)
        layout.addWidget(split, stretch=1)
        layout.addLayout(self._buttons_row())  # last: it stays put under the pointer
        self.table.itemSelectionChanged.connect(self._show_selected)
        self._rows: list[ServerStatus] = []
        self._secrets: Mapping[str, Sequence[str]] = {}
        self._show_buttons(server_buttons(None, uses_secrets=False))

    def update_rows(
        self, rows: Sequence[ServerStatus], secrets: Mapping[str, Sequence[str]]
    ) -> None:
        selected = self.selected_server()
        self._rows, self._secrets = list(rows), secrets
        self.table.setRowCount(len(rows))
        for index, row in enumerate(rows):
            found = problem(row, secrets=secrets.get(row.name, ()))
            cells = (
                row.name,
                look(row).words,
                human_duration(row.uptime_s),
                found.what if found else "",
            )
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(found.sentences() if column == 3 and found else text)
                if column == 1:
                    item.setIcon(state_icon(look(row)))
                self.table.setItem(index, column, item)
        names = [row.name for row in rows]
        if selected in names:
            self.table.selectRow(names.index(selected))
        elif rows:
            self.table.selectRow(0)
        self._show_selected()

    def selected_server(self) -> str | None:
        chosen = self.table.selectionModel().selectedRows()
        if not chosen:
            return None
        item = self.table.item(chosen[0].row(), 0)
        return item.text() if item is not None else None

    def _show_selected(self) -> None:
        row = next((r for r in self._rows if r.name == self.selected_server()), None)
        secrets = self._secrets.get(row.name, ()) if row else ()
        self.details.setText(_details(row, secrets) if row else "")
        self.tools.follow(row)
        self._show_buttons(server_buttons(row, uses_secrets=bool(secrets)))

    def _buttons_row(self) -> QHBoxLayout:
        """A button for each place, as wide as its widest label (Try again, not Start), so
        that a label changing with the state never moves the buttons beside it."""
        row = QHBoxLayout()
        for place, labels in labels_by_place().items():
            if place == EDIT:  # changing a server sits apart from running it
                row.addStretch(1)
            pushed = button(PLACES[place], partial(self._pressed, place))
            pushed.setMinimumWidth(max(_width(pushed, label) for label in labels))
            self.buttons[place] = pushed
            row.addWidget(pushed)
        return row

    def _show_buttons(self, buttons: list[Button]) -> None:
        self._shown = {shown.place: shown for shown in buttons}
        for shown in buttons:
            pushed = self.buttons[shown.place]
            pushed.setText(shown.text)
            pushed.setEnabled(bool(shown.verb))
            pushed.setToolTip(shown.why)

    def _pressed(self, place: str) -> None:
        server = self.selected_server()
        if server is not None:  # a greyed-out button is never pressed
            self._action(self._shown[place].verb, server)


def _width(pushed: QPushButton, label: str) -> int:
    """How wide ``pushed`` wants to be with ``label`` on it."""
    shown = pushed.text()
    pushed.setText(label)
    width = pushed.sizeHint().width()
    pushed.setText(shown)
    return width


def _details(row: ServerStatus, secrets: Sequence[str]) -> str:
    """The selected server in full: what is wrong, then the numbers for whoever helps."""
    lines = [f"{row.name}: {look(row).words}"]
    found = problem(row, secrets=secrets)
    if found is not None:
        lines.append(found.sentences())
    facts = []
    if row.url is not None:
        facts.append(f"address {row.url}")
        if row.failure is not None:
            facts.append(f"last error: {row.failure.phrase}")  # its HTTP status, say
    if row.pid is not None:
        facts.append(f"process {row.pid}")
    if row.restarts:
        facts.append(restarts(row))
    if row.last_exit is not None:
        facts.append(f"last exit status {row.last_exit}")
    facts.append(f"state {row.state.value}")  # the word `mcp-tray status` uses
    lines.append("For whoever helps you: " + " · ".join(facts))
    return "\n".join(lines)


class SettingsTab(QWidget):
    """The app's switches, and where apps reach the servers over HTTP."""

    def __init__(self, action: Action) -> None:
        super().__init__()
        self._action = action
        self.login = QCheckBox("Start MCP Tray when I log in")
        self.http = QCheckBox("Serve over HTTP, for apps that take an address instead of a command")
        self.mute = QCheckBox("Mute notices about servers that crashed and restarted by themselves")
        for box, verb in ((self.login, LOGIN), (self.http, HTTP), (self.mute, MUTE)):
            box.clicked.connect(lambda checked=False, v=verb: self._action(v, ""))
        self.addresses = QGridLayout()
        self.addresses_note = QLabel()
        self.addresses_note.setWordWrap(True)
        # As the menu's entry: a new key stops the old one (the tray asks first).
        self.new_key = button("Make a new access key…", lambda: self._action(NEW_KEY, ""))
        self.new_key.hide()
        layout = QVBoxLayout(self)
        for widget in (self.login, self.mute, self.http):
            layout.addWidget(widget)
        layout.addWidget(self.addresses_note)
        layout.addLayout(self.addresses)
        layout.addWidget(self.new_key, alignment=Qt.AlignmentFlag.AlignLeft)
        layout.addStretch(1)
        self._shown: Sequence[tuple[str, str]] = ()

    def update_settings(self, settings: Settings, addresses: Sequence[tuple[str, str]]) -> None:
        self.login.setChecked(settings.start_at_login)
        self.http.setChecked(settings.http_enabled)
        self.mute.setChecked(settings.mute_restarts)
        self.addresses_note.setText(
            "Apps reach each server at its address below. They also need MCP Tray's access "
            "key: Connect an app… writes both into the app's settings for you."
            if addresses
            else ""
        )
        self.new_key.setVisible(bool(addresses))
        if list(addresses) != list(self._shown):
            self._shown = list(addresses)
            self._draw_addresses(addresses)

    def _draw_addresses(self, addresses: Sequence[tuple[str, str]]) -> None:
        empty(self.addresses)
        for index, (name, url) in enumerate(addresses):
            address = QLabel(url)
            address.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            copy = button("Copy", partial(QGuiApplication.clipboard().setText, url))
            copy.setObjectName(f"copy:{name}")
            self.addresses.addWidget(QLabel(name), index, 0)
            self.addresses.addWidget(address, index, 1)
            self.addresses.addWidget(copy, index, 2)
        self.addresses.setColumnStretch(1, 1)
