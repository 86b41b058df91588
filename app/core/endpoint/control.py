"""The hub side of the control socket: status and start/stop/restart/logs for the CLI and tray.

The socket lives in a 0700 directory and is itself 0600, so only the user
who runs the hub can reach it. Each connection carries one request; a
connection that sends invalid data is logged and dropped, never allowed to
disturb the hub.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

from app.core.endpoint import protocol
from app.core.endpoint.hubapi import HubAPI
from app.core.errors import ControlError as ControlError  # noqa: PLC0414 - imported from here too
from app.core.events import ActivityRecorded, ServerLogLine, to_wire
from app.core.rpc.framing import PushReader

logger = logging.getLogger(__name__)


class Attachable(Protocol):
    """Where an attaching client's messages go: a server's relay (app.core.rpc.relay)."""

    async def serve_client(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        resumed: dict[str, Any] | None = None,
    ) -> None: ...


Handler = Callable[[dict[str, Any]], Awaitable[Any]]


class ControlServer:
    def __init__(
        self, hub: HubAPI, socket_path: Path, *, attach: Callable[[str], Attachable]
    ) -> None:
        """``attach`` finds the relay for a server's name, or raises ControlError."""
        self._hub = hub
        self._attach_to = attach
        self._socket_path = socket_path
        self._server: asyncio.AbstractServer | None = None
        self._handlers: dict[str, Handler] = {
            "hello": self._hello,
            "status": self._status,
            "start": lambda request: hub.start_server(_name(request)),
            "stop": lambda request: hub.stop_server(_name(request)),
            "restart": lambda request: hub.restart_server(_name(request)),
            "reload": lambda request: hub.reload(),
            "show": lambda request: hub.show(),
            # A bundle file opened on the desktop: the tray opens its Add dialog on it.
            "open_bundle": lambda request: hub.open_bundle(_path(request)),
            "quit": lambda request: hub.quit(),
            # The CLI stored or removed secrets in the keyring itself; the hub acts on it.
            "secrets_changed": lambda request: hub.secrets_changed(
                _name(request), _names(request, "secrets")
            ),
            # The CLI or the tray put a new HTTP token in the keyring: the hub takes it.
            "http_token_changed": lambda request: hub.http_token_changed(),
            "signout": lambda request: hub.sign_out(_name(request)),
            "tools": lambda request: hub.tools(_name(request)),
            "held_tools": lambda request: hub.held_tools(_name(request)),
            "accept_tools": lambda request: hub.accept_tools(_name(request), _reviewed(request)),
        }

    async def start(self) -> None:
        self._socket_path.unlink(missing_ok=True)  # the instance lock says it is stale
        old_umask = os.umask(0o177)  # the socket is born 0600: no window where others can connect
        try:
            self._server = await asyncio.get_running_loop().create_unix_server(
                self._new_connection, path=self._socket_path
            )
        finally:
            os.umask(old_umask)
        os.chmod(self._socket_path, 0o600)

    def _new_connection(self) -> asyncio.StreamReaderProtocol:
        # asyncio.start_unix_server with a reader that can switch to push mode,
        # which the relay uses once the connection carries a client's messages.
        reader = PushReader(limit=protocol.MAX_REQUEST_BYTES)
        return asyncio.StreamReaderProtocol(reader, self._serve_connection)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)
        self._socket_path.unlink(missing_ok=True)

    async def _serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            request = await self._read_request(reader)
            if request.get("op") == "logs":
                await self._logs(request, writer, reader)
            elif request.get("op") == "activity":
                await self._activity(request, writer, reader)
            elif request.get("op") == "events":
                await self._events(request, writer, reader)
            elif request.get("op") == "attach":
                await self._attach(request, writer, reader)
            elif request.get("op") == "signin":
                await self._sign_in(request, writer)
            else:
                writer.write(protocol.encode(await self._answer(request)))
                await writer.drain()
        except ControlError as error:  # a streaming request whose arguments are wrong
            writer.write(protocol.encode(_refusal(error)))
        except (protocol.ProtocolError, ValueError, TimeoutError) as error:
            logger.warning("dropped a control connection: %s", error)
        except ConnectionError:
            pass  # the client went away; nothing to answer
        finally:
            writer.close()

    async def _read_request(self, reader: asyncio.StreamReader) -> dict[str, Any]:
        async with asyncio.timeout(protocol.REQUEST_TIMEOUT_S):
            line = await reader.readline()  # bounded by MAX_REQUEST_BYTES (ValueError)
        request = protocol.decode(line)
        if request.get("v") != protocol.PROTOCOL_VERSION:
            raise protocol.ProtocolError(f"unsupported protocol version {request.get('v')!r}")
        return request

    async def _answer(self, request: dict[str, Any]) -> dict[str, Any]:
        handler = self._handlers.get(str(request.get("op")))
        if handler is None:
            return {"ok": False, "error": f"unknown operation {request.get('op')!r}"}
        try:
            return {"ok": True, "result": await handler(request)}
        except ControlError as error:
            return _refusal(error)

    async def _attach(
        self, request: dict[str, Any], writer: asyncio.StreamWriter, reader: asyncio.StreamReader
    ) -> None:
        """After the reply, the connection carries one client's MCP messages (the relay's)."""
        try:
            relay = self._attach_to(_name(request))
        except ControlError as error:
            writer.write(protocol.encode(_refusal(error)))
            return
        writer.write(protocol.encode({"ok": True, "result": {"server": request["name"]}}))
        await writer.drain()
        # A client coming back after a hub restart brings the handshake it made before.
        resume = request.get("resume")
        initialize = resume.get("initialize") if isinstance(resume, dict) else None
        resumed = initialize if isinstance(initialize, dict) else None
        await relay.serve_client(reader, writer, resumed=resumed)

    async def _sign_in(self, request: dict[str, Any], writer: asyncio.StreamWriter) -> None:
        """Reply with the sign-in page's address (``page``, and ``new``: False when the
        sign-in was open already), then one line with the outcome: ``{"signed_in": true}``
        or ``{"error": why}``. A sign-in that fails before its page is known is refused."""
        told = False

        def show(page: str, new: bool) -> None:
            nonlocal told
            told = True
            writer.write(protocol.encode({"ok": True, "result": {"page": page, "new": new}}))

        try:
            await self._hub.sign_in(_name(request), show)
            outcome: dict[str, Any] = {"signed_in": True}
        except ControlError as error:
            if not told:
                raise
            outcome = {"error": str(error)}
        writer.write(protocol.encode({"line": outcome}))
        await writer.drain()

    async def _status(self, request: dict[str, Any]) -> list[dict[str, Any]]:
        return [row.to_wire() for row in self._hub.status_rows()]

    async def _hello(self, request: dict[str, Any]) -> dict[str, Any]:
        from app import __version__

        return {"pid": os.getpid(), "version": __version__}

    async def _logs(
        self, request: dict[str, Any], writer: asyncio.StreamWriter, reader: asyncio.StreamReader
    ) -> None:
        """Reply with the newest lines, then (with ``follow``) stream new ones until hang-up."""
        name, count = _name(request), _count(request, "lines", 50)
        messages: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

        def forward(event: ServerLogLine) -> None:
            if event.server == name:
                messages.put_nowait({"line": event.stamped()})

        unsubscribe = self._hub.bus.subscribe(ServerLogLine, forward)
        try:
            try:
                recent = await self._hub.log_tail(name, count)
            except ControlError as error:
                writer.write(protocol.encode({"ok": False, "error": str(error)}))
                return
            writer.write(protocol.encode({"ok": True, "result": recent}))
            await writer.drain()
            if request.get("follow"):
                await self._stream(messages, writer, reader)
        finally:
            unsubscribe()

    async def _activity(
        self, request: dict[str, Any], writer: asyncio.StreamWriter, reader: asyncio.StreamReader
    ) -> None:
        """Reply with the requests recorded (of server ``name``, or of all; the newest
        ``lines``, or all), then (with ``follow``) stream each new one until hang-up."""
        name = _optional_name(request)
        count = _count(request, "lines", 0) if "lines" in request else None
        messages: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

        newest = 0  # rows up to this one are in the reply: not sent again

        def forward(event: ActivityRecorded) -> None:
            for row in event.rows:
                if row.seq > newest and (name is None or row.server == name):
                    messages.put_nowait({"line": row.to_wire()})

        unsubscribe = self._hub.bus.subscribe(ActivityRecorded, forward)
        try:
            rows = await self._hub.activity(name)  # a refusal (unknown name) is answered
            newest = rows[-1].seq if rows else 0
            if count is not None:
                rows = rows[-count:] if count else []
            writer.write(protocol.encode({"ok": True, "result": [r.to_wire() for r in rows]}))
            await writer.drain()
            if request.get("follow"):
                await self._stream(messages, writer, reader)
        finally:
            unsubscribe()

    async def _events(
        self, request: dict[str, Any], writer: asyncio.StreamWriter, reader: asyncio.StreamReader
    ) -> None:
        """Reply with the status rows, then stream every hub event until hang-up.

        What a tray presenting a hub that runs in another process listens to.
        """
        messages: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        unsubscribe = self._hub.bus.subscribe_every(
            lambda event: messages.put_nowait(to_wire(event))
        )
        try:
            rows = [row.to_wire() for row in self._hub.status_rows()]
            writer.write(protocol.encode({"ok": True, "result": rows}))
            await writer.drain()
            await self._stream(messages, writer, reader)
        finally:
            unsubscribe()

    async def _stream(
        self,
        messages: asyncio.Queue[dict[str, Any]],
        writer: asyncio.StreamWriter,
        reader: asyncio.StreamReader,
    ) -> None:
        hang_up = asyncio.ensure_future(reader.read())  # EOF when the client goes away
        try:
            while not hang_up.done():
                next_message = asyncio.ensure_future(messages.get())
                await asyncio.wait({next_message, hang_up}, return_when=asyncio.FIRST_COMPLETED)
                if not next_message.done():
                    next_message.cancel()
                    break
                writer.write(protocol.encode(next_message.result()))
                await writer.drain()
        finally:
            hang_up.cancel()


def _refusal(error: ControlError) -> dict[str, Any]:
    reply: dict[str, Any] = {"ok": False, "error": str(error)}
    if error.code is not None:
        reply["code"] = error.code
    return reply


def _name(request: dict[str, Any]) -> str:
    name = request.get("name")
    if not isinstance(name, str) or not name:
        raise ControlError("this operation needs a server name")
    return name


def _optional_name(request: dict[str, Any]) -> str | None:
    """A server's name, or None (no "name": every server)."""
    return _name(request) if request.get("name") is not None else None


def _path(request: dict[str, Any]) -> str:
    """A file's full path: the hub's working folder is not the caller's."""
    path = request.get("path")
    if not isinstance(path, str) or not os.path.isabs(path):
        raise ControlError("this operation needs a file's full path")
    return path


def _count(request: dict[str, Any], key: str, default: int) -> int:
    value = request.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ControlError(f'"{key}" must be a whole number, 0 or more')
    return value


def _reviewed(request: dict[str, Any]) -> dict[str, str]:
    """Tools the user accepted as they saw them: name to fingerprint."""
    value = request.get("reviewed")
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ControlError('"reviewed" must map each tool\'s name to the fingerprint reviewed')
    return value


def _names(request: dict[str, Any], key: str) -> list[str]:
    value = request.get(key, [])
    if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
        raise ControlError(f'"{key}" must be a list of names')
    return value
