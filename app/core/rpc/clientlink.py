"""A client on a socket: its lines in, and the relay's messages out with back-pressure.

Messages go straight to the client's socket while it keeps up; when the
socket's buffer fills they queue for a writer task that waits for the client,
so a slow client never holds up the others. A client that lets more than
MAX_QUEUED_BYTES pile up is dropped: the hub never buffers without bound.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import select
from collections.abc import Callable

from app.core.rpc.framing import (
    READ_CHUNK_BYTES,
    ByteSource,
    LineSplitter,
    MalformedLine,
    Message,
    PushReader,
    encode,
)

logger = logging.getLogger(__name__)

DIRECT_WRITE_LIMIT = 256 * 1024  # below this much unsent data, write to a client at once
MAX_QUEUED_BYTES = 256 * 1024 * 1024  # a client this far behind has stopped reading
FLUSH_LIMIT_S = 5.0  # a leaving client gets this long to take its last answers


class ClientLink:
    """The relay's messages to one client's socket (a ClientOutput); ``label`` names
    the client in the log."""

    def __init__(self, writer: asyncio.StreamWriter, *, label: str) -> None:
        self._writer = writer
        self._label = label
        self._queue: collections.deque[bytes] = collections.deque()
        self._queued_bytes = 0
        self._queued = asyncio.Event()
        self._emptied = asyncio.Event()
        self._pump = asyncio.create_task(self._write_queued())

    def send(self, message: Message, encoded: bytes | None = None) -> None:
        if not self._writer.transport.is_closing():
            self.send_line(encoded if encoded is not None else encode(message))

    def send_line(self, line: bytes) -> None:
        transport = self._writer.transport
        if transport.is_closing():
            return
        if not self._queue and transport.get_write_buffer_size() < DIRECT_WRITE_LIMIT:
            self._writer.write(line)
            return
        self._queue.append(line)
        self._queued_bytes += len(line)
        self._queued.set()
        if self._queued_bytes > MAX_QUEUED_BYTES:
            logger.warning("%s stopped reading; disconnecting it", self._label)
            transport.abort()

    @property
    def writable(self) -> bool:
        """Whether the client may still read what the relay writes: the connection is
        open and the client closed at most its own side (``attach`` whose input ended),
        not all of it (a client that went away)."""
        if self._writer.transport.is_closing():
            return False
        sock = self._writer.get_extra_info("socket")
        if sock is None or not hasattr(select, "poll"):
            return True  # no way to ask (Windows): assume it still reads
        poller = select.poll()
        poller.register(sock.fileno(), select.POLLHUP)
        return not any(events & select.POLLHUP for _, events in poller.poll(0))

    async def finish(self) -> None:
        """Flush what is queued (bounded), then close the connection."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._flushed(), FLUSH_LIMIT_S)
        self._pump.cancel()
        self._writer.close()

    async def _flushed(self) -> None:
        while self._queue:
            await self._emptied.wait()
        await self._writer.drain()

    async def _write_queued(self) -> None:
        with contextlib.suppress(ConnectionError):
            while True:
                await self._queued.wait()
                self._queued.clear()
                self._emptied.clear()
                while self._queue:
                    data = self._queue.popleft()
                    self._queued_bytes -= len(data)
                    self._writer.write(data)
                    await self._writer.drain()
                self._emptied.set()


async def read_lines(reader: ByteSource, receive: Callable[[bytes | MalformedLine], None]) -> None:
    """Hand each line of a client's socket to ``receive`` until the client hangs up;
    raises if the connection breaks."""
    splitter = LineSplitter()

    def take(chunk: bytes) -> None:
        for line in splitter.feed(chunk):
            receive(line)

    if isinstance(reader, PushReader):
        reader.push_to(take)  # routed as it arrives, one loop step sooner
        await reader.read()  # returns at end of stream; raises if the connection breaks
    else:
        while chunk := await reader.read(READ_CHUNK_BYTES):
            take(chunk)
    for line in splitter.end():
        receive(line)
