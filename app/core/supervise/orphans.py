"""A record of running server process groups, swept at hub start-up.

The launcher ends a server's tree when the hub dies, so orphans should never
exist; this sweep is the second line of defence for the cases no launcher
can cover (the launcher itself killed by the OOM killer, a machine that
slept through the hub's death). Each record holds the group id and the
leader's start time, so a recycled pid is never mistaken for our server.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sys
from pathlib import Path

import psutil

logger = logging.getLogger(__name__)


class GroupRecords:
    def __init__(self, directory: Path) -> None:
        self._directory = directory

    def remember(self, name: str, group: int) -> None:
        try:
            started = psutil.Process(group).create_time()
        except psutil.Error:
            return  # already gone: nothing to sweep later
        self._directory.mkdir(parents=True, exist_ok=True)
        record = {"group": group, "started": started}
        self._path(name).write_text(json.dumps(record), encoding="utf-8")

    def forget(self, name: str) -> None:
        self._path(name).unlink(missing_ok=True)

    def sweep(self) -> int:
        """Kill every recorded group that outlived an earlier hub; return how many."""
        if sys.platform == "win32" or not self._directory.is_dir():
            return 0  # Windows: the Job Object already ended them with the old hub
        swept = 0
        for path in self._directory.glob("*.json"):
            if self._kill_leftovers(path):
                swept += 1
            path.unlink(missing_ok=True)
        return swept

    def _kill_leftovers(self, path: Path) -> bool:
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            group, started = int(record["group"]), float(record["started"])
        except (OSError, ValueError, KeyError, TypeError):
            return False
        members = [p for p in psutil.process_iter(["create_time"]) if _in_group(p, group)]
        # Anything in the group born before the leader is not ours (pid reuse).
        ours = [p for p in members if (p.info["create_time"] or 0) >= started - 1]
        if not ours:
            return False
        logger.warning("killing %d leftover process(es) of %s", len(ours), path.stem)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signal.SIGKILL)
        return True

    def _path(self, name: str) -> Path:
        return self._directory / f"{name}.json"


def _in_group(process: psutil.Process, group: int) -> bool:
    try:
        return os.getpgid(process.pid) == group
    except OSError:
        return False
