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
import os
import queue
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import ARTIFACTS, FLAKY, PYTHON
from tests.hubprocess import HubProcess, mcp_tray, survivors

TOOLS = ("Xvfb", "trayer", "dunst", "dunstctl", "dbus-run-session", "dbus-monitor", "xdotool")
SCREENSHOT_TOOL = "import"  # ImageMagick
WAIT_S = 30.0  # an X server, a tray host and a first Qt start on a loaded machine

missing = [tool for tool in (*TOOLS, SCREENSHOT_TOOL) if shutil.which(tool) is None]
pytestmark = pytest.mark.skipif(
    bool(missing),
    reason=f"not installed: {', '.join(missing)} (scripts/setup --test installs them)",
)


class Lines:
    """A process's output, line by line, with bounded waits for a line."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.seen: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._process = process
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def first_line(self) -> str:
        line = self._queue.get(timeout=WAIT_S)
        if line is None:
            raise AssertionError("the process ended before saying anything")
        self.seen.append(line)
        return line

    def wait_for(self, text: str) -> None:
        while not any(text in line for line in self.seen):
            line = self._queue.get(timeout=WAIT_S)
            if line is None:
                raise AssertionError(f"ended before printing {text!r}:\n" + "\n".join(self.seen))
            self.seen.append(line)


class Desktop:
    """Xvfb + a private D-Bus session + trayer + dunst + dbus-monitor."""

    def __init__(self) -> None:
        self.processes: list[subprocess.Popen[str]] = []
        xvfb = self._start(
            ["Xvfb", "-displayfd", "1", "-screen", "0", "1024x600x24", "-nolisten", "tcp"]
        )
        display = f":{Lines(xvfb).first_line().strip()}"
        bus = self._start(
            ["dbus-run-session", "--", "sh", "-c", 'echo "$DBUS_SESSION_BUS_ADDRESS"; exec cat'],
            stdin=subprocess.PIPE,
        )
        address = Lines(bus).first_line().strip()
        self.env = {
            **os.environ,
            "DISPLAY": display,
            "DBUS_SESSION_BUS_ADDRESS": address,
            "QT_QPA_PLATFORM": "xcb",
        }
        self.notify_calls = Lines(
            self._start(
                [
                    "dbus-monitor",
                    "interface='org.freedesktop.Notifications',member='Notify'",
                ]
            )
        )
        self._start(["dunst"])
        self._start(
            ["trayer", "--edge", "top", "--align", "right", "--widthtype", "request",
             "--height", "32", "--SetDockType", "true", "--transparent", "false"]
        )  # fmt: skip

    def _start(self, command: list[str], **options: object) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            command,
            env=getattr(self, "env", None),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            **options,  # type: ignore[call-overload]
        )
        self.processes.append(process)
        return process

    def run(self, *command: str) -> str:
        result = subprocess.run(
            command, env=self.env, capture_output=True, text=True, timeout=WAIT_S, check=True
        )
        return result.stdout.strip()

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / name
        self.run(SCREENSHOT_TOOL, "-window", "root", str(path))
        return path

    def close(self) -> None:
        for process in reversed(self.processes):
            if process.stdin is not None:
                # dbus-run-session: ending its child lets it stop its bus daemon
                # too; a signal would leave the daemon behind.
                process.stdin.close()
            else:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(WAIT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()


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
