"""What the benchmarks share: a real ``mcp-tray serve`` in a throwaway MCP_TRAY_HOME,
and the other tools some benchmarks compare it with, installed on first use."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import signal
import socket
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


# Inside dbus-run-session: unlock (and so create) a throwaway login collection, say
# where the bus is, then live until the benchmark closes stdin.
_KEYRING_SESSION = (
    "echo bench | gnome-keyring-daemon --unlock --components=secrets >/dev/null "
    '&& echo "$DBUS_SESSION_BUS_ADDRESS" && exec cat >/dev/null'
)
TOOLS = ROOT / "bench" / ".tools"  # other projects' programs, for comparisons (gitignored)


class Hub:
    """``mcp-tray serve`` in a temporary MCP_TRAY_HOME whose config holds ``servers`` (and
    ``settings``, the config's other top-level keys); with ``tray``, the tray app instead.

    Its keyring is a private Secret Service (gnome-keyring on a bus of its own,
    as the tests use), since MCP Tray takes only keyrings that encrypt; a
    benchmark reads the HTTP endpoint's token from it with :meth:`secret`.
    """

    def __init__(
        self,
        servers: dict[str, Any],
        settings: dict[str, Any] | None = None,
        *,
        tray: bool = False,
    ) -> None:
        self.home = Path(tempfile.mkdtemp(prefix="mcp-tray-bench-"))
        config = {"mcpServers": servers, **(settings or {})}
        (self.home / "config.json").write_text(json.dumps(config))
        self._keyring = subprocess.Popen(
            ["dbus-run-session", "--", "sh", "-c", _KEYRING_SESSION],
            env={**os.environ, "XDG_DATA_HOME": str(self.home / "keyring")},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self._keyring.stdout is not None
        bus = self._keyring.stdout.readline().strip()
        environment = {k: v for k, v in os.environ.items() if k != "PYTHON_KEYRING_BACKEND"}
        self.env = {**environment, "MCP_TRAY_HOME": str(self.home)}
        self.env["DBUS_SESSION_BUS_ADDRESS"] = bus
        if tray:  # the tray app, drawn nowhere: its hub runs as the user's does
            self.env["QT_QPA_PLATFORM"] = "offscreen"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app", *([] if tray else ["serve"])],
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

    def secret(self, scope: str, name: str) -> str:
        """A value the hub keeps in its keyring, read by a process on the hub's bus."""
        read = f"import keyring; print(keyring.get_password('mcp-tray/{scope}', '{name}'))"
        result = subprocess.run(
            [sys.executable, "-c", read],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=EXIT_TIMEOUT_S,
            check=True,
        )
        return result.stdout.strip()

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
        assert self._keyring.stdin is not None and self._keyring.stdout is not None
        self._keyring.stdin.close()  # its shell ends, and dbus-run-session with it
        self._keyring.stdout.close()
        self._keyring.wait(EXIT_TIMEOUT_S)
        shutil.rmtree(self.home, ignore_errors=True)


def python_tool(package: str, program: str) -> Path:
    """``program`` from PyPI's ``package``, in a venv of its own under bench/.tools (its
    dependencies may clash with MCP Tray's); installed on first use."""
    venv = TOOLS / package
    executable = venv / "bin" / program
    if not executable.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", package]
        _quietly(pip)
    return executable


def npm_tool(package: str, program: str) -> Path:
    """``program`` from npm's ``package``, under bench/.tools; installed on first use."""
    prefix = TOOLS / "npm"
    executable = prefix / "node_modules" / ".bin" / program
    if not executable.exists():
        _quietly(["npm", "install", "--silent", "--prefix", str(prefix), package])
    return executable


def _quietly(command: list[str]) -> None:
    """Run an installer; its output is shown only when it fails."""
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        print(result.stdout, result.stderr, sep="\n", file=sys.stderr)
        raise subprocess.CalledProcessError(result.returncode, command)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def wait_for_port(port: int, timeout: float) -> None:
    """Until something accepts connections on 127.0.0.1:``port`` (a started program)."""
    deadline = time.monotonic() + timeout
    while True:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        if time.monotonic() > deadline:
            raise TimeoutError(f"nothing listens on port {port} after {timeout:.0f} s")
        time.sleep(0.05)
