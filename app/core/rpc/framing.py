"""Newline-delimited JSON, the framing of every hop (stdio and the local socket).

Messages are read in chunks rather than with ``StreamReader.readline()``,
whose 64 KiB default limit would cut off large tool results, and the search
for the next newline only ever scans new bytes, so a message costs time
linear in its size however it arrives. A line that is not a JSON object is
returned as a :class:`MalformedLine` value instead of raised: one bad line
from a server (a stray ``print``) must never end the stream.
"""

from __future__ import annotations

import json
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
    """A line that was skipped, with enough of it to show in a log."""

    reason: str
    preview: str

    def __str__(self) -> str:
        return f"{self.reason}: {self.preview!r}"


def encode(message: Message) -> bytes:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def decode(line: bytes) -> Message | MalformedLine:
    try:
        value = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        return MalformedLine(f"not JSON ({error})", _preview(line))
    if not isinstance(value, dict):
        return MalformedLine("not a JSON-RPC message object", _preview(line))
    return value


class MessageReader:
    """Reads one message at a time from a byte stream."""

    def __init__(self, source: ByteSource, *, max_bytes: int = MAX_MESSAGE_BYTES) -> None:
        self._source = source
        self._max_bytes = max_bytes
        self._chunks: list[bytes] = []  # the current, unfinished line
        self._pending_bytes = 0
        self._ready: list[bytes | MalformedLine] = []  # complete lines not yet returned
        self._skipping = False  # inside an oversized line, dropping until its end
        self._eof = False
        self.last_line = b""  # the bytes of the message read last, to pass it on unchanged

    async def read(self) -> Message | MalformedLine | None:
        """The next message, a malformed line, or None at end of stream."""
        while True:
            if self._ready:
                line = self._ready.pop(0)
                if isinstance(line, MalformedLine):
                    return line
                if line.strip():
                    self.last_line = line
                    return decode(line)
                continue
            if self._eof:
                return None
            await self._fill()

    async def _fill(self) -> None:
        chunk = await self._source.read(READ_CHUNK_BYTES)
        if not chunk:
            self._eof = True
            self._finish_line(b"")  # a last line without a newline still counts
            return
        start = 0
        while (newline := chunk.find(b"\n", start)) != -1:
            self._finish_line(chunk[start:newline])
            start = newline + 1
        self._keep_partial(chunk[start:])

    def _finish_line(self, tail: bytes) -> None:
        if self._skipping:
            self._skipping = False
        elif self._pending_bytes + len(tail) > self._max_bytes:
            self._ready.append(self._oversized(tail))
        elif self._chunks or tail:
            self._ready.append(b"".join([*self._chunks, tail]))
        self._chunks.clear()
        self._pending_bytes = 0

    def _keep_partial(self, partial: bytes) -> None:
        if self._skipping or not partial:
            return
        self._chunks.append(partial)
        self._pending_bytes += len(partial)
        if self._pending_bytes > self._max_bytes:
            # Report it now and drop the rest as it arrives: never buffer past the limit.
            self._ready.append(self._oversized(b""))
            self._chunks.clear()
            self._pending_bytes = 0
            self._skipping = True

    def _oversized(self, tail: bytes) -> MalformedLine:
        start = b"".join([*self._chunks, tail[:_PREVIEW_CHARS]])[: _PREVIEW_CHARS + 1]
        reason = f"message larger than {self._max_bytes} bytes, dropped"
        return MalformedLine(reason, _preview(start))


def _preview(line: bytes) -> str:
    text = line[:_PREVIEW_CHARS].decode("utf-8", errors="replace").rstrip("\r\n")
    return text + ("…" if len(line) > _PREVIEW_CHARS else "")
