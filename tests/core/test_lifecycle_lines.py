"""MCP Tray's lines in a server's log (app/core/supervise/lifecycle.py, written by the supervisor).

Real server processes (tests/servers/flaky.py); the log is read three ways,
as the tray and ``mcp-tray logs`` read it: the file, the in-memory tail and
the published ServerLogLine events. Every wait is bounded.
"""

from __future__ import annotations

import re

import pytest

from app.core.config import ServerConfig
from app.core.config.placeholders import MissingValues
from app.core.events import ServerExited, ServerLogLine
from app.core.supervise.lifecycle import in_words
from app.core.supervise.states import State
from app.core.supervise.stderr import LogEntry, parse_log_line
from app.core.supervise.supervisor import Supervisor
from tests.helpers import EventRecorder, flaky

pytestmark = pytest.mark.anyio

FATAL = "fatal: cannot open the database at /nonexistent/db.sqlite"  # flaky.py --crash-at-start
STARTED = r"Started \(process \d+\)\."


def story(supervisor: Supervisor, events: EventRecorder) -> list[LogEntry]:
    """The log as the file holds it, after checking that the tail and the events agree."""
    in_file = [parse_log_line(line) for line in supervisor.log.path.read_text().splitlines()]
    in_tail = [parse_log_line(line) for line in supervisor.log.last_stamped(1000)]
    published = [
        parse_log_line(event.stamped())
        for event in events.events
        if isinstance(event, ServerLogLine)
    ]
    assert in_tail == in_file
    assert published == in_file
    return in_file


def assert_reads(entries: list[LogEntry], expected: list[tuple[bool, str]]) -> None:
    """Each entry is (lifecycle, pattern the whole text matches)."""
    told = [(entry.lifecycle, entry.text) for entry in entries]
    assert len(told) == len(expected), "\n".join(map(str, told))
    for (lifecycle, text), (want_lifecycle, pattern) in zip(told, expected, strict=True):
        assert lifecycle == want_lifecycle and re.fullmatch(pattern, text), (text, pattern)


async def test_a_crash_loop_tells_its_story_between_the_servers_own_lines(supervise) -> None:
    supervisor, events = supervise(
        flaky("--crash-at-start", max_failures=2, initial_delay_ms=200, max_delay_ms=200)
    )
    await events.wait_for_state("crash-loop")
    mark = len(events.events)
    supervisor.restart()  # one more try, which parks again at once
    await events.wait_for_state("crash-loop", after=mark)
    await supervisor.stop(by_user=True)

    paused = r"Paused after {} failed starts; trying again in 5 min, or when you choose Try again\."
    crash = [(True, STARTED), (False, re.escape(FATAL)), (True, r"Exited with status 3\.")]
    assert_reads(
        story(supervisor, events),
        [
            *crash,
            (True, r"Restarting in 0\.[12] s\."),
            *crash,
            (True, paused.format(2)),
            (True, r"Trying again now as you asked\."),
            *crash,
            (True, paused.format(3)),
            (True, r"Stopped by you\."),
        ],
    )
    exits = [e for e in events.events if isinstance(e, ServerExited)]
    assert [e.last_stderr for e in exits] == [(FATAL,), (FATAL,) * 2, (FATAL,) * 3]
    assert supervisor.log.last_lines(5) == (FATAL,) * 3
    assert supervisor.failure.text().endswith(f"Last output: {FATAL}")


async def test_a_paused_server_says_when_it_tries_again_and_then_does(supervise) -> None:
    supervisor, events = supervise(flaky("--crash-at-start", max_failures=1, reprobe_ms=100))
    first = await events.wait_for_state("crash-loop")
    await events.wait_for_state("crash-loop", after=events.events.index(first) + 1)
    await supervisor.stop()

    assert_reads(
        story(supervisor, events)[:6],
        [
            (True, STARTED),
            (False, re.escape(FATAL)),
            (True, r"Exited with status 3\."),
            (
                True,
                r"Paused after 1 failed start; trying again in 0\.1 s, "
                r"or when you choose Try again\.",
            ),
            (True, r"Trying again\."),
            (True, STARTED),
        ],
    )


async def test_a_running_server_says_it_runs_and_who_stopped_it(supervise) -> None:
    supervisor, events = supervise(flaky())
    await events.wait_for_state("running")
    pid = supervisor.status().pid
    await supervisor.stop()
    by_hub = len(events.events)
    supervisor.start()
    await events.wait_for_state("running", after=by_hub)
    await supervisor.stop(by_user=True)

    ours = [entry for entry in story(supervisor, events) if entry.lifecycle]
    theirs = [entry.text for entry in story(supervisor, events) if not entry.lifecycle]
    assert [entry.text for entry in ours] == [
        f"Started (process {pid}).",
        "Running.",
        "Stopped by MCP Tray.",
        ours[3].text,  # the second process
        "Running.",
        "Stopped by you.",
    ]
    assert re.fullmatch(STARTED, ours[3].text)
    assert theirs[0] == f"flaky server {pid} serving"


async def test_who_stopped_a_server_shows_in_its_status_until_it_starts_again(supervise) -> None:
    supervisor, events = supervise(flaky())
    await events.wait_for_state("running")
    assert supervisor.status().to_wire()["stopped_by_user"] is False

    await supervisor.stop(by_user=True)
    stopped = supervisor.status()
    await supervisor.stop()  # MCP Tray quitting later does not change who stopped it
    supervisor.start()

    assert stopped.to_wire()["stopped_by_user"] is True
    assert stopped.state is State.STOPPED
    assert supervisor.status().stopped_by_user is False


async def test_a_server_waiting_for_a_secret_says_which_and_tries_again_when_asked(
    supervise,
) -> None:
    async def no_token(config: ServerConfig) -> tuple[list[str], dict[str, str]]:
        raise MissingValues("flaky", secrets=["API_TOKEN"], variables=[])

    supervisor, events = supervise(flaky(), launch=no_token)
    first = await events.wait_for_state("needs-secret")
    supervisor.start()  # as the hub does once the secret is set
    await events.wait_for_state("needs-secret", after=events.events.index(first) + 1)

    waiting = r"Waiting for the secret API_TOKEN; it starts once set\."
    assert_reads(
        story(supervisor, events),
        [(True, waiting), (True, r"Trying again now as you asked\."), (True, waiting)],
    )


def test_waits_read_as_a_person_says_them() -> None:
    assert [in_words(s) for s in (0.004, 0.26, 2, 2.5, 45, 300, 5400, 7200)] == [
        "a moment",
        "0.3 s",
        "2 s",
        "2.5 s",
        "45 s",
        "5 min",
        "1 h 30 min",
        "2 h",
    ]
