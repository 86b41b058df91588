"""The window's Activity tab against a real hub and real servers (tests/servers/rich.py).

Two apps, attached through the control socket and named in their initialize,
ask things of two servers; every way a request ends is provoked (answered,
failed, the tool's own failure, cancelled once the server announced the call,
cut short by SIGKILL to the server). The tab shows each in words, newest
first, filters by server and app, counts each tool, and takes a new request
while it is open. A picture of it is left in the test artifacts
(``activity-tab.png``; under Xvfb with QT_QPA_PLATFORM=xcb it is the README's).
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QTableWidget

from app.core.rpc.errors import SERVER_CRASHED
from app.gui.activity import EVERY_APP, EVERY_SERVER, ActivityTab
from app.gui.windows import ACTIVITY
from tests.gui.conftest import RunningTray, TrayLoop
from tests.helpers import ARTIFACTS
from tests.relaykit import RawClient, is_event, rich_entry


def column(table: QTableWidget, index: int) -> list[str]:
    return [table.item(row, index).text() for row in range(table.rowCount())]


def counted(tab: ActivityTab) -> dict[tuple[str, str], list[str]]:
    """The per-tool table: (server, tool) -> [asked, failed]."""
    table = tab.usage
    return {
        (column(table, 0)[row], column(table, 1)[row]): [column(table, i)[row] for i in (2, 3)]
        for row in range(table.rowCount())
    }


async def app_named(running: RunningTray, name: str, server: str) -> RawClient:
    """A client of ``server`` that says it is ``name`` (clientInfo), as an editor does."""
    client = await RawClient.attach(running.hub.paths.socket_path, server)
    handshake = {"protocolVersion": "2025-11-25", "capabilities": {}}
    await client.request("initialize", {**handshake, "clientInfo": {"name": name, "version": "1"}})
    return client


async def until(running: RunningTray, done: Callable[[], bool]) -> None:
    """Until ``done()``, looked at again each time the bridge brings new rows (bounded by
    the test's own timeout)."""
    arrived = asyncio.Event()
    running.tray.bridge.activity.connect(lambda rows: arrived.set())
    await running.settled()  # the tab's request for the record, if it made one
    while not done():
        arrived.clear()
        await arrived.wait()


async def requests_of_every_kind(running: RunningTray) -> list[RawClient]:
    """cursor asks rich: an answer, an error, a tool's failure, a cancel; zed asks other:
    an answer, then a call its server is killed during."""
    cursor = await app_named(running, "cursor", "rich")
    zed = await app_named(running, "zed", "other")
    await cursor.call("progress", steps=1)
    await cursor.request("tools/call", {"name": "progress", "arguments": {"steps": "x"}})
    await cursor.request("resources/read", {"uri": "rich://nothing-here"})
    held = cursor.start("tools/call", {"name": "hold", "arguments": {"label": "c"}})
    await cursor.wait_for(is_event("started", label="c"))
    await cursor.notify("notifications/cancelled", {"requestId": held})
    await cursor.wait_for(is_event("cancelled", label="c"))
    await zed.call("progress", steps=2)
    doomed = zed.start("tools/call", {"name": "hold", "arguments": {"label": "k"}})
    await zed.wait_for(is_event("started", label="k"))
    (pid,) = [row.pid for row in running.hub.status_rows() if row.name == "other"]
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    assert (await zed.response(doomed))["error"]["code"] == SERVER_CRASHED
    return [cursor, zed]


def test_the_activity_tab_says_how_each_request_ended_filters_and_counts_and_stays_live(
    start_tray: Any, tray_loop: TrayLoop, expect_warnings: Any
) -> None:
    expect_warnings(r"other was killed by SIGKILL")
    running: RunningTray = start_tray({"rich": rich_entry(), "other": rich_entry()})
    window = running.tray.window
    tab: ActivityTab = window.activity
    clients: list[RawClient] = []

    async def scene() -> None:
        clients.extend(await requests_of_every_kind(running))
        window.bring_forward(ACTIVITY)
        await until(running, lambda: tab.table.rowCount() == 6)

    tray_loop.run(scene)
    assert column(tab.table, 5) == [
        "Interrupted: the server stopped",
        "Answered",
        "Cancelled",
        "Failed (error -32602)",
        "Failed (the tool reported an error)",
        "Answered",
    ]
    assert (
        column(tab.table, 3) == ["hold", "progress", "hold", "Read a resource"] + ["progress"] * 2
    )
    assert column(tab.table, 1) == ["zed", "zed", "cursor", "cursor", "cursor", "cursor"]
    assert column(tab.table, 2) == ["other", "other", "rich", "rich", "rich", "rich"]
    assert tab.nothing.isHidden()
    assert counted(tab) == {
        ("rich", "progress"): ["2", "1"],
        ("other", "hold"): ["1", "1"],
        ("other", "progress"): ["1", ""],
        ("rich", "hold"): ["1", ""],  # cancelled: not a failure
        ("rich", "Read a resource"): ["1", "1"],
    }
    ARTIFACTS.mkdir(exist_ok=True)
    window.grab().save(str(ARTIFACTS / "activity-tab.png"))

    tab.server.setCurrentText("rich")
    assert set(column(tab.table, 2)) == {"rich"}
    assert len(column(tab.table, 2)) == 4
    tab.server.setCurrentText(EVERY_SERVER)
    tab.app.setCurrentText("zed")
    assert column(tab.table, 3) == ["hold", "progress"]
    assert set(column(tab.usage, 0)) == {"other"}
    tab.app.setCurrentText(EVERY_APP)

    async def one_more() -> None:
        await clients[0].call("release", label="live")
        await until(running, lambda: tab.table.rowCount() == 7)
        for client in clients:
            await client.close()

    tray_loop.run(one_more)
    assert [column(tab.table, i)[0] for i in (1, 3, 5)] == ["cursor", "release", "Answered"]


def test_before_any_request_the_tab_says_what_will_show_there(
    start_tray: Any, tray_loop: TrayLoop
) -> None:
    running: RunningTray = start_tray({"rich": rich_entry()})
    window = running.tray.window
    window.bring_forward(ACTIVITY)
    tray_loop.run(running.settled)
    assert window.activity.table.rowCount() == 0
    assert window.activity.nothing.isVisible()
    assert "Each time an app uses one of your servers" in window.activity.nothing.text()
    assert [window.activity.server.itemText(i) for i in range(2)] == [EVERY_SERVER, "rich"]
