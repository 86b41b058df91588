"""Which hub events become desktop notices, and how a flapping server is kept quiet.

The events are the ones the supervisor publishes, in the order it publishes
them; tests/gui checks the same with real servers through the tray.
"""

from __future__ import annotations

import asyncio

import pytest

from app.core.events import (
    ConfigProblem,
    EventBus,
    SecretsMissing,
    ServerExited,
    ServerStateChanged,
)
from app.core.notices import Notice, NoticeKind, Notices

pytestmark = pytest.mark.anyio

WAIT_S = 5.0


class Desktop:
    """Collects notices; ``next()`` waits for one."""

    def __init__(self) -> None:
        self.shown: list[Notice] = []
        self._arrived = asyncio.Event()

    def __call__(self, notice: Notice) -> None:
        self.shown.append(notice)
        self._arrived.set()

    async def next(self, count: int) -> Notice:
        async with asyncio.timeout(WAIT_S):
            while len(self.shown) < count:
                self._arrived.clear()
                await self._arrived.wait()
        return self.shown[count - 1]


def state(server: str, new: str, previous: str, error: str | None = None) -> ServerStateChanged:
    return ServerStateChanged(
        server=server, state=new, previous=previous, pid=None, restarts=0, last_error=error
    )


def crash(server: str, code: int = 3, line: str = "fatal: database locked") -> ServerExited:
    return ServerExited(
        server=server, exit_code=code, signal=None, planned=False, last_stderr=("x", line)
    )


def crash_and_recover(bus: EventBus, server: str = "github") -> None:
    bus.publish(crash(server))
    bus.publish(state(server, "backoff", "running"))
    bus.publish(state(server, "starting", "backoff"))
    bus.publish(state(server, "running", "starting"))


async def test_a_crash_loop_is_one_notice_with_the_last_line_however_often_it_re_parks() -> None:
    bus, desktop = EventBus(), Desktop()
    Notices(bus, desktop)

    for _ in range(3):  # three failed starts, none of them reaching running
        bus.publish(state("github", "starting", "backoff"))
        bus.publish(crash("github"))
        bus.publish(state("github", "backoff", "starting"))
    bus.publish(state("github", "crash-loop", "starting", "exited with status 3"))
    for _ in range(2):  # slow re-probes that park it again
        bus.publish(state("github", "starting", "crash-loop"))
        bus.publish(state("github", "crash-loop", "starting", "exited with status 3"))

    (notice,) = desktop.shown
    assert notice.kind is NoticeKind.CRASH_LOOP
    assert notice.title == "github keeps crashing"
    assert notice.body == (
        "Stopped restarting it: exited with status 3.\nLast output: fatal: database locked"
    )


async def test_coming_back_from_a_crash_loop_is_told_once() -> None:
    bus, desktop = EventBus(), Desktop()
    Notices(bus, desktop)
    bus.publish(state("github", "crash-loop", "starting", "exited with status 3"))

    bus.publish(state("github", "starting", "crash-loop"))
    bus.publish(state("github", "running", "starting"))

    assert [n.kind for n in desktop.shown] == [NoticeKind.CRASH_LOOP, NoticeKind.RECOVERED]


async def test_a_crash_the_hub_recovered_from_is_told_with_its_exit_and_last_line() -> None:
    bus, desktop = EventBus(), Desktop()
    Notices(bus, desktop)

    crash_and_recover(bus)

    (notice,) = desktop.shown
    assert notice.title == "github crashed and was restarted"
    assert notice.body == "Exited with status 3. Last output: fatal: database locked"


async def test_a_flapping_server_gets_one_notice_and_then_a_summary_per_window() -> None:
    bus, desktop = EventBus(), Desktop()
    Notices(bus, desktop, window_s=0.2)

    for _ in range(4):
        crash_and_recover(bus)
    summary = await desktop.next(2)

    assert len(desktop.shown) == 2
    assert summary.title == "github keeps crashing"
    assert summary.body == "It crashed and was restarted 3 more times in the last minute."


async def test_restart_notices_can_be_muted() -> None:
    bus, desktop = EventBus(), Desktop()
    notices = Notices(bus, desktop)
    notices.mute_restarts = True

    crash_and_recover(bus)
    bus.publish(state("github", "crash-loop", "starting", "exited with status 3"))

    assert [n.kind for n in desktop.shown] == [NoticeKind.CRASH_LOOP]  # never muted


async def test_planned_stops_and_restarts_are_not_crashes() -> None:
    bus, desktop = EventBus(), Desktop()
    Notices(bus, desktop)

    bus.publish(ServerExited(server="github", exit_code=0, signal=None, planned=True))
    bus.publish(state("github", "running", "starting"))
    bus.publish(crash("github"))
    bus.publish(state("github", "stopped", "stopping"))
    bus.publish(state("github", "running", "starting"))

    assert desktop.shown == []


async def test_a_missing_secret_is_told_once_per_wait_with_its_names() -> None:
    bus, desktop = EventBus(), Desktop()
    Notices(bus, desktop)

    bus.publish(SecretsMissing(server="github", names=("GITHUB_TOKEN",)))
    bus.publish(SecretsMissing(server="github", names=("GITHUB_TOKEN",)))

    (notice,) = desktop.shown
    assert (notice.kind, notice.secrets) == (NoticeKind.NEEDS_SECRET, ("GITHUB_TOKEN",))
    assert notice.body == "Set GITHUB_TOKEN to start it."


async def test_a_config_error_names_file_line_and_column_and_is_not_repeated() -> None:
    bus, desktop = EventBus(), Desktop()
    Notices(bus, desktop)
    error = '/home/ada/.config/mcp-tray/config.json:4:7: mcpServers.a.comand: unknown key "comand"'

    bus.publish(ConfigProblem(path="/x", errors=(error, "second problem")))
    bus.publish(ConfigProblem(path="/x", errors=(error, "second problem")))

    (notice,) = desktop.shown
    assert notice.kind is NoticeKind.CONFIG_ERROR
    assert notice.body.startswith(f"{error} (and 1 more)\n")
