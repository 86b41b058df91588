"""The tray against a real hub with real servers, offscreen (QT_QPA_PLATFORM=offscreen).

The hub runs on qasync's loop, as in the app; each test is a coroutine run
to completion on that loop (``tray_loop.run``), so hub events and Qt events
are processed together, and waits are on events, bounded.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
import qasync
from PySide6.QtWidgets import QApplication

from app.core.autostart import Autostart
from app.core.hub import Hub
from app.core.notices import Notice
from app.core.paths import default_paths
from app.core.secrets import Secrets
from app.gui.tray import TrayApp
from tests.helpers import EventRecorder

T = TypeVar("T")
TEST_TIMEOUT_S = 60.0


class TrayLoop:
    def __init__(self, loop: qasync.QEventLoop) -> None:
        self.loop = loop

    def run(self, work: Callable[[], Awaitable[T]]) -> T:
        async def bounded() -> T:
            async with asyncio.timeout(TEST_TIMEOUT_S):
                return await work()

        result: T = self.loop.run_until_complete(bounded())
        return result


@pytest.fixture
def tray_loop(qapp: QApplication) -> Iterator[TrayLoop]:
    loop = qasync.QEventLoop(qapp, already_running=False)
    asyncio.set_event_loop(loop)
    try:
        yield TrayLoop(loop)
    finally:
        _finish(loop)
        loop.close()
        asyncio.set_event_loop(None)


def _finish(loop: qasync.QEventLoop) -> None:
    """What asyncio.run does before closing: end leftover tasks, and let the
    callbacks already scheduled (pipes finishing their close) run."""
    leftovers = asyncio.all_tasks(loop)
    for task in leftovers:
        task.cancel()
    loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.run_until_complete(asyncio.sleep(0))


class RunningTray:
    """A started hub and its TrayApp, with everything they published recorded."""

    def __init__(self, tray: TrayApp, events: EventRecorder) -> None:
        self.tray = tray
        self.hub = tray.hub
        self.events = events
        self.notices: list[Notice] = []
        tray.bridge.notice.connect(self.notices.append)
        self._changed = asyncio.Event()
        tray.bridge.changed.connect(self._changed.set)

    async def repainted(self) -> None:
        """Until the tray has taken in the latest state changes."""
        self._changed.clear()
        await self._changed.wait()

    async def settled(self) -> None:
        """Until every task the tray started (and those they started) has finished."""
        while self.tray.tasks:
            await asyncio.gather(*list(self.tray.tasks))

    def menu_action(self, *path: str) -> Any:
        """The menu entry at ``path`` ("demo — running", "Restart"), matched by prefix."""
        self.tray.refresh()
        menu = self.tray.menu
        *submenus, leaf = path
        for title in submenus:
            menu = next(a.menu() for a in menu.actions() if a.text().startswith(title))
        return next(a for a in menu.actions() if a.text().startswith(leaf))


@pytest.fixture
def start_tray(
    tray_home: Path, tray_loop: TrayLoop, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., RunningTray]]:
    """``start_tray(servers, secrets=None)``: a hub and tray, started; closed after the test."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    started: list[RunningTray] = []

    def start(servers: dict[str, Any], *, secrets: Secrets | None = None) -> RunningTray:
        (tray_home / "config.json").write_text(json.dumps({"mcpServers": servers}))
        paths = default_paths()
        paths.ensure()
        hub = Hub(paths, secrets=secrets)
        running = RunningTray(
            TrayApp(hub, autostart=Autostart(["mcp-tray"])), EventRecorder(hub.bus)
        )
        tray_loop.run(hub.start)
        running.tray.show()
        started.append(running)
        return running

    yield start
    for running in started:

        async def close(running: RunningTray = running) -> None:
            await running.tray.close()
            await running.hub.shutdown()

        tray_loop.run(close)
        running.tray.window.deleteLater()
