"""The hub's typed event bus.

Supervisors, the config loader and the hub publish; the control API and the
tray subscribe. The bus is an instance owned by the hub, never a global, so
two hubs in one test process do not hear each other.

Handlers run synchronously, in publishing order, on the event-loop thread. A
handler that raises is logged and does not stop the others: one broken
subscriber must never take the supervisor down with it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, get_args

from app.core.activity import Request
from app.core.supervise.failure import Failure
from app.core.supervise.states import State
from app.core.supervise.stderr import stamped

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class ServerStateChanged:
    server: str
    state: State
    previous: State
    pid: int | None
    restarts: int
    failure: Failure | None = None  # how its last run failed; None once it runs
    remote: bool = False  # reached over the network: it cannot be reached rather than crash


@dataclass(frozen=True, kw_only=True)
class ServerExited:
    """A server process ended; ``planned`` when the hub asked it to."""

    server: str
    exit_code: int | None
    signal: int | None
    planned: bool
    last_stderr: tuple[str, ...] = ()

    def how(self) -> str:
        """How it ended, e.g. "exited with status 1" or "was killed by SIGKILL"."""
        if self.signal is not None:
            return f"was killed by {_signal_name(self.signal)}"
        return f"exited with status {self.exit_code}"

    def failure(self) -> Failure:
        """This exit as a failure of the server's run (whether or not it was planned)."""
        status = -self.signal if self.signal is not None else self.exit_code
        return Failure(phrase=self.how(), exit_status=status, last_output=self.last_stderr)

    def describe(self) -> str:
        """One sentence a person can read, e.g. in a notification."""
        return self.failure().sentence(self.server)


@dataclass(frozen=True, kw_only=True)
class ServerLogLine:
    """One line of a server's log: its own stderr (already redacted), or, with
    ``lifecycle``, MCP Tray's line about it ("Exited with status 1.")."""

    server: str
    stamp: str  # local time, as in the log file
    line: str
    lifecycle: bool = False  # hubs before lifecycle lines send no such field

    def stamped(self) -> str:
        """The line as it stands in the log file (app.core.supervise.stderr.parse_log_line)."""
        return stamped(self.stamp, self.line, lifecycle=self.lifecycle)


@dataclass(frozen=True, kw_only=True)
class ConfigProblem:
    """The config file could not be used; the hub keeps the last good one."""

    path: str
    errors: tuple[str, ...] = field(default_factory=tuple)

    def describe(self) -> str:
        return "\n".join(self.errors)


@dataclass(frozen=True, kw_only=True)
class ConfigApplied:
    """The config file was read and applied; ``changed`` names the servers it touched."""

    changed: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class SourcesChanged:
    """Watched source files of a server changed; the hub restarts it if it runs."""

    server: str
    paths: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class SecretsMissing:
    """A server waits in needs-secret until these secrets are set (names, never values)."""

    server: str
    names: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class ToolsHeld:
    """A server changed or added tools since the user accepted its tools: these are kept
    from the apps until the user reviews them (app.core.accepted)."""

    server: str
    tools: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class ActivityRecorded:
    """Requests to servers ended, and have their rows in the activity record
    (app.core.activity): those of the last moment, oldest first."""

    rows: tuple[Request, ...]


Event = (
    ServerStateChanged
    | ServerExited
    | ServerLogLine
    | ConfigProblem
    | ConfigApplied
    | SourcesChanged
    | SecretsMissing
    | ToolsHeld
    | ActivityRecorded
)
E = TypeVar(
    "E",
    ServerStateChanged,
    ServerExited,
    ServerLogLine,
    ConfigProblem,
    ConfigApplied,
    SourcesChanged,
    SecretsMissing,
    ToolsHeld,
    ActivityRecorded,
)
Unsubscribe = Callable[[], None]


_KINDS: dict[str, type[Event]] = {kind.__name__: kind for kind in get_args(Event)}


def to_wire(event: Event) -> dict[str, Any]:
    """An event as JSON, for the control API's event stream (a State is its string)."""
    return {"event": type(event).__name__, "fields": dataclasses.asdict(event)}


def from_wire(message: dict[str, Any]) -> Event | None:
    """The event ``to_wire`` made; None for a kind this version does not know.

    Fields this version does not know (sent by a newer hub) are left out.
    """
    kind = _KINDS.get(str(message.get("event")))
    if kind is None:
        return None
    known = {field.name for field in dataclasses.fields(kind)}
    fields: dict[str, Any] = {
        key: tuple(value) if isinstance(value, list) else value
        for key, value in dict(message.get("fields") or {}).items()
        if key in known
    }
    if kind is ServerStateChanged:
        fields["state"], fields["previous"] = State(fields["state"]), State(fields["previous"])
        fields["failure"] = _failure(fields.get("failure"))
    elif kind is ActivityRecorded:
        fields["rows"] = tuple(_readable_rows(fields.get("rows") or ()))
    return kind(**fields)


def _readable_rows(wire: Any) -> list[Request]:
    """The rows to_wire wrote, but for those this version cannot read (a newer hub's
    outcome, say): left out, as a kind of event it does not know would be."""
    rows = []
    for row in wire:
        with contextlib.suppress(KeyError, TypeError, ValueError):
            rows.append(Request.from_wire(row))
    return rows


def _failure(wire: Any) -> Failure | None:
    """The Failure that to_wire wrote as a JSON object; None when there was none."""
    if not isinstance(wire, dict):
        return None
    return Failure(
        phrase=str(wire.get("phrase", "")),
        exit_status=wire.get("exit_status"),
        last_output=tuple(wire.get("last_output") or ()),
        missing_program=wire.get("missing_program"),
    )


class EventBus:
    def __init__(self) -> None:
        self._handlers: list[tuple[type[Event], Callable[[Event], None]]] = []

    def subscribe(self, kind: type[E], handler: Callable[[E], None]) -> Unsubscribe:
        # The handler is only ever called with events of `kind`, which mypy
        # cannot see through the isinstance check in publish().
        entry: tuple[type[Event], Callable[[Event], None]] = (kind, handler)  # type: ignore[assignment]
        self._handlers.append(entry)

        def unsubscribe() -> None:
            if entry in self._handlers:
                self._handlers.remove(entry)

        return unsubscribe

    def subscribe_every(self, handler: Callable[[Event], None]) -> Unsubscribe:
        """``handler`` hears every event, of whatever kind (the control API's stream)."""
        entries = [(kind, handler) for kind in _KINDS.values()]
        self._handlers.extend(entries)

        def unsubscribe() -> None:
            for entry in entries:
                if entry in self._handlers:
                    self._handlers.remove(entry)

        return unsubscribe

    def publish(self, event: Event) -> None:
        for kind, handler in list(self._handlers):
            if isinstance(event, kind):
                try:
                    handler(event)
                except Exception:
                    logger.exception("event handler %r failed on %r", handler, event)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
