"""A real desktop for GUI tests: an X display, a tray host, a notification daemon, a bus.

Xvfb is the display, trayer the system tray (XEmbed), dunst the notification
daemon on a private D-Bus session, and dbus-monitor records the Notify calls
(a daemon lists a notification in its history only once it is closed).
:class:`BusLog` watches the same calls with their values typed, and the
daemon's answers and signals, to tell which notification replaced or closed
which. :class:`WindowLog` watches the top-level windows come and go (xev on
the root window), so a test waits for a menu to open or a window to hide,
and can tell that a menu stayed open. :class:`Picture` reads a screenshot's
colours (ImageMagick), to tell what a state icon or a banner shows.

Optionally, gnome-keyring serves the Secret Service on the same bus
(``keyring=True``): the app reaches the keyring and the notification daemon
through the one session bus, as on a real desktop.
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import socket
import subprocess
import tempfile
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
SECRETS = "org.freedesktop.secrets"
WINDOW_TOOLS = ("xev", "xprop")  # x11-utils: a WindowLog
PROBE_AGAIN_S = 0.05  # xev selects the root window's events a moment after it starts
KEYRING_PASSWORD = "mcp-tray-tests"  # unlocks a throwaway keyring in a temporary folder
FUZZ = "15%"  # icons are scaled and antialiased: their colours blend into the background
T = TypeVar("T")


@dataclass(frozen=True)
class Box:
    """A rectangle on the screen, in pixels."""

    x: int
    y: int
    width: int
    height: int

    @property
    def geometry(self) -> str:
        """ImageMagick's WxH+X+Y."""
        return f"{self.width}x{self.height}+{self.x}+{self.y}"

    def within(self, outer: Box) -> Box:
        """This box, counted from ``outer``'s corner instead of the screen's."""
        return Box(self.x - outer.x, self.y - outer.y, self.width, self.height)

    def moved(self, was: Box, now: Box) -> Box:
        """This box, inside ``was``, where it is once ``was`` moved to ``now`` (a menu that
        moved sideways to stay on the screen, say)."""
        return Box(self.x + now.x - was.x, self.y + now.y - was.y, self.width, self.height)

    def grown(self, by: int) -> Box:
        return Box(self.x - by, self.y - by, self.width + 2 * by, self.height + 2 * by)

    def clipped(self) -> Box:
        """The part of this box on the screen."""
        left, top = max(self.x, 0), max(self.y, 0)
        right = min(self.x + self.width, SCREEN.width)
        bottom = min(self.y + self.height, SCREEN.height)
        return Box(left, top, right - left, bottom - top)


SCREEN = Box(0, 0, 1024, 600)


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
    """Xvfb + a private D-Bus session + trayer + dunst + dbus-monitor, a BusLog and a
    WindowLog.

    ``tray=False`` leaves trayer out (:meth:`start_tray` starts it later);
    ``dunst_config`` is a dunstrc instead of the system's; ``keyring=True`` adds
    gnome-keyring's Secret Service to the session bus.
    """

    def __init__(
        self, *, tray: bool = True, dunst_config: Path | None = None, keyring: bool = False
    ) -> None:
        self.processes: list[subprocess.Popen[str]] = []
        self._keyring_home: str | None = None
        try:
            self._set_up(tray=tray, dunst_config=dunst_config, keyring=keyring)
        except BaseException:
            self.close()  # a half-made desktop leaves no process behind for a later test
            raise

    def _set_up(self, *, tray: bool, dunst_config: Path | None, keyring: bool) -> None:
        screen = f"{SCREEN.width}x{SCREEN.height}x24"
        # -noreset: with its last client gone, Xvfb would reset, and drop a client
        # connecting meanwhile (xev, say).
        xvfb = self._start(
            ["Xvfb", "-displayfd", "1", "-screen", "0", screen, "-nolisten", "tcp", "-noreset"]
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
        self._windows: WindowLog | None = None
        if all(shutil.which(tool) for tool in WINDOW_TOOLS):
            self._windows = WindowLog(
                self._start(["xev", "-root", "-event", "substructure", "-event", "property"]),
                lambda: self.run("xprop", "-root", "-f", WindowLog.PROBE, "8s", "-set",
                                 WindowLog.PROBE, "1"),
            )  # fmt: skip
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
        if keyring:
            self._start_keyring()
        if tray:
            self.start_tray()

    @property
    def windows(self) -> WindowLog:
        """The top-level windows as they come and go (needs xev and xprop: x11-utils)."""
        if self._windows is None:
            raise RuntimeError(f"watching windows needs {' and '.join(WINDOW_TOOLS)}")
        return self._windows

    def start_tray(self) -> None:
        """trayer, a panel with a system tray, at the top right."""
        self._start(
            ["trayer", "--edge", "top", "--align", "right", "--widthtype", "request",
             "--height", "32", "--SetDockType", "true", "--transparent", "false"]
        )  # fmt: skip

    def _start_keyring(self) -> None:
        """gnome-keyring on this desktop's bus, its login collection created and unlocked,
        its files in a temporary folder. It ends with the bus."""
        home = self._keyring_home = tempfile.mkdtemp(prefix="mcp-tray-test-keyring-")
        self.env.pop("PYTHON_KEYRING_BACKEND", None)  # the real Secret Service, nothing else
        subprocess.run(
            ["gnome-keyring-daemon", "--unlock", "--components=secrets"],
            input=KEYRING_PASSWORD,
            env={**self.env, "XDG_DATA_HOME": home, "XDG_RUNTIME_DIR": home},
            stdout=subprocess.DEVNULL,
            text=True,
            timeout=WAIT_S,
            check=True,
        )
        self.run("gdbus", "wait", "--session", "--timeout", str(int(WAIT_S)), SECRETS)

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

    def screenshot(self, name: str, *, box: Box | None = None) -> Path:
        """The whole screen, or the part of it in ``box``, as test-artifacts/NAME (a NAME
        may have folders)."""
        path = ARTIFACTS / name
        path.parent.mkdir(parents=True, exist_ok=True)
        self.run(SCREENSHOT_TOOL, "-window", "root", str(path))
        if box is not None:
            self.run("convert", str(path), "-crop", box.geometry, "+repage", str(path))
        return path

    def wait_for_picture(
        self, name: str, what: str, shows: Callable[[Picture], bool], *, box: Box | None = None
    ) -> Picture:
        """Screenshots until one ``shows`` what is expected (a window draws after it maps,
        a menu after the state changed), bounded."""
        deadline = time.monotonic() + WAIT_S
        while True:
            picture = Picture(self.screenshot(name, box=box), box or SCREEN)
            if shows(picture):
                return picture
            if time.monotonic() > deadline:
                raise AssertionError(f"the screen did not show {what} within {WAIT_S}s")

    def geometry(self, window: int) -> Box:
        """Where a window is on the screen."""
        shell = self.run("xdotool", "getwindowgeometry", "--shell", str(window))
        spot = {k: int(v) for k, v in (line.split("=") for line in shell.splitlines())}
        return Box(spot["X"], spot["Y"], spot["WIDTH"], spot["HEIGHT"])

    def wait_for_menu(self, *, after: int) -> int:
        """The next menu to open after the WindowLog's mark ``after``: its window. (A
        notification or a tooltip is a popup too, but not a menu.)"""
        while True:
            window, after = self.windows.wait_for_map(after=after, override=True)
            kind = subprocess.run(
                ["xprop", "-id", str(window), "_NET_WM_WINDOW_TYPE"],
                env=self.env, capture_output=True, text=True, timeout=WAIT_S, check=False,
            )  # fmt: skip
            if "_NET_WM_WINDOW_TYPE_POPUP_MENU" in kind.stdout:
                return window

    def wait_for_window(self, *search: str, visible: bool = True) -> int:
        """The first window an ``xdotool search`` finds, once it finds one (``visible``:
        a shown one); bounded like every command here.

        A search gives up (status 1) when a window it is looking at is destroyed
        under it, as a menu is when the window it opened appears: it is asked
        again until the bound.
        """
        shown = ("--onlyvisible",) if visible else ()
        deadline = time.monotonic() + WAIT_S
        while True:
            try:
                return int(self.run("xdotool", "search", "--sync", *shown, *search).split()[0])
            except subprocess.CalledProcessError:
                if time.monotonic() > deadline:
                    raise

    def visible(self, *search: str) -> list[int]:
        """``xdotool search --onlyvisible`` at once: the ids of the windows that match, if any."""
        result = subprocess.run(
            ["xdotool", "search", "--onlyvisible", *search],
            env=self.env, capture_output=True, text=True, timeout=WAIT_S, check=False,
        )  # fmt: skip
        return [int(word) for word in result.stdout.split()]

    def close(self) -> None:
        if hasattr(self, "bus_log"):  # not when the desktop failed to start before it
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
        if self._keyring_home is not None:
            shutil.rmtree(self._keyring_home, ignore_errors=True)


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
            except (OSError, ValueError):  # the bus ended, or close() (its epoll closed under us)
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


class Picture:
    """A screenshot's colours, read by ImageMagick: where a colour is and how much of it.

    ``origin``: the part of the screen the screenshot holds. Boxes asked about and
    answered are on the screen, wherever the picture was cut from.
    """

    MARK = "#ff00ff"  # stands for the colour looked for while counting; no icon uses it

    def __init__(self, path: Path, origin: Box = SCREEN) -> None:
        self.path = path
        self.origin = origin

    def find(
        self, colour: str, *, within: Box | None = None, fuzz: str = FUZZ
    ) -> tuple[int, Box | None]:
        """How many pixels have ``colour`` (within ``fuzz``), and the box around them."""
        region = within or self.origin
        crop = region.within(self.origin)
        result = subprocess.run(
            ["convert", str(self.path), "-crop", crop.geometry, "+repage", "-alpha", "off",
             "-fuzz", fuzz, "-fill", self.MARK, "-opaque", colour,
             "-fuzz", "0", "-fill", "black", "+opaque", self.MARK, "-fill", "white",
             "-opaque", self.MARK, "-format", "%[fx:round(mean*w*h)] %@", "info:"],
            capture_output=True, text=True, timeout=WAIT_S, check=True,
        )  # fmt: skip
        count, geometry = result.stdout.split()
        if int(count) == 0:
            return 0, None
        width, height, x, y = map(int, re.split(r"[x+]", geometry))
        return int(count), Box(region.x + x, region.y + y, width, height)

    def count(self, colour: str, *, within: Box | None = None, fuzz: str = FUZZ) -> int:
        return self.find(colour, within=within, fuzz=fuzz)[0]


@dataclass(frozen=True)
class WindowEvent:
    """A top-level window created, mapped, unmapped, moved or resized, or destroyed."""

    kind: str  # xev's: CreateNotify, MapNotify, UnmapNotify, ConfigureNotify, DestroyNotify
    window: int
    override: bool  # for MapNotify: override-redirect, a popup (a menu), not a window
    box: Box | None  # for CreateNotify and ConfigureNotify


class WindowLog:
    """The top-level windows of the display as they come and go: ``xev`` watching the
    root window's children, with bounded waits.

    Ready once xev has seen a probe (a property set on the root window), so no
    event of a window made later can be missed.
    """

    PROBE = "_MCP_TRAY_TEST_PROBE"
    _HEAD = re.compile(r"^(\w+Notify) event")
    _WINDOW = re.compile(r"(?:event|parent) 0x[0-9a-f]+, window (0x[0-9a-f]+)")
    _BOX = re.compile(r"\((-?\d+),(-?\d+)\), width (\d+), height (\d+)")

    def __init__(self, xev: subprocess.Popen[str], probe: Callable[[], object]) -> None:
        self.events: list[WindowEvent] = []
        self._changed = threading.Condition()
        self._probed = threading.Event()
        self._xev = xev
        threading.Thread(target=self._read, daemon=True).start()
        deadline = time.monotonic() + WAIT_S
        probe()  # again until xev, starting meanwhile, has seen one
        while not self._probed.wait(PROBE_AGAIN_S):
            if xev.poll() is not None:
                raise AssertionError(f"xev ended (exit status {xev.returncode}) before watching")
            if time.monotonic() > deadline:
                raise AssertionError("xev did not start watching the windows")
            probe()

    def _read(self) -> None:
        assert self._xev.stdout is not None
        kind = ""
        for line in self._xev.stdout:
            if self.PROBE in line:
                self._probed.set()
            if head := self._HEAD.match(line):
                kind = head[1]
            elif kind and (window := self._WINDOW.search(line)):
                # xev prints a record's details over several lines: the second has all we need.
                box = self._BOX.search(line)
                event = WindowEvent(
                    kind=kind,
                    window=int(window[1], 16),
                    override="override YES" in line,
                    box=Box(*map(int, box.groups())) if box else None,
                )
                with self._changed:
                    self.events.append(event)
                    self._changed.notify_all()
                kind = ""

    def mark(self) -> int:
        """Where the log is now: a later wait or question looks only at what came after."""
        with self._changed:
            return len(self.events)

    def since(self, mark: int, window: int) -> list[str]:
        """What happened to ``window`` after ``mark``: the kinds of its events, in order."""
        with self._changed:
            return [e.kind for e in self.events[mark:] if e.window == window]

    def wait_for(self, what: str, found: Callable[[list[WindowEvent]], T | None]) -> T:
        deadline = time.monotonic() + WAIT_S
        with self._changed:
            while (result := found(self.events)) is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {what} on the display within {WAIT_S}s")
                self._changed.wait(left)
            return result

    def wait_for_map(self, *, after: int, override: bool) -> tuple[int, int]:
        """The next window (``override``: popup) to show after ``after``: its id, and the
        mark just past it."""
        return self.wait_for(
            "window showing" if not override else "popup showing",
            lambda events: next(
                (
                    (e.window, index + 1)
                    for index, e in enumerate(events)
                    if index >= after and e.kind == "MapNotify" and e.override == override
                ),
                None,
            ),
        )

    def wait_for_unmap(self, window: int, *, after: int = 0) -> None:
        self.wait_for(
            f"window {window:#x} hiding",
            lambda events: next(
                (True for e in events[after:] if e.kind == "UnmapNotify" and e.window == window),
                None,
            ),
        )
