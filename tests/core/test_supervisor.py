"""The supervisor against real server processes (tests/servers/flaky.py, an MCPServer).

Each test runs one Supervisor in-process on the test's event loop and waits on
the events it publishes; every wait is bounded.
"""

from __future__ import annotations

import asyncio
import logging
import re
import signal
from pathlib import Path

import psutil
import pytest

from app.core.config import ServerConfig
from app.core.events import ServerExited, ServerLogLine
from app.core.supervise.stderr import parse_log_line
from tests.helpers import FLAKY, PYTHON, flaky

pytestmark = pytest.mark.anyio


def _gone_within(pids: list[int], seconds: float) -> list[int]:
    """The pids still alive (zombies excepted) after waiting up to ``seconds``."""
    processes = []
    for pid in pids:
        try:
            processes.append(psutil.Process(pid))
        except psutil.NoSuchProcess:
            continue
    _, alive = psutil.wait_procs(processes, timeout=seconds)
    return [p.pid for p in alive if p.status() != psutil.STATUS_ZOMBIE]


async def test_a_server_that_crashes_at_start_parks_in_crash_loop_with_its_last_stderr_line(
    supervise,
) -> None:
    supervisor, events = supervise(flaky("--crash-at-start", max_failures=3))

    await events.wait_for_state("crash-loop")

    status = supervisor.status()
    assert status.state == "crash-loop"
    assert status.restarts == 2  # three starts in all
    assert status.last_exit == 3
    assert "cannot open the database" in status.failure.text()
    assert events.states().count("starting") == 3


async def test_a_server_that_crashes_after_some_requests_is_restarted(supervise) -> None:
    supervisor, events = supervise(flaky("--exit-after-calls", "2"))
    await events.wait_for_state("running")
    first_pid = supervisor.status().pid

    for expected in ("done 1", "done 2"):
        result = await supervisor.session.request(
            "tools/call", {"name": "work", "arguments": {}}, timeout=10
        )
        assert result["content"][0]["text"] == expected
    exited = await events.wait_for(lambda e: isinstance(e, ServerExited))
    await events.wait_for_state("running", after=events.events.index(exited))

    assert exited.exit_code == 5 and not exited.planned
    status = supervisor.status()
    assert status.restarts == 1
    assert status.pid != first_pid
    assert status.last_exit == 5


async def test_backoff_grows_with_each_failure_and_resets_after_healthy_uptime(
    supervise, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="app.core.supervise.supervisor")
    uptime = tmp_path / "uptime"
    uptime.write_text("0.2")  # dies before the 1.5 s that count as healthy
    _, events = supervise(
        flaky(
            "--exit-after-file",
            str(uptime),
            initial_delay_ms=200,
            max_delay_ms=10_000,
            max_failures=10,
            healthy_after_ms=1500,
        )
    )

    def retries() -> list[tuple[float, int]]:
        pattern = re.compile(r"restarting in ([\d.]+)s \(failure (\d+)\)")
        found = (pattern.search(r.getMessage()) for r in caplog.records)
        return [(float(m[1]), int(m[2])) for m in found if m]

    for _ in range(3):
        await events.wait_for(lambda e: isinstance(e, ServerExited), after=len(events.events))
        await events.wait_for_state("starting", after=len(events.events))
    uptime.write_text("2.0")  # the next run is healthy before it dies
    await events.wait_for(lambda e: isinstance(e, ServerExited), after=len(events.events))
    await events.wait_for_state("starting", after=len(events.events))

    delays, failures = zip(*retries()[:4], strict=True)
    assert failures == (1, 2, 3, 1)
    # Full-jitter ranges: 200 ms * 2^(n-1) * [0.5, 1]
    assert 0.1 <= delays[0] <= 0.2
    assert 0.2 <= delays[1] <= 0.4
    assert 0.4 <= delays[2] <= 0.8
    assert 0.1 <= delays[3] <= 0.2


async def test_a_hung_server_is_restarted_when_it_stops_answering_pings(supervise) -> None:
    supervisor, events = supervise(
        flaky(
            "--hang-after",
            "0.5",
            ping_interval_ms=200,
            ping_timeout_ms=200,
            ping_failures=2,
            max_failures=5,
        )
    )
    await events.wait_for_state("running")

    backoff = await events.wait_for_state("backoff")
    await events.wait_for_state("running", after=events.events.index(backoff))

    assert "stopped answering" in backoff.failure.text()
    assert supervisor.status().restarts == 1
    told = [e.line for e in events.events if isinstance(e, ServerLogLine) and e.lifecycle]
    assert told[2] == "Stopped answering (2 pings in a row went unanswered)."
    assert re.fullmatch(
        r"MCP Tray ended it; it (was killed by SIG\w+|exited with status \d+)\.", told[3]
    )
    assert told[4].startswith("Restarting in ")


async def test_a_busy_server_is_not_killed_for_missing_pings(supervise) -> None:
    supervisor, events = supervise(
        flaky(ping_interval_ms=100, ping_timeout_ms=100, ping_failures=2)
    )
    await events.wait_for_state("running")

    result = await supervisor.session.request(
        "tools/call", {"name": "block", "arguments": {"seconds": 1.5}}, timeout=10
    )

    assert result["content"][0]["text"] == "finished"
    assert supervisor.status().restarts == 0
    assert events.states() == ["starting", "running"]


async def test_a_server_that_ignores_sigterm_is_killed_after_the_grace_period(supervise) -> None:
    supervisor, events = supervise(flaky("--stubborn"))
    await events.wait_for_state("running")
    pid = supervisor.status().pid

    await supervisor.stop()

    exited = await events.wait_for(lambda e: isinstance(e, ServerExited))
    assert exited.signal == signal.SIGKILL and exited.planned
    assert _gone_within([pid], 3) == []  # SIGKILL is sent; the kernel finishes it at once
    assert supervisor.status().state == "stopped"


async def test_a_grandchild_started_through_a_shell_does_not_survive_restart_or_stop(
    supervise, tmp_path: Path
) -> None:
    pidfile = tmp_path / "grandchild.pid"
    command = f"{PYTHON} {FLAKY} --grandchild {pidfile}"
    config = ServerConfig.model_validate({"command": "sh", "args": ["-c", command]})
    supervisor, events = supervise(config)
    await events.wait_for_state("running")
    first = [supervisor.status().pid, int(pidfile.read_text())]

    supervisor.restart()
    restarted = await events.wait_for_state("starting", after=1)
    await events.wait_for_state("running", after=events.events.index(restarted))
    second = [supervisor.status().pid, int(pidfile.read_text())]
    assert _gone_within(first, 3) == []

    await supervisor.stop()
    assert _gone_within(second, 3) == []


async def test_garbage_on_stdout_is_logged_and_the_server_keeps_serving(supervise) -> None:
    supervisor, events = supervise(flaky("--garbage"))
    await events.wait_for_state("running")

    logged = await events.wait_for(lambda e: isinstance(e, ServerLogLine) and "not MCP" in e.line)
    result = await supervisor.session.request(
        "tools/call", {"name": "work", "arguments": {}}, timeout=10
    )

    assert "stray print" in logged.line
    assert result["content"][0]["text"] == "done 1"
    assert supervisor.status().restarts == 0
    assert "not MCP" in supervisor.log.path.read_text()


async def test_a_missing_program_waits_for_the_user_without_retries_or_a_crash_loop(
    supervise, caplog: pytest.LogCaptureFixture
) -> None:
    config = ServerConfig.model_validate({"command": "mcp-tray-no-such-command"})
    supervisor, events = supervise(config)

    waiting = await events.wait_for_state("needs-program")
    with pytest.raises(TimeoutError):  # no retry storm: nothing else happens
        await events.wait_for_state("starting", after=len(events.events), timeout=1.0)

    assert waiting.failure.missing_program == "mcp-tray-no-such-command"
    assert waiting.failure.text() == (
        "needs the program mcp-tray-no-such-command, which is not installed; "
        "install it, then try again"
    )
    assert "crash-loop" not in events.states()
    assert supervisor.status().restarts == 0
    (cannot,) = map(parse_log_line, supervisor.log.last_stamped(10))
    assert cannot.lifecycle
    assert cannot.text == (
        "Cannot start: it needs the program mcp-tray-no-such-command, which is not "
        "installed; install it, then try again."
    )
    assert "flaky needs the program mcp-tray-no-such-command" in caplog.text


async def test_a_server_that_needs_a_program_runs_once_it_is_installed_and_retried(
    supervise, tmp_path: Path
) -> None:
    folder = tmp_path / "bin"
    folder.mkdir()
    config = ServerConfig.model_validate(
        {"command": "my-mcp-server", "args": [str(FLAKY)], "env": {"PATH": str(folder)}}
    )
    supervisor, events = supervise(config)
    await events.wait_for_state("needs-program")

    program = folder / "my-mcp-server"
    program.write_text(f'#!/bin/sh\nexec "{PYTHON}" "$@"\n')
    program.chmod(0o755)
    supervisor.restart()  # what Retry asks of it
    await events.wait_for_state("running")

    assert supervisor.status().restarts == 0  # a start that found no program was no run


async def test_a_missing_working_directory_parks_at_once(supervise, tmp_path: Path) -> None:
    config = ServerConfig.model_validate(
        {"command": PYTHON, "args": ["-c", "pass"], "cwd": str(tmp_path / "gone")}
    )
    supervisor, events = supervise(config)

    parked = await events.wait_for_state("crash-loop")

    assert "working directory" in parked.failure.text()
    assert supervisor.status().restarts == 0


async def test_restart_re_arms_a_parked_server_at_once(supervise, tmp_path: Path) -> None:
    switch = tmp_path / "crash"
    switch.write_text("x")
    script = (
        "import os, sys, runpy; "
        f"sys.exit(3) if os.path.exists({str(switch)!r}) else None; "
        f"sys.argv = ['flaky']; runpy.run_path({str(FLAKY)!r}, run_name='__main__')"
    )
    config = ServerConfig.model_validate(
        {
            "command": PYTHON,
            "args": ["-c", script],
            "restart": {"maxFailures": 2, "initialDelayMs": 10},
        }
    )
    supervisor, events = supervise(config)
    await events.wait_for_state("crash-loop")

    switch.unlink()
    supervisor.restart()
    await events.wait_for_state("running")

    assert supervisor.status().state == "running"


async def test_start_during_a_stop_runs_the_server_again_once_the_stop_is_done(supervise) -> None:
    supervisor, events = supervise(flaky("--stubborn"))  # its stop takes the full escalation
    await events.wait_for_state("running")
    first = supervisor.status().pid

    stopping = asyncio.ensure_future(supervisor.stop())
    await events.wait_for_state("stopping")
    supervisor.start()
    await stopping
    await events.wait_for_state(
        "running",
        after=events.events.index(
            next(e for e in events.events if getattr(e, "state", None) == "stopping")
        ),
    )

    assert supervisor.status().state == "running"
    assert supervisor.status().pid != first
    assert _gone_within([first], 3) == []
    assert events.states()[2:] == ["stopping", "stopped", "starting", "running"]


async def test_a_launcher_killed_on_its_own_counts_as_the_servers_death_and_ends_its_tree(
    supervise,
) -> None:
    supervisor, events = supervise(flaky())
    await events.wait_for_state("running")
    server = supervisor.status().pid
    launcher = psutil.Process(server).ppid()
    mark = len(events.events)

    psutil.Process(launcher).kill()  # the orphaned server would go on serving

    exited = await events.wait_for(lambda e: isinstance(e, ServerExited), after=mark)
    assert not exited.planned
    await events.wait_for_state("running", after=mark)
    assert _gone_within([server], 3) == []
    assert supervisor.status().pid != server
