"""A real external client, the MCP Inspector's CLI (Node.js), through ``mcp-tray attach``.

The SDK client of the other tests is Python, like the hub; the Inspector is
the reference TypeScript client, so these tests show that a host written
against the other SDK can use an attached server as it would the server
itself. It runs the same command line that ``mcp-tray connect`` writes into a
host's config: the absolute path of ``mcp-tray`` and ``attach NAME``.

The package is installed once with ``npm install --prefix`` into
``~/.cache/mcp-tray-tests/npm`` and reused from there; without ``node`` and
``npm``, or without network on the first run, the tests are skipped.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import FLAKY, PYTHON
from tests.hubprocess import HubProcess

PACKAGE = "@modelcontextprotocol/inspector-cli"
VERSION = "1.0.3"  # pinned: the working directory below depends on how this version finds itself
NPM_PREFIX = Path.home() / ".cache" / "mcp-tray-tests" / "npm"
INSTALL_TIMEOUT_S = 300.0  # a cold npm cache downloads about a hundred packages
INSPECTOR_TIMEOUT_S = 60.0  # one Inspector run: node start-up, attach, handshake, one request
MCP_TRAY = Path(sys.executable).with_name("mcp-tray")  # the console script `pip install` made


@pytest.fixture(scope="session")
def inspector() -> Path:
    """The Inspector CLI's executable, installed on first use."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("the MCP Inspector needs node and npm on PATH")
    if not MCP_TRAY.exists():
        pytest.skip(f"no {MCP_TRAY}: install the project (pip install -e .) to get the command")
    package = NPM_PREFIX / "node_modules" / PACKAGE
    if _installed_version(package) != VERSION:
        _install()
    return NPM_PREFIX / "node_modules" / ".bin" / "mcp-inspector-cli"


def _installed_version(package: Path) -> str | None:
    try:
        version: str = json.loads((package / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return None
    return version


def _install() -> None:
    NPM_PREFIX.mkdir(parents=True, exist_ok=True)
    command = ["npm", "install", "--prefix", str(NPM_PREFIX), "--no-audit", "--no-fund"]
    try:
        result = subprocess.run(
            [*command, f"{PACKAGE}@{VERSION}"],
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.skip(f"npm could not install {PACKAGE} within {INSTALL_TIMEOUT_S:g}s (no network?)")
    if result.returncode != 0:
        reason = [line for line in result.stderr.splitlines() if line.startswith("npm error")]
        summary = "\n".join(reason[:4])  # the code and the first line of the cause
        pytest.skip(f"npm could not install {PACKAGE}@{VERSION} (no network?):\n{summary}")


def write_config(home: Path, **restart: int) -> None:
    entry = {"command": PYTHON, "args": [str(FLAKY)], "restart": restart}
    (home / "config.json").write_text(json.dumps({"mcpServers": {"flaky": entry}}))


@pytest.fixture
def hub(tray_home: Path) -> Iterator[HubProcess]:
    if not (tray_home / "config.json").exists():
        write_config(tray_home, initialDelayMs=50)
    process = HubProcess(tray_home)
    process.wait_for_line(r"flaky is running")
    yield process
    process.stop()


def inspect(inspector: Path, home: Path, *request: str) -> dict[str, Any]:
    """Run the Inspector once against ``mcp-tray attach flaky``; its JSON answer."""
    result = subprocess.run(
        [str(inspector), "--cli", str(MCP_TRAY), "attach", "flaky", *request],
        # Inspector CLI 1.0.3 checks for "../package.json" relative to the working
        # directory but imports it relative to its own build/ directory: only from
        # inside that directory do both name its own package.json.
        cwd=inspector.resolve().parent,
        env={**os.environ, "MCP_TRAY_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=INSPECTOR_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    answer: dict[str, Any] = json.loads(result.stdout)
    return answer


def test_the_inspector_lists_flaky_tools_through_attach(inspector: Path, hub: HubProcess) -> None:
    listed = inspect(inspector, hub.home, "--method", "tools/list")

    assert {tool["name"] for tool in listed["tools"]} >= {"work", "slow", "block"}


def test_the_inspector_calls_work_through_attach_and_gets_done_1(
    inspector: Path, hub: HubProcess
) -> None:
    called = inspect(inspector, hub.home, "--method", "tools/call", "--tool-name", "work")

    assert called["isError"] is False
    assert called["content"] == [{"type": "text", "text": "done 1"}]


def test_the_inspector_passes_tool_arguments_through_attach(
    inspector: Path, hub: HubProcess
) -> None:
    called = inspect(
        inspector,
        hub.home,
        *("--method", "tools/call", "--tool-name", "slow", "--tool-arg", "seconds=0.1"),
    )

    assert called["content"][0]["text"] == "slept 0.1"


def test_the_inspector_attaching_while_the_server_is_down_still_gets_its_tools(
    inspector: Path, tray_home: Path
) -> None:
    # A long first backoff keeps the server down while the second Inspector runs.
    write_config(tray_home, initialDelayMs=30_000, maxDelayMs=30_000)
    hub = HubProcess(tray_home)
    try:
        hub.wait_for_line(r"flaky is running")
        before = inspect(inspector, tray_home, "--method", "tools/list")
        (row,) = hub.status()
        os.kill(row["pid"], signal.SIGKILL)
        hub.wait_for_line(r"flaky restarting in")

        during = inspect(inspector, tray_home, "--method", "tools/list")

        assert hub.status()[0]["state"] == "backoff"
        assert during["tools"] == before["tools"]
    finally:
        hub.stop()
