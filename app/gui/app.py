"""``mcp-tray``: the tray app, with the hub running in-process.

Start-up order: folders and config (the first run writes the default) → the
single-instance lock → logging (secret values masked) → QApplication and the
qasync loop → the hub, on a thread and loop of its own (app.gui.hubthread), so
nothing the tray does holds up an editor → the tray. A second ``mcp-tray`` finds the lock held
and asks the running one to bring its window forward; when that one is a
headless hub (``mcp-tray serve``), the tray presents it through its control
socket instead, and quitting the tray leaves it running.

A bundle file opened on the desktop (``mcp-tray FILE.mcpb``, see app.cli)
comes here as ``open_bundle``: the tray starts with its Add dialog open on
it, or the tray already running is asked to open it (``open_bundle`` on the
control socket); a headless hub is presented in a tray that opens it.

Shutdown: Quit (or the session ending, or SIGTERM/SIGINT) ends Qt's event
loop; the asyncio loop then runs once more to stop every server cleanly
before the process exits, and whatever happens, nothing is left running.
"""

from __future__ import annotations

import asyncio
import faulthandler
import logging
import signal
import socket
import sys
from pathlib import Path

import qasync
from PySide6.QtCore import QMessageLogContext, QSocketNotifier, QtMsgType, qInstallMessageHandler
from PySide6.QtWidgets import QApplication

from app.core.endpoint import client
from app.core.endpoint.hubapi import HubAPI
from app.core.endpoint.instance import AlreadyRunning
from app.core.endpoint.remote import RemoteHub
from app.core.errors import EXIT_FIXABLE, EXIT_OK
from app.core.paths import Paths
from app.core.startup import run_once
from app.gui.hubthread import ThreadedHub
from app.gui.qtloop import run_until_done
from app.gui.tray import TrayApp, quit_app

logger = logging.getLogger("app")

SHOW_TIMEOUT_S = 5.0  # asking a running tray to show its window


def run_tray(paths: Paths, *, write_default: bool = True, open_bundle: Path | None = None) -> int:
    """``open_bundle``: a bundle file to open the Add dialog on, once the tray is up."""
    return run_once(
        paths,
        lambda hub: _run(ThreadedHub(hub), open_bundle=open_bundle),
        write_default=write_default,
        already_running=lambda running: _join(paths, running, open_bundle),
    )


def _join(paths: Paths, running: AlreadyRunning, bundle: Path | None) -> int:
    """Another MCP Tray holds the lock: bring its window forward (or open its Add dialog
    on ``bundle``), or present its hub."""
    try:
        if bundle is None:
            client.call(paths.socket_path, "show", timeout=SHOW_TIMEOUT_S)
        else:
            client.call(paths.socket_path, "open_bundle", path=str(bundle), timeout=SHOW_TIMEOUT_S)
    except client.HubRefused:  # a headless hub (`mcp-tray serve`): show it in a tray
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
        return _run(RemoteHub(paths), open_bundle=bundle)
    except (client.HubNotRunning, OSError, TimeoutError) as error:
        print(f"{running}, but does not answer: {error}", file=sys.stderr)
        return EXIT_FIXABLE
    if bundle is None:
        print("MCP Tray is already running; its window is in front now.")
    else:
        print(f"MCP Tray is already running; it shows {bundle.name} in its Add dialog now.")
    return EXIT_OK


def _run(hub: HubAPI, *, open_bundle: Path | None = None) -> int:
    """Run the tray over ``hub`` until Quit, or until the hub itself ends the tray."""
    log_qt_messages()
    app = QApplication.instance() or QApplication(sys.argv)
    assert isinstance(app, QApplication)
    app.setApplicationName("MCP Tray")
    app.setQuitOnLastWindowClosed(False)  # the tray, not a window, keeps it alive
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    stop_on_signals(app)
    tray = TrayApp(hub)
    present(hub, tray)
    hub.quitter = quit_app  # `mcp-tray quit`, or the other process's hub stopped
    try:
        with loop:
            code: int = run_until_done(loop, _start(hub, tray))
            if code == EXIT_OK and open_bundle is not None:
                tray.open_bundle(open_bundle)
            if code == EXIT_OK:
                loop.run_forever()  # Qt's event loop, until Quit (QApplication.exit)
            run_until_done(loop, tray.close())
            run_until_done(loop, hub.shutdown())
            return code
    finally:
        hub.kill_everything_now()  # whatever happened above, leave nothing running


def present(hub: HubAPI, tray: TrayApp) -> None:
    """What the hub asks of the tray for a second ``mcp-tray``: bring the window forward,
    or open the Add dialog on a bundle file."""

    def bundle_opened(path: str) -> None:
        tray.open_bundle(Path(path))

    hub.presenter = tray.window.bring_forward
    hub.bundle_opener = bundle_opened


async def _start(hub: HubAPI, tray: TrayApp) -> int:
    try:
        await hub.start(keep_going=True)
    except OSError as error:  # the control socket could not be opened (or reached)
        print(f"mcp-tray: cannot start: {error}", file=sys.stderr)
        return EXIT_FIXABLE
    tray.show()
    return EXIT_OK


_QT_LEVELS = {
    QtMsgType.QtDebugMsg: logging.DEBUG,
    QtMsgType.QtInfoMsg: logging.INFO,
    QtMsgType.QtWarningMsg: logging.WARNING,
    QtMsgType.QtCriticalMsg: logging.ERROR,
    QtMsgType.QtFatalMsg: logging.CRITICAL,
}


def log_qt_messages() -> object:
    """What Qt itself complains of goes to the app's log (hub.log and stderr) with a level,
    so a report of a display or tray problem carries it, and tests can hold the app to
    logging no warning they did not expect. Returns the handler it replaced."""
    qt_logger = logging.getLogger("app.qt")

    def to_log(kind: QtMsgType, _context: QMessageLogContext, message: str) -> None:
        qt_logger.log(_QT_LEVELS.get(kind, logging.WARNING), "%s", message)

    return qInstallMessageHandler(to_log)


def stop_on_signals(app: QApplication) -> None:
    """SIGTERM and SIGINT quit the app cleanly, even while Qt's loop waits.

    Python runs signal handlers only between bytecodes; a wake-up socket that
    Qt watches lets them run at once instead of at the next Qt event.
    """
    reader, writer = socket.socketpair()
    reader.setblocking(False)
    writer.setblocking(False)
    signal.set_wakeup_fd(writer.fileno())
    notifier = QSocketNotifier(reader.fileno(), QSocketNotifier.Type.Read, app)
    notifier.activated.connect(lambda: reader.recv(64))
    _keep_alive.extend([notifier, reader, writer])
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda number, frame: quit_app())
    # `kill -USR1 PID` prints every thread's stack: what a hung GUI is doing.
    faulthandler.register(signal.SIGUSR1, all_threads=True)


_keep_alive: list[object] = []  # the signal wake-up sockets and their notifier
