"""How long the supervisor's everyday operations take, measured on real processes.

    .venv/bin/python bench/supervise.py [--runs N]

Prints a table of medians (and min/max) for: hub start until the demo server
is running, ``mcp-tray status`` as a whole command, a restart through the
control API, stopping a well-behaved server, stopping one that ignores
SIGTERM, and a hub SIGTERM until no server process is left.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psutil

from app.core.endpoint import client
from app.core.paths import default_paths

ROOT = Path(__file__).resolve().parents[1]
FLAKY = ROOT / "tests" / "servers" / "flaky.py"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    rows = [
        ("hub start → demo running", measure(runs, hub_start_to_running)),
        ("`mcp-tray status` (whole command)", measure(runs, status_command)),
        ("restart → running again (demo)", measure(runs, restart_demo)),
        ("stop, server exits on stdin EOF", measure(runs, lambda: stop_server([]))),
        ("stop, server ignores SIGTERM", measure(runs, lambda: stop_server(["--stubborn"]))),
        ("hub SIGTERM → hub exited, no server left", measure(runs, hub_sigterm_to_no_survivors)),
    ]
    print(f"{'operation':<40} {'median':>9} {'min':>9} {'max':>9}   (seconds, {runs} runs)")
    for name, samples in rows:
        print(
            f"{name:<40} {statistics.median(samples):9.3f} {min(samples):9.3f} {max(samples):9.3f}"
        )


def measure(runs: int, once: Callable[[], float]) -> list[float]:
    once()  # warm-up: bytecode caches, page cache
    return [once() for _ in range(runs)]


class Hub:
    def __init__(self, servers: dict[str, object] | None = None) -> None:
        self.home = Path(tempfile.mkdtemp(prefix="mcp-tray-bench-"))
        if servers is not None:
            (self.home / "config.json").write_text(json.dumps({"mcpServers": servers}))
        self.env = {**os.environ, "MCP_TRAY_HOME": str(self.home)}
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app", "serve"],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        os.environ["MCP_TRAY_HOME"] = str(self.home)
        self.socket = default_paths().socket_path
        self.seen: list[str] = []

    def wait_for(self, text: str) -> float:
        """Seconds from the hub's start until it logged ``text`` (seen before, or to come)."""
        assert self.process.stderr is not None
        if any(text in line for line in self.seen):
            return time.perf_counter() - self.started
        for line in self.process.stderr:
            self.seen.append(line)
            if text in line:
                return time.perf_counter() - self.started
        raise RuntimeError(f"hub exited before logging {text!r}")

    def close(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=15)


def hub_start_to_running() -> float:
    hub = Hub()
    try:
        return hub.wait_for("demo is running")
    finally:
        hub.close()


def status_command() -> float:
    hub = Hub()
    try:
        hub.wait_for("demo is running")
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "app", "status"], env=hub.env, check=True, capture_output=True
        )
        return time.perf_counter() - started
    finally:
        hub.close()


def restart_demo() -> float:
    hub = Hub()
    try:
        hub.wait_for("demo is running")
        started = time.perf_counter()
        client.call(hub.socket, "restart", name="demo", timeout=60)
        return time.perf_counter() - started
    finally:
        hub.close()


def stop_server(flags: list[str]) -> float:
    hub = Hub({"s": {"command": sys.executable, "args": [str(FLAKY), *flags]}})
    try:
        hub.wait_for("s is running")
        started = time.perf_counter()
        client.call(hub.socket, "stop", name="s", timeout=60)
        return time.perf_counter() - started
    finally:
        hub.close()


def hub_sigterm_to_no_survivors() -> float:
    """Until the hub has exited; it exits only once every server group is gone (checked)."""
    hub = Hub(
        {
            "s": {"command": sys.executable, "args": [str(FLAKY)]},
            "t": {"command": sys.executable, "args": [str(FLAKY), "--stubborn"]},
        }
    )
    hub.wait_for("s is running")
    hub.wait_for("t is running")
    family = psutil.Process(hub.process.pid).children(recursive=True)
    started = time.perf_counter()
    hub.process.send_signal(signal.SIGTERM)
    hub.process.wait(timeout=15)
    elapsed = time.perf_counter() - started
    alive = [p for p in family if _alive(p)]
    if alive:
        raise RuntimeError(f"processes outlived the hub: {alive}")
    return elapsed


def _alive(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


if __name__ == "__main__":
    main()
