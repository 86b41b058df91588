"""What the user stopped stays stopped, across MCP Tray restarts and config changes.

Real hubs on one MCP_TRAY_HOME, one after another as MCP Tray restarting at
login would run them, supervising real tests/servers/flaky.py processes.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from app.cli.control import status_table
from app.core.endpoint import client
from app.core.endpoint.control import ControlError
from app.core.events import ServerLogLine, ServerStateChanged
from app.core.hub import Hub
from app.core.paths import Paths, default_paths
from app.core.supervise.states import State
from app.core.supervise.status import ServerStatus
from app.core.supervise.stderr import parse_log_line
from tests.helpers import FLAKY, PYTHON, EventRecorder

pytestmark = pytest.mark.anyio

CALL_TIMEOUT_S = 60.0
KEPT_STOPPED = "Not started, because you stopped it. It stays stopped until you start it."


def server(*options: str) -> dict[str, Any]:
    return {"command": PYTHON, "args": [str(FLAKY), *options]}


def write_config(paths: Paths, servers: dict[str, dict[str, Any]]) -> None:
    paths.config_file.write_text(json.dumps({"mcpServers": servers}, indent=2))


StartHub = Callable[..., Awaitable[tuple[Hub, EventRecorder]]]


@pytest.fixture
async def start_hub(tray_home: Path) -> AsyncIterator[StartHub]:
    """``await start_hub(running=[names])``: a new hub on the same home, once those run."""
    hubs: list[Hub] = []

    async def start(*, running: tuple[str, ...] = (), keep_going: bool = False) -> Any:
        paths = default_paths()
        paths.ensure()
        hub = Hub(paths)
        events = EventRecorder(hub.bus)
        hubs.append(hub)
        await hub.start(keep_going=keep_going)
        for name in running:
            await wait_running(events, name)
        return hub, events

    yield start
    for hub in hubs:
        await hub.shutdown()


async def wait_running(events: EventRecorder, name: str, *, after: int = 0) -> None:
    await events.wait_for(
        lambda e: isinstance(e, ServerStateChanged) and e.server == name and e.state == "running",
        after=after,
    )


def rows(hub: Hub) -> dict[str, ServerStatus]:
    return {row.name: row for row in hub.status_rows()}


def touched(events: EventRecorder, name: str, *, after: int = 0) -> list[str]:
    """The states ``name`` went through since ``after``."""
    changes = events.events[after:]
    return [e.state for e in changes if isinstance(e, ServerStateChanged) and e.server == name]


async def test_a_server_the_user_stopped_stays_stopped_when_mcp_tray_starts_again(
    start_hub,
) -> None:
    paths = default_paths()
    paths.ensure()
    write_config(paths, {"alpha": server(), "beta": server()})
    config = paths.config_file.read_bytes()
    first, _ = await start_hub(running=("alpha", "beta"))
    await first.stop_server("alpha")
    await first.shutdown()

    again, events = await start_hub(running=("beta",))

    alpha = again.supervisors["alpha"]
    assert alpha.state == "stopped" and touched(events, "alpha") == []
    assert rows(again)["alpha"].stopped_by_user is True
    assert rows(again)["beta"].stopped_by_user is False
    assert alpha.unavailable_reason() == (
        "alpha is stopped. Start it from the tray or with `mcp-tray start alpha`."
    )
    said = [e for e in events.events if isinstance(e, ServerLogLine) and e.server == "alpha"]
    assert [(e.line, e.lifecycle) for e in said] == [(KEPT_STOPPED, True)]
    assert parse_log_line(alpha.log.last_stamped(1)[0]).text == KEPT_STOPPED
    assert paths.config_file.read_bytes() == config  # the choice is MCP Tray's, not the config's

    await again.start_server("alpha")
    assert rows(again)["alpha"].stopped_by_user is False
    await again.shutdown()

    await start_hub(running=("alpha", "beta"))  # started again for good
    assert paths.config_file.read_bytes() == config


async def test_status_over_the_control_socket_says_who_stopped_a_server(start_hub) -> None:
    paths = default_paths()
    paths.ensure()
    write_config(paths, {"alpha": server(), "beta": server()})
    hub, _ = await start_hub(running=("alpha", "beta"))

    await asyncio.to_thread(client.call, paths.socket_path, "stop", name="alpha")
    status = await asyncio.to_thread(
        client.call, paths.socket_path, "status", timeout=CALL_TIMEOUT_S
    )

    assert {row["name"]: row["stopped_by_user"] for row in status} == {
        "alpha": True,
        "beta": False,
    }
    assert hub.choices.stopped_servers() == frozenset({"alpha"})


async def test_a_config_change_leaves_a_stopped_server_stopped_and_forgets_one_that_left(
    start_hub,
) -> None:
    paths = default_paths()
    paths.ensure()
    write_config(paths, {"alpha": server(), "beta": server()})
    hub, events = await start_hub(running=("alpha", "beta"))
    await hub.stop_server("alpha")

    mark = len(events.events)
    write_config(paths, {"alpha": server("--exit-after-calls", "9"), "beta": server()})
    await hub.reload()
    assert touched(events, "alpha", after=mark) == []
    assert rows(hub)["alpha"].stopped_by_user is True

    write_config(paths, {"beta": server()})
    await hub.reload()
    assert hub.choices.stopped_servers() == frozenset()

    mark = len(events.events)
    write_config(paths, {"alpha": server(), "beta": server()})
    await hub.reload()
    await wait_running(events, "alpha", after=mark)  # a new server by that name starts


async def test_a_broken_config_at_start_up_forgets_no_choice(start_hub) -> None:
    paths = default_paths()
    paths.ensure()
    write_config(paths, {"alpha": server(), "beta": server()})
    hub, _ = await start_hub(running=("alpha", "beta"))
    await hub.stop_server("alpha")
    await hub.shutdown()
    paths.config_file.write_text('{"mcpServers": {"alpha": {"comand": "x"}}}')

    hub, events = await start_hub(keep_going=True)
    assert hub.choices.stopped_servers() == frozenset({"alpha"})
    write_config(paths, {"alpha": server(), "beta": server()})
    await hub.reload()
    await wait_running(events, "beta")

    assert touched(events, "alpha") == []
    assert rows(hub)["alpha"].stopped_by_user is True


async def test_stopping_one_clients_private_process_is_not_remembered(start_hub) -> None:
    paths = default_paths()
    paths.ensure()
    write_config(paths, {"solo": {**server(), "shared": False}})
    hub, events = await start_hub()
    instance, _ = hub.start_instance("solo")
    await wait_running(events, instance)

    await hub.stop_server(instance)

    assert hub.choices.stopped_servers() == frozenset()
    assert not paths.choices_file.exists()


def test_the_status_table_says_a_server_was_stopped_by_you() -> None:
    base = {"pid": None, "restarts": 0, "uptime_s": None, "last_exit": None, "last_error": None}
    wire = [
        {**base, "name": "alpha", "state": "stopped", "stopped_by_user": True},
        {**base, "name": "beta", "state": "stopped", "stopped_by_user": False},
        {**base, "name": "older", "state": "stopped"},  # a hub from before the field
    ]
    table = status_table([ServerStatus.from_wire(row) for row in wire]).splitlines()

    assert table[1].split()[:4] == ["alpha", "stopped", "by", "you"]
    assert table[2].split()[:3] == ["beta", "stopped", "-"]
    assert table[3].split()[:3] == ["older", "stopped", "-"]


async def test_starting_or_restarting_a_disabled_server_is_refused_and_forgets_the_stop(
    tray_home: Path, start_hub: StartHub
) -> None:
    paths = default_paths()
    paths.ensure()
    write_config(paths, {"off": {**server(), "disabled": True}})
    hub, _ = await start_hub()
    await hub.stop_server("off")

    for act in (hub.start_server, hub.restart_server):
        with pytest.raises(ControlError, match='off is disabled in the config; remove "disabled"'):
            await act("off")

    row = hub.status_rows()[0]
    assert (row.state, row.pid, row.stopped_by_user) == (State.DISABLED, None, False)
    assert "off" not in hub.choices.stopped_servers()
