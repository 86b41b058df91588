"""Replacing a config file without ever leaving it half-written.

The new text goes to a temporary file in the same directory (so that the
final rename stays on one file system), is flushed to disk, and replaces the
old file in one ``os.replace``. Before that, the old file is copied to a
timestamped backup next to it, so that a bad edit made through MCP Tray can
always be undone by hand.

Configs may name secrets and tokens, so a new file and every backup are
readable by the user only (0o600); an existing file keeps the permission bits
the user gave it.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import sys
from datetime import datetime
from pathlib import Path

from app.core.atomic import PRIVATE_MODE, write_atomically

BACKUPS_KEPT = 10  # enough to walk back a busy afternoon of edits


def write_config_text(path: Path, text: str, *, private: bool = False) -> Path | None:
    """Atomically replace ``path`` with ``text``; return the backup made, if any.

    A symlinked config (dotfile managers) is written through, so the link
    stays a link. ``private``: the text holds a credential, so the file
    becomes readable by the user only, whatever bits it had.
    """
    target = Path(os.path.realpath(path))
    target.parent.mkdir(parents=True, exist_ok=True)
    old_mode = _mode_of(target)
    backup = _backup(target) if old_mode is not None else None
    mode = PRIVATE_MODE if old_mode is None or private else old_mode
    write_atomically(target, text.encode("utf-8"), mode=mode)
    if backup is not None:
        _prune_backups(target, keep=backup)
    return backup


def _mode_of(path: Path) -> int | None:
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return None


# --- backups -----------------------------------------------------------------


def _backup(path: Path) -> Path:
    """Copy ``path`` to a backup that sorts after every earlier one."""
    data = path.read_bytes()
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    # Counting on past the highest counter of this second, never into a gap
    # that pruning left, keeps name order equal to age order.
    taken = [counter for when, counter, _ in _backups(path) if when == stamp]
    first = max(taken) + 1 if taken else 0
    for counter in range(first, first + 100):
        suffix = f"-{counter}" if counter else ""
        candidate = path.with_name(f"{path.name}.{stamp}{suffix}.bak")
        try:
            # O_EXCL claims the name atomically: two writers in one second
            # must not overwrite each other's backup.
            fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE)
        except FileExistsError:
            continue
        _fill(fd, candidate, data)
        return candidate
    raise FileExistsError(f"no free backup name for {path} at {stamp}")


def _fill(fd: int, backup: Path, data: bytes) -> None:
    try:
        with os.fdopen(fd, "wb") as file:
            if sys.platform != "win32":
                os.fchmod(file.fileno(), PRIVATE_MODE)  # whatever the umask
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(backup)
        raise


def _prune_backups(path: Path, *, keep: Path) -> None:
    """Delete all but the newest ``BACKUPS_KEPT`` backups; ``keep`` always stays."""
    for _, _, old in _backups(path)[:-BACKUPS_KEPT]:
        if old != keep:  # a clock set back could make the fresh one sort first
            with contextlib.suppress(FileNotFoundError):  # another writer pruned it
                old.unlink()


def _backups(path: Path) -> list[tuple[str, int, Path]]:
    """The backups of ``path`` as (timestamp, counter, file), oldest first."""
    pattern = re.compile(rf"{re.escape(path.name)}\.(\d{{8}}-\d{{6}})(?:-(\d+))?\.bak")
    found = []
    for entry in path.parent.iterdir():
        match = pattern.fullmatch(entry.name)
        if match:
            found.append((match[1], int(match[2] or 0), entry))
    return sorted(found)
