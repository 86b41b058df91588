"""A hub that runs in another process (``mcp-tray serve``), seen through its control socket.

The tray presents it exactly as it presents its own hub: :class:`RemoteHub`
has the hub's API (app.core.endpoint.hubapi). Its events come from the
control API's ``events`` stream, re-published on a local bus, so the tray's
notices and menus work unchanged; its actions are control requests. The
servers belong to the other process: leaving the tray leaves them running,
and when that process's hub stops, the quitter ends the tray too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from app.core.activity import Request
from app.core.config import Config, ConfigError, load_config
from app.core.endpoint import client, protocol
from app.core.endpoint.secret_changes import store_secret
from app.core.errors import ControlError, HubNotTold
from app.core.events import ConfigApplied, EventBus, ServerStateChanged, from_wire
from app.core.paths import Paths
from app.core.secrets import KeyringUnavailable, SecretStore, UnsafeSecret
from app.core.supervise.status import ServerStatus

logger = logging.getLogger(__name__)

ACTION_TIMEOUT_S = 3600.0  # a start or restart answers once the server is up, or the hub gives up
STREAM_LIMIT = 16 * 1024 * 1024  # one event line; server log lines are bounded well below this


class RemoteHub:
    remote = True  # the tray says that quitting it leaves the servers running

    def __init__(self, paths: Paths, *, store: SecretStore | None = None) -> None:
        self.paths = paths
        self.bus = EventBus()
        self.config = Config()
        self.presenter: Callable[[], None] | None = None  # unused: the other hub has no window
        self.bundle_opener: Callable[[str], None] | None = None  # unused, as presenter
        self.quitter: Callable[[], None] | None = None
        self.ended = asyncio.Event()  # the other hub stopped, or hung up
        self.store = store or SecretStore(paths.secret_index)
        self._rows: list[ServerStatus] = []
        self._writer: asyncio.StreamWriter | None = None
        self._pump: asyncio.Task[None] | None = None

    def status_rows(self) -> list[ServerStatus]:
        return list(self._rows)

    async def start(self, *, keep_going: bool = True) -> None:
        """Follow the hub's events; raises OSError when its socket cannot be reached."""
        await self._load_config()
        reader, self._writer = await asyncio.open_unix_connection(
            self.paths.socket_path, limit=STREAM_LIMIT
        )
        self._writer.write(protocol.request("events"))
        reply = protocol.decode(await reader.readline())
        if not reply.get("ok"):
            raise OSError(f"the hub refused to stream its events: {reply.get('error')}")
        self._rows = _rows(reply.get("result"))
        self._pump = asyncio.create_task(self._follow(reader), name="follow the hub")
        logger.info("presenting the hub already running (%s)", self.paths.socket_path)

    async def shutdown(self) -> None:
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
        if self._writer is not None:
            self._writer.close()

    def kill_everything_now(self) -> None:
        """Nothing to do: the servers belong to the other process."""

    # ----- actions

    async def start_server(self, name: str) -> None:
        await self._call("start", name=name)

    async def stop_server(self, name: str) -> None:
        await self._call("stop", name=name)

    async def restart_server(self, name: str) -> None:
        await self._call("restart", name=name)

    async def reload(self) -> list[str]:
        changed: list[str] = await self._call("reload")
        return changed

    async def secrets_changed(self, server: str, names: list[str]) -> list[str]:
        acted: list[str] = await self._call("secrets_changed", name=server, secrets=names)
        return acted

    async def show(self) -> None:
        await self._call("show")

    async def open_bundle(self, path: str) -> None:
        await self._call("open_bundle", path=path)

    async def quit(self) -> None:
        await self._call("quit")

    async def set_secret(self, server: str, name: str, value: str) -> list[str]:
        """Store a secret in the keyring, then have the hub act on it (secret_changes)."""
        try:
            return await asyncio.to_thread(
                store_secret, self.store, self.paths.socket_path, server, name, value
            )
        except UnsafeSecret as error:
            raise ControlError(str(error)) from None
        except KeyringUnavailable as error:
            raise ControlError(f"cannot store the secret: {error}") from None
        except HubNotTold as not_told:
            raise _refusal(not_told.cause) from None

    async def log_tail(self, name: str, lines: int) -> list[str]:
        tail: list[str] = await self._call("logs", name=name, lines=lines)
        return tail

    async def activity(self, name: str | None = None) -> list[Request]:
        """The hub's rows; a row this version cannot read (a newer hub's) is left out."""
        rows = []
        for wire in await self._call("activity", **({} if name is None else {"name": name})):
            with contextlib.suppress(KeyError, TypeError, ValueError):
                rows.append(Request.from_wire(wire))
        return rows

    async def http_token_changed(self) -> bool:
        serving: bool = await self._call("http_token_changed")
        return serving

    async def sign_in(self, name: str, show: Callable[[str, bool], None]) -> None:
        """As the hub's: the page comes in the reply, the outcome on the next line."""
        try:
            reader, writer = await asyncio.open_unix_connection(self.paths.socket_path)
        except OSError as error:
            raise _refusal(error) from None
        try:
            writer.write(protocol.request("signin", name=name))
            reply = protocol.decode(await reader.readline())
            if not reply.get("ok"):
                raise ControlError(str(reply.get("error") or "the sign-in could not begin"))
            show(str(reply["result"]["page"]), bool(reply["result"].get("new")))
            outcome = protocol.decode(await reader.readline()).get("line") or {}
        except (OSError, ValueError, KeyError, TypeError, protocol.ProtocolError) as error:
            raise _refusal(error) from None
        finally:
            writer.close()
        if "error" in outcome:
            raise ControlError(str(outcome["error"]))

    async def tools(self, name: str) -> list[dict[str, Any]]:
        listed: list[dict[str, Any]] = await self._call("tools", name=name)
        return listed

    async def held_tools(self, name: str) -> list[dict[str, Any]]:
        held: list[dict[str, Any]] = await self._call("held_tools", name=name)
        return held

    async def accept_tools(self, name: str, reviewed: dict[str, str]) -> list[str]:
        accepted: list[str] = await self._call("accept_tools", name=name, reviewed=reviewed)
        return accepted

    async def sign_out(self, name: str) -> bool:
        was_signed_in: bool = await self._call("signout", name=name)
        return was_signed_in

    # ----- plumbing

    async def _follow(self, reader: asyncio.StreamReader) -> None:
        """Re-publish the other hub's events until it stops; then end the tray with it.

        Not when cancelled (shutdown): the tray is ending already.
        """
        try:
            while line := await reader.readline():
                event = from_wire(protocol.decode(line))
                if isinstance(event, ServerStateChanged):
                    self._rows = _rows(await self._call("status"))  # uptimes and all, fresh
                elif isinstance(event, ConfigApplied):
                    await self._load_config()
                if event is not None:
                    self.bus.publish(event)
        except ControlError:
            pass  # the hub went away while we asked for its status: it is stopping
        except (OSError, ValueError, protocol.ProtocolError) as error:
            logger.warning("lost the hub's event stream: %s", error)
        logger.info("the hub this tray presented has stopped; the tray quits too")
        self.ended.set()
        if self.quitter is not None:
            self.quitter()

    async def _call(self, op: str, **arguments: Any) -> Any:
        try:
            return await asyncio.to_thread(
                client.call, self.paths.socket_path, op, timeout=ACTION_TIMEOUT_S, **arguments
            )
        except (client.HubRefused, client.HubNotRunning, OSError) as error:
            raise _refusal(error) from None

    async def _load_config(self) -> None:
        """The config the other hub runs (for secret names); a broken file keeps the last."""
        with contextlib.suppress(ConfigError, OSError):
            self.config = await asyncio.to_thread(load_config, self.paths.config_file)


def _rows(wire: Any) -> list[ServerStatus]:
    """The rows of a ``status`` or ``events`` reply (ValueError: a state unknown here)."""
    return [ServerStatus.from_wire(row) for row in wire or []]


def _refusal(error: Exception) -> ControlError:
    """What the tray says when a request did not reach the hub, or the hub refused it."""
    if isinstance(error, client.HubRefused):
        return ControlError(str(error))
    return ControlError(f"MCP Tray's hub cannot be reached: {error}")
