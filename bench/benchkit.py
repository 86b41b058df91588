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

from keyring.backend import KeyringBackend

ROOT = Path(__file__).resolve().parents[1]
EXIT_TIMEOUT_S = 10.0  # the hub after SIGTERM: its servers' stop sequence, bounded


TOOLS = ROOT / "bench" / ".tools"  # other projects' programs, for comparisons (gitignored)


class Hub:
    """``mcp-tray serve`` in a temporary MCP_TRAY_HOME whose config holds ``servers`` (and
    ``settings``, the config's other top-level keys).

    Its keyring is :class:`BenchKeyring`, a file in that home, so that a benchmark
    can read the HTTP endpoint's token without a desktop session.
    """

    def __init__(self, servers: dict[str, Any], settings: dict[str, Any] | None = None) -> None:
        self.home = Path(tempfile.mkdtemp(prefix="mcp-tray-bench-"))
        config = {"mcpServers": servers, **(settings or {})}
        (self.home / "config.json").write_text(json.dumps(config))
        self.env = {
            **os.environ,
            "MCP_TRAY_HOME": str(self.home),
            "PYTHON_KEYRING_BACKEND": "benchkit.BenchKeyring",
            "PYTHONPATH": os.pathsep.join([str(ROOT / "bench"), os.environ.get("PYTHONPATH", "")]),
        }
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

    def secret(self, scope: str, name: str) -> str:
        stored: dict[str, str] = json.loads((self.home / BenchKeyring.FILE).read_text())
        return stored[f"mcp-tray/{scope}/{name}"]

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


class BenchKeyring(KeyringBackend):
    """A keyring in a plain file inside the benchmark's throwaway MCP_TRAY_HOME.

    For benchmarks only (chosen through PYTHON_KEYRING_BACKEND): it lets the
    benchmark read what the hub stored, on a machine with no Secret Service.
    """

    FILE = "bench-keyring.json"
    priority = 1

    def _path(self) -> Path:
        return Path(os.environ["MCP_TRAY_HOME"]) / self.FILE

    def _load(self) -> dict[str, str]:
        try:
            stored: dict[str, str] = json.loads(self._path().read_text())
        except FileNotFoundError:
            return {}
        return stored

    def get_password(self, service: str, username: str) -> str | None:
        return self._load().get(f"{service}/{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        self._path().write_text(json.dumps({**self._load(), f"{service}/{username}": password}))

    def delete_password(self, service: str, username: str) -> None:
        stored = self._load()
        stored.pop(f"{service}/{username}", None)
        self._path().write_text(json.dumps(stored))


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
