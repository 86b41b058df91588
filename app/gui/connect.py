""" "Connect an app…": the apps found on this computer, and one button each.

Each app whose MCP config is at its usual place, and each file the user
pointed at with "Choose a file…" (remembered while the app runs), gets a
box: where the file is, every server it lists and how that server runs now,
and Connect (import its servers into MCP Tray, start them, then point the
app at them) or Disconnect (put the app's file back). "Look again" reads
the files again.

The dialog does its own work: file and keyring work goes to a thread
(asyncio.to_thread), scheduled on the app's loop through the ``run`` it is
given, and nothing here blocks (the file chooser opens with ``open()``).
What it says is worded in app.hosts.survey; the status line under the list
says only what last happened, never the list again, and starts afresh each
time the dialog is opened: what a change under way is doing, or news the user
has not seen yet (it came while the dialog was closed), or nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from PySide6.QtCore import QDir, Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from app.core.endpoint.control import ControlError
from app.core.paths import Paths
from app.gui.widgets import empty
from app.hosts.host import Host, HostError
from app.hosts.survey import (
    FoundApp,
    added,
    connect_app,
    disconnect_app,
    hosts_for,
    news,
    nothing_found,
    same_file,
    survey,
    where,
)

logger = logging.getLogger(__name__)

CONNECT = "Connect"
DISCONNECT = "Disconnect"
DOING = {CONNECT: "Connecting", DISCONNECT: "Disconnecting"}
INTRO = (
    "Connected apps reach their servers through MCP Tray: the servers keep running when the "
    "app restarts, and the app keeps its tools when a server restarts."
)

Run = Callable[[Coroutine[Any, Any, object]], None]


class ConnectDialog(QDialog):
    """The apps found, Connect/Disconnect for each, Look again and Choose a file…

    ``run`` schedules a coroutine on the app's loop; ``reload`` makes the hub
    apply its config, so servers just imported start.
    """

    def __init__(
        self,
        hosts: Sequence[Host],
        *,
        paths: Paths,
        run: Run,
        reload: Callable[[], Awaitable[object]],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Connect an app to MCP Tray")
        self.setMinimumSize(440, 340)
        self.resize(640, 520)
        self.hosts = list(hosts)
        self.paths = paths
        self.run = run
        self.reload = reload
        self.apps: list[FoundApp] = []
        self.chosen: list[tuple[Host, Path]] = []  # files the user pointed at, this session
        self.buttons: dict[tuple[Path, str], QPushButton] = {}  # (config file, verb)
        self.file_dialog: QFileDialog | None = None
        self._jobs = 0  # work under way; the buttons wait for it
        self._looks = 0  # the latest look draws; an older one finishing late does not
        self._doing = ""  # the change under way ("Connecting Cursor…"), or empty
        self._unseen = False  # the status line came while the dialog was closed
        intro = QLabel(INTRO)
        intro.setWordWrap(True)
        self.list = QWidget()
        self.list_layout = QVBoxLayout(self.list)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(self.list)
        self.question = Question(self)
        self.status = plain(QLabel())
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status.hide()
        self.look_button = QPushButton("Look again")
        self.look_button.setToolTip("Read the apps' files again")
        self.look_button.clicked.connect(lambda: self.run(self._look(report=True)))
        self.choose_button = QPushButton("Choose a file…")
        self.choose_button.setToolTip("Add an app's MCP file from another place, such as a project")
        self.choose_button.clicked.connect(self.choose_file)
        close = QPushButton("Close")
        close.clicked.connect(self.hide)
        row = QHBoxLayout()
        row.addWidget(self.look_button)
        row.addWidget(self.choose_button)
        row.addStretch(1)
        row.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(scroll, stretch=1)
        layout.addWidget(self.question)
        layout.addWidget(self.status)
        layout.addLayout(row)

    # ----- what the tray and the buttons call

    def look_again(self) -> None:
        """Read the apps' files again and redraw (the tray calls this each time it shows us).

        The status line starts afresh: a previous opening's news is gone."""
        if not self._unseen:
            self.say(self._doing)
        self._unseen = False
        self.run(self._look())

    def choose_file(self) -> QFileDialog:
        """Ask for a file without blocking; :meth:`add_file` gets the answer."""
        if self.file_dialog is None:
            self.file_dialog = QFileDialog(
                self, "Choose an app's MCP file", str(Path.home()), "JSON files (*.json)"
            )
            self.file_dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
            # .cursor, .vscode and .gemini are hidden folders
            self.file_dialog.setFilter(self.file_dialog.filter() | QDir.Filter.Hidden)
            self.file_dialog.fileSelected.connect(self.add_file)
        self.file_dialog.open()
        return self.file_dialog

    def add_file(self, path: str | Path) -> None:
        """List the file at ``path`` too, asking which app it belongs to if that is unclear."""
        self.run(self._add_file(Path(path)))

    def change(self, verb: str, app: FoundApp) -> None:
        """Connect or Disconnect ``app``, as its button does."""
        self.run(self._change(verb, app))

    def say(self, text: str) -> None:
        """What last happened, under the list (nothing: the line goes away)."""
        self.status.setText(text)
        self.status.setVisible(bool(text))
        self._unseen = bool(text) and not self.isVisible()

    # ----- the work

    async def _look(self, *, report: bool = False) -> None:
        self._looks += 1
        look = self._looks
        with self._working():
            apps = await asyncio.to_thread(survey, self.paths, self.hosts, list(self.chosen))
        if look != self._looks:
            return
        if report:
            self.say(news(self.apps, apps))
        self._show(apps)

    async def _change(self, verb: str, app: FoundApp) -> None:
        with self._working(f"{DOING[verb]} {app.host.title}…"):
            try:
                if verb == CONNECT:
                    message = await asyncio.to_thread(connect_app, app, self.paths)
                    message += await self._start_imported()
                else:
                    message = await asyncio.to_thread(disconnect_app, app, self.paths)
            except HostError as error:
                message = str(error)
            except Exception:  # the top of a user's action: never leave "Connecting…" up
                logger.exception("%s %s failed", verb.lower(), app.host.name)
                message = (
                    f"Something unexpected went wrong while {DOING[verb].lower()} "
                    f"{app.host.title}. Press Look again to see where things stand; MCP Tray's "
                    "log has the details."
                )
        logger.info("%s %s: %s", verb.lower(), app.host.name, message)
        self.say(message)
        await self._look()

    async def _start_imported(self) -> str:
        """Have the hub start the servers just imported; a sentence if it could not."""
        try:
            await self.reload()
        except ControlError as error:  # MCP Tray's own config has a mistake
            first = str(error).split("\n", 1)[0].rstrip(".")
            return (
                f"\nMCP Tray could not start the new servers yet ({first}). "
                "They start as soon as its config file is fixed: Open config in the tray "
                "menu shows where the mistake is."
            )
        except OSError as error:  # the hub of a tray that presents another process's
            return (
                f"\nMCP Tray could not start the new servers yet ({error}). "
                "They start the next time MCP Tray starts."
            )
        return ""

    async def _add_file(self, path: Path) -> None:
        listed = next((a for a in self.apps if same_file(a.path) == same_file(path)), None)
        if listed is not None:
            self.say(f"{where(path)} is already listed, under {listed.host.title}.")
            return
        with self._working():
            try:
                fitting = await asyncio.to_thread(hosts_for, path, self.hosts)
            except HostError as error:
                self.say(str(error))
                return
        if len(fitting) == 1:
            await self._remember(fitting[0], path)
        else:
            self.question.ask(path, fitting)

    def add_file_as(self, path: Path, host: Host) -> None:
        """List the file at ``path`` as ``host``'s (the answer to "Which app uses …?")."""
        self.run(self._remember(host, path))

    async def _remember(self, host: Host, path: Path) -> None:
        self.chosen.append((host, path))
        self.say(added(host, path))
        await self._look()

    # ----- drawing

    @contextmanager
    def _working(self, text: str = "") -> Iterator[None]:
        """Buttons off while work is under way; ``text`` says what it is."""
        self._jobs += 1
        self._enable()
        if text:
            self._doing = text
            self.say(text)
        try:
            yield
        finally:
            self._jobs -= 1
            if text:
                self._doing = ""
            self._enable()

    def _enable(self) -> None:
        idle = self._jobs == 0
        for button in [*self.buttons.values(), self.look_button, self.choose_button]:
            button.setEnabled(idle)

    def _show(self, apps: list[FoundApp]) -> None:
        self.apps = apps
        empty(self.list_layout)
        self.buttons.clear()
        for app in apps:
            self.list_layout.addWidget(self._box(app))
        if not apps:
            self.list_layout.addWidget(self._nothing_found())
        self.list_layout.addStretch(1)
        self._enable()

    def _box(self, app: FoundApp) -> QGroupBox:
        """Where the file is and its servers on the left; the buttons on the right."""
        box = QGroupBox(app.host.title)
        lines = [f"• {server.name} — {app.describe(server)}" for server in app.servers]
        if app.to_give:
            them = "it" if len(app.to_give) == 1 else "them"
            lines.append(
                f"• {', '.join(app.to_give)} — in MCP Tray; Connect gives {app.host.title} {them}"
            )
        details = plain(QLabel(app.problem or "\n".join(lines) or "No servers in this file yet."))
        details.setWordWrap(True)
        details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        text = QVBoxLayout()
        text.addWidget(PathLabel(app.path))
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
        button.clicked.connect(lambda checked=False: self.change(verb, app))
        self.buttons[(app.path, verb)] = button
        return button

    def _nothing_found(self) -> QWidget:
        empty = QWidget()
        layout = QVBoxLayout(empty)
        layout.setContentsMargins(0, 0, 0, 0)
        label = QLabel(nothing_found(self.hosts))
        label.setWordWrap(True)
        places = QFormLayout()
        for host in self.hosts:
            places.addRow(f"{host.title}:", PathLabel(host.default_path()))
        layout.addWidget(label)
        layout.addLayout(places)
        return empty


def plain(label: QLabel) -> QLabel:
    """``label`` shows its text as written: names and paths come from the apps' files, and
    Qt would take one that looks like HTML as HTML."""
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label


class PathLabel(QLabel):
    """A file's place, cut in the middle to fit; the whole path in the tooltip."""

    def __init__(self, path: Path) -> None:
        super().__init__(where(path))
        plain(self)
        self.full = where(path)
        self.setToolTip(str(path))
        # As wide as there is room for, never wider: a long path does not widen the dialog.
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        metrics = self.fontMetrics()
        self.setText(metrics.elidedText(self.full, Qt.TextElideMode.ElideMiddle, self.width()))


class Question(QFrame):
    """ "Which app uses this file?", in the dialog rather than in another window."""

    def __init__(self, dialog: ConnectDialog) -> None:
        super().__init__()
        self.dialog = dialog
        self.path: Path | None = None
        self.hosts: list[Host] = []
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.text = plain(QLabel())
        self.text.setWordWrap(True)
        self.text.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.which = QComboBox()
        self.add = QPushButton("Add")
        self.add.setDefault(True)
        self.add.clicked.connect(self._answered)
        cancel = QPushButton("Cancel")
        cancel.clicked.connect(self.hide)
        row = QHBoxLayout()
        row.addWidget(self.which, stretch=1)
        row.addWidget(self.add)
        row.addWidget(cancel)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        layout.addLayout(row)
        self.hide()

    def ask(self, path: Path, hosts: Sequence[Host]) -> None:
        self.path, self.hosts = path, list(hosts)
        self.text.setText(f"Which app uses {where(path)}?")
        self.text.setToolTip(str(path))
        self.which.clear()
        self.which.addItems([host.title for host in hosts])
        self.show()

    def _answered(self) -> None:
        self.hide()
        if self.path is not None and 0 <= self.which.currentIndex() < len(self.hosts):
            self.dialog.add_file_as(self.path, self.hosts[self.which.currentIndex()])
