"""The tray presenting a headless hub (`mcp-tray serve`) that runs in another process."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from app.core.autostart import Autostart
from app.core.endpoint.remote import RemoteHub
from app.core.overview import Overall
from app.core.paths import default_paths
from app.gui.tray import TrayApp
from tests.gui.conftest import RunningTray, TrayLoop
from tests.helpers import FLAKY, PYTHON, EventRecorder
from tests.hubprocess import HubProcess


def test_the_tray_shows_and_drives_a_hub_running_in_another_process(
    tray_home: Path, tray_loop: TrayLoop
) -> None:
    servers = {"notes": {"command": PYTHON, "args": [str(FLAKY)]}}
    (tray_home / "config.json").write_text(json.dumps({"mcpServers": servers}))
    headless = HubProcess(tray_home, env={**os.environ, "MCP_TRAY_HOME": str(tray_home)})
    try:
        headless.wait_for_line(r"notes is running")
        remote = RemoteHub(default_paths())
        tray = TrayApp(remote, autostart=Autostart(["mcp-tray"]))
        running = RunningTray(tray, EventRecorder(remote.bus))

        async def scenario() -> tuple[Any, Any]:
            await remote.start()
            tray.show()
            before = remote.status_rows()[0].pid
            running.menu_action("notes — Running", "Restart").trigger()
            await running.events.wait_for_state("starting")
            await running.events.wait_for_state("running")
            return before, remote.status_rows()[0].pid

        before, after = tray_loop.run(scenario)
        quit_entry = running.menu_action("Quit").text()
        state = tray.state

        async def other_hub_ends() -> None:
            headless.stop()  # the other process ends: the tray hears it
            await remote.ended.wait()
            await tray.close()
            await remote.shutdown()

        tray_loop.run(other_hub_ends)
    finally:
        headless.stop()

    assert before != after  # Restart in the tray restarted the other hub's server
    assert state is Overall.RUNNING
    assert quit_entry == "Quit (servers keep running)"
