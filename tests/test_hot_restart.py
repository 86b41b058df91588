"""Hot restart: editing a watched server's files while clients stay attached.

A real hub runs in the test's event loop and supervises a real MCPServer
project in a temporary folder (``pyproject.toml`` plus ``server.py``, whose
tool answers the ``ANSWER`` written in the file). Tests edit that file as
editors do, and wait for the hub's own events, never for time to pass.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from app.core.events import ServerStateChanged, SourcesChanged
from tests.helpers import PYTHON, SERVERS
from tests.relaykit import RawClient, Tray, start_tray

pytestmark = pytest.mark.anyio

SERVER_CODE = (SERVERS / "answer.py").read_text()


def with_answer(answer: str) -> str:
    """The server's code, edited to answer ``answer``."""
    return re.sub(r"^ANSWER = .*$", f"ANSWER = {answer!r}", SERVER_CODE, count=1, flags=re.M)


class Project:
    """The server's source folder, edited the way people edit it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.server = root / "server.py"
        (root / "pyproject.toml").write_text("[project]\nname = 'edited'\n")
        self.save("v1")

    def save(self, answer: str) -> None:
        """An in-place save (truncate and write), as most editors do."""
        self.server.write_text(with_answer(answer))

    def save_atomically(self, answer: str) -> None:
        """Write a temporary file and rename it over the original (vim, JetBrains, VS Code)."""
        temporary = self.root / ".server.py.tmp~"
        temporary.write_text(with_answer(answer))
        os.replace(temporary, self.server)

    def break_it(self) -> None:
        self.server.write_text("def answer(:\n")  # a syntax error: the server cannot start

    def entry(self, **restart: int) -> dict[str, Any]:
        return {
            "command": PYTHON,
            "args": [str(self.server)],
            "watch": True,
            "restart": {"initialDelayMs": 10, "maxDelayMs": 50, **restart},
        }


@pytest.fixture
def project(tmp_path: Path) -> Project:
    root = tmp_path / "edited"
    root.mkdir()
    return Project(root)


@pytest.fixture
async def hub(tray_home: Path, project: Project) -> AsyncIterator[Tray]:
    tray = await start_tray(tray_home, {"edited": project.entry(maxFailures=2)})
    try:
        yield tray
    finally:
        await tray.close()


def states_since(tray: Tray, mark: int, state: str) -> list[ServerStateChanged]:
    return [
        event
        for event in tray.events.events[mark:]
        if isinstance(event, ServerStateChanged) and event.state == state
    ]


def changes_since(tray: Tray, mark: int) -> list[SourcesChanged]:
    return [event for event in tray.events.events[mark:] if isinstance(event, SourcesChanged)]


async def wait_for_answer(tray: Tray, client: RawClient, expected: str, *, mark: int) -> int:
    """Wait, restart by restart, until the server answers ``expected``; the restarts it took."""
    restarts = 0
    while (answer := await client.call("answer")) != expected:
        restarts += 1
        await tray.events.wait_for_state("running", after=mark)
        mark = len(tray.events.events)
        assert restarts <= 20, f"still answering {answer!r}"
    return restarts


async def test_a_saved_edit_reaches_the_same_attached_client_session(
    hub: Tray, project: Project
) -> None:
    async with hub.sdk_client("edited") as client:
        first = await client.call_tool("answer", {})
        mark = len(hub.events.events)

        project.save("v2")
        await hub.events.wait_for_state("running", after=mark)
        second = await client.call_tool("answer", {})

    assert first.content[0].text == "v1"  # type: ignore[union-attr]
    assert second.content[0].text == "v2"  # type: ignore[union-attr]
    (change,) = changes_since(hub, mark)
    assert change.paths == (str(project.server),)


async def test_twenty_rapid_saves_cause_few_restarts_and_the_last_edit_wins(
    hub: Tray, project: Project
) -> None:
    client = await hub.attach("edited")
    mark = len(hub.events.events)

    for number in range(2, 22):
        project.save(f"v{number}")
    await wait_for_answer(hub, client, "v21", mark=mark)

    assert 1 <= len(states_since(hub, mark, "starting")) <= 3
    assert 1 <= len(changes_since(hub, mark)) <= 3


async def test_an_edit_made_during_a_restart_causes_exactly_one_more_restart(
    hub: Tray, project: Project
) -> None:
    client = await hub.attach("edited")
    mark = len(hub.events.events)

    project.save("v2")
    await hub.events.wait_for_state("starting", after=mark)
    project.save("v3")  # while the new process is starting
    first = await hub.events.wait_for_state("running", after=mark)
    await hub.events.wait_for_state("running", after=hub.events.events.index(first) + 1)

    assert await client.call("answer") == "v3"
    assert len(changes_since(hub, mark)) == 2
    assert len(states_since(hub, mark, "starting")) == 2


async def test_an_atomic_save_is_seen(hub: Tray, project: Project) -> None:
    client = await hub.attach("edited")
    mark = len(hub.events.events)

    project.save_atomically("v2")
    await hub.events.wait_for_state("running", after=mark)

    assert await client.call("answer") == "v2"
    (change,) = changes_since(hub, mark)
    assert change.paths == (str(project.server),)


async def test_a_syntax_error_parks_the_server_and_the_fix_brings_it_back(
    hub: Tray, project: Project
) -> None:
    client = await hub.attach("edited")
    mark = len(hub.events.events)

    project.break_it()
    parked = await hub.events.wait_for_state("crash-loop", after=mark)
    refused = await client.request("tools/call", {"name": "answer", "arguments": {}})
    assert "SyntaxError" in parked.failure.text() + refused["error"]["message"]

    fixed_at = len(hub.events.events)
    project.save("fixed")
    await hub.events.wait_for_state("running", after=fixed_at)

    assert await client.call("answer") == "fixed"


async def test_a_parked_server_whose_new_code_still_fails_parks_again_after_one_try(
    hub: Tray, project: Project
) -> None:
    mark = len(hub.events.events)
    project.break_it()
    await hub.events.wait_for_state("crash-loop", after=mark)

    again = len(hub.events.events)
    project.server.write_text("raise SystemExit('still broken')\n")
    await hub.events.wait_for_state("crash-loop", after=again)

    assert len(states_since(hub, again, "starting")) == 1  # one try, no retry storm
    assert len(states_since(hub, mark, "starting")) == 3  # the v2 restart, one retry, the try


async def test_changes_under_ignored_paths_restart_nothing(hub: Tray, project: Project) -> None:
    mark = len(hub.events.events)

    (project.root / ".git" / "refs").mkdir(parents=True)
    (project.root / ".git" / "refs" / "main").write_text("abc\n")
    (project.root / "__pycache__").mkdir(exist_ok=True)
    (project.root / "__pycache__" / "server.cpython-311.pyc").write_bytes(b"\0")
    (project.root / ".server.py.swp").write_bytes(b"\0")
    (project.root / "node_modules" / "left-pad").mkdir(parents=True)
    (project.root / "node_modules" / "left-pad" / "index.js").write_text("")
    project.save("v2")  # the one change that counts
    await hub.events.wait_for_state("running", after=mark)

    # Changes reach the hub in order: an ignored one would show up here.
    (change,) = changes_since(hub, mark)
    assert change.paths == (str(project.server),)
    assert len(states_since(hub, mark, "starting")) == 1


async def test_a_stopped_server_is_not_started_by_an_edit(hub: Tray, project: Project) -> None:
    await hub.control("stop", name="edited")
    mark = len(hub.events.events)

    project.save("v2")
    await hub.events.wait_for(lambda e: isinstance(e, SourcesChanged), after=mark)

    assert (await hub.status("edited"))["state"] == "stopped"
    assert not states_since(hub, mark, "starting")


async def test_every_instance_of_an_unshared_server_restarts(
    tray_home: Path, project: Project
) -> None:
    tray = await start_tray(tray_home, {"edited": {**project.entry(), "shared": False}})
    try:
        first = await tray.attach("edited")
        second = await tray.attach("edited")
        assert [await first.call("answer"), await second.call("answer")] == ["v1", "v1"]
        mark = len(tray.events.events)

        project.save("v2")

        for client in (first, second):
            await wait_for_answer(tray, client, "v2", mark=mark)
        assert {e.server for e in states_since(tray, mark, "running")} == {"edited#1", "edited#2"}
    finally:
        await tray.close()
