"""What the user is told about, and how often: hub events turned into desktop notices.

The tray shows each :class:`Notice` as a desktop notification; this module
decides which events deserve one and keeps a flapping server from flooding
the desktop. It knows nothing of Qt.

- **crash-loop**: once when a server parks, with its last stderr line; not
  again for re-probes that park it again, until it has run once more.
- **recovered**: a parked server reached running again.
- **needs-secret**: once per wait, naming the secrets (the notification's
  action opens the secret dialog).
- **config error**: the first problem with its file:line:column; the same
  text twice in a row is not repeated.
- **crashed and restarted**: an unexpected exit that the hub recovered by
  itself, told once the server runs again, with the exit and the last
  stderr line. At most one per server per ``window_s``: further ones in
  that window are summed up at its end ("restarted 3 more times in the last
  minute"). This kind can be muted; the others cannot.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Callable
from dataclasses import dataclass, field

from app.core.events import (
    ConfigProblem,
    EventBus,
    SecretsMissing,
    ServerExited,
    ServerStateChanged,
    Unsubscribe,
)

CRASH_WINDOW_S = 60.0  # "restarted 3 times in the last minute"


class NoticeKind(enum.StrEnum):
    CRASH_LOOP = "crash-loop"
    RECOVERED = "recovered"
    NEEDS_SECRET = "needs-secret"
    CONFIG_ERROR = "config-error"
    RESTARTED = "restarted"


@dataclass(frozen=True, kw_only=True)
class Notice:
    kind: NoticeKind
    server: str | None  # None for the config
    title: str
    body: str
    secrets: tuple[str, ...] = ()  # for needs-secret: what the dialog should ask for


@dataclass
class _Server:
    parked: bool = False  # a crash-loop notice went out and it has not run since
    waiting_for_secret: bool = False
    crash: ServerExited | None = None  # an unplanned exit not yet followed by running
    window_ends: float = 0.0
    unreported: int = 0  # crashes inside the window, told at its end
    summary: asyncio.TimerHandle | None = field(default=None, repr=False)


class Notices:
    """Subscribes to a hub's bus and hands each notice worth showing to ``show``."""

    def __init__(
        self, bus: EventBus, show: Callable[[Notice], None], *, window_s: float = CRASH_WINDOW_S
    ) -> None:
        self._show = show
        self._window_s = window_s
        self.mute_restarts = False
        self._servers: dict[str, _Server] = {}
        self._last_config_error: str | None = None
        self._unsubscribe: list[Unsubscribe] = [
            bus.subscribe(ServerStateChanged, self._state_changed),
            bus.subscribe(ServerExited, self._exited),
            bus.subscribe(SecretsMissing, self._secrets_missing),
            bus.subscribe(ConfigProblem, self._config_problem),
        ]

    def close(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        for server in self._servers.values():
            if server.summary is not None:
                server.summary.cancel()

    # ----- events

    def _exited(self, event: ServerExited) -> None:
        if not event.planned:
            self._server(event.server).crash = event

    def _state_changed(self, event: ServerStateChanged) -> None:
        server = self._server(event.server)
        if event.state == "crash-loop":
            crash, server.crash = server.crash, None
            if not server.parked:
                server.parked = True
                self._show(_crash_loop(event, crash))
        elif event.state == "running":
            server.waiting_for_secret = False
            if server.parked:
                server.parked = False
                server.crash = None
                self._show(
                    Notice(
                        kind=NoticeKind.RECOVERED,
                        server=event.server,
                        title=f"{event.server} is running again",
                        body="It had stopped after crashing repeatedly.",
                    )
                )
            elif server.crash is not None:
                crash, server.crash = server.crash, None
                self._restarted(event.server, server, crash)
        elif event.state in ("stopped", "disabled"):
            server.crash = None  # stopped on purpose: nothing to report

    def _secrets_missing(self, event: SecretsMissing) -> None:
        server = self._server(event.server)
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

    def _config_problem(self, event: ConfigProblem) -> None:
        first = event.errors[0] if event.errors else event.path
        if first == self._last_config_error:
            return
        self._last_config_error = first
        more = f" (and {len(event.errors) - 1} more)" if len(event.errors) > 1 else ""
        self._show(
            Notice(
                kind=NoticeKind.CONFIG_ERROR,
                server=None,
                title="The config has an error",
                body=f"{first}{more}\nThe servers keep running on the last good config.",
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
                body=_sentence(crash.describe().removeprefix(f"{name} ")),
            )
        )

    def _summarize(self, name: str) -> None:
        server = self._server(name)
        server.summary = None
        count, server.unreported = server.unreported, 0
        if count and not self.mute_restarts:
            times = "once more" if count == 1 else f"{count} more times"
            self._show(
                Notice(
                    kind=NoticeKind.RESTARTED,
                    server=name,
                    title=f"{name} keeps crashing",
                    body=f"It crashed and was restarted {times} in the last minute.",
                )
            )

    def _server(self, name: str) -> _Server:
        return self._servers.setdefault(name, _Server())


def _crash_loop(event: ServerStateChanged, crash: ServerExited | None) -> Notice:
    last = crash.last_stderr[-1] if crash is not None and crash.last_stderr else None
    reason = (event.last_error or "it keeps failing").rstrip(".")
    body = f"Stopped restarting it: {reason}."
    if last and last not in reason:
        body += f"\nLast output: {last}"
    return Notice(
        kind=NoticeKind.CRASH_LOOP,
        server=event.server,
        title=f"{event.server} keeps crashing",
        body=body,
    )


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]
