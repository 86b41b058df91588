"""What the user is told about, and for how long: hub events turned into desktop notices.

The tray shows each :class:`Notice` as a desktop notification; this module
decides which events deserve one, what it says, how urgent it is, which
buttons it has, and when it is over. It knows nothing of Qt.

Each server has one *slot*, and the config one more (:data:`CONFIG_SLOT`):
a newer notice about the same thing replaces the one on screen, and when
the thing it is about is over with nothing new to say, ``withdraw(slot)``
takes it off the screen. So "files keeps crashing" never stays up beside
"files is running again".

- **keeps crashing** (the server parked in crash-loop): once when it
  parks, with its last stderr line; not again for re-probes that park it
  again, until it has run once more. Stays until withdrawn.
- **running again**: a parked server reached running; replaces the above.
- **needs a secret**: once per wait, naming the secrets. Stays until the
  server runs (withdrawn) or is stopped.
- **needs a program**: each time a start finds its program missing, naming
  it and where to get it, with Retry first (a Retry that still finds none
  says so again). Stays until the server runs (withdrawn) or is stopped.
- **config error**: the first problem with its file:line:column; the same
  text twice in a row is not repeated. Stays until the config applies,
  when one short "The config is fixed" replaces it.
- **crashed and was restarted**: an unexpected exit that the hub recovered
  by itself, told once the server runs again. At most one per server per
  ``window_s``: further ones in that window are summed up at its end
  ("restarted 3 more times in the last minute", and whether it is running
  now), unless the server parks, recovers or stops first. This kind can be muted; the others cannot.

Stopping a server (by the user, or by removing it from the config, which
stops it too) withdraws whatever its slot shows. Notices that need the user
to act are critical and stay; the rest are normal and expire.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Callable
from dataclasses import dataclass, field

from app.core.events import (
    ConfigApplied,
    ConfigProblem,
    EventBus,
    SecretsMissing,
    ServerExited,
    ServerStateChanged,
    ToolsHeld,
    Unsubscribe,
)
from app.core.problems import (
    MISTAKE,
    PAUSED,
    config_error_line,
    listed,
    new_or_changed,
    what_happened,
    with_last_words,
)
from app.core.signin.auth import SIGNED_OUT
from app.core.supervise.failure import Failure
from app.core.supervise.programs import MissingProgram
from app.core.supervise.states import State

CRASH_WINDOW_S = 60.0  # "restarted 3 times in the last minute"
INFO_TIMEOUT_MS = 8000  # long enough to read two lines, short enough not to pile up
STAYS = 0  # the freedesktop expire_timeout that means "until closed"
# Server names start with a letter or digit (app.core.config.schema), so this
# slot can never be a server's.
CONFIG_SLOT = "(config)"
APP_SLOT = "(app)"  # what the tray says of itself: an action that failed, where it went

# The tray's verbs (app.gui.tray TrayApp.act), as the notices' buttons.
LOGS = "logs"
SECRET = "secret"
OPEN_CONFIG = "open-config"
RESTART = "restart"
SIGN_IN = "sign-in"
REVIEW = "review-tools"


class Urgency(enum.IntEnum):
    """The freedesktop notification spec's urgency levels."""

    LOW = 0
    NORMAL = 1
    CRITICAL = 2


class NoticeKind(enum.StrEnum):
    CRASH_LOOP = "crash-loop"
    RECOVERED = "recovered"
    NEEDS_SECRET = "needs-secret"
    NEEDS_PROGRAM = "needs-program"
    NEEDS_SIGN_IN = "needs-sign-in"
    TOOLS_CHANGED = "tools-changed"
    CONFIG_ERROR = "config-error"
    CONFIG_FIXED = "config-fixed"
    RESTARTED = "restarted"
    APP = "app"  # about MCP Tray itself, not a server or the config


# The kinds that wait for the user: critical, and on screen until withdrawn.
_NEEDS_THE_USER = frozenset(
    {
        NoticeKind.CRASH_LOOP,
        NoticeKind.NEEDS_SECRET,
        NoticeKind.NEEDS_PROGRAM,
        NoticeKind.NEEDS_SIGN_IN,
        NoticeKind.TOOLS_CHANGED,
        NoticeKind.CONFIG_ERROR,
    }
)

# (verb, label) per kind; the first is what a click on the notice does.
_ACTIONS: dict[NoticeKind, tuple[tuple[str, str], ...]] = {
    NoticeKind.CRASH_LOOP: ((LOGS, "Show logs"), (RESTART, "Try again")),
    NoticeKind.RECOVERED: ((LOGS, "Show logs"),),
    NoticeKind.NEEDS_SECRET: ((SECRET, "Set secret…"),),
    NoticeKind.NEEDS_PROGRAM: ((RESTART, "Retry"), (LOGS, "Show logs")),
    NoticeKind.NEEDS_SIGN_IN: ((SIGN_IN, "Sign in"),),
    NoticeKind.TOOLS_CHANGED: ((REVIEW, "Review"),),
    NoticeKind.CONFIG_ERROR: ((OPEN_CONFIG, "Open config"),),
    NoticeKind.CONFIG_FIXED: (),
    NoticeKind.RESTARTED: ((LOGS, "Show logs"),),
    NoticeKind.APP: (),
}


@dataclass(frozen=True, kw_only=True)
class Notice:
    kind: NoticeKind
    server: str | None  # None for the config
    title: str
    body: str
    secrets: tuple[str, ...] = ()  # for needs-secret: what the dialog should ask for

    @property
    def slot(self) -> str:
        """What this notice is about; a newer notice in the same slot replaces it."""
        if self.kind is NoticeKind.APP:
            return APP_SLOT
        return CONFIG_SLOT if self.server is None else self.server

    @property
    def urgency(self) -> Urgency:
        return Urgency.CRITICAL if self.kind in _NEEDS_THE_USER else Urgency.NORMAL

    @property
    def timeout_ms(self) -> int:
        """How long the desktop shows it; :data:`STAYS` (0): until withdrawn."""
        return STAYS if self.kind in _NEEDS_THE_USER else INFO_TIMEOUT_MS

    @property
    def actions(self) -> tuple[tuple[str, str], ...]:
        """(verb, label) pairs; the first is what a click on the notice does."""
        return _ACTIONS[self.kind]


@dataclass
class _Server:
    parked: bool = False  # a crash-loop notice went out and it has not run since
    waiting_for_secret: bool = False
    waiting_for_program: bool = False
    waiting_for_sign_in: bool = False  # told once, until it runs again
    running: bool = False  # its last state change was to running
    crash: ServerExited | None = None  # an unplanned exit not yet followed by running
    reason: Failure | None = None  # why its last run ended, as the supervisor put it
    window_ends: float = 0.0
    unreported: int = 0  # crashes inside the window, told at its end
    summary: asyncio.TimerHandle | None = field(default=None, repr=False)

    def cancel_summary(self) -> None:
        if self.summary is not None:
            self.summary.cancel()
            self.summary = None
        self.unreported = 0


class Notices:
    """Subscribes to a hub's bus; hands each notice worth showing to ``show``, and the
    slot of each notice that is over to ``withdraw``."""

    def __init__(
        self,
        bus: EventBus,
        show: Callable[[Notice], None],
        withdraw: Callable[[str], None],
        *,
        window_s: float = CRASH_WINDOW_S,
    ) -> None:
        self._show_now = show
        self._withdraw_now = withdraw
        self._window_s = window_s
        self.mute_restarts = False
        self._servers: dict[str, _Server] = {}
        self._shown: set[str] = set()  # slots with a notice that may still be on screen
        self._config_error: str | None = None  # the one on screen, if any
        self._unsubscribe: list[Unsubscribe] = [
            bus.subscribe(ServerStateChanged, self._state_changed),
            bus.subscribe(ServerExited, self._exited),
            bus.subscribe(SecretsMissing, self._secrets_missing),
            bus.subscribe(ToolsHeld, self._tools_held),
            bus.subscribe(ConfigProblem, self._config_problem),
            bus.subscribe(ConfigApplied, self._config_applied),
        ]

    def close(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        for server in self._servers.values():
            server.cancel_summary()

    # ----- server events

    def _exited(self, event: ServerExited) -> None:
        if not event.planned:
            self._server(event.server).crash = event

    def _state_changed(self, event: ServerStateChanged) -> None:
        self._server(event.server).running = event.state is State.RUNNING
        if event.state is State.CRASH_LOOP:
            self._parked(event)
        elif event.state is State.RUNNING:
            self._running(event.server, remote=event.remote)
        elif event.state is State.NEEDS_PROGRAM:
            self._program_missing(event)
        elif event.state is State.NEEDS_SIGN_IN:
            self._sign_in_needed(event)
        elif event.state is State.BACKOFF:
            self._server(event.server).reason = event.failure
        elif event.state in (State.STOPPED, State.DISABLED):
            self._stopped(event.server)

    def _parked(self, event: ServerStateChanged) -> None:
        server = self._server(event.server)
        server.cancel_summary()  # "keeps crashing" says more than "restarted 3 times"
        crash, server.crash = server.crash, None
        if not server.parked:
            server.parked = True
            self._show(_crash_loop(event, crash))

    def _running(self, name: str, *, remote: bool = False) -> None:
        server = self._server(name)
        crash, server.crash = server.crash, None
        if server.parked:  # parking dropped any pending summary
            server.parked = False
            self._show(
                Notice(
                    kind=NoticeKind.RECOVERED,
                    server=name,
                    title=f"{name} is running again",
                    body="It could not be reached for a while."
                    if remote
                    else "It had stopped after crashing repeatedly.",
                )
            )
        elif crash is not None:
            self._restarted(name, server, crash)
        elif server.waiting_for_secret or server.waiting_for_program or server.waiting_for_sign_in:
            self._withdraw(name)  # the secret, the program or the sign-in came; nothing to add
        server.waiting_for_secret = server.waiting_for_program = False
        server.waiting_for_sign_in = False

    def _stopped(self, name: str) -> None:
        """Stopped on purpose (by the user, or removed from the config): nothing is left
        to report, and its next troubles are told afresh."""
        server = self._servers.pop(name, None)
        if server is not None:
            server.cancel_summary()
        self._withdraw(name)

    def _secrets_missing(self, event: SecretsMissing) -> None:
        server = self._server(event.server)
        server.crash = None  # not a crash: it never started
        if server.waiting_for_secret:
            return
        server.waiting_for_secret = True
        names = ", ".join(event.names)
        self._show(
            Notice(
                kind=NoticeKind.NEEDS_SECRET,
                server=event.server,
                title=f"{event.server} needs a secret",
                body=f"Set {names} to start it.",
                secrets=event.names,
            )
        )

    def _program_missing(self, event: ServerStateChanged) -> None:
        server = self._server(event.server)
        server.crash = None  # not a crash: it never started
        server.waiting_for_program = True
        command = event.failure.missing_program if event.failure else None
        missing = MissingProgram(command) if command else None
        self._show(
            Notice(
                kind=NoticeKind.NEEDS_PROGRAM,
                server=event.server,
                title=f"{event.server} needs {missing.product() if missing else 'a program'}",
                body=(
                    f"This server needs {missing.what()}, which is not installed. "
                    f"{missing.get_it()}, then press Retry."
                    if missing
                    else "A program this server needs is not installed. "
                    "Install it, then press Retry."
                ),
            )
        )

    def _tools_held(self, event: ToolsHeld) -> None:
        self._show(
            Notice(
                kind=NoticeKind.TOOLS_CHANGED,
                server=event.server,
                title=f"{event.server} has {new_or_changed(len(event.tools))}; review them",
                body=(
                    f"MCP Tray keeps {listed(event.tools)} from your apps until you have "
                    "looked at them."
                ),
            )
        )

    def _sign_in_needed(self, event: ServerStateChanged) -> None:
        """Told once while it waits, never for a sign-out the user chose themselves."""
        server = self._server(event.server)
        server.crash = None  # not a crash
        if server.waiting_for_sign_in:
            return
        server.waiting_for_sign_in = True
        why = event.failure.phrase if event.failure else ""
        if why == SIGNED_OUT:
            return
        expired = "expired" in why
        self._show(
            Notice(
                kind=NoticeKind.NEEDS_SIGN_IN,
                server=event.server,
                title=f"Sign in to {event.server} to use its tools",
                body=("Your sign-in has expired. " if expired else "")
                + "Press Sign in: your browser opens its sign-in page.",
            )
        )

    # ----- the config

    def _config_problem(self, event: ConfigProblem) -> None:
        first = event.errors[0] if event.errors else event.path
        if first == self._config_error:
            return
        self._config_error = first
        more = f" (and {len(event.errors) - 1} more)" if len(event.errors) > 1 else ""
        self._show(
            Notice(
                kind=NoticeKind.CONFIG_ERROR,
                server=None,
                title="The config file has a mistake",
                body=f"{config_error_line(first).removeprefix(MISTAKE)}{more}\n"
                "Your servers keep running as they were until it is fixed.",
            )
        )

    def _config_applied(self, event: ConfigApplied) -> None:
        if self._config_error is None:
            return
        self._config_error = None
        self._show(
            Notice(
                kind=NoticeKind.CONFIG_FIXED,
                server=None,
                title="The config is fixed",
                body="MCP Tray is using it now.",
            )
        )

    # ----- crashes the hub recovered from

    def _restarted(self, name: str, server: _Server, crash: ServerExited) -> None:
        if self.mute_restarts:
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        if now < server.window_ends:
            server.unreported += 1
            if server.summary is None:
                server.summary = loop.call_at(server.window_ends, self._summarize, name)
            return
        server.window_ends = now + self._window_s
        self._show(
            Notice(
                kind=NoticeKind.RESTARTED,
                server=name,
                title=f"{name} crashed and was restarted",
                body=_with_last_line(_what_happened(server.reason, crash), crash),
            )
        )

    def _summarize(self, name: str) -> None:
        server = self._server(name)
        count = server.unreported
        server.summary, server.unreported = None, 0
        if count and not self.mute_restarts:
            # Told up to a minute late, so it says where things stand now: a user who
            # reads "crashed again" of a server that has been fine since should know.
            times = "once more" if count == 1 else f"{count} more times"
            now = "It is running now." if server.running else "MCP Tray is restarting it."
            self._show(
                Notice(
                    kind=NoticeKind.RESTARTED,
                    server=name,
                    title=f"{name} crashed again",
                    body=f"It crashed and was restarted {times} in the last minute. {now}",
                )
            )

    # ----- plumbing

    def _show(self, notice: Notice) -> None:
        self._shown.add(notice.slot)
        self._show_now(notice)

    def _withdraw(self, slot: str) -> None:
        if slot in self._shown:
            self._shown.discard(slot)
            self._withdraw_now(slot)

    def _server(self, name: str) -> _Server:
        return self._servers.setdefault(name, _Server())


def _crash_loop(event: ServerStateChanged, crash: ServerExited | None) -> Notice:
    what = _what_happened(event.failure, crash)
    return Notice(
        kind=NoticeKind.CRASH_LOOP,
        server=event.server,
        title=f"{event.server} can't connect" if event.remote else f"{event.server} keeps crashing",
        body=_with_last_line(f"{what} {PAUSED}", crash),
    )


# ----- the words: what happened, in a sentence a person reads (app.core.problems)


def _what_happened(reason: Failure | None, crash: ServerExited | None) -> str:
    failure = reason or (crash.failure() if crash is not None else None)
    return what_happened(failure) if failure is not None else "It keeps failing to start."


def _with_last_line(text: str, crash: ServerExited | None) -> str:
    return with_last_words(text, crash.failure().last_words if crash is not None else "")
