"""The tray's hub on a thread of its own (app/gui/hubthread.py), as the app runs it.

The tray sees it as it sees any hub: events arrive on the tray's loop, the
menu's actions reach it, Quit stops every server. And a stall of Qt's event
loop no longer holds up an editor: a call through the relay is answered
while the tray's loop is blocked.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.core.autostart import Autostart
from app.core.endpoint import protocol
from app.core.hub import Hub
from app.core.paths import default_paths
from app.core.supervise.states import State
from app.gui.hubthread import ThreadedHub
from app.gui.tray import TrayApp
from tests.gui.conftest import OpenedFiles, TrayLoop, find_action
from tests.helpers import FLAKY, PYTHON, EventRecorder

STALL_S = 2.0  # how long Qt's loop is held up, the fault under test
CALL_TIMEOUT_S = 10.0


@pytest.fixture
def threaded(
    tray_home: Path, tray_loop: TrayLoop, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[ThreadedHub, TrayApp, EventRecorder]]:
    """A ThreadedHub over a flaky server, and its tray, started as app.gui.app starts them."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    entry = {"command": PYTHON, "args": [str(FLAKY)]}
    (tray_home / "config.json").write_text(json.dumps({"mcpServers": {"flaky": entry}}))
    paths = default_paths()
    paths.ensure()
    hub = ThreadedHub(Hub(paths))
    tray = TrayApp(hub, autostart=Autostart(["mcp-tray"]), open_url=OpenedFiles())
    events = EventRecorder(hub.bus)  # the tray's side of the bus

    async def start() -> None:
        await hub.start()
        tray.show()

    tray_loop.run(start)
    try:
        yield hub, tray, events
    finally:

        async def quit_both() -> None:
            await tray.close()
            await hub.shutdown()

        tray_loop.run(quit_both)
        tray.window.deleteLater()


def call_through_the_relay(socket_path: Path, answered: threading.Event) -> None:
    """An editor, on a thread of its own: attach, call ``work``, note the answer."""
    with socket.socket(socket.AF_UNIX) as editor:
        editor.settimeout(CALL_TIMEOUT_S)
        editor.connect(str(socket_path))
        editor.sendall(protocol.request("attach", name="flaky"))
        reader = editor.makefile("rb")
        assert json.loads(reader.readline())["ok"]
        call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call"}
        call["params"] = {"name": "work", "arguments": {}}
        editor.sendall(json.dumps(call).encode() + b"\n")
        answer: dict[str, Any] = json.loads(reader.readline())
        if answer.get("id") == 1 and "result" in answer:
            answered.set()


def test_a_stall_of_the_trays_event_loop_does_not_hold_up_a_call_through_the_relay(
    threaded: tuple[ThreadedHub, TrayApp, EventRecorder], tray_loop: TrayLoop
) -> None:
    hub, _, events = threaded
    answered = threading.Event()

    async def scenario() -> bool:
        await events.wait_for_state("running")
        editor = threading.Thread(
            target=call_through_the_relay, args=(hub.paths.socket_path, answered), daemon=True
        )
        editor.start()
        # The fault: this blocks Qt's loop (and qasync's) for up to STALL_S.
        in_time = answered.wait(STALL_S)
        await asyncio.to_thread(editor.join, CALL_TIMEOUT_S)
        return in_time

    assert tray_loop.run(scenario), f"no answer while the tray's loop stalled {STALL_S:g}s"


def test_the_tray_sees_and_drives_a_hub_on_its_own_thread(
    threaded: tuple[ThreadedHub, TrayApp, EventRecorder], tray_loop: TrayLoop
) -> None:
    hub, tray, events = threaded

    async def scenario() -> tuple[int | None, int | None, State]:
        first = await events.wait_for_state("running")
        mark = len(events.events)
        tray.refresh()
        find_action(tray.menu, "flaky — Running", "Restart").trigger()
        second = await events.wait_for_state("running", after=mark)
        (row,) = hub.status_rows()
        return first.pid, second.pid, row.state

    first, second, state = tray_loop.run(scenario)

    assert first is not None and second is not None and first != second
    assert state is State.RUNNING
