"""A real desktop for GUI tests: an X display, a tray host, a notification daemon, a bus.

Xvfb is the display, trayer the system tray (XEmbed), dunst the notification
daemon on a private D-Bus session, and dbus-monitor records the Notify calls
(a daemon lists a notification in its history only once it is closed).
"""

from __future__ import annotations

import os
import queue
import subprocess
import threading
from pathlib import Path

from tests.helpers import ARTIFACTS

SCREENSHOT_TOOL = "import"  # ImageMagick
WAIT_S = 30.0  # an X server, a tray host and a first Qt start on a loaded machine


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
