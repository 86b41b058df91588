"""Newline-delimited JSON, the framing of every hop (stdio and the local socket).

Messages are read in chunks rather than with ``StreamReader.readline()``,
whose 64 KiB default limit would cut off large tool results, and the search
for the next newline only ever scans new bytes, so a message costs time
linear in its size however it arrives. A line that is not a JSON object is
returned as a :class:`MalformedLine` value instead of raised: one bad line
from a server (a stray ``print``) must never end the stream.
"""

from __future__ import annotations

import asyncio
import collections
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

MAX_MESSAGE_BYTES = 64 * 1024 * 1024  # DESIGN: no line-length limit below 64 MiB
READ_CHUNK_BYTES = 256 * 1024
_PREVIEW_CHARS = 200

Message = dict[str, Any]


class ByteSource(Protocol):
    async def read(self, n: int = -1) -> bytes: ...


@dataclass(frozen=True)
class MalformedLine:
    """A line that was skipped, with enough of it to show in a log.

    ``parsed``: it is JSON, just not a message object (a batch, ``[]``, ``42``):
    an invalid request (-32600) rather than a parse error (-32700).
    """

    reason: str
    preview: str
    parsed: bool = False

    def __str__(self) -> str:
        return f"{self.reason}: {self.preview!r}"


def encode(message: Message) -> bytes:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def decode(line: bytes) -> Message | MalformedLine:
    try:
        value = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        return MalformedLine(f"not JSON ({error})", _preview(line))
    except RecursionError:
        return MalformedLine("JSON nested too deeply to read", _preview(line))
    if not isinstance(value, dict):
        return MalformedLine("not a JSON-RPC message object", _preview(line), parsed=True)
    return value


class LineSplitter:
    """Cuts a byte stream into lines; feed it chunks as they arrive (no I/O here).

    It hands back each complete, non-blank line as bytes (decode it with
    :func:`decode`), and a :class:`MalformedLine` for a line over the limit.
    """

    def __init__(self, *, max_bytes: int = MAX_MESSAGE_BYTES) -> None:
        self._max_bytes = max_bytes
        self._chunks: list[bytes] = []  # the current, unfinished line
        self._pending_bytes = 0
        self._skipping = False  # inside an oversized line, dropping until its end

    def feed(self, chunk: bytes) -> list[bytes | MalformedLine]:
        found: list[bytes | MalformedLine] = []
        start = 0
        while (newline := chunk.find(b"\n", start)) != -1:
            self._finish_line(chunk[start:newline], found)
            start = newline + 1
        self._keep_partial(chunk[start:], found)
        return found

    def end(self) -> list[bytes | MalformedLine]:
        """At end of stream: a last line without a newline still counts."""
        found: list[bytes | MalformedLine] = []
        self._finish_line(b"", found)
        return found

    def _finish_line(self, tail: bytes, found: list[bytes | MalformedLine]) -> None:
        if self._skipping:
            self._skipping = False
        elif self._pending_bytes + len(tail) > self._max_bytes:
            found.append(self._oversized(tail))
        elif self._chunks or tail:
            line = b"".join([*self._chunks, tail]) if self._chunks else tail
            if line.strip():
                found.append(line)
        self._chunks.clear()
        self._pending_bytes = 0

    def _keep_partial(self, partial: bytes, found: list[bytes | MalformedLine]) -> None:
        if self._skipping or not partial:
            return
        self._chunks.append(partial)
        self._pending_bytes += len(partial)
        if self._pending_bytes > self._max_bytes:
            # Report it now and drop the rest as it arrives: never buffer past the limit.
            found.append(self._oversized(b""))
            self._chunks.clear()
            self._pending_bytes = 0
            self._skipping = True

    def _oversized(self, tail: bytes) -> MalformedLine:
        start = b"".join([*self._chunks, tail[:_PREVIEW_CHARS]])[: _PREVIEW_CHARS + 1]
        reason = f"message larger than {self._max_bytes} bytes, dropped"
        return MalformedLine(reason, _preview(start))


class MessageReader:
    """Reads one line, or one message, at a time from a byte stream."""

    def __init__(self, source: ByteSource, *, max_bytes: int = MAX_MESSAGE_BYTES) -> None:
        self._source = source
        self._splitter = LineSplitter(max_bytes=max_bytes)
        self._ready: collections.deque[bytes | MalformedLine] = collections.deque()
        self._eof = False
        self._unterminated: bytes | MalformedLine | None = None  # the line the stream ended in
        self.unterminated = False  # the line read last had no newline: it may be cut short

    async def read_line(self) -> bytes | MalformedLine | None:
        """The next line, unparsed; a MalformedLine for one over the limit; None at the end."""
        while not self._ready:
            if self._eof:
                return None
            chunk = await self._source.read(READ_CHUNK_BYTES)
            if chunk:
                self._ready.extend(self._splitter.feed(chunk))
            else:
                self._eof = True
                last = self._splitter.end()
                self._unterminated = last[-1] if last else None
                self._ready.extend(last)
        line = self._ready.popleft()
        self.unterminated = line is self._unterminated
        return line

    async def read(self) -> Message | MalformedLine | None:
        """The next message, a malformed line, or None at end of stream."""
        line = await self.read_line()
        return line if line is None or isinstance(line, MalformedLine) else decode(line)


class PushReader(asyncio.StreamReader):
    """A StreamReader that can hand its data to a callback the moment it arrives.

    Reading through ``read()`` costs an extra event-loop step per message (the
    reading task is woken, then runs); in push mode the relay routes a message
    within the same step that received it. ``read()`` still reports the end of
    the stream (it returns b"" at end-of-file) and connection errors.
    """

    def __init__(self, *, limit: int) -> None:
        super().__init__(limit=limit)
        self._receive: Callable[[bytes], None] | None = None

    def push_to(self, receive: Callable[[bytes], None]) -> None:
        self._receive = receive
        # What arrived before push mode waits in StreamReader's _buffer (a
        # bytearray since Python 3.4; typeshed does not list private attributes).
        buffered: bytearray = self._buffer  # type: ignore[attr-defined]
        if buffered:
            data = bytes(buffered)
            buffered.clear()
            receive(data)

    def feed_data(self, data: bytes) -> None:  # type: ignore[override]  # transports feed bytes
        if self._receive is None:
            super().feed_data(data)
        else:
            self._receive(data)


def _preview(line: bytes) -> str:
    text = line[:_PREVIEW_CHARS].decode("utf-8", errors="replace").rstrip("\r\n")
    return text + ("…" if len(line) > _PREVIEW_CHARS else "")
