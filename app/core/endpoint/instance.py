"""One hub per user: an exclusive lock held for the hub's whole life.

The operating system releases the lock however the hub dies, so a crash
never leaves a stale lock behind (unlike a pidfile). The file also records
the holder's pid, for the "already running" message.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import BinaryIO

from app.core.errors import UserError


class AlreadyRunning(UserError):
    """Another MCP Tray holds the lock; ``pid`` is its process, when it wrote one."""

    def __init__(self, pid: int | None) -> None:
        self.pid = pid
        where = f" (pid {pid})" if pid else ""
        super().__init__(f"MCP Tray is already running{where}")


class InstanceLock:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._file: BinaryIO | None = None

    def acquire(self) -> None:
        """Take the lock or raise AlreadyRunning; never blocks."""
        file = self._path.open("a+b")
        try:
            _lock(file)
        except OSError:
            file.seek(0)
            text = file.read().decode(errors="replace").strip()
            file.close()
            raise AlreadyRunning(int(text) if text.isdigit() else None) from None
        file.truncate(0)
        file.write(str(os.getpid()).encode())
        file.flush()
        self._file = file

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing drops the lock
            self._file = None


if sys.platform == "win32":
    import msvcrt

    def _lock(file: BinaryIO) -> None:
        file.seek(0)
        msvcrt.locking(file.fileno(), msvcrt.LK_NBLCK, 1)

else:
    import fcntl

    def _lock(file: BinaryIO) -> None:
        fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
