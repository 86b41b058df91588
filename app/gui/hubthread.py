"""The tray's hub on a thread and an event loop of its own.

Qt's event loop runs the tray. Were the hub on it too, anything that holds
that loop up (a slow paint, a nested loop, a busy slot) would hold up every
editor's traffic through the relay and every supervision deadline. So the
hub runs on a plain asyncio loop in a thread, exactly as under
``mcp-tray serve``, and the tray sees it through :class:`ThreadedHub`, which
has the hub's API (app.core.endpoint.hubapi):

- its coroutines run on the hub's loop and are awaited from the tray's;
- its events are published again on a bus of the tray's loop;
- ``status_rows()`` asks the hub's loop and waits for the rows, which the
  hub makes without I/O;
- what the hub asks of the tray (bring the window forward, open a bundle, quit) is done on
  the tray's loop.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from app.core.activity import Request
from app.core.config import Config
from app.core.events import Event, EventBus
from app.core.hub import Hub
from app.core.paths import Paths
from app.core.secrets import SecretStore
from app.core.supervise.status import ServerStatus

logger = logging.getLogger(__name__)

T = TypeVar("T")

ROWS_TIMEOUT_S = 5.0  # the hub's loop answers at once unless something is badly wrong


class ThreadedHub:
    remote = False  # the servers run in this process, and end with it

    def __init__(self, hub: Hub) -> None:
        self._hub = hub
        self.bus = EventBus()
        self.presenter: Callable[[], None] | None = None
        self.bundle_opener: Callable[[str], None] | None = None
        self.quitter: Callable[[], None] | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="mcp-tray hub", daemon=True
        )
        self._tray_loop: asyncio.AbstractEventLoop | None = None

    # ----- what the tray reads: objects the hub replaces whole, never changes in place

    @property
    def paths(self) -> Paths:
        return self._hub.paths

    @property
    def config(self) -> Config:
        return self._hub.config

    @property
    def store(self) -> SecretStore:
        return self._hub.store

    # ----- the hub's life

    async def start(self, *, keep_going: bool = True) -> None:
        self._tray_loop = asyncio.get_running_loop()
        self._hub.bus.subscribe_every(self._publish_on_tray)
        self._hub.presenter = lambda: self._on_tray(self.presenter)
        self._hub.quitter = lambda: self._on_tray(self.quitter)
        self._hub.bundle_opener = self._open_bundle_on_tray
        self._thread.start()
        await self._on_hub(self._hub.start(keep_going=keep_going))

    async def shutdown(self) -> None:
        """Stop every server, then the hub's loop and its thread."""
        if self._thread.is_alive():
            logger.info("stopping every server")
            await self._on_hub(self._hub.shutdown())
            self._loop.call_soon_threadsafe(self._loop.stop)
            await asyncio.to_thread(self._thread.join)
        self._loop.close()

    def kill_everything_now(self) -> None:
        self._hub.kill_everything_now()  # signals only: safe from any thread

    # ----- the tray's questions and commands

    def status_rows(self) -> list[ServerStatus]:
        async def rows() -> list[ServerStatus]:
            return self._hub.status_rows()

        return asyncio.run_coroutine_threadsafe(rows(), self._loop).result(ROWS_TIMEOUT_S)

    async def start_server(self, name: str) -> None:
        await self._on_hub(self._hub.start_server(name))

    async def stop_server(self, name: str) -> None:
        await self._on_hub(self._hub.stop_server(name))

    async def restart_server(self, name: str) -> None:
        await self._on_hub(self._hub.restart_server(name))

    async def reload(self) -> list[str]:
        return await self._on_hub(self._hub.reload())

    async def set_secret(self, server: str, name: str, value: str) -> list[str]:
        return await self._on_hub(self._hub.set_secret(server, name, value))

    async def log_tail(self, name: str, lines: int) -> list[str]:
        return await self._on_hub(self._hub.log_tail(name, lines))

    async def activity(self, name: str | None = None) -> list[Request]:
        return await self._on_hub(self._hub.activity(name))

    async def secrets_changed(self, server: str, names: list[str]) -> list[str]:
        return await self._on_hub(self._hub.secrets_changed(server, names))

    async def http_token_changed(self) -> bool:
        return await self._on_hub(self._hub.http_token_changed())

    async def sign_in(self, name: str, show: Callable[[str, bool], None]) -> None:
        """``show`` is called on the tray's loop (it opens the browser)."""
        await self._on_hub(
            self._hub.sign_in(name, lambda page, new: self._on_tray(lambda: show(page, new)))
        )

    async def sign_out(self, name: str) -> bool:
        return await self._on_hub(self._hub.sign_out(name))

    async def tools(self, name: str) -> list[dict[str, Any]]:
        return await self._on_hub(self._hub.tools(name))

    async def held_tools(self, name: str) -> list[dict[str, Any]]:
        return await self._on_hub(self._hub.held_tools(name))

    async def accept_tools(self, name: str, reviewed: dict[str, str]) -> list[str]:
        return await self._on_hub(self._hub.accept_tools(name, reviewed))

    async def show(self) -> None:
        await self._on_hub(self._hub.show())

    async def open_bundle(self, path: str) -> None:
        await self._on_hub(self._hub.open_bundle(path))

    async def quit(self) -> None:
        await self._on_hub(self._hub.quit())

    # ----- between the two loops

    async def _on_hub(self, work: Coroutine[Any, Any, T]) -> T:
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(work, self._loop))

    def _publish_on_tray(self, event: Event) -> None:
        assert self._tray_loop is not None
        self._tray_loop.call_soon_threadsafe(self.bus.publish, event)

    def _on_tray(self, action: Callable[[], None] | None) -> None:
        if action is not None and self._tray_loop is not None:
            self._tray_loop.call_soon_threadsafe(action)

    def _open_bundle_on_tray(self, path: str) -> None:
        opener = self.bundle_opener
        if opener is not None:
            self._on_tray(lambda: opener(path))
