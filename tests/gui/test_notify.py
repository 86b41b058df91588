"""The desktop notifier against a real notification daemon on a real session bus.

dunst (on Xvfb, on a private bus from dbus-run-session) shows the
notifications; tests/gui/desktop.py's BusLog watches every Notify and
CloseNotification call, the daemon's answers and its signals. The user's
presses come from dunst itself: ``dunstctl action 0`` is a click on the
notification, and ``dunstctl context`` opens dunst's action menu, whose
"dmenu" here is a script that picks "Try again".

No Qt here: the notifier runs on the test's own asyncio loop.
"""

from __future__ import annotations

import asyncio
import itertools
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from app.core.notices import INFO_TIMEOUT_MS, Notice, NoticeKind
from app.gui.notify import DesktopNotifier
from app.resources import resource_path
from tests.gui.desktop import WAIT_S, Desktop, Notified

TOOLS = ("Xvfb", "dunst", "dunstctl", "dbus-run-session", "gdbus", "xdotool")
ICON = str(resource_path("icons", "mcp-tray.svg"))

missing = [tool for tool in TOOLS if shutil.which(tool) is None]
pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(
        bool(missing),
        reason=f"not installed: {', '.join(missing)} (scripts/setup --test installs them)",
    ),
]

CRASH = Notice(
    kind=NoticeKind.CRASH_LOOP,
    server="files",
    title="files keeps crashing",
    body="It stopped with an error (status 3). MCP Tray paused it, trying again now and then.",
)
RECOVERED = Notice(
    kind=NoticeKind.RECOVERED,
    server="files",
    title="files is running again",
    body="It had stopped after crashing repeatedly.",
)
SECRET = Notice(
    kind=NoticeKind.NEEDS_SECRET,
    server="github",
    title="github needs a secret",
    body="Set GITHUB_TOKEN to start it.",
    secrets=("GITHUB_TOKEN",),
)
CONFIG = Notice(
    kind=NoticeKind.CONFIG_ERROR,
    server=None,
    title="The config file has a mistake",
    body="config.json:4:7: unknown key",
)


class User:
    """What reaches the tray from the notifier: presses and balloons, with bounded waits."""

    def __init__(self) -> None:
        self.presses: list[tuple[str | None, str]] = []  # (server, verb)
        self.balloons: list[tuple[str, str]] = []
        self._arrived = asyncio.Event()

    def on_action(self, notice: Notice, verb: str) -> None:
        self.presses.append((notice.server, verb))
        self._arrived.set()

    def balloon(self, title: str, body: str) -> None:
        self.balloons.append((title, body))
        self._arrived.set()

    async def until(self, seen: list[tuple[str | None, str]] | list[tuple[str, str]]) -> None:
        async with asyncio.timeout(WAIT_S):
            while not seen:
                self._arrived.clear()
                await self._arrived.wait()


@pytest.fixture
def desktop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Desktop]:
    pick = tmp_path / "pick-try-again"
    pick.write_text(
        "#!/bin/sh\n"
        "# dunst's menu program: reads one line per action, prints the chosen one.\n"
        'exec grep -m1 ",restart]"\n'
    )
    pick.chmod(0o755)
    config = tmp_path / "dunstrc"
    config.write_text(f"[global]\n    dmenu = {pick}\n")
    desktop = Desktop(tray=False, dunst_config=config)
    try:
        desktop.wait_for_daemon()
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", desktop.env["DBUS_SESSION_BUS_ADDRESS"])
        yield desktop
    finally:
        desktop.close()


@pytest.fixture
def user() -> User:
    return User()


@pytest.fixture
async def notifier(user: User) -> AsyncIterator[DesktopNotifier]:
    notifier = DesktopNotifier(balloon=user.balloon, on_action=user.on_action, icon=ICON)
    yield notifier
    await notifier.close()


async def notified(desktop: Desktop, title: str, *, after: int = 0) -> Notified:
    return await asyncio.to_thread(desktop.bus_log.wait_for_notified, title, after=after)


async def run(desktop: Desktop, *command: str) -> str:
    return await asyncio.to_thread(desktop.run, *command)


async def on_screen(desktop: Desktop) -> None:
    """Until dunst has drawn a notification (its actions act on what it has drawn)."""
    await run(desktop, "xdotool", "search", "--sync", "--onlyvisible", "--class", "Dunst")


_probes = itertools.count()


async def caught_up(notifier: DesktopNotifier, desktop: Desktop) -> None:
    """Until the notifier has handled every signal the daemon sent before now.

    A probe notice is shown and withdrawn: the withdraw needs the daemon's
    answer to the show, which reaches the notifier after every signal the
    daemon sent earlier, and its signals are handled first (in arrival order).
    """
    probe = Notice(
        kind=NoticeKind.RESTARTED, server=f"probe-{next(_probes)}", title="probe", body="."
    )
    count = len(desktop.bus_log.notified())
    notifier.show(probe)
    notifier.withdraw(probe.slot)
    shown = await notified(desktop, "probe", after=count)
    await asyncio.to_thread(desktop.bus_log.wait_for_close, shown.id)


async def test_a_notice_goes_out_with_the_app_icon_its_urgency_and_each_action_once(
    desktop: Desktop, notifier: DesktopNotifier
) -> None:
    notifier.show(CRASH)
    notifier.show(CONFIG)
    crash = await notified(desktop, CRASH.title)
    config = await notified(desktop, CONFIG.title)
    notifier.show(RECOVERED)
    recovered = await notified(desktop, RECOVERED.title)

    assert crash.icon == ICON and Path(crash.icon).is_file()
    assert (crash.urgency, crash.timeout_ms) == (2, 0)  # critical, stays
    assert crash.actions == ["default", "Show logs", "restart", "Try again"]
    assert (config.urgency, config.timeout_ms) == (2, 0)
    assert config.actions == ["default", "Open config"]
    assert (recovered.urgency, recovered.timeout_ms) == (1, INFO_TIMEOUT_MS)
    assert recovered.actions == ["default", "Show logs"]


async def test_a_newer_notice_about_the_same_server_replaces_the_one_on_screen(
    desktop: Desktop, notifier: DesktopNotifier
) -> None:
    notifier.show(CRASH)
    notifier.show(SECRET)
    notifier.show(RECOVERED)
    crash = await notified(desktop, CRASH.title)
    secret = await notified(desktop, SECRET.title)
    recovered = await notified(desktop, RECOVERED.title)

    assert (crash.replaces_id, secret.replaces_id) == (0, 0)
    assert secret.id != crash.id
    assert recovered.replaces_id == crash.id
    assert recovered.id == crash.id  # the daemon replaced it in place
    assert await run(desktop, "dunstctl", "count", "waiting") == "0"


async def test_withdrawing_closes_the_notification_and_the_next_notice_starts_afresh(
    desktop: Desktop, notifier: DesktopNotifier
) -> None:
    notifier.show(CRASH)
    notifier.withdraw("files")
    notifier.withdraw("weather")  # nothing on screen for it: nothing to close
    notifier.show(RECOVERED)
    crash = await notified(desktop, CRASH.title)
    recovered = await notified(desktop, RECOVERED.title)
    reason = await asyncio.to_thread(
        desktop.bus_log.wait_for_signal, "NotificationClosed", crash.id
    )
    await caught_up(notifier, desktop)

    assert reason == (crash.id, 3)  # closed by a call to CloseNotification
    assert recovered.replaces_id == 0
    assert desktop.bus_log.closed_by_the_app()[0] == crash.id
    assert len(desktop.bus_log.closed_by_the_app()) == 2  # and the probe's


async def test_closing_the_notifier_withdraws_every_notice_still_on_screen(
    desktop: Desktop, notifier: DesktopNotifier
) -> None:
    for notice in (CRASH, SECRET, CONFIG):
        notifier.show(notice)
    shown = [await notified(desktop, n.title) for n in (CRASH, SECRET, CONFIG)]

    await notifier.close()

    assert sorted(desktop.bus_log.closed_by_the_app()) == sorted(n.id for n in shown)
    assert await run(desktop, "dunstctl", "count", "displayed") == "0"


async def test_a_click_on_the_notice_runs_its_first_action_once(
    desktop: Desktop, notifier: DesktopNotifier, user: User
) -> None:
    notifier.show(CRASH)
    crash = await notified(desktop, CRASH.title)
    await on_screen(desktop)

    await run(desktop, "dunstctl", "action", "0")
    await user.until(user.presses)
    await caught_up(notifier, desktop)

    assert desktop.bus_log.signals("ActionInvoked") == [(crash.id, "default")]
    assert user.presses == [("files", "logs")]


async def test_an_action_chosen_from_the_daemons_menu_runs_that_verb_once(
    desktop: Desktop, notifier: DesktopNotifier, user: User
) -> None:
    notifier.show(CRASH)
    crash = await notified(desktop, CRASH.title)
    await on_screen(desktop)

    await run(desktop, "dunstctl", "context")  # the menu program picks "Try again"
    await user.until(user.presses)
    await caught_up(notifier, desktop)

    assert desktop.bus_log.signals("ActionInvoked") == [(crash.id, "restart")]
    assert user.presses == [("files", "restart")]


async def test_a_notice_the_user_dismissed_is_forgotten(
    desktop: Desktop, notifier: DesktopNotifier
) -> None:
    notifier.show(CRASH)
    crash = await notified(desktop, CRASH.title)
    await on_screen(desktop)

    await run(desktop, "dunstctl", "close")
    reason = await asyncio.to_thread(
        desktop.bus_log.wait_for_signal, "NotificationClosed", crash.id
    )
    await caught_up(notifier, desktop)
    notifier.withdraw("files")
    notifier.show(RECOVERED)
    recovered = await notified(desktop, RECOVERED.title)

    assert reason == (crash.id, 2)  # dismissed by the user
    assert recovered.replaces_id == 0
    assert crash.id not in desktop.bus_log.closed_by_the_app()


async def test_without_a_session_bus_notices_fall_back_to_the_balloon(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, user: User, notifier: DesktopNotifier
) -> None:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path / 'no-bus'}")

    notifier.show(CRASH)
    notifier.withdraw("files")  # a balloon cannot be taken back: nothing happens
    await user.until(user.balloons)
    await notifier.close()

    assert user.balloons == [(CRASH.title, CRASH.body)]
