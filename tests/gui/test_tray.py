"""The tray's menu, icon, notices and windows, driven against a real hub and real servers."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path
from typing import Any

import pytest
from keyring.backends import SecretService
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QPushButton

from app.core.events import ConfigApplied, ServerLogLine, ServerStateChanged
from app.core.notices import NoticeKind
from app.core.overview import Overall
from app.core.secrets import Secrets, SecretStore
from app.gui.windows import SecretDialog
from tests.gui.conftest import RunningTray, TrayLoop
from tests.helpers import FLAKY, PYTHON, SERVERS
from tests.keyrings import MemoryKeyring

FAST = {"initialDelayMs": 10, "maxDelayMs": 50}


def flaky(*options: str, **restart: int) -> dict[str, Any]:
    return {"command": PYTHON, "args": [str(FLAKY), *options], "restart": {**FAST, **restart}}


def test_a_crash_loop_turns_the_icon_to_attention_with_exactly_one_notice(
    start_tray: Any, tray_loop: TrayLoop
) -> None:
    running: RunningTray = start_tray(
        {"good": flaky(), "bad": flaky("--crash-at-start", maxFailures=3)}
    )

    async def scenario() -> None:
        await running.events.wait_for_state("crash-loop")
        while running.tray.state is not Overall.ATTENTION:
            await running.repainted()

    tray_loop.run(scenario)

    assert [(n.kind, n.server) for n in running.notices] == [(NoticeKind.CRASH_LOOP, "bad")]
    assert "fatal: cannot open the database" in running.notices[0].body
    assert "bad: crash-loop" in running.tray.icon.toolTip()
    assert running.menu_action("bad — crash-loop", "crash-loop").text() == "crash-loop · 2 restarts"


def test_restart_from_the_menu_starts_a_new_process(start_tray: Any, tray_loop: TrayLoop) -> None:
    running: RunningTray = start_tray({"demo": flaky()})

    async def scenario() -> tuple[int, int]:
        first = await running.events.wait_for_state("running")
        mark = len(running.events.events)
        running.menu_action("demo — running", "Restart").trigger()
        second = await running.events.wait_for_state("running", after=mark)
        assert first.pid is not None and second.pid is not None
        return first.pid, second.pid

    first, second = tray_loop.run(scenario)

    assert first != second


def test_stop_and_start_from_the_menu(start_tray: Any, tray_loop: TrayLoop) -> None:
    running: RunningTray = start_tray({"demo": flaky()})

    async def scenario() -> None:
        await running.events.wait_for_state("running")
        mark = len(running.events.events)
        running.menu_action("demo — running", "Stop").trigger()
        await running.events.wait_for_state("stopped", after=mark)
        mark = len(running.events.events)
        running.menu_action("demo — stopped", "Start").trigger()
        await running.events.wait_for_state("running", after=mark)

    tray_loop.run(scenario)

    assert running.tray.state is Overall.RUNNING


def test_set_secret_stores_it_in_the_real_keyring_and_starts_the_waiting_server(
    start_tray: Any,
    tray_loop: TrayLoop,
    tray_home: Path,
    secret_service: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", secret_service["DBUS_SESSION_BUS_ADDRESS"])
    backend = SecretService.Keyring()
    secrets = Secrets(SecretStore(tray_home / "names.json", backend=backend))
    entry = {
        "command": PYTHON,
        "args": [str(SERVERS / "secretive.py")],
        "env": {"API_TOKEN": "${secret:API_TOKEN}"},
    }
    running: RunningTray = start_tray({"gui-api": entry}, secrets=secrets)

    async def scenario() -> str:
        await running.events.wait_for_state("needs-secret")
        while not running.notices:
            await running.repainted()
        (notice,) = running.notices
        running.tray._notice_action(notice, "default")  # the notification was clicked
        dialog = next(w for w in QApplication.topLevelWidgets() if isinstance(w, SecretDialog))
        dialog.value.setText("typed-into-the-dialog")
        asked_for = dialog.name.currentText()
        mark = len(running.events.events)
        save = next(
            b for b in dialog.findChildren(QPushButton) if b.text().replace("&", "") == "Save"
        )
        save.click()
        await running.events.wait_for_state("running", after=mark)
        return asked_for

    asked_for = tray_loop.run(scenario)

    assert asked_for == "API_TOKEN"
    assert backend.get_password("mcp-tray/gui-api", "API_TOKEN") == "typed-into-the-dialog"
    lines = [e.line for e in running.events.events if isinstance(e, ServerLogLine)]
    assert "using token ***" in lines
    backend.delete_password("mcp-tray/gui-api", "API_TOKEN")


def test_the_log_window_follows_a_server_and_can_search_copy_and_clear(
    start_tray: Any, tray_loop: TrayLoop
) -> None:
    running: RunningTray = start_tray({"chatty": flaky("--garbage")})

    async def scenario() -> None:
        await running.events.wait_for_state("running")
        running.menu_action("chatty — running", "Show logs").trigger()
        await running.events.wait_for(
            lambda e: isinstance(e, ServerLogLine) and "flaky server" in e.line
        )

    tray_loop.run(scenario)
    logs = running.tray.window.logs

    assert running.tray.window.isVisible()
    assert "flaky server" in logs.text.toPlainText()
    logs.search.setText("flaky server")
    assert logs.find_next()
    logs.copy_all()
    assert "flaky server" in QGuiApplication.clipboard().text()
    logs.text.clear()
    assert logs.text.toPlainText() == ""


def test_without_a_system_tray_the_window_shows_the_servers_and_says_why(
    start_tray: Any, tray_loop: TrayLoop
) -> None:
    running: RunningTray = start_tray({"demo": flaky()})  # offscreen: no system tray

    tray_loop.run(lambda: running.events.wait_for_state("running"))
    running.tray.refresh()
    window = running.tray.window

    assert window.isVisible()
    assert "no system tray" in window.banner.text()
    table = window.servers.table
    assert [table.item(0, c).text() for c in (0, 1)] == ["demo", "running"]


def test_start_at_login_is_toggled_from_the_menu(
    start_tray: Any, tray_loop: TrayLoop, tmp_path: Path
) -> None:
    running: RunningTray = start_tray({})
    entry = tmp_path / "xdg-config" / "autostart" / "mcp-tray.desktop"

    async def toggle() -> None:
        running.menu_action("Start at login").trigger()
        await asyncio.gather(*running.tray.tasks)

    tray_loop.run(toggle)
    assert entry.exists()
    assert running.menu_action("Start at login").isChecked()
    tray_loop.run(toggle)
    assert not entry.exists()


def test_state_changes_reach_the_window_table(start_tray: Any, tray_loop: TrayLoop) -> None:
    running: RunningTray = start_tray({"demo": flaky()})

    async def scenario() -> None:
        await running.events.wait_for_state("running")
        mark = len(running.events.events)
        await running.hub.stop_server("demo")
        await running.events.wait_for(
            lambda e: isinstance(e, ServerStateChanged) and e.state == "stopped", after=mark
        )
        while running.tray.window.servers.table.item(0, 1).text() != "stopped":
            await running.repainted()

    tray_loop.run(scenario)

    assert running.tray.state is Overall.IDLE
    assert running.menu_action("demo — stopped", "Start").isEnabled()


def test_serve_over_http_is_switched_from_the_menu(
    start_tray: Any, tray_loop: TrayLoop, tray_home: Path
) -> None:
    store = SecretStore(tray_home / "names.json", backend=MemoryKeyring())
    running: RunningTray = start_tray({"demo": flaky()}, secrets=Secrets(store))
    config_file = tray_home / "config.json"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    async def scenario() -> list[tuple[bool, bool]]:
        mark = len(running.events.events)
        config = json.loads(config_file.read_text())
        config_file.write_text(json.dumps({**config, "http": {"port": port}}))
        await running.events.wait_for(lambda e: isinstance(e, ConfigApplied), after=mark)
        seen = []
        for _ in range(2):
            running.menu_action(f"Serve over HTTP (port {port})").trigger()
            await running.settled()
            item = running.menu_action("Serve over HTTP")
            seen.append((running.hub.http is not None, item.isChecked()))
        return seen

    seen = tray_loop.run(scenario)

    assert seen == [(True, True), (False, False)]
    assert json.loads(config_file.read_text())["http"] == {"port": port, "enabled": False}
