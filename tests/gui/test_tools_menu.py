"""The Tools submenu: a check per tool of a running server, against a real hub and the
bundled demo server; a click switches the tool for the apps, and the server runs on."""

from __future__ import annotations

import json
from typing import Any

from tests.gui.conftest import RunningTray, TrayLoop, find_action
from tests.helpers import PYTHON

DEMO = {"command": PYTHON, "args": ["-m", "app", "demo"]}


def checks(menu: Any) -> dict[str, bool]:
    return {a.text(): a.isChecked() for a in menu.actions() if a.isCheckable()}


def test_a_click_in_the_tools_submenu_switches_that_tool_for_the_apps_and_nothing_else(
    start_tray: Any, tray_loop: TrayLoop, tray_home: Any
) -> None:
    running: RunningTray = start_tray({"notes": DEMO})

    async def open_menu() -> int | None:
        started = await running.events.wait_for_state("running")
        running.tray.menu.aboutToShow.emit()  # the user opens the menu
        await running.settled()
        return started.pid

    pid = tray_loop.run(open_menu)
    tools = find_action(running.tray.menu, "notes", "Tools")
    before = (tools.text(), checks(tools.menu()))
    switch = find_action(tools.menu(), "delete_note")
    assert switch.isCheckable()
    switch.trigger()  # the user unticks it

    async def switched() -> None:
        await running.settled()

    tray_loop.run(switched)
    tools = find_action(running.tray.menu, "notes", "Tools")
    after = (tools.text(), checks(tools.menu()))
    config = json.loads((tray_home / "config.json").read_text())
    row = next(r for r in running.hub.status_rows() if r.name == "notes")

    everything = {"current_time": True, "add_note": True, "list_notes": True}
    assert before == ("Tools (4 of 4 on)", {**everything, "delete_note": True})
    assert after == ("Tools (3 of 4 on)", {**everything, "delete_note": False})
    assert config["mcpServers"]["notes"]["tools"] == {"disabled": ["delete_note"]}
    assert (row.state.value, row.pid) == ("running", pid)  # the server ran on
