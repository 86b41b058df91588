"""What the benchmarks share: a real ``mcp-tray serve`` in a throwaway MCP_TRAY_HOME."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Self

ROOT = Path(__file__).resolve().parents[1]
EXIT_TIMEOUT_S = 10.0  # the hub after SIGTERM: its servers' stop sequence, bounded


class Hub:
    """``mcp-tray serve`` in a temporary MCP_TRAY_HOME whose config holds ``servers``."""

    def __init__(self, servers: dict[str, Any]) -> None:
        self.home = Path(tempfile.mkdtemp(prefix="mcp-tray-bench-"))
        (self.home / "config.json").write_text(json.dumps({"mcpServers": servers}))
        self.env = {**os.environ, "MCP_TRAY_HOME": str(self.home)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app", "serve"],
            env=self.env,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
        )
        self.log: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        # Always drained, so that a chatty hub never blocks on a full pipe.
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
        if error is not None:
            print("hub log, last lines:", *self.log[-20:], sep="\n  ", file=sys.stderr)

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def wait_for(self, text: str, timeout: float, *, count: int = 1) -> None:
        """Until the hub has logged ``count`` lines containing ``text``."""
        deadline = time.monotonic() + timeout
        while sum(text in line for line in self.log) < count:
            line = self._next_line(deadline - time.monotonic())
            if line is None:
                raise RuntimeError(f"the hub exited before logging {text!r}")
            self.log.append(line)

    def _next_line(self, timeout: float) -> str | None:
        try:
            return self._lines.get(timeout=max(timeout, 0))
        except queue.Empty:
            raise TimeoutError("the hub logged nothing new in time") from None

    def close(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(EXIT_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(EXIT_TIMEOUT_S)
        with contextlib.suppress(TimeoutError):
            while (line := self._next_line(EXIT_TIMEOUT_S)) is not None:
                self.log.append(line)
        shutil.rmtree(self.home, ignore_errors=True)
