"""The tray icon and its menu, the window, and the actions they share.

The icon shows the overall state (all running / something starting or
restarting / something needs you / nothing running); the tooltip sums it up.
What the menu holds is decided in app.core.traymenu; :class:`LiveMenu` keeps
an open menu current in place. The window (app.gui.windows) offers the same
actions, so without a system tray it stands in for the icon, and the icon
appears as soon as a tray does (a panel that starts after the app at login).

Every action says how it went: a server's state changes in front of the
user, a failure gets a notice in plain words, and the secret dialog follows
the server it unblocked until it runs or says why not.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QProcess, Qt, QTimer, QUrl
from PySide6.QtGui import QDesktopServices, QIcon
from PySide6.QtWidgets import QApplication, QMenu, QMessageBox, QSystemTrayIcon, QWidget

from app.core import traymenu
from app.core.autostart import Autostart
from app.core.choices import UserChoices
from app.core.config import ConfigError
from app.core.config.switches import set_http_enabled
from app.core.editors import text_editor_command
from app.core.endpoint.control import ControlError
from app.core.endpoint.hubapi import HubAPI
from app.core.errors import UserError
from app.core.notices import Notice, NoticeKind
from app.core.overview import Overall, headline, overall, tooltip
from app.core.problems import listed, plain, secret_progress
from app.core.secrets import secret_names
from app.core.supervise.states import State
from app.core.supervise.status import ServerStatus
from app.gui.addserver import AddServerDialog
from app.gui.bridge import HubBridge
from app.gui.connect import ConnectDialog
from app.gui.dialogs import ConfigLocationDialog, SecretDialog, WelcomeWindow
from app.gui.menus import LiveMenu
from app.gui.notify import DesktopNotifier
from app.gui.opener import DesktopOpener
from app.gui.removeserver import RemoveServerDialog
from app.gui.reviewtools import ReviewToolsDialog
from app.gui.windows import SETTINGS, MainWindow
from app.hosts.host import HostError
from app.hosts.linking import Connections, rotate_token
from app.hosts.registry import HOSTS
from app.resources import resource_path

logger = logging.getLogger(__name__)

LOG_TAIL_LINES = 500  # earlier lines a server's log view starts with
REFRESH_MS = 5000  # how often an open window or menu brings uptimes up to date
TRAY_POLL_MS = 2000  # without a tray: how often to look whether one has appeared

NO_TRAY_MESSAGE = (
    "Your desktop has no system tray right now, so MCP Tray shows itself in this window. "
    "Its icon appears as soon as a tray does (on GNOME, the AppIndicator extension adds one). "
    "Closing this window keeps your servers running; open MCP Tray again from your "
    "applications menu to come back here."
)


def icon_for(state: Overall) -> QIcon:
    return QIcon(str(resource_path("icons", f"tray-{state.value}.svg")))


class TrayApp(QObject):
    """The icon, its menu, the window and the notifier, over one hub.

    ``open_url`` opens a file with the desktop's program for it (app.gui.opener,
    unless a test stands in for the desktop).
    """

    def __init__(
        self,
        hub: HubAPI,
        *,
        autostart: Autostart | None = None,
        open_url: Callable[[QUrl], bool] | None = None,
    ) -> None:
        super().__init__()
        self.hub = hub
        self.autostart = autostart or Autostart()
        self.choices = UserChoices(hub.paths.choices_file)
        self.opener = DesktopOpener(self)
        self.opener.failed.connect(self._open_in_editor)
        self.open_url = open_url or self.opener.open
        self.logo = QIcon(str(resource_path("icons", "mcp-tray.svg")))
        self.bridge = HubBridge(hub.bus)
        self.bridge.notices.mute_restarts = self.choices.mute_restarts()
        self.window = MainWindow(self.act, logo=self.logo)
        self.window.logs.set_history(lambda server: self._run(self._fill_logs(server)))
        self.window.activity.wanted.connect(lambda: self._run(self._fill_activity()))
        tools_view = self.window.servers.tools
        tools_view.wanted.connect(lambda server: self._run(self._fill_tools(server)))
        tools_view.switched.connect(lambda s, t, on: self._run(self._switch_tool(s, t, on=on)))
        self.icon = QSystemTrayIcon(icon_for(Overall.IDLE))
        self.menu = QMenu()
        self.live_menu = LiveMenu(self.menu, self._picked)
        self.icon.setContextMenu(self.menu)
        self.notifier = DesktopNotifier(
            balloon=self._balloon,
            on_action=self._notice_action,
            icon=str(resource_path("icons", "mcp-tray.svg")),
        )
        self.state = Overall.IDLE
        self.config_problem = ""
        self.start_at_login = self.autostart.enabled()
        self.tasks: set[asyncio.Task[Any]] = set()
        # Each running server's tools as it last listed them, and whether the apps see
        # each: asked of the hub when the menu opens (the Tools submenus).
        self.tool_lists: dict[str, list[tuple[str, bool]]] = {}
        self.review_dialogs: dict[str, ReviewToolsDialog] = {}  # open, by server
        self.connect_dialog: ConnectDialog | None = None
        self.secret_dialogs: dict[str, SecretDialog] = {}
        # Open Add and Edit dialogs, each told of every change (one Add at a time, one
        # Edit per server: the key is the server's name, "" for Add).
        self.server_dialogs: dict[str, AddServerDialog] = {}
        self.remove_dialogs: dict[str, RemoveServerDialog] = {}
        self.remote_notes: dict[str, QMessageBox] = {}  # Edit… of a remote server, while open
        self.welcome: WelcomeWindow | None = None
        self.config_location: ConfigLocationDialog | None = None
        self.new_key_question: QMessageBox | None = None
        self._own_words: tuple[str, str] | None = None  # what tell() said last
        self._following: dict[str, SecretDialog] = {}  # saved: told how the server fares
        self.ticker = QTimer(self)
        self.ticker.setInterval(REFRESH_MS)
        self.ticker.timeout.connect(self._tick)
        self.tray_watch = QTimer(self)
        self.tray_watch.setInterval(TRAY_POLL_MS)
        self.tray_watch.timeout.connect(self._look_for_tray)
        self._wire()

    def _wire(self) -> None:
        self.menu.aboutToShow.connect(self._menu_opens)
        self.icon.activated.connect(self._activated)
        self.bridge.changed.connect(self.refresh)
        self.bridge.log_line.connect(self.window.logs.append)
        self.bridge.activity.connect(self.window.activity.add_rows)
        self.bridge.notice.connect(self.notifier.show)
        self.bridge.withdrawn.connect(self.notifier.withdraw)
        self.bridge.config_problem.connect(self._config_problem)
        self.window.shown.connect(self._window_shown)
        self.window.closed.connect(self._window_closed)

    def show(self) -> None:
        self.refresh()
        if QSystemTrayIcon.isSystemTrayAvailable():
            self._show_icon()
        else:
            logger.info("no system tray on this desktop yet; showing the window instead")
            self.window.say(NO_TRAY_MESSAGE)
            self.window.bring_forward()
            self.tray_watch.start()
        self._welcome_once()

    async def close(self) -> None:
        self.ticker.stop()
        self.tray_watch.stop()
        self.icon.hide()
        self.bridge.close()
        await self.notifier.close()  # withdraws every notice still on screen
        for task in list(self.tasks):
            task.cancel()
        if self.connect_dialog is not None:
            self.connect_dialog.deleteLater()
        if self.new_key_question is not None:
            self.new_key_question.close()
        for dialog in [*self.server_dialogs.values(), *self.remove_dialogs.values()]:
            dialog.close()

    # ----- the picture

    def rows(self) -> list[ServerStatus]:
        return self.hub.status_rows()

    def refresh(self) -> None:
        rows = self.rows()
        problem = self.config_problem
        state = overall(rows, config_problem=bool(problem))
        if state is not self.state:
            self.state = state
            self.icon.setIcon(icon_for(state))
        self.icon.setToolTip(tooltip(rows, config_problem=bool(problem)))
        secrets = self._secrets()
        settings = self._settings()
        self.live_menu.update(
            traymenu.tray_menu(
                rows,
                secrets=secrets,
                settings=settings,
                config_error=problem,
                tools=self.tool_lists,
            )
        )
        self.window.update_view(
            rows,
            headline=headline(rows, config_problem=bool(problem)),
            secrets=secrets,
            settings=settings,
            config_error=problem,
            http_addresses=self._http_addresses(),
        )
        self._follow_saved_secrets(rows, secrets)
        for dialog in list(self.server_dialogs.values()):
            dialog.follow(rows)

    def _settings(self) -> traymenu.Settings:
        http = self.hub.config.http
        return traymenu.Settings(
            http_enabled=http.enabled,
            http_port=http.port,
            start_at_login=self.start_at_login,
            mute_restarts=self.bridge.notices.mute_restarts,
            remote=self.hub.remote,
        )

    def _secrets(self) -> dict[str, list[str]]:
        return {name: secret_names(server) for name, server in self.hub.config.servers.items()}

    def _http_addresses(self) -> list[tuple[str, str]]:
        http = self.hub.config.http
        if not http.enabled:
            return []
        from app.core.endpoint.http import server_url  # the web stack: only when serving

        return [(name, server_url(http.port, name)) for name in self.hub.config.servers]

    # ----- actions (menu, window buttons, notification buttons)

    def act(self, verb: str, server: str) -> None:
        by_verb: dict[str, Callable[[], object]] = {
            traymenu.START: lambda: self._run(self.hub.start_server(server)),
            traymenu.STOP: lambda: self._run(self.hub.stop_server(server)),
            traymenu.RESTART: lambda: self._run(self.hub.restart_server(server)),
            traymenu.LOGS: lambda: self._run(self._show_logs(server)),
            traymenu.SECRET: lambda: self.ask_secret(server),
            traymenu.SIGN_IN: lambda: self._run(self._sign_in(server)),
            traymenu.SIGN_OUT: lambda: self._run(self._sign_out(server)),
            traymenu.REVIEW: lambda: self._run(self._review_tools(server)),
            traymenu.ADD: self.open_add,
            traymenu.EDIT: lambda: self.open_edit(server),
            traymenu.REMOVE: lambda: self.ask_remove(server),
            traymenu.OPEN_CONFIG: self.open_config,
            traymenu.CONNECT: self.open_connect,
            traymenu.WINDOW: self.window.bring_forward,
            traymenu.HTTP: lambda: self._run(self._serve_http(not self.hub.config.http.enabled)),
            traymenu.HTTP_ADDRESSES: lambda: self.window.bring_forward(SETTINGS),
            traymenu.NEW_KEY: lambda: self._run(self._ask_new_key()),
            traymenu.LOGIN: self._toggle_autostart,
            traymenu.MUTE: self._toggle_mute,
            traymenu.QUIT: quit_app,
        }
        by_verb[verb]()

    async def _sign_in(self, server: str) -> None:
        """The browser opens on the server's sign-in page, once. Pressed again while that
        sign-in is open, or with no browser to open, a window gives the page's address to
        copy (app.gui.signinpage) and goes when the sign-in is over; a notice tells how
        it ended."""
        from app.gui.signinpage import close_sign_in_page, show_sign_in_page

        def show(page: str, new: bool) -> None:
            if new and QDesktopServices.openUrl(QUrl(page)):
                return
            show_sign_in_page(server, page, already_open=not new, icon=self.logo)

        try:
            await self.hub.sign_in(server, show)
        except ControlError as error:
            self.tell(f"Not signed in to {server}", plain(str(error)))
            return
        finally:
            close_sign_in_page(server)
        self.tell(f"Signed in to {server}", "Its tools are ready to use.")

    async def _sign_out(self, server: str) -> None:
        await self.hub.sign_out(server)
        self.tell(f"Signed out of {server}", "Sign in again from its menu to use its tools.")

    async def _show_logs(self, server: str) -> None:
        self.window.show_logs(server, await self.hub.log_tail(server, LOG_TAIL_LINES))

    async def _fill_logs(self, server: str) -> None:
        self.window.logs.show_server(server, await self.hub.log_tail(server, LOG_TAIL_LINES))

    async def _fill_activity(self) -> None:
        self.window.activity.show_rows(await self.hub.activity())

    def ask_secret(self, server: str, names: tuple[str, ...] = ()) -> SecretDialog:
        """The secret dialog for ``server`` (one at a time), asking for ``names`` or the
        secrets its config uses."""
        open_already = self.secret_dialogs.get(server)
        if open_already is not None:
            open_already.raise_()
            open_already.activateWindow()
            return open_already
        config = self.hub.config.servers.get(server)
        wanted = list(names) or (secret_names(config) if config else [])
        dialog = SecretDialog(server, wanted, stored=self.hub.store.names(server))
        dialog.setWindowIcon(self.logo)
        dialog.submitted.connect(lambda s, n, v: self._run(self._save_secret(dialog, s, n, v)))
        dialog.finished.connect(lambda result: self._forget_dialog(server, dialog))
        self.secret_dialogs[server] = dialog
        dialog.show()  # not exec(): the loop keeps running
        dialog.raise_()
        dialog.activateWindow()
        return dialog

    async def _save_secret(self, dialog: SecretDialog, server: str, name: str, value: str) -> None:
        try:
            started = await self.hub.set_secret(server, name, value)
        except ControlError as error:
            dialog.report(f"Not saved: {plain(str(error))}", finished=True)
            return
        logger.info("%s stored for %s", name, server)
        self._following[server] = dialog
        if server in started:  # its next states tell the rest of the story
            dialog.report(f"Saved. {server} is starting…")
        else:
            self.refresh()

    def _follow_saved_secrets(
        self, rows: list[ServerStatus], secrets: dict[str, list[str]]
    ) -> None:
        by_name = {row.name: row for row in rows}
        for server, dialog in list(self._following.items()):
            row = by_name.get(server)
            failure = row.failure if row is not None else None
            phrase = failure.phrase if failure is not None else ""  # names what it still needs
            still_needed = [n for n in secrets.get(server, []) if n in phrase]
            text, finished = secret_progress(row, server, still_needed=still_needed)
            dialog.report(text, finished=finished)
            if finished:
                del self._following[server]

    def _forget_dialog(self, server: str, dialog: SecretDialog) -> None:
        if self.secret_dialogs.get(server) is dialog:
            del self.secret_dialogs[server]
        if self._following.get(server) is dialog:
            del self._following[server]

    def open_add(self) -> AddServerDialog:
        return self._server_dialog("")

    def open_bundle(self, path: Path) -> AddServerDialog:
        """The Add dialog, reading the bundle at ``path`` (one opened on the desktop)."""
        dialog = self.open_add()
        dialog.open_bundle(path)
        return dialog

    def open_edit(self, server: str) -> QWidget:
        config = self.hub.config.servers.get(server)
        if config is not None and config.remote:
            return self._remote_edit_note(server)
        return self._server_dialog(server)

    def _remote_edit_note(self, server: str) -> QMessageBox:
        """The Edit window has no place yet for a remote server's address and headers."""
        note = self.remote_notes.get(server)
        if note is not None:
            _bring_forward(note)
            return note
        note = QMessageBox(
            QMessageBox.Icon.Information,
            f"Change {server}",
            traymenu.remote_edit_note(server),
        )
        note.setWindowIcon(self.logo)
        opens = note.addButton("Open config file", QMessageBox.ButtonRole.AcceptRole)
        note.setDefaultButton(note.addButton(QMessageBox.StandardButton.Close))
        note.buttonClicked.connect(lambda pressed: self.open_config() if pressed is opens else None)
        note.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        # Held here until closed: Qt deletes a window nothing refers to.
        note.destroyed.connect(lambda: self.remote_notes.pop(server, None))
        self.remote_notes[server] = note
        _bring_forward(note)
        return note

    def _server_dialog(self, server: str) -> AddServerDialog:
        dialog = self.server_dialogs.get(server)
        if dialog is None:
            dialog = AddServerDialog(self.hub, self._run, logo=self.logo, editing=server or None)
            dialog.destroyed.connect(lambda: self.server_dialogs.pop(server, None))
            self.server_dialogs[server] = dialog
        _bring_forward(dialog)
        return dialog

    def ask_remove(self, server: str) -> RemoveServerDialog:
        dialog = self.remove_dialogs.get(server)
        if dialog is None:
            dialog = RemoveServerDialog(self.hub, self._run, server, logo=self.logo)
            dialog.destroyed.connect(lambda: self.remove_dialogs.pop(server, None))
            self.remove_dialogs[server] = dialog
        _bring_forward(dialog)
        return dialog

    def open_config(self) -> None:
        """In the desktop's program for JSON, else a text editor, else say where it is."""
        path = self.hub.paths.config_file
        if not self.open_url(QUrl.fromLocalFile(str(path))):
            self._open_in_editor(str(path))

    def _open_in_editor(self, file: str) -> None:
        """The desktop has no program for ``file``: a text editor, else show where it is."""
        path = Path(file)
        command = text_editor_command(path)
        if command is not None and QProcess.startDetached(command[0], command[1:])[0]:
            logger.info("opened the config with %s", command[0])
            return
        logger.info("no program opens %s; showing where it is", path)
        self._show_config_location(path)

    def _show_config_location(self, path: Path) -> None:
        if self.config_location is None:
            self.config_location = ConfigLocationDialog(path)
            self.config_location.setWindowIcon(self.logo)
            self.config_location.finished.connect(self._forget_config_location)
        self.config_location.show()
        self.config_location.raise_()

    def _forget_config_location(self) -> None:
        self.config_location = None

    def open_connect(self) -> ConnectDialog:
        if self.connect_dialog is None:
            self.connect_dialog = ConnectDialog(
                list(HOSTS.values()), paths=self.hub.paths, run=self._run, reload=self.hub.reload
            )
            self.connect_dialog.setWindowIcon(self.logo)
        self.connect_dialog.show()
        self.connect_dialog.raise_()
        self.connect_dialog.activateWindow()
        self.connect_dialog.look_again()
        return self.connect_dialog

    def _run(self, work: Coroutine[Any, Any, object]) -> None:
        """Run ``work`` on the loop; a failure the user can act on becomes a notice."""
        task = asyncio.ensure_future(work)
        self.tasks.add(task)

        def finished(task: asyncio.Task[Any]) -> None:
            self.tasks.discard(task)
            if task.cancelled():
                return
            error = task.exception()
            if isinstance(error, ControlError):
                self.tell("That did not work", plain(str(error)))
            elif error is not None:
                logger.error("a tray action failed", exc_info=error)
                self.tell("That did not work", "MCP Tray ran into a problem of its own.")
            self.refresh()

        task.add_done_callback(finished)

    async def _serve_http(self, enabled: bool) -> None:
        """Turn the HTTP endpoint on or off in the config, apply it, and show the addresses."""
        try:
            await asyncio.to_thread(set_http_enabled, self.hub.paths.config_file, enabled)
        except (ConfigError, OSError) as error:
            self.tell("Serve over HTTP was not changed", plain(str(error)))
            return
        await self.hub.reload()
        if enabled:
            self.window.bring_forward(SETTINGS)  # the addresses, with Copy buttons

    async def _ask_new_key(self) -> None:
        """Ask first (one question at a time): a new access key stops the old one."""
        if self.new_key_question is not None:
            self.new_key_question.raise_()
            self.new_key_question.activateWindow()
            return
        connections = Connections(self.hub.paths.connections_dir)
        apps = [host.title for host, _ in await asyncio.to_thread(connections.over_http)]
        question = QMessageBox(
            QMessageBox.Icon.Question,
            "Make a new access key?",
            traymenu.new_key_question(apps),
        )
        question.setWindowIcon(self.logo)
        make = question.addButton("Make a new key", QMessageBox.ButtonRole.AcceptRole)
        question.setDefaultButton(question.addButton(QMessageBox.StandardButton.Cancel))
        question.buttonClicked.connect(
            lambda pressed: self._run(self._make_new_key()) if pressed is make else None
        )
        question.finished.connect(self._forget_new_key_question)
        question.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.new_key_question = question
        question.show()  # not exec(): the loop keeps running
        question.raise_()
        question.activateWindow()

    def _forget_new_key_question(self) -> None:
        self.new_key_question = None

    async def _make_new_key(self) -> None:
        """A new key in the keyring and in the apps MCP Tray connected; then the hub
        takes only the new one."""
        try:
            rotation = await asyncio.to_thread(rotate_token, self.hub.paths, self.hub.store)
        except HostError as error:
            self.tell("The access key was not changed", plain(str(error)))
            return
        try:
            await self.hub.http_token_changed()
        except ControlError as error:
            self.tell(
                "The old access key still works",
                f"{plain(str(error))} Quit MCP Tray and start it again to stop the old key.",
            )
            return
        updated = [given.host.title for given in rotation.given]
        self.tell(*traymenu.new_key_outcome(updated, [plain(t) for t in rotation.trouble]))

    def _toggle_autostart(self) -> None:
        self._run(self._change_autostart(not self.start_at_login))

    async def _change_autostart(self, enable: bool) -> None:
        # A small file, but file I/O all the same: off the loop thread.
        try:
            await asyncio.to_thread(self.autostart.enable if enable else self.autostart.disable)
        except OSError as error:
            self.tell("Start at login was not changed", plain(str(error)))
        self.start_at_login = await asyncio.to_thread(self.autostart.enabled)

    def _toggle_mute(self) -> None:
        muted = not self.bridge.notices.mute_restarts
        self.bridge.notices.mute_restarts = muted
        self._run(asyncio.to_thread(self.choices.set_mute_restarts, muted))

    # ----- the icon, the window, the menu opening

    def _show_icon(self) -> None:
        self.icon.show()
        logger.info("tray icon shown")

    def _look_for_tray(self) -> None:
        """A tray appeared after the app started (a panel starting late at login)."""
        if not QSystemTrayIcon.isSystemTrayAvailable():
            return
        self.tray_watch.stop()
        self._show_icon()
        self.window.say("")
        self.window.hide()
        self.tell("MCP Tray is in your system tray now", "Click its icon to see your servers.")

    def _window_closed(self) -> None:
        if not self.icon.isVisible():
            self.tell(
                "MCP Tray keeps running",
                "Your servers keep running. Open MCP Tray from your applications menu to see "
                "this window again.",
            )

    def _menu_opens(self) -> None:
        self.refresh()
        self.ticker.start()
        self._run(self._look_at_tools())

    async def _look_at_tools(self) -> None:
        """The running servers' tools, for their Tools submenus (drawn in place once here)."""
        for row in self.rows():
            if row.state is State.RUNNING:
                listed = await self.hub.tools(row.name)
                self.tool_lists[row.name] = [(tool["name"], tool["on"]) for tool in listed]
        self.window.servers.tools.ask_again()  # the window's ticks too, switched from the menu
        self.refresh()

    async def _fill_tools(self, server: str) -> None:
        self.window.servers.tools.show_tools(server, await self.hub.tools(server))

    def _picked(self, entry: traymenu.Entry) -> None:
        if entry.verb == traymenu.TOOL:
            # The check shows the tool as it was: a click switches it the other way.
            self._run(self._switch_tool(entry.server, entry.tool, on=not entry.checked))
        else:
            self.act(entry.verb, entry.server)

    async def _review_tools(self, server: str) -> None:
        """The tools ``server`` changed, held from the apps: what changed, and the choice."""
        open_already = self.review_dialogs.get(server)
        if open_already is not None:
            _bring_forward(open_already)
            return
        held = await self.hub.held_tools(server)
        if not held:
            self.tell(f"Nothing to review for {server}", "None of its tools is held back.")
            return
        reviewed = {tool["name"]: tool["fingerprint"] for tool in held}  # as shown
        dialog = ReviewToolsDialog(
            server,
            held,
            accept_them=lambda: self._run(self._accept_tools(server, reviewed)),
            logo=self.logo,
        )
        self.review_dialogs[server] = dialog
        dialog.finished.connect(lambda _: self.review_dialogs.pop(server, None))
        dialog.show()  # not exec(): the loop keeps running
        dialog.raise_()
        dialog.activateWindow()

    async def _accept_tools(self, server: str, reviewed: dict[str, str]) -> None:
        accepted = await self.hub.accept_tools(server, reviewed)
        if accepted:
            self.tell(f"{server}'s tools are back", f"Your apps can use {listed(accepted)} again.")
        self.refresh()

    async def _switch_tool(self, server: str, tool: str, *, on: bool) -> None:
        from app.hosts.tools import switch

        try:
            await asyncio.to_thread(
                switch, self.hub.paths, server, on=[tool] if on else [], off=[] if on else [tool]
            )
        except UserError as error:
            self.tell(f"{tool} was not switched {'on' if on else 'off'}", plain(str(error)))
            self.window.servers.tools.ask_again()  # its tick in the window goes back
            return
        await self._look_at_tools()

    def _window_shown(self) -> None:
        self.refresh()
        self.ticker.start()

    def _tick(self) -> None:
        if self.window.isVisible() or self.menu.isVisible():
            self.refresh()
        else:
            self.ticker.stop()

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (
            QSystemTrayIcon.ActivationReason.Trigger,
            QSystemTrayIcon.ActivationReason.DoubleClick,
        ):
            self.window.bring_forward()

    def _config_problem(self, first_error: str) -> None:
        self.config_problem = first_error
        self.refresh()

    def _welcome_once(self) -> None:
        if self.hub.remote or self.choices.welcome_shown():
            return
        demo = next((row for row in self.rows() if row.name == "demo"), None)
        welcome = WelcomeWindow(
            self.logo,
            demo_running=demo is not None,
            in_tray=self.icon.isVisible(),
            steps=[
                (traymenu.ADD, "Add a server…"),
                (traymenu.CONNECT, "Connect an app…"),
                (traymenu.OPEN_CONFIG, "Open config"),
            ],
        )
        welcome.chosen.connect(lambda verb: self.act(verb, ""))
        welcome.show()
        self.welcome = welcome
        self.choices.set_welcome_shown()

    def _notice_action(self, notice: Notice, verb: str) -> None:
        if verb == traymenu.SECRET and notice.server:
            self.ask_secret(notice.server, notice.secrets)
        else:
            self.act(verb, notice.server or "")

    def tell(self, title: str, body: str) -> None:
        """A short notice about MCP Tray itself (an action that failed, where it went)."""
        self._own_words = (title, body)
        self.notifier.show(Notice(kind=NoticeKind.APP, server=None, title=title, body=body))

    def _balloon(self, title: str, body: str) -> None:
        """A notice with no desktop service for it: the tray's balloon, or without a tray,
        the window. The window already shows each server's state and the config's
        mistake, so there it takes only what MCP Tray says of itself, below the line
        that says why the window stands in for the tray."""
        if self.icon.isVisible():
            self.icon.showMessage(title, body, self.logo)
        elif (title, body) == self._own_words:
            self.window.say(f"{NO_TRAY_MESSAGE}\n{title}. {body}")


def _bring_forward(dialog: QWidget) -> None:
    dialog.show()  # not exec(): the loop keeps running
    dialog.raise_()
    dialog.activateWindow()


def quit_app() -> None:
    """End the event loop, which stops every server (see app.gui.app).

    Not QApplication.quit(): in Qt 6 that first asks each window to close, and
    the main window only hides on close, which would cancel the quit.
    """
    QApplication.exit(0)
