"""The tray icon and its menu, and the actions they share with the window.

The icon shows the overall state (all running / something starting or
restarting / something needs you / nothing running); the tooltip sums it
up. The menu has one submenu per server (state, uptime, restarts; Restart,
Stop or Start, Show logs, Set secret… when the server uses secrets), then
Open config, Reload config, Connect an app… (app.gui.connect), Serve over
HTTP, Start at login, Mute crash notices and Quit. It is rebuilt from the
hub's status whenever a state changes and each time it opens, so uptimes
are current.

Without a system tray (GNOME without the AppIndicator extension) the main
window stands in for the icon, with a line saying why.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from functools import partial
from typing import Any, Protocol

from PySide6.QtCore import QObject, QTimer, QUrl
from PySide6.QtGui import QAction, QDesktopServices, QIcon
from PySide6.QtWidgets import QApplication, QMenu, QSystemTrayIcon

from app.core.autostart import Autostart
from app.core.config import Config, ConfigError
from app.core.config.switches import set_http_enabled
from app.core.endpoint.control import ControlError
from app.core.events import EventBus
from app.core.notices import Notice, NoticeKind
from app.core.overview import Overall, describe, overall, tooltip
from app.core.paths import Paths
from app.core.secrets import secret_names
from app.gui.bridge import HubBridge
from app.gui.connect import CONNECT, ConnectDialog
from app.gui.notify import OPEN_CONFIG, SET_SECRET, DesktopNotifier
from app.gui.windows import MainWindow, SecretDialog
from app.hosts.host import HostError
from app.hosts.registry import HOSTS
from app.hosts.survey import FoundApp, connect_app, disconnect_app, survey
from app.resources import resource_path

logger = logging.getLogger(__name__)

LOG_TAIL_LINES = 500  # earlier lines a server's log view starts with
WINDOW_REFRESH_MS = 5000  # how often the open window's uptimes are brought up to date

NO_TRAY_MESSAGE = (
    "Your desktop has no system tray, so MCP Tray shows itself in this window (on GNOME, "
    "the AppIndicator extension adds a tray). Closing the window hides it and the servers "
    "keep running; Quit stops them."
)


class TrayHub(Protocol):
    """What the tray needs of a hub: its own (app.core.hub.Hub), or one running in another
    process (app.core.endpoint.remote.RemoteHub)."""

    remote: bool
    paths: Paths
    bus: EventBus
    config: Config
    presenter: Callable[[], None] | None

    def status_rows(self) -> list[dict[str, Any]]: ...
    async def start_server(self, name: str) -> None: ...
    async def stop_server(self, name: str) -> None: ...
    async def restart_server(self, name: str) -> None: ...
    async def reload(self) -> list[str]: ...
    async def set_secret(self, server: str, name: str, value: str) -> list[str]: ...
    async def log_tail(self, name: str, lines: int) -> list[str]: ...


def icon_for(state: Overall) -> QIcon:
    return QIcon(str(resource_path("icons", f"tray-{state.value}.svg")))


class TrayApp(QObject):
    """The icon, its menu, the window and the notifier, over one hub."""

    def __init__(self, hub: TrayHub, *, autostart: Autostart | None = None) -> None:
        super().__init__()
        self.hub = hub
        self.autostart = autostart or Autostart()
        self.bridge = HubBridge(hub.bus)
        self.window = MainWindow(self.act)
        self.window.logs.set_history(lambda server: self._run(self._fill_logs(server)))
        self.icon = QSystemTrayIcon(icon_for(Overall.IDLE))
        self.menu = QMenu()
        self.menu.aboutToShow.connect(self.refresh)
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self._activated)
        self.notifier = DesktopNotifier(
            balloon=self._balloon,
            on_action=self._notice_action,
            icon=str(resource_path("icons", "mcp-tray.svg")),
        )
        self.state = Overall.IDLE
        self.config_problem = ""
        self.tasks: set[asyncio.Task[Any]] = set()
        self.connect_dialog: ConnectDialog | None = None
        self.bridge.changed.connect(self.refresh)
        # Uptimes in the open window move on; the menu is rebuilt as it opens.
        self.ticker = QTimer(self)
        self.ticker.setInterval(WINDOW_REFRESH_MS)
        self.ticker.timeout.connect(self._tick)
        self.window.shown.connect(self._window_shown)
        self.bridge.log_line.connect(self.window.logs.append)
        self.bridge.notice.connect(self.notifier.show)
        self.bridge.config_problem.connect(self._config_problem)

    def show(self) -> None:
        self.refresh()
        if QSystemTrayIcon.isSystemTrayAvailable():
            self.icon.show()
            logger.info("tray icon shown")
        else:
            logger.warning("no system tray on this desktop; showing the window instead")
            self.window.say(NO_TRAY_MESSAGE)
            self.window.bring_forward()

    async def close(self) -> None:
        self.ticker.stop()
        self.icon.hide()
        self.bridge.close()
        await self.notifier.close()
        for task in list(self.tasks):
            task.cancel()
        if self.connect_dialog is not None:
            self.connect_dialog.deleteLater()

    # ----- the picture

    def refresh(self) -> None:
        rows = self.hub.status_rows()
        self.state = overall(rows, config_problem=bool(self.config_problem))
        self.icon.setIcon(icon_for(self.state))
        self.window.setWindowIcon(icon_for(self.state))
        self.icon.setToolTip(tooltip(rows, config_problem=bool(self.config_problem)))
        with_secrets = self._servers_with_secrets()
        self.window.servers.update_rows(rows, with_secrets)
        self.window.logs.set_servers([row["name"] for row in rows])
        self._build_menu(rows, with_secrets)

    def _build_menu(self, rows: list[dict[str, Any]], with_secrets: set[str]) -> None:
        self.menu.clear()
        for row in rows:
            name = row["name"]
            submenu = self.menu.addMenu(f"{name} — {row['state']}")
            submenu.setIcon(icon_for(overall([row])))
            status = submenu.addAction(describe(row))
            status.setEnabled(False)
            if row["last_error"]:
                error = submenu.addAction(_shorten(row["last_error"]))
                error.setEnabled(False)
            submenu.addSeparator()
            self._add(submenu, "Restart", partial(self.act, "restart", name))
            stopped = row["state"] in ("stopped", "disabled")
            self._add(submenu, "Start" if stopped else "Stop", partial(self.act, "toggle", name))
            self._add(submenu, "Show logs", partial(self.act, "logs", name))
            if name in with_secrets:
                self._add(submenu, "Set secret…", partial(self.act, "secret", name))
        if not rows:
            self.menu.addAction("No servers configured").setEnabled(False)
        self.menu.addSeparator()
        self._add(self.menu, "Servers and logs…", self.window.bring_forward)
        self._add(self.menu, "Open config", lambda: self.act("open-config", ""))
        self._add(self.menu, "Reload config", lambda: self.act("reload", ""))
        self._add(self.menu, "Connect an app…", self.open_connect)
        http = self.hub.config.http
        serving = self._add(self.menu, f"Serve over HTTP (port {http.port})", self._toggle_http)
        serving.setCheckable(True)
        serving.setChecked(http.enabled)
        self.menu.addSeparator()
        login = self._add(self.menu, "Start at login", self._toggle_autostart)
        login.setCheckable(True)
        login.setChecked(self.autostart.enabled())
        mute = self._add(self.menu, "Mute crash notices", self._toggle_mute)
        mute.setCheckable(True)
        mute.setChecked(self.bridge.notices.mute_restarts)
        self.menu.addSeparator()
        quit_text = "Quit (the hub keeps running)" if self.hub.remote else "Quit"
        self._add(self.menu, quit_text, quit_app)

    def _add(self, menu: QMenu, text: str, slot: Callable[[], object]) -> QAction:
        action = menu.addAction(text)
        action.triggered.connect(lambda checked=False: slot())
        return action

    # ----- actions (menu, window buttons, notification buttons)

    def act(self, verb: str, server: str) -> None:
        if verb == "restart":
            self._run(self.hub.restart_server(server))
        elif verb == "toggle":
            row = next((r for r in self.hub.status_rows() if r["name"] == server), None)
            stopped = row is not None and row["state"] in ("stopped", "disabled")
            self._run(self.hub.start_server(server) if stopped else self.hub.stop_server(server))
        elif verb == "logs":
            self._run(self._show_logs(server))
        elif verb == "secret":
            self.ask_secret(server)
        elif verb == "open-config":
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.hub.paths.config_file)))
        elif verb == "reload":
            self._run(self.hub.reload())
        elif verb == "quit":
            quit_app()

    async def _show_logs(self, server: str) -> None:
        self.window.show_logs(server, await self.hub.log_tail(server, LOG_TAIL_LINES))

    async def _fill_logs(self, server: str) -> None:
        self.window.logs.show_server(server, await self.hub.log_tail(server, LOG_TAIL_LINES))

    def ask_secret(self, server: str, names: tuple[str, ...] = ()) -> SecretDialog:
        config = self.hub.config.servers.get(server)
        wanted = list(names) or (secret_names(config) if config else [])
        dialog = SecretDialog(server, wanted, parent=self.window)
        dialog.submitted.connect(
            lambda s, n, v: self._run(self.hub.set_secret(s, n, v), done=f"{n} stored for {s}.")
        )
        dialog.open()  # not exec(): the loop keeps running
        return dialog

    def open_connect(self) -> ConnectDialog:
        if self.connect_dialog is None:
            self.connect_dialog = ConnectDialog(list(HOSTS.values()))
            self.connect_dialog.requested.connect(
                lambda verb, app: self._run(self._change_app(verb, app))
            )
        self.connect_dialog.show()
        self.connect_dialog.raise_()
        self.connect_dialog.activateWindow()
        self._run(self._look_for_apps())
        return self.connect_dialog

    async def _look_for_apps(self, *, count: bool = True) -> None:
        apps = await asyncio.to_thread(survey, self.hub.paths)  # reads files
        if self.connect_dialog is not None:
            self.connect_dialog.show_apps(apps)
            if count:
                self.connect_dialog.say(f"Found {len(apps)} app(s) with MCP servers.")

    async def _change_app(self, verb: str, app: FoundApp) -> None:
        dialog = self.connect_dialog
        assert dialog is not None
        dialog.busy(f"{verb}ing {app.host.title}…")
        try:
            if verb == CONNECT:
                message = await asyncio.to_thread(connect_app, app, self.hub.paths)
                await self.hub.reload()  # start the servers just imported
            else:
                message = await asyncio.to_thread(disconnect_app, app, self.hub.paths)
        except HostError as error:
            message = str(error)
        dialog.say(message)
        logger.info("%s %s: %s", verb.lower(), app.host.name, message)
        await self._look_for_apps(count=False)

    def _run(self, work: Coroutine[Any, Any, object], *, done: str | None = None) -> None:
        task = asyncio.ensure_future(work)
        self.tasks.add(task)

        def finished(task: asyncio.Task[Any]) -> None:
            self.tasks.discard(task)
            if task.cancelled():
                return
            error = task.exception()
            if isinstance(error, ControlError):
                self._balloon("MCP Tray", str(error))
            elif error is not None:
                logger.error("a tray action failed", exc_info=error)
            elif done:
                logger.info("%s", done)
            self.refresh()

        task.add_done_callback(finished)

    def _toggle_http(self) -> None:
        self._run(self._serve_http(not self.hub.config.http.enabled))

    async def _serve_http(self, enabled: bool) -> None:
        """Turn the HTTP endpoint on or off in the config, and apply it."""
        try:
            await asyncio.to_thread(set_http_enabled, self.hub.paths.config_file, enabled)
        except (ConfigError, OSError) as error:
            self._balloon("MCP Tray", f"Could not change the config: {error}")
            return
        await self.hub.reload()

    def _toggle_autostart(self) -> None:
        # A small file, but file I/O all the same: off the loop thread.
        change = self.autostart.disable if self.autostart.enabled() else self.autostart.enable
        self._run(self._change_autostart(change))

    async def _change_autostart(self, change: Callable[[], None]) -> None:
        try:
            await asyncio.to_thread(change)
        except OSError as error:
            self._balloon("MCP Tray", f"Could not change start at login: {error}")

    def _window_shown(self) -> None:
        self.refresh()
        self.ticker.start()

    def _tick(self) -> None:
        if self.window.isVisible():
            self.refresh()
        else:
            self.ticker.stop()

    def _toggle_mute(self) -> None:
        self.bridge.notices.mute_restarts = not self.bridge.notices.mute_restarts
        self.refresh()

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (
            QSystemTrayIcon.ActivationReason.Trigger,
            QSystemTrayIcon.ActivationReason.DoubleClick,
        ):
            self.window.bring_forward()

    def _config_problem(self, first_error: str) -> None:
        self.config_problem = first_error
        self.refresh()

    def _notice_action(self, notice: Notice, key: str) -> None:
        if notice.kind is NoticeKind.NEEDS_SECRET and notice.server:
            self.ask_secret(notice.server, notice.secrets)
        elif notice.kind is NoticeKind.CONFIG_ERROR or key == OPEN_CONFIG:
            self.act("open-config", "")
        elif key == SET_SECRET and notice.server:
            self.ask_secret(notice.server)
        elif notice.server:
            self.act("logs", notice.server)

    def _balloon(self, title: str, body: str) -> None:
        if self.icon.isVisible():
            self.icon.showMessage(title, body, icon_for(self.state))
        else:
            self.window.say(f"{title}: {body}")

    def _servers_with_secrets(self) -> set[str]:
        return {name for name, s in self.hub.config.servers.items() if secret_names(s)}


def quit_app() -> None:
    """End the event loop, which stops every server (see app.gui.app).

    Not QApplication.quit(): in Qt 6 that first asks each window to close, and
    the main window only hides on close, which would cancel the quit.
    """
    QApplication.exit(0)


def _shorten(text: str, limit: int = 90) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
