"""What a server writes to stderr: kept in a rotating file and an in-memory tail.

The file is what ``mcp-tray logs NAME`` reads after the fact; the tail feeds
the log window, crash notifications and a failure's last output without
touching the disk. A log opened on a file that holds lines already (MCP Tray
started again, or the server was changed) reads that file's last lines once,
for the log window only: its story goes on where it stopped, while a crash's
last output is still only what this run wrote. Lines pass through ``redact``
before they are kept anywhere, so a secret a server prints never reaches the
file, the tail or an event.

Between the server's own lines the supervisor writes lifecycle lines, so the
log tells the story of a crash (started, exited with status 1, restarting in
2 s …). Every line is ``STAMP TEXT``; a lifecycle line's text starts with
:data:`LIFECYCLE_MARKER`::

    2025-06-01 10:00:00 » Started (process 4242).
    2025-06-01 10:00:01 Traceback (most recent call last):
    2025-06-01 10:00:01 » Exited with status 1.

A server line that itself starts with the marker, after any number of
:data:`ESCAPE` characters, gets one more ``ESCAPE`` in front, which
:func:`parse_log_line` removes again; so no server can write a line that
reads as MCP Tray's, and every line reads back exactly as it was written.
"""

from __future__ import annotations

import asyncio
import collections
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, TextIO

MAX_LOG_BYTES = 1024 * 1024  # per file; a chatty server costs at most ~4 MiB on disk
KEPT_ROTATIONS = 3  # NAME.log.1 … NAME.log.3
TAIL_LINES = 500
MAX_LINE_CHARS = 8192  # a runaway line (a base64 blob) is cut, not kept whole
TAIL_READ_BYTES = 256 * 1024  # of an earlier run's file: 500 ordinary lines, and then some
# Rarely the first thing on a line of program output, and in every console encoding.
LIFECYCLE_MARKER = "» "
ESCAPE = "\\"
_STAMP = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
_ESCAPED = re.compile(f"{re.escape(ESCAPE)}*{re.escape(LIFECYCLE_MARKER)}")


@dataclass(frozen=True)
class LogEntry:
    """One line of a server's log, as the log window and ``mcp-tray logs`` show it."""

    stamp: str  # local time, "" for a line without one
    text: str  # as the server wrote it (redacted), or MCP Tray's sentence
    lifecycle: bool  # MCP Tray's line about the server, not the server's own


def stamped(stamp: str, text: str, *, lifecycle: bool = False) -> str:
    """A line as it stands in the log file (without its newline)."""
    if lifecycle:
        return f"{stamp} {LIFECYCLE_MARKER}{text}"
    if _ESCAPED.match(text):
        text = ESCAPE + text
    return f"{stamp} {text}"


def parse_log_line(line: str) -> LogEntry:
    """The entry of a line from the log file, ``last_stamped()`` or ``ServerLogLine.stamped()``."""
    line = line.rstrip("\r\n")
    stamp, separator, text = line[:19], line[19:20], line[20:]
    if not (_STAMP.fullmatch(stamp) and separator == " "):
        return LogEntry(stamp="", text=line, lifecycle=False)
    if text.startswith(LIFECYCLE_MARKER):
        return LogEntry(stamp=stamp, text=text.removeprefix(LIFECYCLE_MARKER), lifecycle=True)
    if _ESCAPED.match(text):
        text = text.removeprefix(ESCAPE)
    return LogEntry(stamp=stamp, text=text, lifecycle=False)


class _Kept(NamedTuple):
    stamp: str
    text: str
    lifecycle: bool


class ServerLog:
    def __init__(self, path: Path, *, redact: Callable[[str], str] = lambda line: line) -> None:
        self.path = path
        self._redact = redact
        self._tail: collections.deque[_Kept] = collections.deque(maxlen=TAIL_LINES)
        self._earlier = _last_lines_of(path, TAIL_LINES)  # written before this log was opened
        self._file: TextIO | None = None
        self._size = 0

    def write(self, text: str) -> tuple[str, str]:
        """Record one line of the server's (without its newline); return its time stamp
        and the line as kept."""
        return self._keep(text, lifecycle=False)

    def note(self, text: str) -> tuple[str, str]:
        """Record one of MCP Tray's lifecycle lines about the server, marked as such."""
        return self._keep(text, lifecycle=True)

    def last_lines(self, count: int) -> tuple[str, ...]:
        """The server's newest lines as it wrote them (redacted); lifecycle lines left out."""
        if count <= 0:
            return ()
        own = [kept.text for kept in self._tail if not kept.lifecycle]
        return tuple(own[-count:])

    def last_stamped(self, count: int) -> list[str]:
        """The newest lines, lifecycle lines included, as they stand in the log file."""
        if count <= 0:
            return []
        recent = list(self._tail)[-count:]
        earlier = self._earlier[-(count - len(recent)) :] if len(recent) < count else []
        return earlier + [stamped(k.stamp, k.text, lifecycle=k.lifecycle) for k in recent]

    def _keep(self, text: str, *, lifecycle: bool) -> tuple[str, str]:
        line = self._redact(text.rstrip("\r\n"))
        if len(line) > MAX_LINE_CHARS:
            line = line[:MAX_LINE_CHARS] + " …[cut]"
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        self._tail.append(_Kept(stamp, line, lifecycle))
        entry = stamped(stamp, line, lifecycle=lifecycle) + "\n"
        file = self._open()
        file.write(entry)
        file.flush()
        self._size += len(entry.encode())
        if self._size >= MAX_LOG_BYTES:
            self._rotate()
        return stamp, line

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _open(self) -> TextIO:
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # 0600: what a server prints can be private (redaction catches only known secrets).
            handle = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            self._file = os.fdopen(handle, "a", encoding="utf-8")
            self._size = self._file.tell()
        return self._file

    def _rotate(self) -> None:
        self.close()
        for index in range(KEPT_ROTATIONS - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{index}")
            if older.exists():
                older.replace(self.path.with_name(f"{self.path.name}.{index + 1}"))
        self.path.replace(self.path.with_name(f"{self.path.name}.1"))


def _last_lines_of(path: Path, count: int) -> list[str]:
    """The last ``count`` lines of the log file at ``path`` (none when there is none)."""
    try:
        with path.open("rb") as file:
            size = file.seek(0, os.SEEK_END)
            file.seek(max(0, size - TAIL_READ_BYTES))
            data = file.read()
    except OSError:
        return []
    lines = data.decode("utf-8", errors="replace").splitlines()
    if len(data) == TAIL_READ_BYTES:
        lines = lines[1:]  # the first may be cut
    return lines[-count:]


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
