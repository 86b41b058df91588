"""What a hub offers the people who drive it: one API for the tray and the control socket.

Three kinds of hub have this face:

- app.core.hub.Hub, the hub itself, in this process and on this loop;
- app.gui.hubthread.ThreadedHub, the tray's own hub on a thread of its own;
- app.core.endpoint.remote.RemoteHub, a hub in another process
  (``mcp-tray serve``) seen through its control socket.

The tray presents any of them the same way, and the control socket
(app.core.endpoint.control) serves the hub's through it. It lives with the
endpoint because the control server, below the hub in the layers, needs it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from app.core.config import Config
from app.core.events import EventBus
from app.core.paths import Paths
from app.core.secrets import SecretStore
from app.core.supervise.status import ServerStatus


class HubAPI(Protocol):
    """A hub, wherever it runs. The actions raise ControlError with a sentence
    for the user when the hub refuses them or cannot be reached."""

    remote: bool  # its servers belong to another process: quitting here leaves them running
    bus: EventBus  # its events, published on the caller's loop
    # Set by whoever shows the hub: brings the window forward (a second `mcp-tray`).
    presenter: Callable[[], None] | None
    # Set by whoever shows the hub: opens the Add dialog on a bundle file (one opened on
    # the desktop while MCP Tray runs), given by its full path.
    bundle_opener: Callable[[str], None] | None
    # Set by whoever runs it: ends the program, as Quit would (`mcp-tray quit`, or
    # the other process's hub stopped).
    quitter: Callable[[], None] | None

    @property
    def paths(self) -> Paths: ...
    @property
    def config(self) -> Config: ...
    @property
    def store(self) -> SecretStore: ...

    # ----- its life
    async def start(self, *, keep_going: bool = ...) -> None: ...
    async def shutdown(self) -> None: ...
    def kill_everything_now(self) -> None: ...

    # ----- what it says
    def status_rows(self) -> list[ServerStatus]: ...
    async def log_tail(self, name: str, lines: int) -> list[str]: ...

    # ----- what it is asked
    async def start_server(self, name: str) -> None: ...
    async def stop_server(self, name: str) -> None: ...
    async def restart_server(self, name: str) -> None: ...
    async def reload(self) -> list[str]: ...
    async def set_secret(self, server: str, name: str, value: str) -> list[str]: ...
    async def secrets_changed(self, server: str, names: list[str]) -> list[str]: ...
    async def http_token_changed(self) -> bool: ...
    async def sign_in(self, name: str, show: Callable[[str, bool], None]) -> None: ...
    async def sign_out(self, name: str) -> bool: ...
    async def show(self) -> None: ...
    async def open_bundle(self, path: str) -> None: ...
    async def quit(self) -> None: ...
