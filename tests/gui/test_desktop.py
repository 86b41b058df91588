"""The real app on a real X display, with a real tray host and notification daemon.

Xvfb is the display, trayer the system tray (XEmbed), dunst the notification
daemon on a private D-Bus session, and dbus-monitor records the Notify calls
(a daemon lists a notification in its history only once it is closed). The
app is ``python -m app`` itself. Screenshots land in ``test-artifacts/``
(or ``$MCP_TRAY_TEST_ARTIFACTS``).

``scripts/setup --test`` installs these packages; the test skips, saying
which are missing, only where they could not be installed.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.gui.desktop import Desktop
from tests.helpers import FLAKY, PYTHON
from tests.hubprocess import HubProcess, mcp_tray, survivors

TOOLS = ("Xvfb", "trayer", "dunst", "dunstctl", "dbus-run-session", "dbus-monitor", "xdotool")
SCREENSHOT_TOOL = "import"  # ImageMagick
WAIT_S = 30.0  # an X server, a tray host and a first Qt start on a loaded machine

missing = [tool for tool in (*TOOLS, SCREENSHOT_TOOL) if shutil.which(tool) is None]
pytestmark = pytest.mark.skipif(
    bool(missing),
    reason=f"not installed: {', '.join(missing)} (scripts/setup --test installs them)",
)


@pytest.fixture
def desktop() -> Iterator[Desktop]:
    desktop = Desktop()
    try:
        yield desktop
    finally:
        desktop.close()


def test_the_tray_icon_appears_a_crash_loop_reaches_the_daemon_and_the_menu_opens(
    desktop: Desktop, tray_home: Path
) -> None:
    servers = {
        "notes": {"command": PYTHON, "args": [str(FLAKY)]},
        "weather": {
            "command": PYTHON,
            "args": [str(FLAKY), "--crash-at-start"],
            "restart": {"maxFailures": 2, "initialDelayMs": 10},
        },
    }
    (tray_home / "config.json").write_text(json.dumps({"mcpServers": servers}))
    app = HubProcess(tray_home, env=desktop.env, command=())  # plain `mcp-tray`: the tray
    try:
        app.wait_for_line(r"tray icon shown")
        app.wait_for_line(r"weather entered crash-loop")
        desktop.notify_calls.wait_for('string "weather keeps crashing"')
        displayed = int(desktop.run("dunstctl", "count", "displayed"))
        open_tray_menu(desktop)
        shot = desktop.screenshot("tray-menu.png")
        desktop.run("xdotool", "key", "Escape")
        again = mcp_tray(tray_home, env=desktop.env)  # a second start shows the window
        window = desktop.run("xdotool", "search", "--sync", "--onlyvisible", "--name", "^MCP Tray$")
        desktop.screenshot("tray-window.png")
        desktop.run("xdotool", "windowfocus", "--sync", window.split()[0], "key", "ctrl+Tab")
        desktop.screenshot("tray-logs.png")
        servers_running = app.descendants()
        open_tray_menu(desktop)
        desktop.run("xdotool", "key", "Up", "Return")  # the last entry: Quit
        exit_code = app.process.wait(WAIT_S)
    finally:
        app.stop()

    assert displayed >= 1  # dunst received the notice and shows it
    calls = "\n".join(desktop.notify_calls.seen)
    assert calls.count('string "weather keeps crashing"') == 1
    assert shot.stat().st_size > 0
    assert again.returncode == 0 and "already running" in again.stdout
    assert exit_code == 0, "\n".join(app.lines[-20:])
    assert "hub stopped; every server has ended" in app.lines[-1], "\n".join(app.lines)
    assert servers_running and survivors(servers_running, within=WAIT_S) == []


def open_tray_menu(desktop: Desktop) -> None:
    """Right-click the icon in trayer's panel and wait for the menu to show."""
    panel = desktop.run("xdotool", "search", "--sync", "--name", "^panel$").split()[0]
    geometry = desktop.run("xdotool", "getwindowgeometry", "--shell", panel)
    spot = dict(line.split("=") for line in geometry.splitlines())
    x = int(spot["X"]) + int(spot["WIDTH"]) // 2
    y = int(spot["Y"]) + int(spot["HEIGHT"]) // 2
    # No --sync: it waits for the pointer to move, forever if it is there already.
    desktop.run("xdotool", "mousemove", str(x), str(y), "click", "3")
    desktop.run("xdotool", "search", "--sync", "--onlyvisible", "--class", "MCP Tray")
