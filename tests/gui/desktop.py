"""A real desktop for GUI tests: an X display, a tray host, a notification daemon, a bus.

Xvfb is the display, trayer the system tray (XEmbed), dunst the notification
daemon on a private D-Bus session, and dbus-monitor records the Notify calls
(a daemon lists a notification in its history only once it is closed).
:class:`BusLog` watches the same calls with their values typed, and the
daemon's answers and signals, to tell which notification replaced or closed
which.
"""

from __future__ import annotations

import os
import queue
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from jeepney import DBusAddress, HeaderFields, Message, MessageType, new_method_call
from jeepney.io.blocking import open_dbus_connection
from jeepney.wrappers import unwrap_msg

from tests.helpers import ARTIFACTS

SCREENSHOT_TOOL = "import"  # ImageMagick
WAIT_S = 30.0  # an X server, a tray host and a first Qt start on a loaded machine
NOTIFICATIONS = "org.freedesktop.Notifications"
T = TypeVar("T")


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
    """Xvfb + a private D-Bus session + trayer + dunst + dbus-monitor, and a BusLog.

    ``tray=False`` leaves trayer out; ``dunst_config`` is a dunstrc instead of the
    system's.
    """

    def __init__(self, *, tray: bool = True, dunst_config: Path | None = None) -> None:
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
        self.bus_log = BusLog(address)
        self._start(["dunst", *(["-config", str(dunst_config)] if dunst_config else [])])
        if tray:
            self._start(
                ["trayer", "--edge", "top", "--align", "right", "--widthtype", "request",
                 "--height", "32", "--SetDockType", "true", "--transparent", "false"]
            )  # fmt: skip

    def wait_for_daemon(self) -> None:
        """Until dunst owns the notifications name (a call before that would have the
        bus start another daemon)."""
        self.run("gdbus", "wait", "--session", "--timeout", str(int(WAIT_S)), NOTIFICATIONS)

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
        self.bus_log.close()
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


@dataclass(frozen=True)
class Notified:
    """One ``Notify`` call, and the id the daemon answered with."""

    id: int
    replaces_id: int
    icon: str
    title: str
    body: str
    actions: list[str]  # key, label, key, label…
    hints: dict[str, Any]  # name -> value (the variants unwrapped)
    timeout_ms: int

    @property
    def urgency(self) -> int | None:
        return self.hints.get("urgency")


class BusLog:
    """The notification calls on the session bus, the daemon's answers and its signals,
    with their values typed.

    It becomes a bus monitor (``BecomeMonitor``), as dbus-monitor does; dbus-monitor's
    text prints a body that has a newline across two lines, which cannot be read back.
    """

    RULES = (
        f"type='method_call',interface='{NOTIFICATIONS}'",
        f"type='signal',interface='{NOTIFICATIONS}'",
        "type='method_return'",
        "type='error'",
    )

    def __init__(self, address: str) -> None:
        self.messages: list[Message] = []
        self._changed = threading.Condition()
        self._connection = open_dbus_connection(bus=address)
        monitoring = DBusAddress(
            "/org/freedesktop/DBus",
            bus_name="org.freedesktop.DBus",
            interface="org.freedesktop.DBus.Monitoring",
        )
        become = new_method_call(monitoring, "BecomeMonitor", "asu", (list(self.RULES), 0))
        unwrap_msg(self._connection.send_and_get_reply(become, timeout=WAIT_S))
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                message = self._connection.receive()
            except OSError:  # the bus ended, or close()
                return
            with self._changed:
                self.messages.append(message)
                self._changed.notify_all()

    def close(self) -> None:
        self._connection.sock.shutdown(socket.SHUT_RDWR)  # wakes the reading thread
        self._connection.close()

    # ----- what was seen

    def notified(self) -> list[Notified]:
        """Each answered ``Notify`` call so far, in order."""
        with self._changed:
            messages = list(self.messages)
        return [
            _notified(call, answer)
            for call in messages
            if _member(call) == "Notify" and call.header.message_type is MessageType.method_call
            if (answer := _answer_to(call, messages)) is not None
        ]

    def closed_by_the_app(self) -> list[int]:
        """The ids of the notifications an app asked to close (``CloseNotification``)."""
        with self._changed:
            return [int(m.body[0]) for m in self.messages if _member(m) == "CloseNotification"]

    def signals(self, member: str) -> list[tuple[Any, ...]]:
        """The daemon's ``ActionInvoked`` or ``NotificationClosed`` signals: their bodies."""
        with self._changed:
            return [
                m.body
                for m in self.messages
                if _member(m) == member and m.header.message_type is MessageType.signal
            ]

    def wait_for(self, what: str, found: Callable[[BusLog], T | None]) -> T:
        """The first non-None ``found(self)``, waiting for more messages (bounded)."""
        deadline = time.monotonic() + WAIT_S
        with self._changed:
            while (result := found(self)) is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {what} on the bus within {WAIT_S}s")
                self._changed.wait(left)
            return result

    def wait_for_notified(self, title: str, *, after: int = 0) -> Notified:
        """The first answered ``Notify`` with this title, from the ``after``-th on."""
        return self.wait_for(
            f"notification {title!r}",
            lambda log: next((n for n in log.notified()[after:] if n.title == title), None),
        )

    def wait_for_close(self, notification_id: int) -> None:
        self.wait_for(
            f"CloseNotification({notification_id})",
            lambda log: True if notification_id in log.closed_by_the_app() else None,
        )

    def wait_for_signal(self, member: str, notification_id: int) -> tuple[Any, ...]:
        return self.wait_for(
            f"{member} for {notification_id}",
            lambda log: next((b for b in log.signals(member) if b[0] == notification_id), None),
        )


def _member(message: Message) -> str | None:
    member: str | None = message.header.fields.get(HeaderFields.member)
    return member


def _answer_to(call: Message, messages: list[Message]) -> Message | None:
    sender = call.header.fields.get(HeaderFields.sender)
    return next(
        (
            m
            for m in messages
            if m.header.message_type is MessageType.method_return
            and m.header.fields.get(HeaderFields.reply_serial) == call.header.serial
            and m.header.fields.get(HeaderFields.destination) == sender
        ),
        None,
    )


def _notified(call: Message, answer: Message) -> Notified:
    _, replaces_id, icon, title, body, actions, hints, timeout_ms = call.body
    return Notified(
        id=int(answer.body[0]),
        replaces_id=int(replaces_id),
        icon=icon,
        title=title,
        body=body,
        actions=list(actions),
        hints={name: value for name, (_, value) in hints.items()},
        timeout_ms=int(timeout_ms),
    )
