"""What a server writes to stderr: kept in a rotating file and an in-memory tail.

The file is what ``mcp-tray logs NAME`` and the log window read after the
fact; the tail feeds crash notifications and ``last_error`` without touching
the disk. Lines pass through ``redact`` before they are kept anywhere, so a
secret a server prints never reaches the file, the tail or an event.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

MAX_LOG_BYTES = 1024 * 1024  # per file; a chatty server costs at most ~4 MiB on disk
KEPT_ROTATIONS = 3  # NAME.log.1 … NAME.log.3
TAIL_LINES = 500
MAX_LINE_CHARS = 8192  # a runaway line (a base64 blob) is cut, not kept whole


class ServerLog:
    def __init__(self, path: Path, *, redact: Callable[[str], str] = lambda line: line) -> None:
        self.path = path
        self._redact = redact
        self._tail: collections.deque[tuple[str, str]] = collections.deque(maxlen=TAIL_LINES)
        self._file: TextIO | None = None
        self._size = 0

    def write(self, text: str) -> tuple[str, str]:
        """Record one line (without its newline); return its time stamp and the line as kept."""
        line = self._redact(text.rstrip("\r\n"))
        if len(line) > MAX_LINE_CHARS:
            line = line[:MAX_LINE_CHARS] + " …[cut]"
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        self._tail.append((stamp, line))
        stamped = f"{stamp} {line}\n"
        file = self._open()
        file.write(stamped)
        file.flush()
        self._size += len(stamped.encode())
        if self._size >= MAX_LOG_BYTES:
            self._rotate()
        return stamp, line

    def last_lines(self, count: int) -> tuple[str, ...]:
        """The newest lines as the server wrote them (redacted)."""
        return tuple(line for _, line in self._recent(count))

    def last_stamped(self, count: int) -> list[str]:
        """The newest lines as they stand in the log file, with their time."""
        return [f"{stamp} {line}" for stamp, line in self._recent(count)]

    def _recent(self, count: int) -> list[tuple[str, str]]:
        return list(self._tail)[-count:] if count > 0 else []

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _open(self) -> TextIO:
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("a", encoding="utf-8")
            self._size = self._file.tell()
        return self._file

    def _rotate(self) -> None:
        self.close()
        for index in range(KEPT_ROTATIONS - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{index}")
            if older.exists():
                older.replace(self.path.with_name(f"{self.path.name}.{index + 1}"))
        self.path.replace(self.path.with_name(f"{self.path.name}.1"))


async def pump_lines(stream: asyncio.StreamReader, sink: Callable[[str], None]) -> None:
    """Feed every line of ``stream`` to ``sink`` until end-of-file, whatever its length."""
    pending = b""
    while chunk := await stream.read(64 * 1024):
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            sink(line.decode("utf-8", errors="replace"))
        if len(pending) > MAX_LINE_CHARS * 4:  # no newline in sight: keep memory bounded
            sink(pending.decode("utf-8", errors="replace"))
            pending = b""
    if pending:
        sink(pending.decode("utf-8", errors="replace"))
