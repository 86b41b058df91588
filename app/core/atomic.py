"""Replacing a file so that a crash at any moment leaves the old or the new one, whole.

The new bytes go to a temporary file in the same directory (``os.replace`` is
atomic only within one file system), reach the disk, take the wanted
permission bits, and then replace the old file in one rename; the directory
is synced so that the rename itself survives a power cut.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from pathlib import Path

PRIVATE_MODE = 0o600


def write_atomically(path: Path, data: bytes, *, mode: int = PRIVATE_MODE) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())  # the data must be on disk before the rename is
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    """Make the rename durable (POSIX; Windows cannot open a directory for this)."""
    if sys.platform == "win32":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
