""" "Connect an app…" on its own: looking, choosing a file, Connect and Disconnect, in words.

Real app config files sit under a temporary home (HOME and XDG_CONFIG_HOME
point there; MCP_TRAY_HOME is the test's own), and the dialog reads and
changes them for real. Its work runs on the qasync loop through the ``run``
it is given, as in the tray; the hub's ``reload`` is a recorder here, since
starting the imported servers is the hub's part (tests/gui/test_connect_app.py
covers the two together).
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QEvent, QSize, Qt
from PySide6.QtWidgets import QApplication, QLabel, QPushButton
from pytestqt.qtbot import QtBot

from app.core.paths import Paths, default_paths
from app.gui.connect import CONNECT, DISCONNECT, ConnectDialog, PathLabel
from app.hosts.registry import HOSTS
from tests.gui.conftest import TrayLoop
from tests.helpers import ARTIFACTS

CURSOR = HOSTS["cursor"]


class Tray:
    """The tray's side of the dialog: tasks on the loop, and reloads of the hub's config."""

    def __init__(self, paths: Paths) -> None:
        self.paths = paths
        self.tasks: set[asyncio.Future[object]] = set()
        self.reloads: list[list[str]] = []  # MCP Tray's servers at each reload

    def run(self, work: Coroutine[Any, Any, object]) -> None:
        self.tasks.add(asyncio.ensure_future(work))

    async def reload(self) -> list[str]:
        servers = json.loads(self.paths.config_file.read_text())["mcpServers"]
        self.reloads.append(sorted(servers))
        return []

    async def settled(self) -> None:
        """Until every task the dialog started (and those they started) has finished."""
        while pending := [task for task in self.tasks if not task.done()]:
            await asyncio.gather(*pending)
        for task in self.tasks:
            task.result()  # a task that failed fails the test


@pytest.fixture
def tray(tray_home: Path, home: Path) -> Tray:
    (tray_home / "config.json").write_text('{"mcpServers": {}}\n')
    paths = default_paths()
    paths.ensure()
    return Tray(paths)


@pytest.fixture
def collected_on_the_gui_thread() -> Iterator[None]:
    """After the loop has closed (this fixture outlives tray_loop): collect its leftovers.

    A closed qasync loop leaves its timer object in a reference cycle; collected later
    in a worker thread (asyncio.to_thread of a next test), Qt warns "Timers cannot be
    stopped from another thread".
    """
    yield
    gc.collect()


@pytest.fixture
def dialog(
    collected_on_the_gui_thread: None, tray: Tray, qtbot: QtBot, tray_loop: TrayLoop
) -> Iterator[ConnectDialog]:
    dialog = ConnectDialog(list(HOSTS.values()), paths=tray.paths, run=tray.run, reload=tray.reload)
    dialog.show()
    yield dialog
    # Deleted here, on the GUI thread: left to Python's cycle collector, which may run
    # in a later test's worker thread, Qt would warn that its timers stop off-thread.
    dialog.close()
    dialog.deleteLater()
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def write(path: Path, servers: dict[str, Any], key: str = "mcpServers") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({key: servers}, indent=2))
    return path


def cursor_config(home: Path) -> Path:
    return write(
        home / ".cursor" / "mcp.json",
        {
            "github": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-github"]},
            "memory": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-memory"]},
            "docs": {"url": "https://docs.example.com/mcp"},
        },
    )


def look(dialog: ConnectDialog, tray: Tray, tray_loop: TrayLoop) -> None:
    dialog.look_again()
    tray_loop.run(tray.settled)


def press(button: QPushButton, tray: Tray, tray_loop: TrayLoop) -> None:
    assert button.isEnabled()
    button.click()
    tray_loop.run(tray.settled)


def listed(dialog: ConnectDialog) -> list[tuple[str, Path]]:
    return [(app.host.name, app.path) for app in dialog.apps]


def words(dialog: ConnectDialog) -> str:
    """Every text the dialog shows."""
    return "\n".join(label.text() for label in dialog.findChildren(QLabel) if label.isVisible())


def screenshot(dialog: ConnectDialog, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    dialog.grab().save(str(ARTIFACTS / f"connect-dialog-{name}.png"))


def test_connecting_then_disconnecting_cursor_says_what_changed_in_plain_words(
    dialog: ConnectDialog, tray: Tray, tray_loop: TrayLoop, home: Path
) -> None:
    path = cursor_config(home)
    original = path.read_bytes()
    look(dialog, tray, tray_loop)

    press(dialog.buttons[(path, CONNECT)], tray, tray_loop)
    connected = dialog.status.text()
    screenshot(dialog, "connected")
    press(dialog.buttons[(path, DISCONNECT)], tray, tray_loop)
    disconnected = dialog.status.text()

    assert connected == (
        f"Cursor now reaches 3 servers through MCP Tray: github, memory, docs. {CURSOR.restart}\n"
        "docs may ask you to sign in; if it does, MCP Tray will ask you."
    )
    assert tray.reloads == [["docs", "github", "memory"]]  # after the import: the new servers start
    assert disconnected == (
        "Cursor is back to starting its servers itself.\n"
        "github, memory and docs keep running in MCP Tray; "
        "remove them there if you no longer need them.\n"
        f"{CURSOR.restart}"
    )
    assert path.read_bytes() == original
    assert set(dialog.buttons) == {(path, CONNECT)}


def test_servers_left_as_they_are_are_named_with_the_reason(
    dialog: ConnectDialog, tray: Tray, tray_loop: TrayLoop, home: Path
) -> None:
    tray.paths.config_file.write_text('{"mcpServers": {"github": {"command": "docker"}}}')
    path = write(
        home / ".cursor" / "mcp.json",
        {
            "github": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-github"]},
            "notes": {"command": "uvx", "args": ["notes-mcp"]},
            "linter": {"command": "node", "args": ["${file}"]},
            "search": {"command": "uvx", "args": ["search-mcp"], "env": {"KEY": "${input:KEY}"}},
        },
    )
    look(dialog, tray, tray_loop)

    press(dialog.buttons[(path, CONNECT)], tray, tray_loop)

    assert dialog.status.text().split("\n") == [
        f"Cursor now reaches 2 servers through MCP Tray: notes, search. {CURSOR.restart}",
        "github stays as it is: MCP Tray already has a different server called github.",
        "linter stays as it is: it uses ${file}, which only Cursor can fill in.",
        "search needs KEY; MCP Tray will ask you for it.",
    ]


def test_look_again_lists_an_app_whose_file_appears_later(
    dialog: ConnectDialog, tray: Tray, tray_loop: TrayLoop, home: Path
) -> None:
    look(dialog, tray, tray_loop)
    before = listed(dialog)
    windsurf = write(
        home / ".codeium" / "windsurf" / "mcp_config.json", {"time": {"command": "uvx"}}
    )

    press(dialog.look_button, tray, tray_loop)

    assert before == []
    assert listed(dialog) == [("windsurf", windsurf)]
    assert dialog.status.text() == "Found Windsurf."
    assert (windsurf, CONNECT) in dialog.buttons


# The offscreen platform says this of every new top-level window that adjusts its size hints;
# the file chooser is one. A desktop platform does not.
@pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")
def test_choose_a_file_adds_a_project_file_and_keeps_it_listed(
    dialog: ConnectDialog, tray: Tray, tray_loop: TrayLoop, home: Path
) -> None:
    usual = cursor_config(home)
    project = write(home / "code" / "shop" / ".cursor" / "mcp.json", {"db": {"command": "uvx"}})
    look(dialog, tray, tray_loop)

    chooser = dialog.choose_file()  # opens without blocking; the user picks the file
    chooser.fileSelected.emit(str(project))
    tray_loop.run(tray.settled)
    added = dialog.status.text()
    look(dialog, tray, tray_loop)  # as the tray does when the dialog is shown again

    assert listed(dialog) == [("cursor", usual), ("cursor", project)]
    assert added == "Added Cursor's file from the shop folder to the list."
    assert (project, CONNECT) in dialog.buttons
    press(dialog.buttons[(project, CONNECT)], tray, tray_loop)
    assert dialog.status.text().startswith("Cursor now reaches 1 server through MCP Tray: db.")
    assert json.loads(usual.read_text())["mcpServers"]["github"]["command"] == "npx"


def test_a_chosen_file_whose_app_cannot_be_told_asks_which_app_uses_it(
    dialog: ConnectDialog, tray: Tray, tray_loop: TrayLoop, home: Path
) -> None:
    settings = write(home / "agents" / "settings.json", {"search": {"command": "uvx"}})
    look(dialog, tray, tray_loop)

    dialog.add_file(settings)  # the slot the file chooser calls
    tray_loop.run(tray.settled)
    asked = dialog.question.text.text()
    choices = [dialog.question.which.itemText(i) for i in range(dialog.question.which.count())]
    screenshot(dialog, "which-app")
    dialog.question.which.setCurrentText("Gemini CLI")
    press(dialog.question.add, tray, tray_loop)

    assert asked == "Which app uses ~/agents/settings.json?"
    assert choices == ["Claude Desktop", "Claude Code", "Cursor", "Windsurf", "Gemini CLI"]
    assert dialog.question.isHidden()
    assert listed(dialog) == [("gemini", settings)]


def test_the_empty_state_names_the_apps_looked_for_and_gives_no_command_line(
    dialog: ConnectDialog, tray: Tray, tray_loop: TrayLoop
) -> None:
    look(dialog, tray, tray_loop)
    shown = words(dialog)
    screenshot(dialog, "nothing-found")

    for host in HOSTS.values():
        assert host.title in shown
    assert "press Choose a file… to add it" in shown
    for command_line in ("mcp-tray", "`", "--", "HOST"):
        assert command_line not in shown


def test_the_status_line_says_what_happened_and_never_repeats_the_list(
    dialog: ConnectDialog, tray: Tray, tray_loop: TrayLoop, home: Path
) -> None:
    cursor_config(home)
    write(home / ".gemini" / "settings.json", {"time": {"command": "uvx"}})
    look(dialog, tray, tray_loop)
    first = (dialog.status.text(), dialog.status.isVisible())

    press(dialog.look_button, tray, tray_loop)

    assert len(dialog.apps) == 2
    assert first == ("", False)
    assert dialog.status.text() == "Looked again; nothing has changed."


def test_a_broken_mcp_tray_config_says_nothing_was_connected_and_what_to_do(
    dialog: ConnectDialog, tray: Tray, tray_loop: TrayLoop, home: Path
) -> None:
    path = cursor_config(home)
    original = path.read_bytes()
    tray.paths.config_file.write_text('{"mcpServers": {"a": {"command": 1}}}')
    look(dialog, tray, tray_loop)

    press(dialog.buttons[(path, CONNECT)], tray, tray_loop)

    said = dialog.status.text()
    assert said.startswith("MCP Tray's own config has a mistake at line 1 (")
    assert said.endswith(
        ", so Cursor was not connected. Choose Open config in the tray menu, fix it, and try again."
    )
    assert path.read_bytes() == original
    assert tray.reloads == []


def test_a_file_with_a_mistake_says_where_and_what_to_do(
    dialog: ConnectDialog, tray: Tray, tray_loop: TrayLoop, home: Path
) -> None:
    path = home / ".cursor" / "mcp.json"
    path.parent.mkdir()
    path.write_text('{"mcpServers": {"github": {"command": "npx"}')
    look(dialog, tray, tray_loop)

    assert (
        "~/.cursor/mcp.json has a mistake at line 1, column 45: Expecting ',' delimiter. "
        "Fix it in Cursor, or undo the last change to it, then press Look again."
    ) in words(dialog)
    assert not dialog.buttons


@pytest.mark.parametrize("size", ["default", "minimum"])
def test_a_long_path_is_cut_in_the_middle_and_whole_in_its_tooltip(
    dialog: ConnectDialog, tray: Tray, tray_loop: TrayLoop, home: Path, size: str
) -> None:
    deep = home / "projects" / ("a-very-long-folder-name-" * 6) / "shop" / ".vscode" / "mcp.json"
    write(deep, {"db": {"type": "stdio", "command": "uvx"}}, key="servers")
    cursor_config(home)
    dialog.add_file(deep)
    tray_loop.run(tray.settled)
    look(dialog, tray, tray_loop)
    dialog.resize(dialog.minimumSize() if size == "minimum" else QSize(640, 520))
    QApplication.processEvents()  # the layout follows the new size
    screenshot(dialog, f"long-path-{size}")

    label = next(p for p in dialog.findChildren(PathLabel) if p.toolTip() == str(deep))
    assert "…" in label.text() and label.text().endswith("/.vscode/mcp.json")
    assert label.width() < dialog.width()
    assert dialog.width() == (dialog.minimumWidth() if size == "minimum" else 640)
    for button in (dialog.look_button, dialog.choose_button):
        assert dialog.rect().contains(button.geometry())


def test_a_hostile_file_is_its_app_s_problem_and_every_other_app_is_listed(
    dialog: ConnectDialog, tray: Tray, tray_loop: TrayLoop, home: Path
) -> None:
    path = cursor_config(home)
    nested = home / ".config" / "Claude" / "claude_desktop_config.json"
    nested.parent.mkdir(parents=True)
    nested.write_text("[" * 100_000 + "]" * 100_000)
    odd = {"<b>bold</b>": {"command": "uvx"}, "typed": {"command": "uvx", "type": ["stdio"]}}
    gemini = write(home / ".gemini" / "settings.json", odd)
    pipe = home / "project" / "mcp.json"
    pipe.parent.mkdir()
    os.mkfifo(pipe)  # read, it would wait for a writer for ever
    look(dialog, tray, tray_loop)

    dialog.add_file(pipe)  # the slot the file chooser calls
    tray_loop.run(tray.settled)
    said = dialog.status.text()
    shown = words(dialog)
    screenshot(dialog, "hostile-files")
    press(dialog.buttons[(path, CONNECT)], tray, tray_loop)

    assert listed(dialog) == [("claude-desktop", nested), ("cursor", path), ("gemini", gemini)]
    assert said == (
        "~/project/mcp.json is not an ordinary file, so it was not added. "
        "Fix it, then choose it again."
    )
    assert (
        "~/.config/Claude/claude_desktop_config.json has a mistake (it is nested more than 100 "
        "levels deep). Fix it in Claude Desktop, or undo the last change to it, then press "
        "Look again."
    ) in shown
    assert '• "<b>bold</b>" — stays with Gemini CLI: MCP Tray needs a name of letters' in shown
    assert "• typed — Gemini CLI starts it itself" in shown
    html = next(label for label in dialog.findChildren(QLabel) if "<b>" in label.text())
    assert html.textFormat() == Qt.TextFormat.PlainText  # shown as written, not as HTML
    assert dialog.status.text().startswith("Cursor now reaches 3 servers through MCP Tray")


def reopen(dialog: ConnectDialog, tray: Tray, tray_loop: TrayLoop) -> None:
    """What the tray does on "Connect an app…" after the dialog was closed."""
    dialog.show()
    look(dialog, tray, tray_loop)


def test_reopening_the_dialog_starts_with_a_fresh_status_line(
    dialog: ConnectDialog, tray: Tray, tray_loop: TrayLoop, home: Path
) -> None:
    path = cursor_config(home)
    look(dialog, tray, tray_loop)
    press(dialog.buttons[(path, CONNECT)], tray, tray_loop)
    said = dialog.status.text()
    dialog.close()

    reopen(dialog, tray, tray_loop)

    assert said.startswith("Cursor now reaches 3 servers through MCP Tray")
    assert (dialog.status.text(), dialog.status.isVisible()) == ("", False)
    assert set(dialog.buttons) == {(path, DISCONNECT)}  # the list itself is as it is now


def test_news_that_came_while_the_dialog_was_closed_is_still_there_when_it_opens(
    dialog: ConnectDialog, tray: Tray, tray_loop: TrayLoop, home: Path
) -> None:
    path = cursor_config(home)
    look(dialog, tray, tray_loop)
    dialog.buttons[(path, CONNECT)].click()
    dialog.close()  # before connecting is done
    tray_loop.run(tray.settled)

    reopen(dialog, tray, tray_loop)

    assert dialog.status.isVisible()
    assert dialog.status.text().startswith("Cursor now reaches 3 servers through MCP Tray")
