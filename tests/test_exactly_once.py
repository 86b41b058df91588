"""A server that stops or dies with requests on their way to it.

Every request gets one answer; a call the server may have read is never run
again; a call it cannot have read runs on the next process instead of failing.
The faults are provoked, not hoped for: the server is frozen with SIGSTOP, its
stdin pipe is filled past what the kernel holds, and then it is killed (or the
hub ends it as hung). The rich server's ``mark`` tool appends its label to a
file that outlives each process, so the test counts how often a call really ran.
"""

from __future__ import annotations

import array
import fcntl
import os
import re
import signal
import termios
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from app.core.paths import HOME_ENV
from app.core.rpc.errors import SERVER_CRASHED
from tests.helpers import freeze
from tests.relaykit import (
    Message,
    RawClient,
    Tray,
    is_event,
    is_response,
    result_text,
    rich_entry,
    start_tray,
)

pytestmark = pytest.mark.anyio

CALLS = 80
PADDING = "x" * 4096  # 80 such calls are 330 KB, five times what a pipe holds
PIPE_FILLED = 8 * len(PADDING)  # a Linux pipe takes 10 or so such calls: the rest wait in the hub
ANSWERS_WITHIN_S = 60.0  # the kill, a restart, and 80 calls on a loaded machine


@pytest.fixture
async def marked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Tray]:
    """A hub whose rich server marks each call in tmp_path/marks; pings every 100 ms."""
    monkeypatch.setenv(HOME_ENV, str(tmp_path))
    restart = {
        "pingIntervalMs": 100,
        "pingTimeoutMs": 300,
        "pingFailures": 2,
        "stallTimeoutMs": 4000,
        "initialDelayMs": 0,
    }
    entry = rich_entry(env={"RICH_MARKS": str(tmp_path / "marks")}, restart=restart)
    tray = await start_tray(tmp_path, {"rich": entry})
    try:
        yield tray
    finally:
        await tray.close()


def runs(tray: Tray) -> Counter[str]:
    """How many times each label's call ran, across every process."""
    return Counter((tray.home / "marks").read_text().split())


def unread_in_stdin(pid: int) -> int:
    """The bytes waiting in a process's stdin pipe, through a handle of our own closed
    at once. (The SDK moves stdin off fd 0: it is the one pipe the server only reads.)"""
    fds = Path(f"/proc/{pid}/fd")
    (stdin,) = [
        fd
        for fd in fds.iterdir()
        if os.readlink(fd).startswith("pipe:") and _read_only(pid, fd.name)
    ]
    handle = os.open(stdin, os.O_RDONLY | os.O_NONBLOCK)
    try:
        count = array.array("i", [0])
        fcntl.ioctl(handle, termios.FIONREAD, count)
        return count[0]
    finally:
        os.close(handle)


def _read_only(pid: int, fd: str) -> bool:
    info = Path(f"/proc/{pid}/fdinfo/{fd}").read_text()
    flags = next(line.split()[1] for line in info.splitlines() if line.startswith("flags:"))
    return int(flags, 8) & os.O_ACCMODE == os.O_RDONLY


def start_marks(client: RawClient, labels: list[str]) -> list[Any]:
    return [
        client.start(
            "tools/call", {"name": "mark", "arguments": {"label": label, "padding": PADDING}}
        )
        for label in labels
    ]


async def answers(client: RawClient, ids: list[Any]) -> list[Message]:
    return [await client.response(request_id, timeout=ANSWERS_WITHIN_S) for request_id in ids]


async def settled(tray: Tray, client: RawClient) -> None:
    """Once this answers, the current process ran every call sent before it (it runs
    ``mark`` in the order calls arrive), and every answer to them has arrived."""
    assert (
        result_text(
            await client.request("tools/call", {"name": "mark", "arguments": {"label": "last"}})
        )
        == "marked last"
    )
    await client.barrier()


async def test_calls_queued_to_a_frozen_server_that_is_killed_run_once_each_on_the_next_process(
    marked: Tray,
) -> None:
    tray = marked
    client = await tray.attach()
    pid = (await tray.status())["pid"]
    await freeze(pid)
    labels = [f"call-{n}" for n in range(CALLS)]
    ids = start_marks(client, labels)
    await client.barrier()  # the relay has taken every call, and written what the pipe holds
    assert unread_in_stdin(pid) > PIPE_FILLED

    os.kill(pid, signal.SIGKILL)
    answered = await answers(client, ids)
    await settled(tray, client)

    # The frozen server read none of them: the next process ran each, once.
    assert [result_text(answer) for answer in answered] == [f"marked {label}" for label in labels]
    assert all(runs(tray)[label] == 1 for label in labels), runs(tray)
    every_answer = Counter(m["id"] for m in client.inbox if "id" in m and "method" not in m)
    assert all(every_answer[request_id] == 1 for request_id in ids)


async def test_a_server_frozen_with_calls_waiting_is_restarted_after_the_stall_timeout(
    marked: Tray,
) -> None:
    tray = marked
    client = await tray.attach()
    listed = await client.request("tools/list")
    pid = (await tray.status())["pid"]
    await freeze(pid)

    (call,) = start_marks(client, ["stalled"])
    while_frozen = await client.request("tools/list")  # from the last list, within seconds
    assert while_frozen["result"] == listed["result"]
    assert (await tray.status())["pid"] == pid

    answered = await client.response(call, timeout=ANSWERS_WITHIN_S)
    await settled(tray, client)

    # Ended as hung, it had read nothing: the call ran once, on the next process.
    assert result_text(answered) == "marked stalled"
    assert runs(tray)["stalled"] == 1
    status = await tray.status()
    assert status["pid"] != pid and status["restarts"] == 1
    told = tray.paths.server_log("rich").read_text()
    assert re.search(r"Stopped responding \(requests waited \d+s without a word from it\)\.", told)


async def test_a_frozen_server_whose_stdin_is_full_is_restarted_when_its_pings_time_out(
    marked: Tray,
) -> None:
    tray = marked
    client = await tray.attach()
    pid = (await tray.status())["pid"]
    await freeze(pid)
    note = {
        "jsonrpc": "2.0",
        "method": "notifications/roots/list_changed",
        "params": {"_meta": {"padding": PADDING}},
    }
    for _ in range(CALLS):
        client.send(note)  # notifications: nothing waits for an answer, so it is idle
    await client.barrier()
    assert unread_in_stdin(pid) > PIPE_FILLED

    await tray.events.wait_for_state("running", after=len(tray.events.events))

    assert (await tray.status())["pid"] != pid
    told = tray.paths.server_log("rich").read_text()
    assert "Stopped answering (2 pings in a row went unanswered)." in told, told


async def test_a_call_the_killed_server_had_read_is_answered_once_with_an_error_and_not_run_again(
    marked: Tray,
) -> None:
    tray = marked
    client = await tray.attach()
    held = client.start("tools/call", {"name": "hold", "arguments": {"label": "read"}})
    await client.wait_for(is_event("started", label="read"))
    pid = (await tray.status())["pid"]
    await freeze(pid)
    ids = start_marks(client, [f"after-{n}" for n in range(CALLS)])
    await client.barrier()

    os.kill(pid, signal.SIGKILL)
    failed = await client.response(held, timeout=ANSWERS_WITHIN_S)
    answered = await answers(client, ids)
    await settled(tray, client)

    assert failed["error"]["code"] == SERVER_CRASHED
    assert [result_text(a) for a in answered] == [f"marked after-{n}" for n in range(CALLS)]
    assert len(client.received(is_response(held))) == 1
