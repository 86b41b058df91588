"""Desktop notifications: the freedesktop D-Bus service on Linux, the tray's balloon elsewhere.

On Linux, a tray icon's ``showMessage`` may draw Qt's own balloon and never
reach the desktop's notification daemon (an XEmbed tray such as trayer), so
notices go straight to ``org.freedesktop.Notifications`` over D-Bus, which
also gives action buttons ("Show logs", "Set secret…"). jeepney sends it
with the method's D-Bus signature written out (``susssasa{sv}i``: an unsigned
id, a dict of variants), on the asyncio loop; from Python, QtDBus guesses
argument types from values, which gets those two wrong. Without a session
bus or a daemon, the tray's balloon is the fallback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import Callable
from typing import Any

from app.core.notices import Notice, NoticeKind

logger = logging.getLogger(__name__)

APP_NAME = "MCP Tray"
SERVICE = "org.freedesktop.Notifications"
OBJECT_PATH = "/org/freedesktop/Notifications"
EXPIRE_DEFAULT = -1  # the daemon's own timeout
URGENCY = {NoticeKind.CRASH_LOOP: 2, NoticeKind.NEEDS_SECRET: 2, NoticeKind.CONFIG_ERROR: 2}

# Action keys, as sent to the daemon and received back.
SHOW_LOGS = "show-logs"
SET_SECRET = "set-secret"
OPEN_CONFIG = "open-config"
DEFAULT = "default"  # a click on the notification itself


def actions_for(notice: Notice) -> list[tuple[str, str]]:
    if notice.kind is NoticeKind.NEEDS_SECRET:
        return [(DEFAULT, "Set secret…"), (SET_SECRET, "Set secret…")]
    if notice.kind is NoticeKind.CONFIG_ERROR:
        return [(DEFAULT, "Open config"), (OPEN_CONFIG, "Open config")]
    return [(DEFAULT, "Show logs"), (SHOW_LOGS, "Show logs")]


class DesktopNotifier:
    """Sends notices; ``on_action(notice, key)`` hears which button the user pressed."""

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
        self._sent: dict[int, Notice] = {}  # daemon's notification id -> notice
        self._listener: asyncio.Task[None] | None = None
        self._connecting: asyncio.Task[bool] | None = None

    def show(self, notice: Notice) -> None:
        """Send without waiting; failures fall back to the balloon."""
        asyncio.get_running_loop().create_task(self._show(notice))

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        if self._router is not None:
            with contextlib.suppress(Exception):
                await self._router.__aexit__(None, None, None)

    async def _show(self, notice: Notice) -> None:
        if sys.platform.startswith("linux") and await self._connected():
            try:
                self._sent[await self._notify(notice)] = notice
                return
            except Exception as error:  # any D-Bus failure: say it once, use the balloon
                logger.warning("desktop notification failed (%s); using the tray balloon", error)
        self._balloon(notice.title, notice.body)

    async def _connected(self) -> bool:
        if self._connecting is None:
            self._connecting = asyncio.ensure_future(self._connect())
        return await self._connecting

    async def _connect(self) -> bool:
        from jeepney import MatchRule, message_bus
        from jeepney.io.asyncio import Proxy, open_dbus_router

        try:
            self._router = await open_dbus_router(bus="SESSION").__aenter__()
            rule = MatchRule(
                type="signal", interface=SERVICE, member="ActionInvoked", path=OBJECT_PATH
            )
            await Proxy(message_bus, self._router).AddMatch(rule)
            queue: asyncio.Queue[Any] = asyncio.Queue()
            self._router.filter(rule, queue=queue, bufsize=64)
            self._listener = asyncio.ensure_future(self._listen(queue))
        except Exception as error:  # no session bus, or it refused us
            logger.info("no D-Bus session for notifications (%s); using the tray balloon", error)
            return False
        return True

    async def _notify(self, notice: Notice) -> int:
        from jeepney import DBusAddress, new_method_call

        address = DBusAddress(OBJECT_PATH, bus_name=SERVICE, interface=SERVICE)
        actions = [part for action in actions_for(notice) for part in action]
        hints = {"urgency": ("y", URGENCY.get(notice.kind, 1))}
        message = new_method_call(
            address,
            "Notify",
            "susssasa{sv}i",
            (APP_NAME, 0, self._icon, notice.title, notice.body, actions, hints, EXPIRE_DEFAULT),
        )
        reply = await self._router.send_and_get_reply(message)
        if reply.header.message_type.name == "error":
            raise RuntimeError(f"{reply.header.fields} {reply.body}")
        (notification_id,) = reply.body
        return int(notification_id)

    async def _listen(self, queue: asyncio.Queue[Any]) -> None:
        while True:
            signal = await queue.get()
            notification_id, key = signal.body
            notice = self._sent.get(int(notification_id))
            if notice is not None:
                self._on_action(notice, str(key))
