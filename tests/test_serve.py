"""``mcp-tray serve`` and the control commands, run as real processes.

These tests start the hub the way a user does, talk to it with the real
command line, and check the process table for anything left behind.
"""

from __future__ import annotations

import json
import re
import signal
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from app.core.supervise.stderr import parse_log_line
from tests.helpers import FLAKY, PYTHON
from tests.hubprocess import HubProcess, mcp_tray, survivors

ORPHAN_DEADLINE_S = 3.0  # the issue's promise: nothing survives the hub by more than this


def write_config(home: Path, servers: dict[str, dict[str, object]]) -> Path:
    path = home / "config.json"
    path.write_text(json.dumps({"mcpServers": servers}, indent=2))
    return path


@pytest.fixture
def hub(tray_home: Path) -> Iterator[HubProcess]:
    """A serve process on a config the test has written before asking for this fixture."""
    process = HubProcess(tray_home)
    yield process
    process.stop()


def tree_servers(pidfile: Path) -> dict[str, dict[str, object]]:
    """A shell that starts a server that starts a grandchild, and a server that ignores SIGTERM."""
    shell = f"{PYTHON} {FLAKY} --grandchild {pidfile}"
    return {
        "tree": {"command": "sh", "args": ["-c", shell]},
        "stubborn": {"command": PYTHON, "args": [str(FLAKY), "--stubborn"]},
    }


def test_the_first_serve_writes_the_default_config_and_runs_the_demo(hub: HubProcess) -> None:
    hub.wait_for_line(r"demo is running")

    (row,) = hub.status()

    assert (hub.home / "config.json").exists()
    assert row["name"] == "demo" and row["state"] == "running" and row["pid"] > 0
    assert set(row) >= {"name", "state", "pid", "restarts", "uptime_s", "last_exit", "last_error"}


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL])
def test_no_server_or_descendant_outlives_the_hub(tray_home: Path, signum: int) -> None:
    pidfile = tray_home / "grandchild.pid"
    write_config(tray_home, tree_servers(pidfile))
    hub = HubProcess(tray_home)
    try:
        hub.wait_for_line(r"tree is running")
        hub.wait_for_line(r"stubborn is running")
        family = hub.descendants()
        grandchild = int(pidfile.read_text())
        assert grandchild in {p.pid for p in family}

        hub.send(signum)
        hub.process.wait(timeout=10)

        left = survivors(family, within=ORPHAN_DEADLINE_S)
        assert left == [], f"still running after {ORPHAN_DEADLINE_S}s: {left}"
    finally:
        hub.stop()


def test_leftovers_of_a_hub_whose_launcher_was_also_killed_are_swept_at_next_start(
    tray_home: Path,
) -> None:
    write_config(tray_home, {"plain": {"command": PYTHON, "args": [str(FLAKY)]}})
    first = HubProcess(tray_home)
    try:
        first.wait_for_line(r"plain is running")
        server = psutil.Process(first.status()[0]["pid"])
        launcher = server.parent()
        assert launcher is not None
        # Both die at once: nobody is left to end the server (the OOM killer's worst case).
        first.send(signal.SIGKILL)
        launcher.kill()
        first.process.wait(timeout=10)
        assert server.is_running()
    finally:
        first.stop()

    second = HubProcess(tray_home)
    try:
        second.wait_for_line(r"ended 1 server process group")
        assert survivors([server], within=ORPHAN_DEADLINE_S) == []
    finally:
        second.stop()


def test_a_second_serve_says_one_is_running_and_exits_1(hub: HubProcess) -> None:
    hub.wait_for_line(r"hub ready")

    second = mcp_tray(hub.home, "serve")

    assert second.returncode == 1
    assert f"already running (pid {hub.process.pid})" in second.stderr


def test_a_command_with_no_hub_running_says_how_to_start_one(tray_home: Path) -> None:
    result = mcp_tray(tray_home, "status")

    assert result.returncode == 1
    assert "not running" in result.stderr and "mcp-tray serve" in result.stderr


def test_stop_start_restart_and_logs_from_the_command_line(tray_home: Path) -> None:
    write_config(tray_home, {"flaky": {"command": PYTHON, "args": [str(FLAKY)]}})
    hub = HubProcess(tray_home)
    try:
        hub.wait_for_line(r"flaky is running")
        first_pid = hub.status()[0]["pid"]

        stopped = mcp_tray(tray_home, "stop", "flaky")
        assert (stopped.returncode, stopped.stdout.strip()) == (0, "flaky is stopped.")
        assert hub.status()[0]["state"] == "stopped"
        assert not psutil.pid_exists(first_pid) or survivors([psutil.Process(first_pid)], 0) == []

        started = mcp_tray(tray_home, "start", "flaky")
        assert started.returncode == 0 and "flaky is running" in started.stdout
        restarted = mcp_tray(tray_home, "restart", "flaky")
        assert restarted.returncode == 0, restarted.stdout + restarted.stderr
        (row,) = hub.status()
        assert row["state"] == "running" and row["pid"] != first_pid and row["restarts"] == 2

        logs = mcp_tray(tray_home, "logs", "flaky", "-n", "4")
        assert logs.returncode == 0
        # The restart's story, MCP Tray's lines marked, with the new process's own line.
        shown = [parse_log_line(line) for line in logs.stdout.splitlines()]
        assert [(e.lifecycle, e.text.split(" (")[0]) for e in shown if e.lifecycle] == [
            (True, "Restarting as you asked."),
            (True, "Started"),
            (True, "Running."),
        ], logs.stdout
        assert [e.text for e in shown if not e.lifecycle] == [f"flaky server {row['pid']} serving"]

        unknown = mcp_tray(tray_home, "restart", "nope")
        assert unknown.returncode == 1 and "configured: flaky" in unknown.stderr
    finally:
        hub.stop()


def test_logs_are_readable_from_the_file_when_no_hub_runs(tray_home: Path) -> None:
    write_config(tray_home, {"flaky": {"command": PYTHON, "args": [str(FLAKY)]}})
    hub = HubProcess(tray_home)
    hub.wait_for_line(r"flaky is running")
    hub.stop()

    logs = mcp_tray(tray_home, "logs", "flaky")

    assert logs.returncode == 0 and "flaky server" in logs.stdout


BAD_CONFIGS = {
    "invalid JSON": ('{"mcpServers": {"a": {"command": "x",}}}', r"config\.json:1:\d+: "),
    "unknown key": (
        '{"mcpServers": {\n  "a": {"comand": "x"}\n}}',
        r'config\.json:2:9: mcpServers\.a\.comand: unknown key "comand"; did you mean "command"\?',
    ),
    "wrong type": (
        '{"mcpServers": {"a": {"command": "x", "args": "--flag"}}}',
        r"config\.json:1:\d+: mcpServers\.a\.args: .*list",
    ),
    "missing command": (
        '{"mcpServers": {"a": {"args": []}}}',
        r"config\.json:1:\d+: mcpServers\.a: needs a command to run, or the url of a remote server",
    ),
}


@pytest.mark.parametrize("case", BAD_CONFIGS)
def test_config_check_names_file_line_column_and_key_and_exits_1(
    tray_home: Path, case: str
) -> None:
    text, expected = BAD_CONFIGS[case]
    (tray_home / "config.json").write_text(text)

    result = mcp_tray(tray_home, "config", "check")

    assert result.returncode == 1
    assert re.search(expected, result.stderr), result.stderr


def test_a_broken_config_edit_leaves_the_running_hub_on_its_last_good_config(
    tray_home: Path,
) -> None:
    config = write_config(tray_home, {"flaky": {"command": PYTHON, "args": [str(FLAKY)]}})
    hub = HubProcess(tray_home)
    try:
        hub.wait_for_line(r"flaky is running")
        pid = hub.status()[0]["pid"]

        hub.send(signal.SIGHUP)  # re-reads the file on demand, too
        hub.wait_for_line(r"config applied; changed: nothing")

        config.write_text('{"mcpServers": {"flaky": {"comand": "x"}}}')  # seen by the hub
        hub.wait_for_line(r"config not applied, still running the last good one")

        (row,) = hub.status()
        assert (row["state"], row["pid"]) == ("running", pid)
        check = mcp_tray(tray_home, "config", "check")
        assert check.returncode == 1 and "did you mean" in check.stderr
        issues = [line for line in check.stderr.splitlines() if "config.json:1:" in line]
        assert len(issues) == 1  # the unknown key; a missing "command" is told once it is fixed
        for issue in issues:
            hub.wait_for_line(re.escape(issue))  # the hub said the very same
    finally:
        hub.stop()


def test_serve_never_imports_qt(tray_home: Path) -> None:
    hub = HubProcess(tray_home, python_flags=("-X", "importtime"))
    try:
        hub.wait_for_line(r"demo is running")
        hub.status()
    finally:
        hub.stop()
    imported = [line for line in hub.lines if line.startswith("import time:")]
    assert len(imported) > 100  # the flag worked: every import is listed
    assert not [line for line in imported if "PySide6" in line or "qasync" in line]


def test_quit_stops_the_hub_and_its_servers_and_then_says_nothing_runs(hub: HubProcess) -> None:
    hub.wait_for_line(r"demo is running")
    (row,) = hub.status()
    servers = hub.descendants()

    quit_ = mcp_tray(hub.home, "quit")
    again = mcp_tray(hub.home, "quit")

    assert quit_.returncode == 0, quit_.stderr
    assert "MCP Tray has stopped" in quit_.stdout
    assert hub.process.poll() == 0  # quit returns once the hub has exited, and cleanly
    assert any(p.pid == row["pid"] for p in servers)
    assert survivors(servers, within=5.0) == []
    assert again.returncode == 0 and "MCP Tray is not running." in again.stdout
