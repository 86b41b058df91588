"""The real app on a real X display, driven as a person would: clicks and keys.

Xvfb is the display, trayer the system tray (XEmbed), dunst the notification
daemon and, where a test needs one, gnome-keyring the Secret Service, all on
one private D-Bus session (tests/gui/desktop.py). The app is ``python -m app``
itself. xdotool presses the keys and the mouse; the tests wait on the app's
log lines, on the notification calls on the bus, and on the windows coming
and going (xev), never on time. What a menu or a window shows is read from
screenshots by colour: a state's icon (a green dot runs, a grey ring was
stopped), the config banner's pink. Screenshots land in ``test-artifacts/``
(or ``$MCP_TRAY_TEST_ARTIFACTS``); the README's come from the last test.

``scripts/setup --test`` installs these packages; the tests skip, saying
which are missing, only where they could not be installed.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from keyring.backends import SecretService

from app.core.choices import UserChoices
from app.core.installation import demo_command
from app.core.overview import Colour
from app.core.paths import default_paths
from tests.gui.desktop import SCREEN, WAIT_S, Box, Desktop, Picture
from tests.helpers import FLAKY, PYTHON, SERVERS
from tests.hubprocess import HubProcess, mcp_tray, survivors

TOOLS = (
    "Xvfb", "trayer", "dunst", "dunstctl", "dbus-run-session", "dbus-monitor", "gdbus",
    "xdotool", "xev", "xprop", "import", "convert",
)  # fmt: skip
CRITICAL = 2  # the freedesktop urgency
BANNER = "#fff1f0"  # the config banner's background (app.gui.windows.ConfigBanner)
BANNER_FUZZ = "1%"  # a pale pink, a shade away from the window's white and grey

missing = [tool for tool in TOOLS if shutil.which(tool) is None]
pytestmark = pytest.mark.skipif(
    bool(missing),
    reason=f"not installed: {', '.join(missing)} (scripts/setup --test installs them)",
)
needs_keyring = pytest.mark.skipif(
    shutil.which("gnome-keyring-daemon") is None,
    reason="gnome-keyring-daemon not installed (scripts/setup --test installs it)",
)


@pytest.fixture
def open_desktop() -> Iterator[Callable[..., Desktop]]:
    """Opens a Desktop (Desktop's options) with its notification daemon up; closes it after."""
    opened: list[Desktop] = []

    def open_(**options: Any) -> Desktop:
        desktop = Desktop(**options)
        opened.append(desktop)
        desktop.wait_for_daemon()
        return desktop

    yield open_
    for desktop in opened:
        desktop.close()


@pytest.fixture
def desktop(open_desktop: Callable[..., Desktop]) -> Desktop:
    return open_desktop()


def configure(home: Path, servers: dict[str, Any], *, welcomed: bool = True) -> Path:
    """The config at ``home``; ``welcomed``: the first-run welcome was seen already."""
    config = home / "config.json"
    config.write_text(json.dumps({"mcpServers": servers}, indent=2))
    if welcomed:
        UserChoices(default_paths().choices_file).set_welcome_shown()
    return config


@contextlib.contextmanager
def tray_app(home: Path, desktop: Desktop) -> Iterator[HubProcess]:
    """Plain ``mcp-tray`` (the tray) on ``desktop``; a failed wait shows the app's log, and
    a WARNING or worse that the test did not claim (``app.expect_warnings``) fails it."""
    app = HubProcess(home, env=desktop.env, command=())
    try:
        yield app
    except AssertionError as error:
        app.stop()
        raise AssertionError(f"{error}\nThe app's log:\n" + "\n".join(app.lines[-40:])) from None
    finally:
        app.stop()
    unexpected = app.unexpected_warnings()
    assert not unexpected, "the app logged trouble no test expected:\n" + "\n".join(unexpected)


def open_tray_menu(desktop: Desktop) -> int:
    """Right-click the icon in trayer's panel; the menu's window once it shows, with the
    pointer moved off it, so that no entry is chosen until a key chooses one."""
    spot = desktop.geometry(desktop.wait_for_window("--name", "^panel$", visible=False))
    mark = desktop.windows.mark()
    # No --sync: it waits for the pointer to move, forever if it is there already.
    desktop.run(
        "xdotool", "mousemove", str(spot.x + spot.width // 2), str(spot.y + spot.height // 2),
        "click", "3",
    )  # fmt: skip
    menu = desktop.wait_for_menu(after=mark)
    desktop.run("xdotool", "mousemove", "0", str(SCREEN.height - 1))
    return menu


def press(desktop: Desktop, *keys: str) -> None:
    desktop.run("xdotool", "key", *keys)


def open_window(desktop: Desktop, home: Path) -> int:
    """Start ``mcp-tray`` again, as from the applications menu: the running one's window."""
    again = mcp_tray(home, env=desktop.env)
    assert again.returncode == 0 and "already running" in again.stdout, again
    return desktop.wait_for_window("--name", "^MCP Tray$")


def keyring_value(desktop: Desktop, server: str, name: str) -> str | None:
    """The secret as the keyring holds it, read as any other program of the user could."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DBUS_SESSION_BUS_ADDRESS", desktop.env["DBUS_SESSION_BUS_ADDRESS"])
        value: str | None = SecretService.Keyring().get_password(f"mcp-tray/{server}", name)
        return value


def test_the_tray_icon_appears_a_crash_loop_reaches_the_daemon_and_the_menu_opens(
    desktop: Desktop, tray_home: Path
) -> None:
    servers = {
        "notes": {"command": PYTHON, "args": [str(FLAKY)]},
        "weather": {
            "command": PYTHON,
            "args": [str(FLAKY), "--crash-at-start"],
            "restart": {"maxFailures": 2, "initialDelayMs": 10},
        },
    }
    configure(tray_home, servers, welcomed=False)
    with tray_app(tray_home, desktop) as app:
        app.expect_warnings(r"weather entered crash-loop")
        app.wait_for_line(r"tray icon shown")
        app.wait_for_line(r"notes is running")
        app.wait_for_line(r"weather entered crash-loop")
        desktop.notify_calls.wait_for('string "weather keeps crashing"')
        displayed = int(desktop.run("dunstctl", "count", "displayed"))
        welcome = desktop.wait_for_window("--name", "^Welcome to MCP Tray$")
        menu = open_tray_menu(desktop)
        where = desktop.geometry(menu)
        shot = desktop.wait_for_picture(
            "crash-loop-menu.png",
            "notes' green dot and weather's red warning in the menu",
            lambda p: (
                p.count(Colour.GREEN, within=where) > 0 and p.count(Colour.RED, within=where) > 0
            ),
        )
        press(desktop, "Down", "Return")  # the first entry, "MCP Tray", opens the window
        window = desktop.wait_for_window("--name", "^MCP Tray$")
        desktop.screenshot("crash-loop-window.png")
        desktop.run("xdotool", "windowfocus", "--sync", str(window), "key", "ctrl+Tab")
        desktop.screenshot("crash-loop-logs.png")
        servers_running = app.descendants()
        open_tray_menu(desktop)
        press(desktop, "Up", "Return")  # the last entry: Quit
        exit_code = app.process.wait(WAIT_S)

    assert displayed >= 1  # dunst received the notice and shows it
    calls = "\n".join(desktop.notify_calls.seen)
    assert calls.count('string "weather keeps crashing"') == 1
    assert welcome  # the first run says hello
    assert shot.path.stat().st_size > 0
    assert exit_code == 0, "\n".join(app.lines[-20:])
    assert "hub stopped; every server has ended" in app.lines[-1], "\n".join(app.lines)
    assert servers_running and survivors(servers_running, within=WAIT_S) == []


def test_an_open_menu_stays_open_and_shows_a_state_changed_from_outside(
    desktop: Desktop, tray_home: Path
) -> None:
    configure(tray_home, {"notes": {"command": PYTHON, "args": [str(FLAKY)]}})
    with tray_app(tray_home, desktop) as app:
        app.wait_for_line(r"tray icon shown")
        app.wait_for_line(r"notes is running")
        menu = open_tray_menu(desktop)
        where = desktop.geometry(menu)
        mark = desktop.windows.mark()
        # "MCP Tray", then notes' submenu (the status line between is not an action).
        press(desktop, "Down", "Down", "Right")
        submenu = desktop.wait_for_menu(after=mark)
        running = desktop.wait_for_picture(
            "menu-notes-running.png",
            "notes' green dot",
            lambda p: p.count(Colour.GREEN, within=where) > 0,
        )
        _, dot = running.find(Colour.GREEN, within=where)
        assert dot is not None

        changed = desktop.windows.mark()
        stopped = mcp_tray(tray_home, "stop", "notes", env=desktop.env)
        after = desktop.wait_for_picture(
            "menu-notes-stopped.png",
            "a grey ring where notes' green dot was",
            lambda p: stopped_ring(p, dot.moved(where, desktop.geometry(menu))),
        )
        visible = desktop.visible("--maxdepth", "1", "--class", "MCP Tray")
        grown = desktop.geometry(menu)
        menu_events = desktop.windows.since(changed, menu)
        submenu_events = desktop.windows.since(changed, submenu)
        press(desktop, "Escape", "Escape")  # the submenu, then the menu
        desktop.windows.wait_for_unmap(menu, after=changed)
        (row,) = app.status()

    assert stopped.returncode == 0, stopped.stderr
    assert row["state"] == "stopped"
    assert {menu, submenu} <= set(visible)  # the same windows, still on screen
    assert "UnmapNotify" not in menu_events + submenu_events
    assert "ConfigureNotify" in submenu_events  # resized in place: "Stopped by you", "Start"
    assert after.path.stat().st_size > 0
    # The menu widened for "notes — Stopped by you"; at a tray in the top-right corner it
    # keeps its right edge on the screen (app.gui.menus LiveMenu._keep_in_place).
    assert grown.x + grown.width <= SCREEN.width, f"off the screen: {grown}"


def test_a_server_pasted_into_add_a_server_from_the_menu_runs_and_shows_in_the_menu(
    desktop: Desktop, tray_home: Path
) -> None:
    """Add a server… from the tray menu, a command line typed into its paste box, Save
    and start (Alt+S), and the new server runs: the dialog says so, the menu shows it."""
    configure(tray_home, {"notes": {"command": PYTHON, "args": [str(FLAKY)]}})
    with tray_app(tray_home, desktop) as app:
        app.wait_for_line(r"notes is running")
        open_tray_menu(desktop)
        # "MCP Tray", notes' submenu, then "Add a server…" (the status line is not an action).
        press(desktop, "Down", "Down", "Down", "Return")
        dialog = desktop.wait_for_window("--name", "^Add a server$")
        desktop.run("xdotool", "type", "--delay", "1", f"{PYTHON} {FLAKY}")
        app.wait_for_line(r"the pasted text holds 1 server")
        desktop.screenshot("add-server-pasted.png", box=desktop.geometry(dialog))
        press(desktop, "alt+s")
        app.wait_for_line(r"flaky saved from the Add dialog")
        app.wait_for_line(r"flaky is running")
        told = desktop.wait_for_window("--name", "^Change flaky$")
        desktop.screenshot("add-server-running.png", box=desktop.geometry(told))
        press(desktop, "Escape")
        desktop.windows.wait_for_unmap(told)
        menu = open_tray_menu(desktop)
        where = desktop.geometry(menu)
        shown = desktop.wait_for_picture(
            "add-server-menu.png",
            "two green dots in the menu: notes and the new flaky",
            lambda p: len(_green_rows(p, where)) >= 2,
        )
        press(desktop, "Escape")
        rows = {row["name"]: row["state"] for row in app.status()}
        entry = json.loads((tray_home / "config.json").read_text())["mcpServers"]["flaky"]

    assert rows == {"notes": "running", "flaky": "running"}
    assert entry == {"command": PYTHON, "args": [str(FLAKY)]}
    assert shown.path.stat().st_size > 0


def _green_rows(picture: Picture, within: Box) -> list[int]:
    """The menu rows (by height) that hold a green dot."""
    rows: set[int] = set()
    for y in range(within.y, within.y + within.height, 4):
        band = Box(within.x, y, within.width, 4)
        if picture.count(Colour.GREEN, within=band) > 0:
            rows.add((y - within.y) // 20)
    return sorted(rows)


def stopped_ring(picture: Picture, dot: Box) -> bool:
    """Where the dot is: grey, no green, and hollow (a ring, not the half of "Stopping…")."""
    centre = Box(dot.x + dot.width // 2 - 1, dot.y + dot.height // 2 - 1, 2, 2)
    around = dot.grown(2)
    return (
        picture.count(Colour.GREEN, within=around) == 0
        and picture.count(Colour.GREY, within=around) > 0
        and picture.count(Colour.GREY, within=centre) == 0
    )


@needs_keyring
def test_the_needs_a_secret_notice_opens_the_dialog_and_the_typed_secret_starts_the_server(
    open_desktop: Callable[..., Desktop], tray_home: Path
) -> None:
    desktop = open_desktop(keyring=True)
    entry = {
        "command": PYTHON,
        "args": [str(SERVERS / "secretive.py")],
        "env": {"API_TOKEN": "${secret:API_TOKEN}"},
    }
    configure(tray_home, {"api": entry})
    typed = "tok-typed-by-a-person-1234"
    log = desktop.bus_log
    with tray_app(tray_home, desktop) as app:
        app.expect_warnings(r"api needs the secret API_TOKEN")
        needs = log.wait_for_notified("api needs a secret")
        desktop.wait_for_window("--class", "Dunst")  # drawn: its actions act on what is drawn
        desktop.run("dunstctl", "action", "0")  # a click on the notice
        dialog = desktop.wait_for_window("--name", "^Set a secret for api$")
        focused = int(desktop.run("xdotool", "getwindowfocus"))
        desktop.run("xdotool", "type", "--delay", "1", typed)
        desktop.screenshot("secret-typed.png", box=desktop.geometry(dialog))
        press(desktop, "Return")
        app.wait_for_line(r"API_TOKEN stored for api")
        app.wait_for_line(r"api is running")
        log.wait_for_close(needs.id)
        desktop.screenshot("secret-saved.png", box=desktop.geometry(dialog))
        stored = keyring_value(desktop, "api", "API_TOKEN")

    assert needs.actions[:2] == ["default", "Set secret…"]
    assert log.signals("ActionInvoked") == [(needs.id, "default")]
    assert focused == dialog  # the keys went to the dialog, to its masked field
    assert stored == typed
    assert not [line for line in app.lines if typed in line]


def test_a_mistake_in_the_config_shows_a_banner_and_the_menu_says_so_until_it_is_fixed(
    desktop: Desktop, tray_home: Path
) -> None:
    notes = {"command": PYTHON, "args": [str(FLAKY)]}
    config = configure(tray_home, {"notes": notes})
    log = desktop.bus_log
    with tray_app(tray_home, desktop) as app:
        app.expect_warnings(r"config not applied")
        app.wait_for_line(r"tray icon shown")
        app.wait_for_line(r"notes is running")
        menu = open_tray_menu(desktop)
        plain_menu = desktop.geometry(menu)
        press(desktop, "Escape")
        desktop.windows.wait_for_unmap(menu)
        shown = open_window(desktop, tray_home)
        window = desktop.geometry(shown)
        top = Box(window.x, window.y, window.width // 2, window.height // 3)  # clear of notices

        config.write_text(json.dumps({"mcpServers": {"notes": {**notes, "disabeld": True}}}))
        mistake = log.wait_for_notified("The config file has a mistake")
        banner = desktop.wait_for_picture(
            "config-mistake-window.png",
            "the config banner",
            lambda p: p.count(BANNER, within=top, fuzz=BANNER_FUZZ) > 0,
        )
        menu = open_tray_menu(desktop)
        mistaken_menu = desktop.geometry(menu)
        desktop.screenshot("config-mistake-menu.png")
        press(desktop, "Escape")
        desktop.windows.wait_for_unmap(menu)

        config.write_text(json.dumps({"mcpServers": {"notes": notes}}))
        fixed = log.wait_for_notified("The config is fixed")
        desktop.wait_for_picture(
            "config-fixed-window.png",
            "the window without the banner",
            lambda p: p.count(BANNER, within=top, fuzz=BANNER_FUZZ) == 0,
        )
        still_shown = desktop.visible("--name", "^MCP Tray$")
        menu = open_tray_menu(desktop)
        fixed_menu = desktop.geometry(menu)
        press(desktop, "Escape")
        (row,) = app.status()

    assert "did you mean" in mistake.body and "disabled" in mistake.body
    assert banner.path.stat().st_size > 0
    # Two more lines at the top: the mistake, and "Open config to fix it".
    assert mistaken_menu.height > plain_menu.height
    assert fixed.replaces_id == mistake.id  # the same notice, now good news
    assert shown in still_shown  # the banner went, not the window
    assert fixed_menu.height == plain_menu.height
    assert row["state"] == "running"  # the mistake never took the server down


def test_without_a_tray_the_window_shows_and_gives_way_to_the_icon_when_a_tray_starts(
    open_desktop: Callable[..., Desktop], tray_home: Path
) -> None:
    desktop = open_desktop(tray=False)
    configure(tray_home, {"notes": {"command": PYTHON, "args": [str(FLAKY)]}})
    with tray_app(tray_home, desktop) as app:
        app.wait_for_line(r"no system tray on this desktop yet; showing the window instead")
        window = desktop.wait_for_window("--name", "^MCP Tray$")
        app.wait_for_line(r"notes is running")
        desktop.screenshot("no-tray-window.png")
        mark = desktop.windows.mark()

        desktop.start_tray()
        app.wait_for_line(r"tray icon shown")
        desktop.windows.wait_for_unmap(window, after=mark)
        told = desktop.bus_log.wait_for_notified("MCP Tray is in your system tray now")
        panel = desktop.geometry(desktop.wait_for_window("--name", "^panel$", visible=False))
        desktop.wait_for_picture(
            "tray-appeared.png",
            "the running icon in trayer's panel",
            lambda p: p.count(Colour.GREEN, within=panel) > 0,
        )
        still_visible = desktop.visible("--name", "^MCP Tray$")

    assert window not in still_visible
    assert told.urgency != CRITICAL  # good news, not an alarm


def test_a_server_that_fails_at_once_is_supervised_in_the_tray_as_under_serve(
    open_desktop: Callable[..., Desktop], tray_home: Path
) -> None:
    """On a real display (Qt's xcb loop), a server that exits within milliseconds lost its
    supervisor: asyncio had closed its stdin pipe before MCP Tray kept a copy of it."""
    boom = {
        "command": "sh",
        "args": ["-c", "echo boom >&2; exit 4"],
        "restart": {"initialDelayMs": 10, "maxFailures": 3},
    }
    desktop = open_desktop(tray=False)  # the window shows at start, with the welcome
    configure(tray_home, {"boom": boom}, welcomed=False)
    with tray_app(tray_home, desktop) as app:
        app.expect_warnings(r"boom entered crash-loop")
        parked = app.wait_for_line(r"boom entered crash-loop after (\d+) failed start")
        desktop.bus_log.wait_for_notified("boom keeps crashing")

    assert parked.group(1) == "3"
    assert not [line for line in app.lines if "supervising boom failed" in line], app.lines


README_SHOTS = "screenshots"  # test-artifacts/screenshots/: copied by hand to docs/screenshots/
LOGO_BLUE = "#3949ab"  # the MCP Tray logo's
SELECTED_ROW = "#308cc6"  # Fusion's highlight behind a selected row
LIFECYCLE_BLUE = "#0b5cad"  # app.gui.logs: MCP Tray's own lines in a server's log
NOTICE_ICON_PX = 40
NOTICES_DUNSTRC = f"""\
[global]
    origin = bottom-right
    offset = 12x12
    width = 360
    font = DejaVu Sans 9
    max_icon_size = {NOTICE_ICON_PX}
    show_indicators = no
    frame_width = 1
    padding = 10
    horizontal_padding = 10
    gap_size = 6
    corner_radius = 6
[urgency_normal]
    background = "#ffffff"
    foreground = "#1f2328"
    frame_color = "#8c959f"
[urgency_critical]
    background = "#ffffff"
    foreground = "#1f2328"
    frame_color = "#cf222e"
"""


@needs_keyring
def test_the_readme_screenshots_show_a_running_a_secret_needing_and_a_crashing_server(
    open_desktop: Callable[..., Desktop], tray_home: Path, tmp_path: Path
) -> None:
    """The README's pictures, from a first run of a config like a real one: the demo runs,
    github waits for its token, notes keeps crashing. Notices sit at the bottom right
    (a dunstrc of its own) so that the menu does not hide them."""
    dunstrc = tmp_path / "dunstrc"
    dunstrc.write_text(NOTICES_DUNSTRC)
    desktop = open_desktop(keyring=True, dunst_config=dunstrc)
    token = "GITHUB_PERSONAL_ACCESS_TOKEN"
    servers = {
        "demo": {"command": demo_command()[0], "args": demo_command()[1:]},
        "github": {
            "command": PYTHON,
            "args": [str(SERVERS / "secretive.py"), token],
            "env": {token: f"${{secret:{token}}}"},
        },
        "notes": {
            "command": PYTHON,
            "args": [str(FLAKY), "--crash-at-start"],
            "restart": {"maxFailures": 3, "initialDelayMs": 10, "maxDelayMs": 100},
        },
    }
    configure(tray_home, servers, welcomed=False)
    log = desktop.bus_log
    shots: dict[str, Path] = {}

    def shot(name: str, box: Box | None = None) -> None:
        shots[name] = desktop.screenshot(f"{README_SHOTS}/{name}", box=box)

    with tray_app(tray_home, desktop) as app:
        app.expect_warnings(r"github needs the secret")
        app.expect_warnings(r"notes entered crash-loop")
        welcome = desktop.wait_for_window("--name", "^Welcome to MCP Tray$")
        app.wait_for_line(r"demo is running")
        welcome_box = desktop.geometry(welcome)
        desktop.wait_for_picture(
            f"{README_SHOTS}/welcome.png",
            "the welcome window's logo",
            lambda p: p.count(LOGO_BLUE) > 0,
            box=welcome_box,
        )
        mark = desktop.windows.mark()
        desktop.run("xdotool", "windowfocus", "--sync", str(welcome), "key", "Escape")
        desktop.windows.wait_for_unmap(welcome, after=mark)

        log.wait_for_notified("github needs a secret")
        log.wait_for_notified("notes keeps crashing")
        dunst = desktop.wait_for_window("--class", "Dunst")
        desktop.wait_for_picture("notices.png", "both notices", two_logos)
        shot("notice.png", desktop.geometry(dunst).grown(12).clipped())

        # The menu, with notes' submenu: its problem in words and "Try again" first.
        menu = open_tray_menu(desktop)
        mark = desktop.windows.mark()
        # MCP Tray, the two fixes, then demo, github and notes ▸
        press(desktop, *["Down"] * 6, "Right")
        submenu = desktop.wait_for_menu(after=mark)
        panel = desktop.wait_for_window("--name", "^panel$", visible=False)
        region = spanning(*map(desktop.geometry, (submenu, menu, dunst, panel)))
        drawn = desktop.wait_for_picture(
            "menu-and-notices.png",
            "notes' entry and its submenu's Try again, highlighted",
            lambda p: all(
                p.count(SELECTED_ROW, within=desktop.geometry(m), fuzz="3%")
                for m in (menu, submenu)
            ),
        )
        shot("tray-menu.png", region.grown(12).clipped())
        press(desktop, "Down", "Down", "Return")  # Try again, Stop, Show logs
        shown = desktop.wait_for_window("--name", "^MCP Tray$")
        window = desktop.geometry(shown)
        logs = desktop.wait_for_picture(
            f"{README_SHOTS}/log-window.png",
            "notes' story, MCP Tray's lines in blue",
            lambda p: p.count(LIFECYCLE_BLUE, within=window, fuzz="5%") > 0,
            box=window,
        )

        # The Servers tab, with notes chosen: a click on its row, the lower of two warnings.
        desktop.run("xdotool", "windowfocus", "--sync", str(shown), "key", "ctrl+shift+Tab")
        table = desktop.wait_for_picture(
            "servers-tab.png",
            "the servers table",
            lambda p: p.count(Colour.GREEN, within=window) > 0,
        )
        _, warnings = table.find(Colour.RED, within=window)  # github's, then notes'
        assert warnings is not None
        notes_row = Box(window.x, warnings.y + warnings.height - 5, window.width, 1)
        desktop.run(
            "xdotool", "mousemove", str(warnings.x + 60), str(notes_row.y), "click", "1"
        )  # fmt: skip
        desktop.wait_for_picture(
            f"{README_SHOTS}/servers-window.png",
            "notes' row chosen",
            lambda p: p.count(SELECTED_ROW, within=notes_row, fuzz="3%") > 0,
            box=window,
        )

        # Set secret… from the menu's fix for github; a few characters typed, masked.
        open_tray_menu(desktop)
        press(desktop, "Down", "Down", "Return")
        dialog = desktop.wait_for_window("--name", "^Set a secret for github$")
        desktop.run("xdotool", "type", "--delay", "1", "ghp_not-a-real-one")
        shot("secret-dialog.png", desktop.geometry(dialog))
        press(desktop, "Escape")
        rows = {row["name"]: row["state"] for row in app.status()}

    assert rows == {"demo": "running", "github": "needs-secret", "notes": "crash-loop"}
    assert drawn.path.stat().st_size > 0
    assert logs.count(LIFECYCLE_BLUE, fuzz="5%") > 0
    assert all(path.stat().st_size > 0 for path in shots.values())


def spanning(*boxes: Box) -> Box:
    """The smallest box around all of ``boxes``."""
    left, top = min(b.x for b in boxes), min(b.y for b in boxes)
    right = max(b.x + b.width for b in boxes)
    bottom = max(b.y + b.height for b in boxes)
    return Box(left, top, right - left, bottom - top)


def two_logos(picture: Picture) -> bool:
    """Two notices on screen: the box around the logos on screen spans two of them."""
    _, logos = picture.find(LOGO_BLUE)
    return logos is not None and logos.height > 1.5 * NOTICE_ICON_PX
