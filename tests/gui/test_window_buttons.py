"""The Servers tab's buttons stay in their places for every state of the selected server:
what the state does not allow is greyed out, with the reason, never removed or moved.

Against a real hub with a server in each state the user meets most: running, crashing
(paused), stopped by the user, and waiting for a secret.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QRect, Qt
from pytestqt.qtbot import QtBot

from app.core.secrets import Secrets, SecretStore
from app.core.traymenu import LOGS, PLACES, START
from app.gui.tray import TrayApp
from app.gui.windows import ServersTab
from tests.gui.conftest import RunningTray, TrayLoop
from tests.helpers import ARTIFACTS, FLAKY, PYTHON, SERVERS
from tests.keyrings import MemoryKeyring

FAST = {"initialDelayMs": 10, "maxDelayMs": 50}
SHOWN = {  # each server, as the table names its state
    "running": "Running",
    "crashing": "Keeps crashing — paused",
    "stopped": "Stopped by you",
    "locked": "Needs a secret",
}

Drawn = dict[str, tuple[QRect, str, bool]]  # place: (geometry, label, enabled)


def flaky(*options: str, **restart: int) -> dict[str, Any]:
    return {"command": PYTHON, "args": [str(FLAKY), *options], "restart": {**FAST, **restart}}


@pytest.fixture
def one_of_each(
    start_tray: Any, tray_loop: TrayLoop, tray_home: Path, expect_warnings: Any
) -> RunningTray:
    """A tray whose servers are, in order, running, crashing, stopped and locked (SHOWN)."""
    expect_warnings(r"crashing entered crash-loop")
    expect_warnings(r"locked needs the secret API_TOKEN")
    store = SecretStore(tray_home / "names.json", backend=MemoryKeyring())
    locked = {
        "command": PYTHON,
        "args": [str(SERVERS / "secretive.py")],
        "env": {"API_TOKEN": "${secret:API_TOKEN}"},
    }
    servers = {
        "running": flaky(),
        "crashing": flaky("--crash-at-start", maxFailures=3),
        "stopped": flaky(),
        "locked": locked,
    }
    running: RunningTray = start_tray(servers, secrets=Secrets(store))

    async def settle() -> None:
        await running.events.wait_for_state("running")
        await running.hub.stop_server("stopped")
        while states(running) != list(SHOWN.values()):
            await running.repainted()

    tray_loop.run(settle)
    return running


def states(running: RunningTray) -> list[str]:
    table = running.tray.window.servers.table
    return [table.item(row, 1).text() for row in range(table.rowCount())]


def select(tab: ServersTab, server: str) -> Drawn:
    """Select ``server`` in the table; its buttons as they are drawn then."""
    tab.table.selectRow(list(SHOWN).index(server))
    tab.layout().activate()  # lay the row out again now, as the next paint would
    assert tab.selected_server() == server
    return {
        place: (pushed.geometry(), pushed.text(), pushed.isEnabled())
        for place, pushed in tab.buttons.items()
    }


def test_the_buttons_stay_in_place_for_every_state_and_only_grey_out(
    one_of_each: RunningTray,
) -> None:
    window = one_of_each.tray.window
    tab = window.servers
    assert window.isVisible()  # offscreen there is no system tray: the window stands in

    drawn = {}
    for server in SHOWN:
        drawn[server] = select(tab, server)
        ARTIFACTS.mkdir(exist_ok=True)
        window.grab().save(str(ARTIFACTS / f"winbuttons-{server}.png"))

    places = {
        server: {p: geometry for p, (geometry, _, _) in d.items()} for server, d in drawn.items()
    }
    enabled = {server: [p for p, (_, _, on) in d.items() if on] for server, d in drawn.items()}
    labels = {server: [text for _, text, _ in d.values()] for server, d in drawn.items()}
    assert list(tab.buttons) == list(PLACES)
    assert all(geometry.isValid() for geometry in places["running"].values())
    assert places["crashing"] == places["stopped"] == places["locked"] == places["running"]
    assert enabled == {
        "running": ["restart", "stop", "logs", "edit", "remove"],
        "crashing": ["start", "stop", "logs", "edit", "remove"],
        "stopped": ["start", "logs", "edit", "remove"],
        "locked": ["secret", "stop", "logs", "edit", "remove"],
    }
    common = ["Set secret…", "Restart", "Stop", "Show logs", "Edit…", "Remove…"]
    assert labels["crashing"] == ["Set secret…", "Try again", *common[1:]]
    assert labels["running"] == labels["stopped"] == labels["locked"]
    assert labels["running"] == ["Set secret…", "Start", *common[1:]]


def test_a_greyed_out_button_says_why(one_of_each: RunningTray) -> None:
    tab = one_of_each.tray.window.servers
    tips = {}
    for server in SHOWN:
        select(tab, server)
        tips[server] = {p: b.toolTip() for p, b in tab.buttons.items() if not b.isEnabled()}

    assert tips["stopped"] == {
        "secret": "stopped uses no secrets.",
        "restart": "stopped is not running; Start starts it.",
        "stop": "stopped is not running; Start starts it.",
    }
    assert tips["crashing"]["restart"] == "crashing is paused after crashing; Try again starts it."
    assert tips["locked"][START] == (
        "locked cannot start without its secret; Set secret… gives it."
    )
    assert tips["running"][START] == "running is running already."


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """What the window's buttons ask the tray to do, recorded instead of done."""
    asked: list[tuple[str, str]] = []
    monkeypatch.setattr(TrayApp, "act", lambda tray, verb, server: asked.append((verb, server)))
    return asked


def test_clicking_a_greyed_out_button_does_nothing(
    asked: list[tuple[str, str]], one_of_each: RunningTray, qtbot: QtBot
) -> None:
    tab = one_of_each.tray.window.servers
    for server in SHOWN:
        select(tab, server)
        for place, pushed in tab.buttons.items():
            if place != LOGS:  # never greyed out; it would bring the Logs tab forward
                qtbot.mouseClick(pushed, Qt.MouseButton.LeftButton)

    assert asked == [  # only those the state allows, and Try again restarts
        ("restart", "running"),
        ("stop", "running"),
        ("edit", "running"),
        ("remove", "running"),
        ("restart", "crashing"),
        ("stop", "crashing"),
        ("edit", "crashing"),
        ("remove", "crashing"),
        ("start", "stopped"),
        ("edit", "stopped"),
        ("remove", "stopped"),
        ("secret", "locked"),
        ("stop", "locked"),
        ("edit", "locked"),
        ("remove", "locked"),
    ]
