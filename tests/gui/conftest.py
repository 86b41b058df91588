"""The tray against a real hub with real servers, offscreen (QT_QPA_PLATFORM=offscreen).

The hub runs on qasync's loop, as in the app; each test is a coroutine run
to completion on that loop (``tray_loop.run``), so hub events and Qt events
are processed together, and waits are on events, bounded.

Every GUI test fails on a Qt warning (pytest-qt's ``qt_log_level_fail`` in
pyproject.toml) and on a WARNING log record nobody expected: a test claims
the ones it provokes with ``expect_warnings(pattern)``.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import re
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
from app.gui.qtloop import run_until_done
from app.gui.tray import TrayApp
from tests.helpers import EventRecorder

T = TypeVar("T")
TEST_TIMEOUT_S = 60.0


class _Warnings(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []
        self.expected: list[re.Pattern[str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def unexpected(self) -> list[str]:
        messages = [record.getMessage() for record in self.records]
        return [m for m in messages if not any(p.search(m) for p in self.expected)]


@pytest.fixture(autouse=True)
def no_unexpected_warnings() -> Iterator[_Warnings]:
    """Fail the test on a WARNING (or worse) log record that it did not claim."""
    handler = _Warnings()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
    unexpected = handler.unexpected()
    assert not unexpected, f"unexpected warnings logged: {unexpected}"


@pytest.fixture
def expect_warnings(no_unexpected_warnings: _Warnings) -> Callable[[str], None]:
    """``expect_warnings(pattern)``: a WARNING matching ``pattern`` is part of the test."""
    return lambda pattern: no_unexpected_warnings.expected.append(re.compile(pattern))


class TrayLoop:
    def __init__(self, loop: qasync.QEventLoop) -> None:
        self.loop = loop

    def run(self, work: Callable[[], Awaitable[T]]) -> T:
        async def bounded() -> T:
            async with asyncio.timeout(TEST_TIMEOUT_S):
                return await work()

        return run_until_done(self.loop, bounded())


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
        # A closed qasync loop leaves Qt timers behind; freed later by the garbage
        # collector on some other thread, Qt would warn about it in another test.
        gc.collect()


def _finish(loop: qasync.QEventLoop) -> None:
    """What asyncio.run does before closing: end leftover tasks, and let the
    callbacks already scheduled (pipes finishing their close) run."""
    leftovers = asyncio.all_tasks(loop)
    for task in leftovers:
        task.cancel()
    if leftovers:
        _, stuck = loop.run_until_complete(asyncio.wait(leftovers, timeout=TEST_TIMEOUT_S))
        assert not stuck, f"tasks that ignore cancellation: {stuck}"
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.run_until_complete(asyncio.sleep(0))


class RunningTray:
    """A started hub and its TrayApp, with everything they published recorded."""

    def __init__(self, tray: TrayApp, events: EventRecorder) -> None:
        self.tray = tray
        self.hub = tray.hub
        self.events = events
        self.notices: list[Notice] = []
        self.closed = False
        tray.bridge.notice.connect(self.notices.append)
        self._changed = asyncio.Event()
        tray.bridge.changed.connect(self._changed.set)

    async def repainted(self) -> None:
        """Until the tray has taken in the latest state changes."""
        self._changed.clear()
        await self._changed.wait()

    async def quit(self) -> None:
        """What Quit does: close the tray, then stop the hub and every server (once)."""
        if self.closed:
            return
        self.closed = True
        try:
            await self.tray.close()
        finally:
            await self.hub.shutdown()
            self.tray.window.deleteLater()

    async def settled(self) -> None:
        """Until every task the tray started (and those they started) has finished."""
        while self.tray.tasks:
            await asyncio.gather(*list(self.tray.tasks))

    def menu_action(self, *path: str) -> Any:
        """The menu entry at ``path`` ("demo — Running", "Restart"), matched by prefix."""
        self.tray.refresh()
        return find_action(self.tray.menu, *path)


def find_action(menu: Any, *path: str) -> Any:
    """The entry of ``menu`` at ``path``, each step matched by the start of its text."""
    *submenus, leaf = path
    for title in submenus:
        menu = next(a.menu() for a in menu.actions() if a.text().startswith(title))
    return next(a for a in menu.actions() if a.text().replace("&&", "&").startswith(leaf))


class OpenedFiles:
    """Stands in for the desktop's "open this file" (the OS edge): records, and answers
    whether a program opened it."""

    def __init__(self) -> None:
        self.opened: list[str] = []
        self.answer = True

    def __call__(self, url: Any) -> bool:
        self.opened.append(url.toLocalFile())
        return self.answer


_LIVE: list[tuple[TrayLoop, RunningTray]] = []  # trays the current test started


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Quit the test's trays as the test ends, before pytest-qt processes Qt's events.

    Outside ``tray_loop.run`` qasync's loop does not run, yet Qt's event
    processing (pytest-qt's, after each test) would still step the hub's
    tasks, with no running loop for them: asyncio then fails in odd places.
    Quitting first leaves none. (In the app the loop always runs.)
    """
    try:
        return (yield)
    finally:
        while _LIVE:
            loop, running = _LIVE.pop()
            loop.run(running.quit)


@pytest.fixture
def start_tray(
    tray_home: Path, tray_loop: TrayLoop, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., RunningTray]]:
    """``start_tray(servers, secrets=None, desktop_opens=False)``: a hub and tray, started;
    closed after the test. ``desktop_opens``: files are opened as the app opens them, through
    whatever ``xdg-open`` the PATH holds, instead of being recorded (OpenedFiles)."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    started: list[RunningTray] = []

    def start(
        servers: dict[str, Any], *, secrets: Secrets | None = None, desktop_opens: bool = False
    ) -> RunningTray:
        (tray_home / "config.json").write_text(json.dumps({"mcpServers": servers}))
        paths = default_paths()
        paths.ensure()
        hub = Hub(paths, secrets=secrets)
        opened = None if desktop_opens else OpenedFiles()  # None: the tray's own, with xdg-open
        tray = TrayApp(hub, autostart=Autostart(["mcp-tray"]), open_url=opened)
        running = RunningTray(tray, EventRecorder(hub.bus))

        async def start_both() -> None:  # as app.gui.app starts them: on the running loop
            await hub.start()
            tray.show()

        tray_loop.run(start_both)
        started.append(running)
        _LIVE.append((tray_loop, running))
        return running

    yield start
    for running in started:  # when the hook above has not already
        tray_loop.run(running.quit)
