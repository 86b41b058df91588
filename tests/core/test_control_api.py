"""The control socket (app/core/endpoint) against a real Hub running in this test's event loop.

The hub supervises real tests/servers/flaky.py processes; the tests talk to it
with the command line's own blocking client, run in a worker thread so the
hub keeps serving on the loop meanwhile.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
import stat
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from app.core.endpoint import client, protocol
from app.core.endpoint.instance import AlreadyRunning, InstanceLock
from app.core.errors import ControlError
from app.core.events import ConfigProblem, ServerLogLine, ServerStateChanged
from app.core.hub import Hub
from app.core.paths import Paths, default_paths
from tests.helpers import EVENT_TIMEOUT_S, FLAKY, PYTHON, EventRecorder

pytestmark = pytest.mark.anyio

CALL_TIMEOUT_S = 60.0  # a start or restart answers once the server is up: a few seconds
RAW_TIMEOUT_S = 10.0
STATUS_FIELDS = {
    "name",
    "state",
    "pid",
    "restarts",
    "uptime_s",
    "last_exit",
    "last_error",
    "stopped_by_user",
    "missing_program",
    "url",
    "signed_in",
    "held_tools",
}
SERVING = re.compile(r"flaky server (\d+) serving")


def server(*options: str) -> dict[str, Any]:
    """A config entry running flaky.py; no options: a well-behaved server."""
    return {"command": PYTHON, "args": [str(FLAKY), *options]}


def write_config(home: Path, servers: dict[str, dict[str, Any]]) -> None:
    (home / "config.json").write_text(json.dumps({"mcpServers": servers}, indent=2))


class RunningHub:
    """A started Hub, its event recorder, and the control client pointed at its socket."""

    def __init__(self, hub: Hub, events: EventRecorder) -> None:
        self.hub = hub
        self.events = events
        self.paths: Paths = hub.paths

    async def call(self, op: str, **arguments: Any) -> Any:
        return await asyncio.to_thread(
            client.call, self.paths.socket_path, op, timeout=CALL_TIMEOUT_S, **arguments
        )

    async def status(self) -> dict[str, dict[str, Any]]:
        return {row["name"]: row for row in await self.call("status")}

    async def running(self, name: str, *, after: int = 0) -> ServerStateChanged:
        def matches(event: object) -> bool:
            return (
                isinstance(event, ServerStateChanged)
                and event.server == name
                and event.state == "running"
            )

        event = await self.events.wait_for(matches, after=after)
        assert isinstance(event, ServerStateChanged)
        return event


@pytest.fixture
async def start_hub(tray_home: Path) -> AsyncIterator[Callable[..., Awaitable[RunningHub]]]:
    """``await start_hub(servers)``: a hub on that config, every server already running."""
    hubs: list[Hub] = []

    async def start(servers: dict[str, dict[str, Any]]) -> RunningHub:
        write_config(tray_home, servers)
        paths = default_paths()
        paths.ensure()
        hub = Hub(paths)
        events = EventRecorder(hub.bus)
        hubs.append(hub)
        await hub.start()
        running = RunningHub(hub, events)
        for name in servers:
            await running.running(name)
        return running

    yield start
    for hub in hubs:
        await hub.shutdown()


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


# ----- status and the verbs


async def test_status_rows_have_exactly_the_documented_fields(start_hub) -> None:
    running = await start_hub({"alpha": server(), "beta": server()})

    rows = await running.call("status")

    assert [row["name"] for row in rows] == ["alpha", "beta"]
    for row in rows:
        assert set(row) == STATUS_FIELDS
        assert row["state"] == "running"
        assert isinstance(row["pid"], int) and psutil.pid_exists(row["pid"])
        assert row["restarts"] == 0
        assert isinstance(row["uptime_s"], float) and row["uptime_s"] >= 0
        assert row["last_exit"] is None
        assert row["last_error"] is None
        assert row["stopped_by_user"] is False
        assert row["url"] is None
    assert rows[0]["pid"] != rows[1]["pid"]


async def test_hello_names_the_hub_process(start_hub) -> None:
    running = await start_hub({"alpha": server()})

    hello = await running.call("hello")

    assert hello["pid"] == psutil.Process().pid
    assert isinstance(hello["version"], str) and hello["version"]
    assert await asyncio.to_thread(client.is_running, running.paths.socket_path)


async def test_stop_start_and_restart_change_the_state_and_the_pid(start_hub) -> None:
    running = await start_hub({"alpha": server()})
    first_pid = (await running.status())["alpha"]["pid"]

    await running.call("stop", name="alpha")
    stopped = (await running.status())["alpha"]
    assert (stopped["state"], stopped["pid"], stopped["uptime_s"]) == ("stopped", None, None)
    assert _gone(first_pid)

    await running.call("start", name="alpha")
    started = (await running.status())["alpha"]
    assert started["state"] == "running"
    assert started["pid"] not in (None, first_pid)
    assert started["restarts"] == 1

    await running.call("restart", name="alpha")
    restarted = (await running.status())["alpha"]
    assert restarted["state"] == "running"
    assert restarted["pid"] not in (None, first_pid, started["pid"])
    assert restarted["restarts"] == 2
    assert _gone(started["pid"])


async def test_starting_a_running_server_keeps_its_process(start_hub) -> None:
    running = await start_hub({"alpha": server()})
    pid = (await running.status())["alpha"]["pid"]

    await running.call("start", name="alpha")

    assert (await running.status())["alpha"]["pid"] == pid


@pytest.mark.parametrize("op", ["start", "stop", "restart", "logs"])
async def test_an_unknown_server_name_is_refused_with_the_configured_names(
    start_hub, op: str
) -> None:
    running = await start_hub({"beta": server(), "alpha": server()})

    with pytest.raises(client.HubRefused) as refused:
        await running.call(op, name="gamma")

    assert str(refused.value) == "no server named 'gamma' in MCP Tray (configured: alpha, beta)"


async def test_a_verb_without_a_server_name_is_refused(start_hub) -> None:
    running = await start_hub({"alpha": server()})

    with pytest.raises(client.HubRefused, match="needs a server name"):
        await running.call("restart")


async def test_an_unknown_operation_is_refused(start_hub) -> None:
    running = await start_hub({"alpha": server()})

    with pytest.raises(client.HubRefused, match="unknown operation 'explode'"):
        await running.call("explode")


# ----- logs


async def test_logs_returns_the_recent_stderr_lines(start_hub) -> None:
    running = await start_hub({"alpha": server()})
    pid = (await running.status())["alpha"]["pid"]
    serving = f"flaky server {pid} serving"
    # The server writes that line before it answers initialize, so it is in by now.

    lines = await running.call("logs", name="alpha", lines=50)

    assert any(line.endswith(serving) for line in lines), lines
    assert all(re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ", line) for line in lines)
    assert await running.call("logs", name="alpha", lines=0) == []


class Following:
    """``mcp-tray logs -f`` through the blocking client, driven from the event loop."""

    def __init__(self, running: RunningHub, name: str) -> None:
        self._running = running
        self._name = name
        self._replies: Iterator[Any] = client.stream(
            running.paths.socket_path, "logs", name=name, lines=5, follow=True
        )
        self._pending: asyncio.Future[Any] | None = None

    async def recent(self) -> list[str]:
        result: list[str] = await asyncio.to_thread(next, self._replies)
        return result

    async def next_line(self) -> str:
        self._pending = asyncio.ensure_future(asyncio.to_thread(next, self._replies))
        async with asyncio.timeout(EVENT_TIMEOUT_S):
            line: str = await asyncio.shield(self._pending)
        return line

    async def next_matching(self, pattern: re.Pattern[str]) -> re.Match[str]:
        """The next streamed line that matches, skipping any other output of the server."""
        while not (match := pattern.search(await self.next_line())):
            pass
        return match

    async def close(self) -> None:
        if self._pending is not None and not self._pending.done():
            # A thread still waits in recv(): hand it one line so that it returns.
            event = ServerLogLine(server=self._name, stamp="-", line="(test teardown)")
            self._running.hub.bus.publish(event)
            await self._pending
        await asyncio.to_thread(self._replies.close)  # type: ignore[attr-defined]


async def test_following_logs_streams_a_line_written_after_the_request(start_hub) -> None:
    running = await start_hub({"alpha": server()})
    old_pid = (await running.status())["alpha"]["pid"]
    following = Following(running, "alpha")
    try:
        recent = await following.recent()  # the hub listens from this reply on
        assert any(line.endswith(f"flaky server {old_pid} serving") for line in recent)

        await running.call("restart", name="alpha")
        new_pid = (await running.status())["alpha"]["pid"]
        serving = await following.next_matching(SERVING)

        assert int(serving[1]) == new_pid != old_pid
        assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d flaky server", serving.string)
    finally:
        await following.close()


# ----- invalid data on the socket


def _send_raw(socket_path: Path, data: bytes) -> bytes:
    """Send ``data`` on a fresh connection; everything the hub says before hanging up."""
    received = b""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        connection.settimeout(RAW_TIMEOUT_S)
        connection.connect(str(socket_path))
        try:
            connection.sendall(data)
            while chunk := connection.recv(4096):
                received += chunk
        except (ConnectionResetError, BrokenPipeError):
            pass  # Linux resets a unix socket closed with unread data: also a hang-up
    return received


@pytest.mark.parametrize(
    ("request_", "refusal"),
    [
        ({"op": "logs", "name": "alpha", "lines": None}, '"lines" must be a whole number'),
        ({"op": "logs", "name": "alpha", "lines": "ten"}, '"lines" must be a whole number'),
        ({"op": "logs", "name": "alpha", "lines": True}, '"lines" must be a whole number'),
        ({"op": "logs", "lines": 5}, "needs a server name"),
        ({"op": "secrets_changed", "name": "alpha", "secrets": 5}, '"secrets" must be a list'),
        ({"op": "secrets_changed", "name": "alpha", "secrets": [1]}, '"secrets" must be a list'),
    ],
    ids=["lines-null", "lines-text", "lines-bool", "logs-no-name", "secrets-int", "secrets-ints"],
)
async def test_a_request_with_arguments_of_the_wrong_type_gets_a_refusal(
    start_hub, request_: dict[str, Any], refusal: str
) -> None:
    running = await start_hub({"alpha": server()})
    data = protocol.encode({"v": protocol.PROTOCOL_VERSION, **request_})

    answer = protocol.decode(await asyncio.to_thread(_send_raw, running.paths.socket_path, data))

    assert answer["ok"] is False
    assert refusal in answer["error"]
    assert (await running.status())["alpha"]["state"] == "running"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"garbage\n", "not JSON"),
        (b"\xff\xfe\x00\n", "not JSON"),
        (b"[1, 2]\n", "not a JSON object"),
        (protocol.encode({"v": 99, "op": "status"}), "unsupported protocol version 99"),
        (protocol.encode({"op": "status"}), "unsupported protocol version None"),
        (b"x" * (protocol.MAX_REQUEST_BYTES + 10) + b"\n", "limit"),
    ],
    ids=["text", "binary", "array", "wrong-version", "no-version", "oversized"],
)
async def test_a_connection_that_sends_invalid_data_is_dropped_and_the_hub_still_answers(
    start_hub, caplog: pytest.LogCaptureFixture, data: bytes, reason: str
) -> None:
    running = await start_hub({"alpha": server()})
    caplog.set_level(logging.WARNING, logger="app.core.endpoint.control")

    answer = await asyncio.to_thread(_send_raw, running.paths.socket_path, data)

    assert answer == b""  # no reply at all: dropped
    dropped = [r.getMessage() for r in caplog.records if r.name == "app.core.endpoint.control"]
    assert len(dropped) == 1
    assert dropped[0].startswith("dropped a control connection")
    assert reason in dropped[0]
    assert (await running.status())["alpha"]["state"] == "running"


async def test_a_client_that_hangs_up_without_a_request_does_not_disturb_the_hub(
    start_hub,
) -> None:
    running = await start_hub({"alpha": server()})

    assert await asyncio.to_thread(_send_raw, running.paths.socket_path, b"") == b""

    assert (await running.status())["alpha"]["state"] == "running"


# ----- the socket and the instance lock


async def test_the_socket_is_private_to_the_user(start_hub) -> None:
    running = await start_hub({"alpha": server()})
    socket_path = running.paths.socket_path

    assert stat.S_ISSOCK(socket_path.stat().st_mode)
    assert stat.S_IMODE(socket_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(socket_path.parent.stat().st_mode) == 0o700


async def test_a_stale_socket_file_is_replaced_and_removed_at_shutdown(
    tray_home: Path, start_hub
) -> None:
    paths = default_paths()
    paths.ensure()
    paths.socket_path.write_text("left over by a hub that crashed")

    running = await start_hub({"alpha": server()})
    assert stat.S_ISSOCK(paths.socket_path.stat().st_mode)
    await running.hub.shutdown()

    assert not paths.socket_path.exists()
    with pytest.raises(client.HubNotRunning):
        await asyncio.to_thread(client.call, paths.socket_path, "status")


async def test_a_second_instance_lock_names_the_holder_and_release_lets_another_take_it(
    tray_home: Path,
) -> None:
    paths = default_paths()
    paths.ensure()
    holder_script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from app.core.endpoint.instance import InstanceLock\n"
        "lock = InstanceLock(Path(sys.argv[1]))\n"
        "lock.acquire()\n"
        "print('locked', flush=True)\n"
        "sys.stdin.read()\n"
        "lock.release()\n"
    )
    holder = await asyncio.create_subprocess_exec(
        PYTHON,
        "-c",
        holder_script,
        str(paths.lock_path),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        cwd=Path(__file__).parents[2],
    )
    assert holder.stdin is not None and holder.stdout is not None
    try:
        async with asyncio.timeout(RAW_TIMEOUT_S):
            assert await holder.stdout.readline() == b"locked\n"

        with pytest.raises(AlreadyRunning) as refused:
            InstanceLock(paths.lock_path).acquire()
        assert refused.value.pid == holder.pid
        assert str(refused.value) == f"MCP Tray is already running (pid {holder.pid})"
    finally:
        holder.stdin.close()
        async with asyncio.timeout(RAW_TIMEOUT_S):
            assert await holder.wait() == 0

    ours = InstanceLock(paths.lock_path)
    ours.acquire()
    try:
        assert paths.lock_path.read_text() == str(psutil.Process().pid)
        with pytest.raises(AlreadyRunning) as refused:
            InstanceLock(paths.lock_path).acquire()  # held by this very process now
        assert refused.value.pid == psutil.Process().pid
    finally:
        ours.release()

    again = InstanceLock(paths.lock_path)
    again.acquire()
    again.release()


# ----- reloading the config


async def test_an_invalid_config_edit_keeps_the_running_server_and_reports_the_problem(
    start_hub, tray_home: Path
) -> None:
    running = await start_hub({"alpha": server()})
    pid = (await running.status())["alpha"]["pid"]
    mark = len(running.events.events)
    (tray_home / "config.json").write_text(
        json.dumps({"mcpServers": {"alpha": {"comand": PYTHON}}}, indent=2)
    )

    problem = await running.events.wait_for(lambda e: isinstance(e, ConfigProblem), after=mark)
    with pytest.raises(client.HubRefused) as refused:  # the tray's "Reload config"
        await running.call("reload")
    with pytest.raises(ControlError) as raised:
        await running.hub.reload()

    assert isinstance(problem, ConfigProblem)
    assert problem.path == str(tray_home / "config.json")
    assert any(
        re.match(r".*config\.json:4:\d+: mcpServers\.alpha\.comand: unknown key", error)
        for error in problem.errors
    ), problem.errors
    for message in (str(refused.value), str(raised.value)):
        assert message.startswith("the config has errors; still running the last good one.")
        assert "comand" in message
        assert "config.json:" in message
    alpha = (await running.status())["alpha"]
    assert (alpha["state"], alpha["pid"]) == ("running", pid)
    assert not [e for e in running.events.events[mark:] if isinstance(e, ServerStateChanged)]


async def test_a_config_edit_starts_added_stops_removed_and_restarts_changed_servers(
    start_hub, tray_home: Path
) -> None:
    running = await start_hub({"alpha": server(), "beta": server(), "delta": server()})
    before = await running.status()
    mark = len(running.events.events)
    write_config(
        tray_home,
        {
            "alpha": server(),  # unchanged
            "beta": server("--exit-after-calls", "1000"),  # changed
            "gamma": server(),  # added; delta is removed
        },
    )

    await running.running("beta", after=mark)
    await running.running("gamma", after=mark)

    after = await running.status()
    assert sorted(after) == ["alpha", "beta", "gamma"]
    assert after["alpha"]["pid"] == before["alpha"]["pid"]
    assert after["beta"]["state"] == "running"
    assert after["beta"]["pid"] != before["beta"]["pid"]
    assert after["gamma"]["state"] == "running"
    assert _gone(before["beta"]["pid"])
    assert _gone(before["delta"]["pid"])
    touched = {e.server for e in running.events.events[mark:] if isinstance(e, ServerStateChanged)}
    assert "alpha" not in touched
    assert await running.call("reload") == []  # already applied: nothing left to do


async def test_reloading_an_unchanged_config_touches_nothing(start_hub) -> None:
    running = await start_hub({"alpha": server()})
    pid = (await running.status())["alpha"]["pid"]

    assert await running.call("reload") == []

    assert (await running.status())["alpha"]["pid"] == pid


async def test_attaching_to_another_apps_own_process_is_refused_readably(
    tray_home: Path,
) -> None:
    write_config(tray_home, {"solo": {**server(), "shared": False}})
    paths = default_paths()
    paths.ensure()
    hub = Hub(paths)
    await hub.start()
    try:
        instance, _ = hub.start_instance("solo")  # one app attached: it has solo#1
        request = {"v": protocol.PROTOCOL_VERSION, "op": "attach", "name": instance}
        sent = await asyncio.to_thread(_send_raw, paths.socket_path, protocol.encode(request))
        answer = protocol.decode(sent)
    finally:
        await hub.shutdown()

    assert answer["ok"] is False
    assert answer["error"] == (
        f"{instance} is another app's own process of solo; attach to solo to get one of your own"
    )
