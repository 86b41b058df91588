"""``mcp-tray`` run as a real process, and bounded waits on what it logs."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import psutil

LINE_TIMEOUT_S = 60.0  # the default config's first start compiles the SDK on a cold machine
# A log record of WARNING or worse (app.core.startup's format), or what Python prints when
# something escapes every handler.
TROUBLE = re.compile(r"^\S+ \S+ (WARNING|ERROR|CRITICAL) |^Traceback |^Exception ignored ")


def mcp_tray(
    home: Path,
    *args: str,
    timeout: float = 60.0,
    env: dict[str, str] | None = None,
    input: str | None = None,
    program: tuple[str, ...] = (sys.executable, "-m", "app"),
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run one ``mcp-tray`` command to completion (``env``: instead of this process's;
    ``program``: an installed ``mcp-tray`` instead of this checkout's)."""
    return subprocess.run(
        [*program, *args],
        env=_env(home, env),
        cwd=cwd,
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _env(home: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    return {**(os.environ if base is None else base), "MCP_TRAY_HOME": str(home)}


class HubProcess:
    """``mcp-tray serve`` (or another ``command``) in the background; its stderr is read
    line by line."""

    def __init__(
        self,
        home: Path,
        *,
        python_flags: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
        command: tuple[str, ...] = ("serve",),
        program: tuple[str, ...] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.home = home
        self.env = env
        self.process = subprocess.Popen(
            [*(program or (sys.executable, *python_flags, "-m", "app")), *command],
            env=_env(home, env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
        )
        self.lines: list[str] = []
        self.expected: list[re.Pattern[str]] = []  # troubles a test provokes on purpose
        self._incoming: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self._incoming.put(line.rstrip("\n"))
        self._incoming.put(None)

    def wait_for_line(self, pattern: str, timeout: float = LINE_TIMEOUT_S) -> re.Match[str]:
        """The first line (seen so far or still to come) matching ``pattern``."""
        regex = re.compile(pattern)
        for line in self.lines:
            if found := regex.search(line):
                return found
        return self.wait_for_new_line(pattern, timeout)

    def wait_for_new_line(self, pattern: str, timeout: float = LINE_TIMEOUT_S) -> re.Match[str]:
        """The first line still to come (not among those read so far) matching ``pattern``."""
        regex = re.compile(pattern)
        while True:
            try:
                line = self._incoming.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(
                    f"no line matching {pattern!r} within {timeout}s:\n"
                    + "\n".join(self.lines[-30:])
                ) from None
            if line is None:
                raise AssertionError(
                    f"the hub exited before logging {pattern!r}:\n" + "\n".join(self.lines[-30:])
                )
            self.lines.append(line)
            if found := regex.search(line):
                return found

    def expect_warnings(self, pattern: str) -> None:
        """A WARNING (or worse) line matching ``pattern`` is part of the test."""
        self.expected.append(re.compile(pattern))

    def unexpected_warnings(self) -> list[str]:
        """The lines read so far that tell of trouble no test claimed."""
        return [
            line
            for line in self.lines
            if TROUBLE.search(line) and not any(p.search(line) for p in self.expected)
        ]

    def status(self) -> list[dict[str, Any]]:
        result = mcp_tray(self.home, "status", "--json", env=self.env)
        assert result.returncode == 0, result.stderr
        rows: list[dict[str, Any]] = json.loads(result.stdout)
        return rows

    def descendants(self) -> list[psutil.Process]:
        return psutil.Process(self.process.pid).children(recursive=True)

    def send(self, signum: int) -> None:
        self.process.send_signal(signum)

    def stop(self) -> None:
        """SIGTERM, and the rest of its output read; again: nothing more to do."""
        assert self.process.stderr is not None
        if self.process.stderr.closed:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.send_signal(signal.SIGUSR1)  # the tray prints its stacks
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.process.wait(timeout=1)
                self.process.kill()
                self.process.wait()
        # Reading to the end lets the reader thread finish.
        while (line := self._incoming.get(timeout=5)) is not None:
            self.lines.append(line)
        self.process.stderr.close()


def survivors(processes: list[psutil.Process], within: float) -> list[psutil.Process]:
    """The processes still alive after waiting up to ``within`` seconds (zombies are dead)."""
    _, alive = psutil.wait_procs(processes, timeout=within)
    return [p for p in alive if _is_alive(p)]


def _is_alive(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
