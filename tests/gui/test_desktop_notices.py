"""The real app's notifications on a real desktop: replaced, withdrawn, and closed at quit.

``python -m app`` runs on Xvfb with trayer and dunst on a private D-Bus
session (tests/gui/desktop.py); the bus log records every Notify and
CloseNotification call, dunst's answers and its signals. Three servers:
``files`` crashes until a file exists (tests/servers/mended.py), ``weather``
and ``maps`` crash at every start.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.gui.desktop import WAIT_S, BusLog, Desktop, Notified
from tests.helpers import FLAKY, PYTHON, SERVERS
from tests.hubprocess import HubProcess, mcp_tray

TOOLS = ("Xvfb", "trayer", "dunst", "dunstctl", "dbus-run-session", "gdbus")
CRITICAL = 2
EXPIRED, CLOSED_BY_A_CALL = 1, 3  # NotificationClosed's reasons

missing = [tool for tool in TOOLS if shutil.which(tool) is None]
pytestmark = pytest.mark.skipif(
    bool(missing),
    reason=f"not installed: {', '.join(missing)} (scripts/setup --test installs them)",
)

FAST = {"maxFailures": 2, "initialDelayMs": 10, "maxDelayMs": 50}


@pytest.fixture
def desktop() -> Iterator[Desktop]:
    desktop = Desktop()
    try:
        desktop.wait_for_daemon()
        yield desktop
    finally:
        desktop.close()


def on_screen(log: BusLog) -> list[Notified]:
    """What the daemon still shows: the latest Notify per id, less those closed since."""
    latest = {n.id: n for n in log.notified()}
    closed = {body[0] for body in log.signals("NotificationClosed")}
    return [n for n in latest.values() if n.id not in closed]


def test_a_crash_notice_is_replaced_when_the_server_recovers_and_withdrawn_when_it_stops(
    desktop: Desktop, tray_home: Path
) -> None:
    mended = tray_home / "settings-restored"
    servers = {
        "files": {
            "command": PYTHON,
            "args": [str(SERVERS / "mended.py"), str(mended)],
            "restart": {**FAST, "reprobeMs": 200},  # re-probes find the mended file soon
        },
        "weather": {"command": PYTHON, "args": [str(FLAKY), "--crash-at-start"], "restart": FAST},
        "maps": {"command": PYTHON, "args": [str(FLAKY), "--crash-at-start"], "restart": FAST},
    }
    (tray_home / "config.json").write_text(json.dumps({"mcpServers": servers}))
    log = desktop.bus_log
    app = HubProcess(tray_home, env=desktop.env, command=())  # plain `mcp-tray`: the tray
    app.expect_warnings(r"(files|weather|maps) entered crash-loop")
    try:
        crashing = log.wait_for_notified("files keeps crashing")
        weather = log.wait_for_notified("weather keeps crashing")
        maps = log.wait_for_notified("maps keeps crashing")

        stopped = mcp_tray(tray_home, "stop", "weather", env=desktop.env)
        log.wait_for_close(weather.id)
        mended.touch()
        running_again = log.wait_for_notified("files is running again")
        left_on_screen = on_screen(log)

        quit_ = mcp_tray(tray_home, "quit", env=desktop.env)
        exit_code = app.process.wait(WAIT_S)
        log.wait_for_close(maps.id)
    except AssertionError as error:
        app.stop()
        raise AssertionError(f"{error}\nThe app's log:\n" + "\n".join(app.lines[-40:])) from None
    finally:
        app.stop()
    unexpected = app.unexpected_warnings()
    assert not unexpected, "the app logged trouble no test expected:\n" + "\n".join(unexpected)

    assert (crashing.urgency, weather.urgency, maps.urgency) == (CRITICAL,) * 3
    assert stopped.returncode == 0, stopped.stderr
    assert running_again.replaces_id == crashing.id  # replaced in place, not beside it
    assert running_again.urgency != CRITICAL
    assert [n.title for n in left_on_screen if n.urgency == CRITICAL] == ["maps keeps crashing"]
    assert quit_.returncode == 0 and exit_code == 0, "\n".join(app.lines[-20:])
    # At quit, whatever was still on screen was closed by MCP Tray (unless it expired).
    expired = {b[0] for b in log.signals("NotificationClosed") if b[1] == EXPIRED}
    closed_by_the_app = set(log.closed_by_the_app())
    assert {n.id for n in left_on_screen} - expired <= closed_by_the_app
    assert [b for b in log.signals("NotificationClosed") if b[0] == maps.id] == [
        (maps.id, CLOSED_BY_A_CALL)
    ]
    assert desktop.run("dunstctl", "count", "displayed") == "0"
    assert all(n.icon.endswith("mcp-tray.svg") for n in log.notified())
    assert not [n.title for n in log.notified() if "crash-loop" in n.title or "status" in n.title]
