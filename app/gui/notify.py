"""Desktop notifications: the freedesktop D-Bus service on Linux, the tray's balloon elsewhere.

On Linux, a tray icon's ``showMessage`` may draw Qt's own balloon and never
reach the desktop's notification daemon (an XEmbed tray such as trayer), so
notices go straight to ``org.freedesktop.Notifications`` over D-Bus, which
also gives action buttons ("Show logs", "Set secret…"). jeepney sends it
with the method's D-Bus signature written out (``susssasa{sv}i``: an unsigned
id, a dict of variants), on the asyncio loop; from Python, QtDBus guesses
argument types from values, which gets those two wrong. Without a session
bus or a daemon, the tray's balloon is the fallback (a balloon cannot be
taken back: ``withdraw`` does nothing for it).

What is on screen is kept per slot (:attr:`Notice.slot`: one per server,
one for the config): the daemon's id of the live notification, so that a
newer notice replaces it (``replaces_id``) and a withdrawn one is closed
(``CloseNotification``). The id is forgotten when the daemon says the
notification closed (``NotificationClosed``: expired, dismissed, or closed
by us), so nothing is kept for a notice that is gone. Calls go out one at a
time, in order, so a withdraw that follows a show closes what the show put
up, and a replacement knows the id of what it replaces.

The first of a notice's actions goes out under the key ``"default"`` (a
click on the notification), the others under their verbs; each once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.core.notices import Notice

logger = logging.getLogger(__name__)

APP_NAME = "MCP Tray"
SERVICE = "org.freedesktop.Notifications"
OBJECT_PATH = "/org/freedesktop/Notifications"
DEFAULT = "default"  # the action key of a click on the notification itself
REPLY_TIMEOUT_S = 5.0  # a daemon that does not answer must not hold up the notices behind it
CLOSE_TIMEOUT_S = 3.0  # at quit: take our notices off the screen, but never hold the quit up


def action_keys(notice: Notice) -> list[str]:
    """The ``actions`` argument of ``Notify``: key, label, key, label…"""
    flat: list[str] = []
    for index, (verb, label) in enumerate(notice.actions):
        flat += [DEFAULT if index == 0 else verb, label]
    return flat


def verb_for(notice: Notice, key: str) -> str | None:
    """The verb behind an action key the daemon sends back; None for one we did not send."""
    if not notice.actions:
        return None
    if key == DEFAULT:
        return notice.actions[0][0]
    return key if any(verb == key for verb, _ in notice.actions[1:]) else None


@dataclass(frozen=True)
class _Withdraw:
    slot: str


@dataclass(frozen=True)
class _OnScreen:
    notification_id: int
    notice: Notice


class DesktopNotifier:
    """Shows and withdraws notices; ``on_action(notice, verb)`` hears which of its actions
    the user chose, once per press."""

    def __init__(
        self,
        *,
        balloon: Callable[[str, str], None],
        on_action: Callable[[Notice, str], None],
        icon: str = "",
    ) -> None:
        self._balloon = balloon
        self._on_action = on_action
        self._icon = icon
        self._router: Any = None  # jeepney's DBusRouter, once connected
        self._connection = contextlib.AsyncExitStack()  # closes the router and its socket
        self._live: dict[str, _OnScreen] = {}  # slot -> what the daemon shows for it
        self._last: asyncio.Future[None] | None = (
            None  # the latest call; each awaits the one before
        )
        self._listener: asyncio.Task[None] | None = None
        self._connecting: asyncio.Task[bool] | None = None

    def show(self, notice: Notice) -> None:
        """Send without waiting; a newer notice in the same slot replaces the older.
        Failures fall back to the balloon."""
        self._enqueue(notice)

    def withdraw(self, slot: str) -> None:
        """Take the slot's notice off the screen, if it is still there."""
        self._enqueue(_Withdraw(slot))

    async def close(self) -> None:
        """Withdraw every live notice, then close the connection (bounded: quit never waits
        long on a daemon)."""
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT_S):
                if self._last is not None:
                    await self._last
                for slot in list(self._live):
                    await self._withdraw(slot)
        except TimeoutError:
            logger.warning("the notification daemon is slow; quitting with notices on screen")
        for task in (self._last, self._listener):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._router = None
        with contextlib.suppress(OSError, ConnectionError):
            await self._connection.aclose()

    # ----- one call at a time, in order

    def _enqueue(self, call: Notice | _Withdraw) -> None:
        # A chain of tasks rather than a worker reading a queue: under qasync, Qt
        # may run a task's step outside the loop's run (tests' processEvents),
        # where a queue's get() finds no running loop.
        self._last = asyncio.ensure_future(self._after(self._last, call))

    async def _after(self, previous: asyncio.Future[None] | None, call: Notice | _Withdraw) -> None:
        if previous is not None:
            await previous  # raises only when cancelled (at close): the next line catches the rest
        try:
            if isinstance(call, Notice):
                await self._show(call)
            else:
                await self._withdraw(call.slot)
        except Exception:  # the top of this task: one failed call must not stop the next
            logger.exception("a desktop notification call failed")

    async def _show(self, notice: Notice) -> None:
        if sys.platform.startswith("linux") and await self._connected():
            try:
                await self._notify(notice)
                return
            except Exception as error:  # any D-Bus failure: say it, use the balloon
                logger.warning("desktop notification failed (%s); using the tray balloon", error)
        self._balloon(notice.title, notice.body)

    # ----- D-Bus

    async def _connected(self) -> bool:
        if self._connecting is None:
            self._connecting = asyncio.ensure_future(self._connect())
        return await self._connecting

    async def _connect(self) -> bool:
        from jeepney import MatchRule, message_bus
        from jeepney.io.asyncio import Proxy, open_dbus_router

        try:
            router = await self._connection.enter_async_context(open_dbus_router(bus="SESSION"))
            # Both signals: ActionInvoked and NotificationClosed.
            rule = MatchRule(type="signal", interface=SERVICE, path=OBJECT_PATH)
            await Proxy(message_bus, router).AddMatch(rule)
        except Exception as error:  # no session bus, or it refused us
            logger.info("no D-Bus session for notifications (%s); using the tray balloon", error)
            await self._connection.aclose()
            return False
        queue: asyncio.Queue[Any] = asyncio.Queue()
        router.filter(rule, queue=queue, bufsize=64)
        self._listener = asyncio.ensure_future(self._listen(queue))
        self._router = router
        return True

    async def _notify(self, notice: Notice) -> None:
        on_screen = self._live.get(notice.slot)
        hints = {"urgency": ("y", int(notice.urgency))}
        (notification_id,) = await self._call(
            "Notify",
            "susssasa{sv}i",
            APP_NAME,
            on_screen.notification_id if on_screen else 0,
            self._icon,
            notice.title,
            notice.body,
            action_keys(notice),
            hints,
            notice.timeout_ms,
        )
        self._live[notice.slot] = _OnScreen(int(notification_id), notice)

    async def _withdraw(self, slot: str) -> None:
        on_screen = self._live.pop(slot, None)
        if on_screen is None:
            return  # never shown, gone already, or shown as a balloon
        try:
            await self._call("CloseNotification", "u", on_screen.notification_id)
        except Exception as error:  # it closed meanwhile (the spec's empty error), or D-Bus failed
            logger.info("could not withdraw a notification (%s)", error)

    async def _call(self, method: str, signature: str, *args: object) -> tuple[Any, ...]:
        from jeepney import DBusAddress, new_method_call
        from jeepney.wrappers import unwrap_msg

        address = DBusAddress(OBJECT_PATH, bus_name=SERVICE, interface=SERVICE)
        message = new_method_call(address, method, signature, args)
        reply = await asyncio.wait_for(self._router.send_and_get_reply(message), REPLY_TIMEOUT_S)
        body: tuple[Any, ...] = unwrap_msg(reply)
        return body

    async def _listen(self, queue: asyncio.Queue[Any]) -> None:
        from jeepney import HeaderFields

        while True:
            signal = await queue.get()
            member = signal.header.fields.get(HeaderFields.member)
            if member == "ActionInvoked":
                notification_id, key = signal.body
                self._action_invoked(int(notification_id), str(key))
            elif member == "NotificationClosed":
                self._forget(int(signal.body[0]))

    def _action_invoked(self, notification_id: int, key: str) -> None:
        on_screen = self._find(notification_id)
        if on_screen is None:
            return  # another app's notification, or one of ours that is gone
        verb = verb_for(on_screen.notice, key)
        if verb is None:
            return
        try:
            self._on_action(on_screen.notice, verb)
        except Exception:  # the tray's handler failed: keep hearing the next presses
            logger.exception("the action %s of a notification failed", verb)

    def _forget(self, notification_id: int) -> None:
        on_screen = self._find(notification_id)
        if on_screen is not None:
            del self._live[on_screen.notice.slot]

    def _find(self, notification_id: int) -> _OnScreen | None:
        return next((s for s in self._live.values() if s.notification_id == notification_id), None)
