"""Signing in to a remote server from the tray, with real parts.

The tray and its hub (on a thread of its own, as the app runs it, or in another
process, ``mcp-tray serve``), the OAuth-protected tests/servers/remote_echo.py as
"linear", the authorization server tests/servers/auth_server.py, and the test
session's Secret Service (gnome-keyring) for the tokens. Only the OS edge is
played: the desktop's "open this address" (``QDesktopServices.openUrl``) is the
user's browser, which records the page it opens and, when the user clicks Allow,
follows it back to MCP Tray (tests.oauthkit.browse). The user takes their time:
the test says when they click Allow, so a second press can come while the page
is open.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import httpx2
import pytest
from keyring.backends import SecretService
from PySide6.QtCore import QEvent, QObject, QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QApplication

from app.core.autostart import Autostart
from app.core.endpoint.hubapi import HubAPI
from app.core.endpoint.remote import RemoteHub
from app.core.hub import Hub
from app.core.notices import Notice, NoticeKind
from app.core.paths import Paths, default_paths
from app.core.secrets import Secrets, SecretStore
from app.core.supervise.states import State
from app.core.supervise.status import ServerStatus
from app.gui.hubthread import ThreadedHub
from app.gui.notify import DEFAULT, verb_for
from app.gui.signinpage import SignInPageDialog
from app.gui.tray import TrayApp
from tests.gui.conftest import _LIVE, OpenedFiles, RunningTray, TrayLoop, find_action
from tests.helpers import EventRecorder
from tests.hubprocess import HubProcess, mcp_tray
from tests.oauthkit import AuthServer, auth_server, browse
from tests.test_conformance import free_port
from tests.test_remote_servers import remote_server

SIGN_IN_S = 30.0  # discovery, registration, the browser's redirects and the token exchange
IN_APP, HEADLESS = "hub-in-the-app", "hub-in-another-process"
WAITING = "linear — Needs you to sign in"  # linear's submenu while it waits
RUNNING = "linear — Running"
FIX = "linear needs you to sign in — Sign in…"  # the top of the menu, while it waits
SIGNED_OUT = "linear — Signed out"  # its submenu once the user signed out: nothing to fix


class Browser:
    """The desktop's "open this address" (``QDesktopServices.openUrl``): records each
    address as the browser opening a tab on it, and says it opened. ``works = False``:
    a desktop with no browser to open, which says so."""

    def __init__(self) -> None:
        self.works = True
        self.opened: list[str] = []
        self._tab = asyncio.Event()

    def __call__(self, url: QUrl) -> bool:
        if not self.works:
            return False
        self.opened.append(bytes(url.toEncoded().data()).decode())  # what xdg-open is given
        self._tab.set()
        return True

    async def tab_open(self) -> str:
        """Until the browser has a page open: its address."""
        async with asyncio.timeout(SIGN_IN_S):
            await self._tab.wait()
        return self.opened[-1]

    async def user_allows(self) -> httpx2.Response:
        """The user clicks Allow on the open page; the browser follows the redirects back
        to MCP Tray. The page MCP Tray answered with."""
        return await browse(await self.tab_open())


class Told:
    """What the tray says in its own words (``TrayApp.tell``): each notice as it reaches
    the desktop notifier, which still shows it. (The servers' notices come through the
    bridge: ``RunningTray.notices``.)"""

    def __init__(self, tray: TrayApp, monkeypatch: pytest.MonkeyPatch) -> None:
        self.notices: list[Notice] = []
        self._show = tray.notifier.show
        monkeypatch.setattr(tray.notifier, "show", self._record)

    def _record(self, notice: Notice) -> None:
        self.notices.append(notice)
        self._show(notice)

    def titles(self) -> list[str]:
        return [notice.title for notice in self.notices]


@dataclass(frozen=True)
class Shown:
    """A sign-in page window as it showed: what it said, and the address it gave."""

    dialog: SignInPageDialog
    intro: str
    address: str


class SignInPages(QObject):
    """The sign-in page windows (app.gui.signinpage) as Qt shows and hides them: an event
    filter on the application, with a bounded wait for the next one to show."""

    def __init__(self) -> None:
        super().__init__()
        self.shown: list[Shown] = []
        self.hidden: list[int] = []  # id() of each dialog that hid (closed, then deleted)
        self._changed = asyncio.Event()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if isinstance(watched, SignInPageDialog):
            if event.type() == QEvent.Type.Show:
                self.shown.append(Shown(watched, watched.intro.text(), watched.address.text()))
            elif event.type() == QEvent.Type.Hide:
                self.hidden.append(id(watched))
            self._changed.set()
        return False

    async def next_shown(self) -> Shown:
        seen = len(self.shown)
        async with asyncio.timeout(SIGN_IN_S):
            while len(self.shown) == seen:
                self._changed.clear()
                await self._changed.wait()
        return self.shown[seen]

    def closed(self, shown: Shown) -> bool:
        return id(shown.dialog) in self.hidden


@dataclass
class SignInTray:
    running: RunningTray
    browser: Browser
    told: Told
    auth: AuthServer
    pages: SignInPages
    withdrawn: list[str] = field(default_factory=list)  # slots of notices taken back

    def linear(self) -> ServerStatus:
        return next(row for row in self.running.hub.status_rows() if row.name == "linear")

    def top(self) -> list[str]:
        """The menu's lines: who, the status line, what needs the user, then the rest."""
        self.running.tray.refresh()
        return [action.text() for action in self.running.tray.menu.actions()]

    def submenu(self, title: str) -> list[str]:
        """What linear's submenu lets the user pick, in order."""
        self.running.tray.refresh()
        menu = find_action(self.running.tray.menu, title).menu()
        return [a.text() for a in menu.actions() if a.isEnabled() and not a.isSeparator()]

    async def signed_in_from(self, *path: str) -> httpx2.Response:
        """The user picks the menu entry at ``path`` and clicks Allow in the browser; until
        linear runs and the tray has said how it went. The page MCP Tray answered with."""
        mark = len(self.running.events.events)
        self.running.menu_action(*path).trigger()
        landed = await self.browser.user_allows()
        await self.running.events.wait_for_state("running", after=mark)
        await self.running.settled()
        return landed


@pytest.fixture
def sign_in_tray(  # noqa: PLR0917 - fixtures
    tray_home: Path,
    tray_loop: TrayLoop,
    tmp_path: Path,
    secret_service: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    expect_warnings: Callable[[str], None],
) -> Iterator[Callable[..., SignInTray]]:
    """``sign_in_tray(hub=IN_APP)``: the tray over a hub that has the protected server as
    "linear", started and waiting for the user to sign in; closed after the test."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    # The hub in the app reaches the test session's Secret Service, nothing else.
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", secret_service["DBUS_SESSION_BUS_ADDRESS"])
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    browser = Browser()
    monkeypatch.setattr(QDesktopServices, "openUrl", browser)
    pages = SignInPages()
    QApplication.instance().installEventFilter(pages)
    expect_warnings(r"linear (needs you to sign in|is signed out)")
    # That bus has no notification daemon (none runs without a display): notices fall
    # back to the balloon, and say so.
    expect_warnings(r"desktop notification failed")
    started: list[RunningTray] = []

    with ExitStack() as stack:

        def start(hub: str = IN_APP) -> SignInTray:
            auth = stack.enter_context(auth_server(tmp_path / "auth"))
            port = free_port()
            stack.enter_context(remote_server(tmp_path / "remote", port, "--auth-server", auth.url))
            servers = {"linear": {"url": f"http://127.0.0.1:{port}/mcp"}}
            (tray_home / "config.json").write_text(json.dumps({"mcpServers": servers}))
            # The keyring is the test session's: an earlier test's sign-in is forgotten.
            forgotten = mcp_tray(tray_home, "signout", "linear", env=secret_service)
            assert forgotten.returncode == 0, forgotten.stderr
            paths = default_paths()
            paths.ensure()
            api = _in_app(paths) if hub == IN_APP else _headless(stack, tray_home, secret_service)
            tray = TrayApp(api, autostart=Autostart(["mcp-tray"]), open_url=OpenedFiles())
            running = RunningTray(tray, EventRecorder(api.bus))
            setup = SignInTray(running, browser, Told(tray, monkeypatch), auth, pages)
            tray.bridge.withdrawn.connect(setup.withdrawn.append)
            started.append(setup.running)
            # Quit as the test ends, before pytest-qt processes Qt's events (see conftest's
            # pytest_runtest_call): here below only when that has not happened.
            _LIVE.append((tray_loop, setup.running))

            async def start_both() -> None:  # as app.gui.app starts them
                await api.start()
                tray.show()
                if setup.linear().state is not State.NEEDS_SIGN_IN:
                    await setup.running.events.wait_for_state("needs-sign-in")

            tray_loop.run(start_both)
            return setup

        try:
            yield start
        finally:
            for running in started:  # before the servers it presents stop
                tray_loop.run(running.quit)
            QApplication.instance().removeEventFilter(pages)


def _in_app(paths: Paths) -> HubAPI:
    """The hub as the app runs it: on a thread of its own, its secrets in the keyring."""
    backend = SecretService.Keyring()
    return ThreadedHub(
        Hub(paths, secrets=Secrets(SecretStore(paths.secret_index, backend=backend)))
    )


def _headless(stack: ExitStack, home: Path, keyring_env: dict[str, str]) -> HubAPI:
    """``mcp-tray serve`` already running when the tray starts (it presents that hub)."""
    headless = HubProcess(home, env=keyring_env)
    stack.callback(headless.stop)
    headless.expect_warnings(r"linear (needs you to sign in|is signed out)")
    headless.wait_for_line(r"linear needs you to sign in")
    return RemoteHub(default_paths())


@pytest.mark.parametrize("hub", [IN_APP, HEADLESS])
def test_sign_in_from_the_menu_opens_the_browser_once_and_linear_runs_once_the_user_allows(
    sign_in_tray: Callable[..., SignInTray], tray_loop: TrayLoop, hub: str
) -> None:
    setup = sign_in_tray(hub)
    top, waiting = setup.top(), setup.submenu(WAITING)

    landed = tray_loop.run(lambda: setup.signed_in_from(WAITING, "Sign in…"))
    stats = tray_loop.run(setup.auth.stats)

    assert top[:3] == ["MCP Tray", "1 needs you", FIX]
    assert waiting[:2] == ["Sign in…", "Stop"]
    assert len(setup.browser.opened) == 1
    assert setup.browser.opened[0].startswith(f"{setup.auth.url}/authorize?")
    assert landed.status_code == 200 and "MCP Tray has your sign-in" in landed.text
    assert (setup.linear().state, setup.linear().signed_in) == (State.RUNNING, True)
    assert setup.told.titles() == ["Signed in to linear"]
    assert setup.told.notices[0].body == "Its tools are ready to use."
    assert "Sign out" in setup.submenu(RUNNING)
    assert "Sign in…" not in setup.submenu(RUNNING)
    assert FIX not in setup.top()  # nothing needs the user any more
    assert (stats.authorizations, stats.code_grants) == (1, 1)


def test_pressing_sign_in_again_while_its_page_is_open_opens_no_second_page_and_gives_its_address(
    sign_in_tray: Callable[..., SignInTray], tray_loop: TrayLoop
) -> None:
    setup = sign_in_tray()
    running = setup.running

    async def scenario() -> tuple[str, Shown, list[str], bool]:
        running.menu_action(WAITING, "Sign in…").trigger()
        page = await setup.browser.tab_open()
        running.menu_action(FIX).trigger()  # again, from the top of the menu this time
        shown = await setup.pages.next_shown()
        opened, open_meanwhile = list(setup.browser.opened), not setup.pages.closed(shown)
        await setup.browser.user_allows()
        await running.settled()  # both presses have had their answer
        return page, shown, opened, open_meanwhile

    page, shown, opened, open_meanwhile = tray_loop.run(scenario)
    stats = tray_loop.run(setup.auth.stats)

    assert opened == [page]
    assert shown.intro == (
        "linear's sign-in page is already open in your browser; finish signing in there. "
        "If you cannot find it, copy this address into your browser's address bar:"
    )
    assert shown.address == page
    assert open_meanwhile and setup.pages.closed(shown)  # over once signed in
    assert setup.told.titles()[-1] == "Signed in to linear"
    assert "Not signed in to linear" not in setup.told.titles()
    assert setup.browser.opened == opened  # still the one page
    assert setup.linear().state is State.RUNNING
    assert stats.authorizations == 1


def test_with_no_browser_to_open_a_window_gives_the_address_to_copy_and_goes_once_signed_in(
    sign_in_tray: Callable[..., SignInTray], tray_loop: TrayLoop
) -> None:
    setup = sign_in_tray()
    setup.browser.works = False
    running = setup.running

    async def scenario() -> tuple[Shown, httpx2.Response]:
        mark = len(running.events.events)
        running.menu_action(FIX).trigger()
        shown = await setup.pages.next_shown()
        shown.dialog.copy.click()
        # The user pastes the address into a browser and clicks Allow there.
        landed = await browse(QGuiApplication.clipboard().text())
        await running.events.wait_for_state("running", after=mark)
        await running.settled()
        return shown, landed

    shown, landed = tray_loop.run(scenario)
    stats = tray_loop.run(setup.auth.stats)

    assert setup.browser.opened == []
    assert shown.intro == (
        "MCP Tray could not open your browser. To sign in to linear, copy this address "
        "into your browser's address bar:"
    )
    assert shown.address.startswith(f"{setup.auth.url}/authorize?")
    assert "MCP Tray has your sign-in" in landed.text
    assert setup.pages.closed(shown)
    assert setup.told.titles() == ["Signed in to linear"]
    assert setup.linear().signed_in
    assert stats.authorizations == 1


def test_the_notice_that_linear_needs_a_sign_in_opens_the_same_sign_in_and_goes_once_done(
    sign_in_tray: Callable[..., SignInTray], tray_loop: TrayLoop
) -> None:
    setup = sign_in_tray()
    running = setup.running
    (notice,) = [n for n in running.notices if n.kind is NoticeKind.NEEDS_SIGN_IN]

    async def scenario() -> httpx2.Response:
        mark = len(running.events.events)
        verb = verb_for(notice, DEFAULT)  # the notice was clicked (or its first button)
        assert verb is not None
        running.tray._notice_action(notice, verb)
        landed = await setup.browser.user_allows()
        await running.events.wait_for_state("running", after=mark)
        await running.settled()
        return landed

    landed = tray_loop.run(scenario)

    assert notice.title == "Sign in to linear to use its tools"
    assert notice.body == "Press Sign in: your browser opens its sign-in page."
    assert [label for _, label in notice.actions] == ["Sign in"]
    assert len(setup.browser.opened) == 1
    assert "MCP Tray has your sign-in" in landed.text
    assert setup.linear().signed_in
    assert setup.told.titles() == ["Signed in to linear"]
    assert notice.slot in setup.withdrawn  # over: taken off the screen
    assert len([n for n in running.notices if n.kind is NoticeKind.NEEDS_SIGN_IN]) == 1


@pytest.mark.parametrize("hub", [IN_APP, HEADLESS])
def test_sign_out_from_the_menu_waits_for_a_new_sign_in_and_pops_up_no_notice_for_it(
    sign_in_tray: Callable[..., SignInTray], tray_loop: TrayLoop, hub: str
) -> None:
    setup = sign_in_tray(hub)
    running = setup.running
    tray_loop.run(lambda: setup.signed_in_from(WAITING, "Sign in…"))
    notices_before, told_before = len(running.notices), len(setup.told.notices)

    async def scenario() -> None:
        mark = len(running.events.events)
        running.menu_action(RUNNING, "Sign out").trigger()
        # A notice for it would go out as this state is published: the bridge's Notices
        # hears each event before the recorder does.
        await running.events.wait_for_state("needs-sign-in", after=mark)
        await running.settled()

    tray_loop.run(scenario)

    assert (setup.linear().state, setup.linear().signed_in) == (State.NEEDS_SIGN_IN, False)
    assert [n.title for n in running.notices[notices_before:]] == []
    assert [n.title for n in setup.told.notices[told_before:]] == ["Signed out of linear"]
    assert setup.submenu(SIGNED_OUT)[:2] == ["Sign in…", "Stop"]
    assert "Sign out" not in setup.submenu(SIGNED_OUT)
    assert FIX not in [a.text() for a in running.tray.menu.actions()]
    assert len(setup.browser.opened) == 1  # signing out opened nothing
