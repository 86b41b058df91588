"""The tray's menu, icon and windows, driven against a real hub and real servers."""

from __future__ import annotations

import asyncio
import gc
import itertools
import json
import re
import socket
from pathlib import Path
from typing import Any

import httpx2
import pytest
from keyring.backends import SecretService
from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QGuiApplication
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QLabel,
    QMessageBox,
    QPushButton,
)

from app.core.events import ConfigApplied, ConfigProblem, ServerStateChanged
from app.core.notices import Notice, NoticeKind
from app.core.overview import Overall
from app.core.secrets import Secrets, SecretStore
from app.core.supervise.states import State
from app.core.supervise.status import ServerStatus
from app.core.traymenu import EDIT, HTTP, HTTP_ADDRESSES, NEW_KEY, SECRET, WINDOW
from app.gui.dialogs import ConfigLocationDialog, SecretDialog, WelcomeWindow
from app.gui.tray import TrayApp
from app.gui.windows import COLUMNS, ServersTab
from app.hosts.linking import connect
from app.hosts.registry import HOSTS
from tests.gui.conftest import RunningTray, TrayLoop, find_action
from tests.helpers import FLAKY, INITIALIZE_REQUEST, PYTHON, SERVERS
from tests.keyrings import MemoryKeyring

FAST = {"initialDelayMs": 10, "maxDelayMs": 50}
EDITOR_START_TIMEOUT_MS = 10_000  # a detached shell script writing one line, on a busy machine
JARGON = re.compile(r"crash-loop|needs-secret|backoff|status \d|pid\b|`|mcp-tray \w|\d+m\d\ds")


def flaky(*options: str, **restart: int) -> dict[str, Any]:
    return {"command": PYTHON, "args": [str(FLAKY), *options], "restart": {**FAST, **restart}}


def enabled(menu: Any) -> list[str]:
    """The entries of ``menu`` the user can pick, in order."""
    return [a.text() for a in menu.actions() if a.isEnabled() and not a.isSeparator()]


def menu_texts(menu: Any) -> list[str]:
    texts = []
    for action in menu.actions():
        texts.append(action.text())
        if action.menu() is not None:
            texts += menu_texts(action.menu())
    return texts


def table_texts(running: RunningTray) -> list[list[str]]:
    table = running.tray.window.servers.table
    return [
        [table.item(r, c).text() for c in range(table.columnCount())]
        for r in range(table.rowCount())
    ]


def test_a_crash_loop_turns_the_icon_to_attention_and_reads_in_plain_words(
    start_tray: Any, tray_loop: TrayLoop, expect_warnings: Any
) -> None:
    expect_warnings(r"bad entered crash-loop")
    running: RunningTray = start_tray(
        {"good": flaky(), "bad": flaky("--crash-at-start", maxFailures=3)}
    )

    async def scenario() -> None:
        await running.events.wait_for_state("crash-loop")
        await running.events.wait_for_state("running")
        while running.tray.state is not Overall.ATTENTION:
            await running.repainted()

    tray_loop.run(scenario)
    menu = running.tray.menu
    bad = find_action(menu, "bad — Keeps crashing — paused").menu()

    assert [(n.kind, n.server) for n in running.notices] == [(NoticeKind.CRASH_LOOP, "bad")]
    assert "bad: Keeps crashing — paused" in running.tray.icon.toolTip()
    assert [a.text() for a in menu.actions()[:3]] == [
        "MCP Tray",
        "1 needs you",
        "bad keeps crashing — Try again",
    ]
    assert enabled(bad) == ["Try again", "Stop", "Show logs", "Edit…", "Remove…"]
    assert bad.actions()[0].text() == "Keeps crashing — paused · restarted twice"
    assert bad.actions()[1].text().startswith("It stopped with an error.")
    assert not JARGON.search("\n".join(menu_texts(menu)))
    assert table_texts(running)[1][1:] == [
        "Keeps crashing — paused",
        "",
        "It stopped with an error.",
    ]
    assert not JARGON.search(repr(table_texts(running)))
    details = running.tray.window.servers
    details.table.selectRow(1)
    assert "fatal: cannot open the database" in details.details.text()  # the details keep it
    assert "last exit status 3" in details.details.text()


def test_an_open_menu_stays_open_and_updates_in_place_when_a_state_changes(
    start_tray: Any, tray_loop: TrayLoop
) -> None:
    running: RunningTray = start_tray({"demo": flaky()})
    menu = running.tray.menu

    async def scenario() -> tuple[list[Any], Any, Any]:
        await running.events.wait_for_state("running")
        menu.popup(menu.pos())  # the user opened the menu, then the server's submenu
        submenu_action = find_action(menu, "demo — Running")
        submenu = submenu_action.menu()
        submenu.popup(submenu.pos())
        before = menu.actions()
        mark = len(running.events.events)
        await running.hub.stop_server("demo")  # as `mcp-tray stop demo` would
        await running.events.wait_for_state("stopped", after=mark)
        while find_action(menu, "demo").text() != "demo — Stopped by you":
            await running.repainted()
        return before, submenu_action, submenu

    before, submenu_action, submenu = tray_loop.run(scenario)

    assert menu.isVisible() and submenu.isVisible()
    assert menu.actions() == before  # the same entries, not new ones
    assert submenu_action.menu() is submenu
    # (and its Tools submenu, once the tray has asked the hub for its tools)
    actions = [text for text in enabled(submenu) if not text.startswith("Tools (")]
    assert actions == ["Start", "Show logs", "Edit…", "Remove…"]
    menu.hide()


def test_restart_from_the_menu_starts_a_new_process(start_tray: Any, tray_loop: TrayLoop) -> None:
    running: RunningTray = start_tray({"demo": flaky()})

    async def scenario() -> tuple[int, int]:
        first = await running.events.wait_for_state("running")
        mark = len(running.events.events)
        running.menu_action("demo — Running", "Restart").trigger()
        second = await running.events.wait_for_state("running", after=mark)
        assert first.pid is not None and second.pid is not None
        return first.pid, second.pid

    first, second = tray_loop.run(scenario)

    assert first != second


def test_a_server_stopped_from_the_menu_stays_stopped_when_mcp_tray_starts_again(
    start_tray: Any, tray_loop: TrayLoop
) -> None:
    first: RunningTray = start_tray({"demo": flaky()})

    async def stop() -> None:
        await first.events.wait_for_state("running")
        mark = len(first.events.events)
        first.menu_action("demo — Running", "Stop").trigger()
        await first.events.wait_for_state("stopped", after=mark)
        await first.settled()

    tray_loop.run(stop)
    tray_loop.run(first.quit)
    again: RunningTray = start_tray({"demo": flaky()})  # the same home: the next login

    assert again.menu_action("demo — Stopped by you", "Start").isEnabled()
    assert table_texts(again)[0][1] == "Stopped by you"

    async def start() -> None:
        mark = len(again.events.events)
        again.menu_action("demo — Stopped by you", "Start").trigger()
        await again.events.wait_for_state("running", after=mark)

    tray_loop.run(start)
    assert again.tray.state is Overall.RUNNING


def test_set_secret_from_the_notice_masks_it_and_follows_the_server_until_it_runs(  # noqa: PLR0917 - fixtures
    start_tray: Any,
    tray_loop: TrayLoop,
    tray_home: Path,
    secret_service: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    expect_warnings: Any,
) -> None:
    expect_warnings(r"gui-api needs the secret API_TOKEN")
    # The keyring's private D-Bus has no notification daemon that can run without a
    # display: the notice falls back to the balloon, and says so.
    expect_warnings(r"desktop notification failed")
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", secret_service["DBUS_SESSION_BUS_ADDRESS"])
    backend = SecretService.Keyring()
    secrets = Secrets(SecretStore(tray_home / "names.json", backend=backend))
    entry = {
        "command": PYTHON,
        "args": [str(SERVERS / "secretive.py")],
        "env": {"API_TOKEN": "${secret:API_TOKEN}"},
    }
    running: RunningTray = start_tray({"gui-api": entry}, secrets=secrets)
    seen: list[str] = []

    async def scenario() -> SecretDialog:
        await running.events.wait_for_state("needs-secret")
        while not running.notices:
            await running.repainted()
        (notice,) = running.notices
        verb, label = notice.actions[0]
        assert label == "Set secret…"
        running.tray._notice_action(notice, verb)  # the notice was clicked
        dialog = next(w for w in QApplication.topLevelWidgets() if isinstance(w, SecretDialog))
        assert dialog.focusWidget() is dialog.value  # typing goes to the masked field
        seen.append(dialog.status.text())
        assert not dialog.save.isEnabled()
        dialog.value.setText("typed-into-the-dialog")
        assert dialog.save.isEnabled()
        mark = len(running.events.events)
        dialog.save.click()
        await running.events.wait_for_state("running", after=mark)
        await running.settled()
        running.tray.refresh()
        return dialog

    dialog = tray_loop.run(scenario)

    assert dialog.name.text() == "API_TOKEN" and dialog.name.isReadOnly()
    assert seen == ["Type the secret's value to save it."]
    assert dialog.status.text() == "Saved. gui-api is running."
    assert dialog.value.text() == ""  # the value does not linger in the widget
    assert backend.get_password("mcp-tray/gui-api", "API_TOKEN") == "typed-into-the-dialog"
    backend.delete_password("mcp-tray/gui-api", "API_TOKEN")
    dialog.close()


def test_the_secret_dialog_asks_for_a_name_only_when_none_is_known(qtbot: Any) -> None:
    unknown = SecretDialog("weather", [])
    qtbot.addWidget(unknown)
    known = SecretDialog("weather", ["API_KEY"])
    qtbot.addWidget(known)

    assert not unknown.name.isReadOnly() and unknown.focusWidget() is unknown.name
    assert unknown.status.text() == "Type the secret's name to save it."
    width = known.value.fontMetrics().horizontalAdvance(known.value.placeholderText())
    known.show()
    qtbot.waitExposed(known)
    assert width < known.value.width() - 10  # the placeholder is not cut off


def test_the_secret_dialog_says_when_saving_replaces_a_secret_already_kept(qtbot: Any) -> None:
    kept = SecretDialog("github", ["TOKEN", "ORG_KEY"], stored=["TOKEN"])
    qtbot.addWidget(kept)
    fresh = SecretDialog("github", ["ORG_KEY"], stored=["TOKEN"])
    qtbot.addWidget(fresh)
    replaces = "One is saved already; saving replaces it."

    assert kept.status.text() == f"Type the secret's value to save it. {replaces}"
    kept.value.setText("a-long-enough-replacement-9f3k")
    assert kept.save.isEnabled() and kept.status.text() == replaces
    kept.name.setCurrentText("ORG_KEY")  # one with nothing kept yet
    assert kept.status.text() == ""
    assert replaces not in fresh.status.text()


@pytest.mark.parametrize(
    ("value", "why"), [("abc", "too short"), ("running", "too short"), ("password", "common word")]
)
def test_the_secret_dialog_refuses_a_value_too_short_or_too_common_and_says_why(
    qtbot: Any, value: str, why: str
) -> None:
    dialog = SecretDialog("weather", ["API_KEY"])
    qtbot.addWidget(dialog)
    sent: list[tuple[str, str, str]] = []
    dialog.submitted.connect(lambda *args: sent.append(args))

    dialog.value.setText(value)
    refused = (dialog.save.isEnabled(), dialog.status.text())
    dialog.buttons.accepted.emit()  # Return, or a Save that slipped through
    dialog.value.setText("tok-" + "q" * 24)

    assert not refused[0]
    assert why in refused[1] and "replacing it with ***" in refused[1]
    assert not JARGON.search(refused[1])  # no command line in a dialog
    assert sent == []
    assert dialog.save.isEnabled() and dialog.status.text() == ""


def test_return_in_the_secret_dialog_saves_only_what_save_would_and_keeps_the_reason(
    qtbot: Any,
) -> None:
    dialog = SecretDialog("weather", ["API_KEY"])
    qtbot.addWidget(dialog)
    sent: list[tuple[str, str, str]] = []
    dialog.submitted.connect(lambda *args: sent.append(args))
    dialog.show()
    qtbot.waitExposed(dialog)
    said = []

    for typed in ("", "abc", "tok-" + "q" * 24):
        dialog.value.setText(typed)
        before = dialog.status.text()
        qtbot.keyClick(dialog.value, Qt.Key.Key_Return)
        said.append((before == dialog.status.text(), dialog.isVisible(), len(sent)))

    assert said == [(True, True, 0), (True, True, 0), (False, True, 1)]
    assert sent == [("weather", "API_KEY", "tok-" + "q" * 24)]
    assert dialog.status.text() == "Saving it for weather…"
    dialog.close()


def test_the_log_view_tells_the_story_and_counts_matches(
    start_tray: Any, tray_loop: TrayLoop, expect_warnings: Any
) -> None:
    expect_warnings(r"flappy entered crash-loop")
    running: RunningTray = start_tray({"flappy": flaky("--crash-at-start", maxFailures=2)})

    async def scenario() -> None:
        await running.events.wait_for_state("crash-loop")
        running.tray.act("logs", "flappy")
        await running.settled()

    tray_loop.run(scenario)
    logs = running.tray.window.logs
    document = logs.text.document()
    blocks = [document.findBlockByNumber(i) for i in range(document.blockCount())]
    weights = {
        block.text().split(" ", 2)[2]: block.begin().fragment().charFormat().fontWeight()
        for block in blocks
        if block.text().count(" ") >= 2
    }

    assert running.tray.window.tabs.currentWidget() is logs
    output = [t for t in weights if t.startswith("fatal: cannot open the database")]
    story = [t for t in weights if t.startswith("— ")]
    assert output and story
    assert any("Paused" in line or "paused" in line for line in story), story
    assert all(weights[t] != QFont.Weight.Bold for t in output)
    logs.search.setText("fatal")
    assert re.fullmatch(r"1 of [2-9]", logs.matches.text()), logs.matches.text()
    logs.find_next()
    assert logs.matches.text().startswith("2 of ")
    logs.search.setText("no such words")
    assert logs.matches.text() == "No matches"
    logs.copy_all()
    assert "fatal: cannot open" in QGuiApplication.clipboard().text()


def trigger_everything(menu: Any) -> None:
    """Pick every entry of ``menu`` and of its submenus that the user can pick."""
    for action in menu.actions():
        if action.menu() is not None:
            trigger_everything(action.menu())
        elif action.isEnabled() and not action.isSeparator():
            action.trigger()


async def click_everything(window: Any) -> list[str]:
    """Click every button and switch ``window`` shows, on each tab, with each server of its
    table selected; the texts of those it showed."""
    texts = []
    for index in range(window.tabs.count()):
        window.tabs.setCurrentIndex(index)
        for row in range(window.servers.table.rowCount()):
            window.servers.table.selectRow(row)
            drawn = window.servers.buttons.values()
            while not all(b.isVisibleTo(window.servers) for b in drawn):
                await asyncio.sleep(0)  # Qt shows the selected server's new buttons on a next turn
            for control in window.findChildren(QAbstractButton):
                if control.isVisibleTo(window):
                    texts.append(control.text())
                    control.click()
    return texts


def test_without_a_system_tray_the_window_holds_every_action_of_the_menu(
    start_tray: Any,
    tray_loop: TrayLoop,
    tray_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    expect_warnings: Any,
) -> None:
    expect_warnings(r"gui-api needs the secret API_TOKEN")
    # What each entry and button asks the tray to do is recorded, not done (Quit would quit).
    asked: list[tuple[str, str]] = []
    monkeypatch.setattr(TrayApp, "act", lambda tray, verb, server: asked.append((verb, server)))
    store = SecretStore(tray_home / "names.json", backend=MemoryKeyring())
    secretive = {
        "command": PYTHON,
        "args": [str(SERVERS / "secretive.py")],
        "env": {"API_TOKEN": "${secret:API_TOKEN}"},
    }
    running: RunningTray = start_tray(  # offscreen: no system tray
        {"demo": flaky(), "gui-api": secretive}, secrets=Secrets(store)
    )
    config_file = tray_home / "config.json"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    async def serving_over_http() -> None:  # so that the menu offers its HTTP entries too
        await running.events.wait_for_state("running")
        await running.events.wait_for_state("needs-secret")
        mark = len(running.events.events)
        config = json.loads(config_file.read_text())
        config_file.write_text(json.dumps({**config, "http": {"enabled": True, "port": port}}))
        await running.events.wait_for(lambda e: isinstance(e, ConfigApplied), after=mark)

    tray_loop.run(serving_over_http)
    running.tray.refresh()
    window = running.tray.window
    trigger_everything(running.tray.menu)
    in_menu = set(asked)
    asked.clear()
    shown = tray_loop.run(lambda: click_everything(window))
    in_window = set(asked)

    assert window.isVisible()
    assert {(HTTP, ""), (NEW_KEY, ""), (SECRET, "gui-api"), (EDIT, "demo")} <= in_menu
    assert in_window - in_menu == set()
    # The window is what "Servers and logs…" opens, and its Settings tab lists the
    # addresses "HTTP addresses…" shows.
    assert in_menu - in_window == {(WINDOW, ""), (HTTP_ADDRESSES, "")}
    assert window.settings.findChild(QPushButton, "copy:gui-api") is not None
    assert not [t for t in shown + menu_texts(running.tray.menu) if "Reload" in t]


def test_quit_sits_apart_from_the_other_buttons_of_the_window(
    start_tray: Any, tray_loop: TrayLoop
) -> None:
    running: RunningTray = start_tray({})
    window = running.tray.window
    bottom = {
        b.text(): b.geometry()
        for b in window.findChildren(QPushButton)
        if b.isVisibleTo(window) and b.parentWidget() is window
    }

    assert list(bottom) == ["Add a server…", "Connect an app…", "Open config", "Quit"]
    gaps = [bottom[b].left() - bottom[a].right() for a, b in itertools.pairwise(bottom)]
    assert gaps[-1] > bottom["Quit"].width() > gaps[0]  # a stretch before Quit, not a spacing


def test_without_a_system_tray_the_window_shows_itself_and_closing_it_says_how_to_come_back(
    start_tray: Any, tray_loop: TrayLoop
) -> None:
    running: RunningTray = start_tray({"demo": flaky()})  # offscreen: no system tray

    tray_loop.run(lambda: running.events.wait_for_state("running"))
    running.tray.refresh()
    window = running.tray.window

    assert window.isVisible()
    assert "no system tray" in window.banner.text()
    assert "applications menu" in window.banner.text()  # how to come back after closing
    assert window.headline.text() == "1 server running"
    assert table_texts(running)[0][:2] == ["demo", "Running"]
    assert running.tray.tray_watch.isActive()  # it looks for a tray that starts later
    told: list[Notice] = []
    running.tray.notifier.show = told.append  # type: ignore[method-assign] - the desktop's edge
    window.close()
    (notice,) = told
    assert not window.isVisible()
    assert notice.title == "MCP Tray keeps running"
    assert "applications menu" in notice.body


def test_the_window_opens_on_the_servers_tab_whatever_tab_was_last(
    start_tray: Any, tray_loop: TrayLoop
) -> None:
    running: RunningTray = start_tray({"demo": flaky()})
    window = running.tray.window

    async def reopen() -> None:
        window.tabs.setCurrentWidget(window.logs)
        window.close()
        running.menu_action("Servers and logs…").trigger()

    tray_loop.run(reopen)

    assert window.isVisible()
    assert window.tabs.currentWidget() is window.servers
    assert COLUMNS == ("Server", "State", "Running for", "Problem")


def test_the_first_run_shows_a_welcome_once(start_tray: Any, tray_loop: TrayLoop) -> None:
    running: RunningTray = start_tray({"demo": flaky()})
    welcome = running.tray.welcome
    texts = " ".join(label.text() for label in welcome.findChildren(QLabel))
    buttons = [b.text() for b in welcome.findChildren(QPushButton)]

    assert isinstance(welcome, WelcomeWindow) and welcome.isVisible()
    assert "demo server is already running" in texts
    assert "no system tray right now" in texts  # offscreen: it does not point at a tray
    assert buttons == ["Add a server…", "Connect an app…", "Open config", "Close"]
    welcome.close()
    tray_loop.run(running.quit)
    again: RunningTray = start_tray({"demo": flaky()})
    assert getattr(again.tray, "welcome", None) is None


@pytest.mark.parametrize(
    ("step", "opens", "opened"),
    [
        ("Add a server…", {"AddServerDialog"}, False),
        ("Connect an app…", {"ConnectDialog"}, False),
        ("Open config", set(), True),
    ],
)
def test_each_step_of_the_welcome_does_what_it_says(  # noqa: PLR0917 - fixtures
    start_tray: Any,
    tray_loop: TrayLoop,
    tray_home: Path,
    step: str,
    opens: set[str],
    opened: bool,
) -> None:
    running: RunningTray = start_tray({"demo": flaky()})
    welcome = running.tray.welcome
    assert welcome is not None

    def on_screen() -> list[Any]:
        return [w for w in QApplication.topLevelWidgets() if w.isVisible()]

    async def choose() -> tuple[set[str], bool]:
        before = on_screen()
        next(b for b in welcome.findChildren(QPushButton) if b.text() == step).click()
        await running.settled()
        after = on_screen()
        return {type(w).__name__ for w in after if w not in before}, welcome in after

    shown, welcome_stays = tray_loop.run(choose)

    assert shown == opens
    assert not welcome_stays  # a step taken, the welcome is done
    assert running.tray.open_url.opened == ([str(tray_home / "config.json")] if opened else [])


def test_a_config_mistake_shows_at_the_top_of_the_menu_and_as_a_banner_until_fixed(
    start_tray: Any,
    tray_loop: TrayLoop,
    tray_home: Path,
    expect_warnings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    expect_warnings(r"config not applied")
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)  # no notification service
    running: RunningTray = start_tray({"demo": flaky()})
    config = tray_home / "config.json"
    good = config.read_text()

    async def break_then_fix() -> tuple[list[str], str, bool]:
        await running.events.wait_for_state("running")
        mark = len(running.events.events)
        config.write_text('{"mcpServers": {"demo": {"command": ""}}}')
        await running.events.wait_for(lambda e: isinstance(e, ConfigProblem), after=mark)
        top = [a.text() for a in running.tray.menu.actions()[:5]]
        banner = running.tray.window.config_banner
        shown = (banner.text.text(), banner.isVisibleTo(running.tray.window))
        next(b for b in banner.findChildren(QPushButton) if b.text() == "Open config").click()
        mark = len(running.events.events)
        config.write_text(good)
        await running.events.wait_for(lambda e: isinstance(e, ConfigApplied), after=mark)
        return top, shown[0], shown[1]

    top, banner_text, banner_shown = tray_loop.run(break_then_fix)

    assert top[1] == "1 needs you"
    assert top[2].startswith("The config file has a mistake in config.json, line 1, column")
    assert top[3] == "mcpServers.demo.command: must not be empty"  # on a line of its own
    assert top[4] == "Open config to fix it"
    assert banner_shown and "line 1, column" in banner_text and "keep running" in banner_text
    assert running.tray.open_url.opened == [str(config)]  # by the banner's Open config
    # Offscreen there is no tray either: the notice does not repeat the mistake in the window.
    assert running.tray.window.banner.text().count("mistake") == 0
    assert "no system tray" in running.tray.window.banner.text()
    assert not running.tray.window.config_banner.isVisibleTo(running.tray.window)
    assert running.tray.menu.actions()[2].text() == ""  # the mistake's lines are gone
    kinds = [n.kind for n in running.notices]
    assert kinds == [NoticeKind.CONFIG_ERROR, NoticeKind.CONFIG_FIXED]


def test_open_config_falls_back_to_showing_where_the_file_is(
    start_tray: Any, tray_loop: TrayLoop, tray_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tray_home))  # no text editor to be found either
    running: RunningTray = start_tray({})
    running.tray.open_url.answer = False  # the desktop has no program for .json

    async def open_config() -> None:
        running.menu_action("Open config").trigger()

    tray_loop.run(open_config)

    (shown,) = [w for w in QApplication.topLevelWidgets() if isinstance(w, ConfigLocationDialog)]
    assert running.tray.open_url.opened == [str(tray_home / "config.json")]
    assert shown.isVisible() and shown.path.text() == str(tray_home / "config.json")
    copy = next(b for b in shown.findChildren(QPushButton) if b.text() == "Copy")
    copy.click()
    assert QGuiApplication.clipboard().text() == str(tray_home / "config.json")
    shown.close()


def test_edit_of_a_remote_server_points_to_the_config_file_and_stays_until_closed(
    start_tray: Any, tray_loop: TrayLoop, tray_home: Path
) -> None:
    running: RunningTray = start_tray({"web": {"url": "http://127.0.0.1:1/mcp"}})

    async def edit() -> None:
        running.menu_action("web", "Edit…").trigger()
        gc.collect()  # nothing but the tray holds the note

    tray_loop.run(edit)

    (note,) = [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox)]
    assert note.isVisible() and "config file" in note.text()
    opens = next(b for b in note.buttons() if b.text() == "Open config file")
    opens.click()
    assert running.tray.open_url.opened == [str(tray_home / "config.json")]


def test_open_config_falls_back_to_a_text_editor_when_no_program_opens_json(
    start_tray: Any,
    tray_home: Path,
    tmp_path: Path,
    qtbot: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder = tmp_path / "bin"
    folder.mkdir()
    editor = folder / "mousepad"  # a fake editor: it writes the arguments it was started with
    args = folder / "mousepad.args"
    editor.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{args}"\n')
    editor.chmod(0o755)
    monkeypatch.setenv("PATH", str(folder))  # the only editor to be found
    running: RunningTray = start_tray({})
    running.tray.open_url.answer = False  # the desktop has no program for .json
    config = str(tray_home / "config.json")

    running.menu_action("Open config").trigger()
    qtbot.waitUntil(
        lambda: args.is_file() and args.read_text() == f"{config}\n",
        timeout=EDITOR_START_TIMEOUT_MS,
    )

    assert running.tray.open_url.opened == [config]
    shown = [w for w in QApplication.topLevelWidgets() if isinstance(w, ConfigLocationDialog)]
    assert not [w for w in shown if w.isVisible()]  # the editor opened it: nothing to show


def test_start_at_login_is_toggled_from_the_menu(
    start_tray: Any, tray_loop: TrayLoop, tmp_path: Path
) -> None:
    running: RunningTray = start_tray({})
    entry = tmp_path / "xdg-config" / "autostart" / "mcp-tray.desktop"

    async def toggle() -> None:
        running.menu_action("Start at login").trigger()
        await running.settled()

    tray_loop.run(toggle)
    assert entry.exists()
    assert running.menu_action("Start at login").isChecked()
    assert running.tray.window.settings.login.isChecked()
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
        while running.tray.window.servers.table.item(0, 1).text() != "Stopped by you":
            await running.repainted()

    tray_loop.run(scenario)

    assert running.tray.state is Overall.IDLE
    assert running.tray.window.headline.text() == "No server running"
    buttons = running.tray.window.servers.buttons
    enabled = [place for place, button in buttons.items() if button.isEnabled()]
    assert enabled == ["start", "logs", "edit", "remove"]


def test_serve_over_http_shows_each_address_with_a_copy_button(
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
            running.menu_action("Serve over HTTP").trigger()
            await running.settled()
            item = running.menu_action("Serve over HTTP")
            seen.append((running.hub.http is not None, item.isChecked()))
            if item.isChecked():
                window = running.tray.window
                assert window.isVisible() and window.tabs.currentWidget() is window.settings
                copy = window.settings.findChild(QPushButton, "copy:demo")
                copy.click()
                seen.append((True, QGuiApplication.clipboard().text().endswith("/demo/mcp")))
        return seen

    seen = tray_loop.run(scenario)

    assert seen == [(True, True), (True, True), (False, False)]
    assert QGuiApplication.clipboard().text() == f"http://127.0.0.1:{port}/servers/demo/mcp"
    assert json.loads(config_file.read_text())["http"] == {"port": port, "enabled": False}


def test_buttons_of_another_state_are_greyed_at_once_in_the_same_place(qtbot: Any) -> None:
    tab = ServersTab(lambda verb, server: None)
    qtbot.addWidget(tab)
    tab.show()
    qtbot.waitExposed(tab)
    tab.update_rows([ServerStatus(name="files", state=State.RUNNING)], {})
    QApplication.processEvents()  # its buttons are on screen
    assert "Restart" in [b.text() for b in tab.findChildren(QPushButton) if b.isVisibleTo(tab)]

    tab.update_rows([ServerStatus(name="files", state=State.CRASH_LOOP)], {})  # no event in between

    shown = [b.text() for b in tab.findChildren(QPushButton) if b.isVisibleTo(tab)]
    assert "Restart" in shown  # it keeps its place…
    assert not tab.buttons["restart"].isEnabled()  # …greyed at once: Try again restarts it


def test_a_new_access_key_from_the_menu_asks_first_then_reaches_the_connected_app(
    start_tray: Any, tray_loop: TrayLoop, tray_home: Path, tmp_path: Path, expect_warnings: Any
) -> None:
    keyring = MemoryKeyring()
    store = SecretStore(tray_home / "names.json", backend=keyring)
    running: RunningTray = start_tray({"demo": flaky()}, secrets=Secrets(store))
    config_file = tray_home / "config.json"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app_config = tmp_path / "mcp.json"
    app_config.write_text(json.dumps({"mcpServers": {"demo": flaky()}}))
    told: list[Notice] = []
    running.tray.notifier.show = told.append  # type: ignore[method-assign] - the desktop's edge
    expect_warnings(r"HTTP endpoint refused POST /servers/demo/mcp .*a wrong bearer token")

    def bearer() -> str:
        headers = json.loads(app_config.read_text())["mcpServers"]["demo"]["headers"]
        return str(headers["Authorization"])

    async def scenario() -> tuple[str, str, int, int]:
        assert running.tray.window.settings.new_key.isHidden()  # not while HTTP is off
        mark = len(running.events.events)
        config = json.loads(config_file.read_text())
        config_file.write_text(json.dumps({**config, "http": {"enabled": True, "port": port}}))
        await running.events.wait_for(lambda e: isinstance(e, ConfigApplied), after=mark)
        await asyncio.to_thread(
            connect, HOSTS["cursor"], app_config, running.hub.paths, http=True, store=store
        )
        old = bearer()
        running.tray.refresh()
        offered = not running.tray.window.settings.new_key.isHidden()
        assert offered, "the window offers it too, for a desktop without a tray"
        running.menu_action("Make a new access key…").trigger()
        await running.settled()
        question = running.tray.new_key_question
        assert question is not None and question.isVisible()
        asked = question.text()
        next(b for b in question.buttons() if b.text() == "Make a new key").click()
        await running.settled()
        url = f"http://127.0.0.1:{port}/servers/demo/mcp"
        async with httpx2.AsyncClient(timeout=30.0) as http:
            statuses = [
                (
                    await http.post(
                        url, headers={**MCP, "Authorization": token}, json=INITIALIZE_REQUEST
                    )
                )
                for token in (old, bearer())
            ]
        return asked, old, statuses[0].status_code, statuses[1].status_code

    asked, old, with_old, with_new = tray_loop.run(scenario)

    assert "MCP Tray gives the new key to Cursor for you" in asked
    assert "Any other app you gave the key to must be given the new one." in asked
    assert bearer() != old and bearer().endswith(keyring.entries[("mcp-tray/_http", "token")])
    assert (with_old, with_new) == (401, 200)
    assert running.tray.new_key_question is None  # answered, and gone
    (notice,) = told
    assert notice.title == "Made a new access key"
    assert notice.body.startswith("The old key no longer works. Quit and reopen Cursor")
    assert not JARGON.search(notice.body)


MCP = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def test_the_secret_dialog_grows_to_show_a_refusal_whole_above_its_buttons(
    qapp: QApplication,
) -> None:
    dialog = SecretDialog("weather", ["API_KEY"])
    dialog.show()
    dialog.value.setText("abc")  # too short: the reason takes several lines
    qapp.processEvents()

    status, buttons = dialog.status, dialog.buttons
    assert status.text().startswith("It is too short")
    assert status.height() >= status.heightForWidth(status.width())
    assert status.geometry().bottom() < buttons.geometry().top()
    dialog.close()
