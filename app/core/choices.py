"""What the user chose in MCP Tray itself, kept across restarts of MCP Tray.

A server the user stopped stays stopped when MCP Tray starts again (at
login, after an upgrade) until the user starts it; the tray remembers that it
showed its welcome and whether restart notices are muted. These are the
user's choices about MCP Tray, not about their servers, so they live in MCP
Tray's own data folder and never in the user's config file.

The hub and the tray each hold the file (in one process, or in two when the
tray presents ``mcp-tray serve``); each change re-reads the file before
writing it, so that neither undoes the other's choices.

The file is small JSON, replaced atomically on every change. One that cannot
be read or understood is logged once and treated as empty: forgetting a
choice is far better than a hub that cannot start.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any

from app.core.atomic import write_atomically

logger = logging.getLogger(__name__)

VERSION = 1


class UserChoices:
    """The choices file at ``path``; every method may be called from any thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()  # the hub writes from worker threads, the tray from Qt's
        self._stopped: set[str] = set()
        self._welcome_shown = False
        self._mute_restarts = False
        self._load()

    def stopped_servers(self) -> frozenset[str]:
        """The servers the user stopped, which MCP Tray does not start by itself."""
        with self._lock:
            return frozenset(self._stopped)

    def set_stopped(self, name: str, stopped: bool) -> None:
        with self._lock:
            self._load()  # another holder of the file (the tray, the hub) may have written
            if (name in self._stopped) == stopped:
                return  # nothing changes, so nothing is written
            if stopped:
                self._stopped.add(name)
            else:
                self._stopped.discard(name)
            self._save()

    def welcome_shown(self) -> bool:
        with self._lock:
            return self._welcome_shown

    def set_welcome_shown(self) -> None:
        with self._lock:
            self._load()  # another holder of the file (the tray, the hub) may have written
            if not self._welcome_shown:
                self._welcome_shown = True
                self._save()

    def mute_restarts(self) -> bool:
        with self._lock:
            return self._mute_restarts

    def set_mute_restarts(self, muted: bool) -> None:
        with self._lock:
            self._load()  # another holder of the file (the tray, the hub) may have written
            if self._mute_restarts != muted:
                self._mute_restarts = muted
                self._save()

    # ----- the file

    def _load(self) -> None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return  # nothing chosen yet
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            self._unusable(f"it cannot be read ({error})")
            return
        if not isinstance(data, dict):
            self._unusable("it does not hold a JSON object")
            return
        stopped = data.get("stopped_servers", [])
        if isinstance(stopped, list) and all(isinstance(name, str) for name in stopped):
            self._stopped = set(stopped)
        else:
            self._unusable('its "stopped_servers" is not a list of names')
        self._welcome_shown = data.get("welcome_shown") is True
        self._mute_restarts = data.get("mute_restarts") is True

    def _unusable(self, why: str) -> None:
        logger.warning(
            "ignoring %s because %s; MCP Tray starts every server and will write the file "
            "afresh at the next choice",
            self.path,
            why,
        )

    def _save(self) -> None:
        """Write every choice (the lock is held); a failure is logged, the choice kept in memory."""
        data: dict[str, Any] = {
            "version": VERSION,
            "stopped_servers": sorted(self._stopped),
            "welcome_shown": self._welcome_shown,
            "mute_restarts": self._mute_restarts,
        }
        try:
            write_atomically(self.path, (json.dumps(data, indent=2) + "\n").encode())
        except OSError as error:
            logger.warning(
                "cannot save %s (%s); the choice lasts until MCP Tray quits", self.path, error
            )
