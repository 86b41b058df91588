"""The window's tools: the selected server's tools with a tick and what each does, against
a real hub and the bundled demo server; unticking one switches it off for the apps
(written to the config), and the server runs on."""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import QPoint, Qt
from pytestqt.qtbot import QtBot

from app.gui.toolsview import ToolsView
from tests.gui.conftest import RunningTray, TrayLoop
from tests.helpers import PYTHON

DEMO = {"command": PYTHON, "args": ["-m", "app", "demo"]}
INDICATOR_X = 10  # the tick sits at the start of its cell, a few pixels in


def shown(view: ToolsView) -> dict[str, tuple[bool, str]]:
    """Each tool's row as the user reads it: ticked or not, and what it does."""
    table = view.table
    rows = {}
    for index in range(table.rowCount()):
        name, about = table.item(index, 0), table.item(index, 1)
        rows[name.text()] = (name.checkState() == Qt.CheckState.Checked, about.text())
    return rows


def click_tick(qtbot: QtBot, view: ToolsView, tool: str) -> None:
    """A click on ``tool``'s tick, where a user's pointer would press it."""
    cell = view.table.visualItemRect(view.tick(tool))
    at = QPoint(cell.x() + INDICATOR_X, cell.center().y())
    qtbot.mouseClick(view.table.viewport(), Qt.MouseButton.LeftButton, pos=at)


def test_the_window_shows_the_selected_servers_tools_and_unticking_one_switches_it_off(
    start_tray: Any, tray_loop: TrayLoop, tray_home: Any, qtbot: QtBot
) -> None:
    running: RunningTray = start_tray({"notes": DEMO})
    view = running.tray.window.servers.tools

    async def open_window() -> int | None:
        started = await running.events.wait_for_state("running")
        running.tray.window.bring_forward()  # the user opens the window
        running.tray.window.servers.table.selectRow(0)  # and picks notes
        running.tray.refresh()
        await running.settled()
        return started.pid

    pid = tray_loop.run(open_window)
    before = (view.summary.text(), shown(view))
    click_tick(qtbot, view, "delete_note")  # the user unticks it
    tray_loop.run(running.settled)
    after = (view.summary.text(), shown(view))
    config = json.loads((tray_home / "config.json").read_text())
    row = next(r for r in running.hub.status_rows() if r.name == "notes")

    assert before[0].startswith("Tools: 4 of 4 on.")
    assert before[1] == {
        "current_time": (True, before[1]["current_time"][1]),
        "add_note": (
            True,
            "Save a short note that persists between conversations; returns it with its id.",
        ),
        "list_notes": (True, "Every saved note, oldest first."),
        "delete_note": (
            True,
            "Delete the note with this id (as shown by list_notes); returns the deleted note.",
        ),
    }
    assert before[1]["current_time"][1]  # it says what it does, whatever the words
    assert after[0].startswith("Tools: 3 of 4 on.")
    assert after[1]["delete_note"][0] is False
    assert [ticked for ticked, _ in after[1].values()].count(True) == 3
    assert config["mcpServers"]["notes"]["tools"] == {"disabled": ["delete_note"]}
    assert (row.state.value, row.pid) == ("running", pid)  # the server ran on
    assert view.review_button.isHidden()  # nothing of notes is held
