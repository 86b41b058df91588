""" "Connect an app…": the apps found on this computer, and one button each.

Each app whose MCP config is at its usual place gets a box: where the file
is, every server it lists and how that server runs now, and Connect
(import its servers into MCP Tray, then point the app at them) or
Disconnect (put the app's file back). The work itself (files, keyring)
runs off the event loop in the tray (TrayApp.open_connect); this dialog
only shows and asks.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from app.hosts.host import Host
from app.hosts.survey import FoundApp, Route

CONNECT = "Connect"
DISCONNECT = "Disconnect"


class ConnectDialog(QDialog):
    """``requested(verb, app)``: the user pressed Connect or Disconnect on ``app``."""

    requested = Signal(str, object)

    def __init__(self, hosts: Sequence[Host], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Connect an app to MCP Tray")
        self.resize(640, 520)
        self.hosts = hosts
        self.buttons: dict[tuple[str, str], QPushButton] = {}  # (host name, verb)
        intro = QLabel(
            "Connected apps reach their servers through MCP Tray: the servers keep running "
            "when the app restarts, and the app keeps its tools when a server restarts."
        )
        intro.setWordWrap(True)
        self.list = QWidget()
        self.list_layout = QVBoxLayout(self.list)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(self.list)
        self.status = QLabel("Looking for apps…")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.hide)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(scroll, stretch=1)
        layout.addWidget(self.status)
        layout.addWidget(close)

    def show_apps(self, apps: Sequence[FoundApp]) -> None:
        while (item := self.list_layout.takeAt(0)) is not None:
            if (widget := item.widget()) is not None:
                widget.deleteLater()
        self.buttons.clear()
        for app in apps:
            self.list_layout.addWidget(self._box(app))
        if not apps:
            self.list_layout.addWidget(self._nothing_found())
        self.list_layout.addStretch(1)

    def busy(self, text: str) -> None:
        """Work is under way: buttons off until :meth:`say` reports how it went."""
        for button in self.buttons.values():
            button.setEnabled(False)
        self.status.setText(text)

    def say(self, text: str) -> None:
        self.status.setText(text)

    def _box(self, app: FoundApp) -> QGroupBox:
        """Where the file is and its servers on the left; the buttons on the right."""
        box = QGroupBox(app.host.title)
        where = QLabel(_home_relative(app.path))
        where.setToolTip(str(app.path))
        # A long path is cut at the box's edge instead of widening the dialog.
        where.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        lines = [
            f"• {server.name}: {_route_text(server.route, server.why)}" for server in app.servers
        ]
        details = QLabel(app.problem or "\n".join(lines) or "No servers configured.")
        details.setWordWrap(True)
        text = QVBoxLayout()
        text.addWidget(where)
        text.addWidget(details)
        buttons = QVBoxLayout()
        if app.can_connect:
            buttons.addWidget(self._button(app, CONNECT))
        if app.connected:
            buttons.addWidget(self._button(app, DISCONNECT))
        buttons.addStretch(1)
        row = QHBoxLayout(box)
        row.addLayout(text, stretch=1)
        row.addLayout(buttons)
        return box

    def _button(self, app: FoundApp, verb: str) -> QPushButton:
        button = QPushButton(verb)
        button.clicked.connect(lambda checked=False: self.requested.emit(verb, app))
        self.buttons[(app.host.name, verb)] = button
        return button

    def _nothing_found(self) -> QLabel:
        places = "\n".join(f"• {host.title}: {host.default_path()}" for host in self.hosts)
        label = QLabel(
            "No app with MCP servers was found on this computer. MCP Tray looks here:\n"
            f"{places}\n\nFor a project's own file, use `mcp-tray import HOST --path FILE`."
        )
        label.setWordWrap(True)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        return label


def _home_relative(path: Path) -> str:
    try:
        return str(Path("~") / path.relative_to(Path.home()))
    except ValueError:
        return str(path)


def _route_text(route: Route, why: str) -> str:
    return f"{route.value} ({why})" if why else route.value
