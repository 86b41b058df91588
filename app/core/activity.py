"""What the apps asked of each server, and how each request ended: the activity record.

The relay (app.core.rpc.relay) notes a request here when it ends, through its
request table (app.core.rpc.routing.RequestTable): when the server answered
it (``ok``; ``tool-error``, a ``tools/call`` whose result says ``isError``;
``error``, with its JSON-RPC code), when its app cancelled it (``cancelled``),
or when the server ended while it ran and the app was told so with -31001
(``crashed``; ``interrupted`` when MCP Tray itself stopped or restarted the
server). A row holds when the request was sent, which app sent it (the name
in its ``clientInfo``), its method and, for a call, the tool's name, how long
it took and how it ended: never its arguments or its result.

The record is of what reached a server. What the relay answers itself
(``initialize``, ``ping``, a list from its copy while the server is down),
refuses before the server hears of it (a tool switched off, a server that is
paused) or drops with an app that went away, has no row; a request repeated
on a new process after a crash has one row, timed from its repeat.

Each server keeps its last :data:`ROWS_KEPT` rows, oldest dropped first. A
row costs a clock read, a small object and an append, on the relay's loop;
who follows the record (the hub's bus: the window, ``activity -f``) hears of
new rows in batches, at most every :data:`BATCH_S`, not once a request: the
tray's window lives on another thread, and waking it for each request slowed
every round trip through the tray app by a quarter (``bench/relay.py``).
"""

from __future__ import annotations

import asyncio
import enum
import heapq
import itertools
import json
import re
import statistics
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

ROWS_KEPT = 500  # per server: a long session's calls; some 100 KB for a busy server
BATCH_S = 0.25  # new rows are told this long after the first of them: live to a person
UNKNOWN_APP = "an app"  # a client that gave no name (the spec asks for one; not all do)
APP_NAME_CHARS = 64  # a name is the client's own text, shown in a table cell
NAME_CHARS = 128  # of a method or tool name kept (the spec's limit on tool names)
# An error answer is read to find its code when the code is not at its head, up to this size
# (error answers are a sentence or two; a longer line is not parsed for it).
PARSED_ERROR_BYTES = 64 * 1024
# An answer as servers write one, with its error code first: {"jsonrpc":"2.0","id":N,
# "error":{"code":C. The relay passes most answers on unparsed (Relay.server_line).
_ERROR_HEAD = re.compile(
    rb'^\{\s*"jsonrpc"\s*:\s*"2\.0"\s*,\s*"id"\s*:\s*-?\d+\s*,\s*"error"\s*:'
    rb'(?:\s*\{\s*"code"\s*:\s*(-?\d+))?'
)
# A tools/call result that says the tool failed, as the SDKs write it: isError last.
_TOOL_ERROR_TAIL = re.compile(rb'"isError"\s*:\s*true\s*\}\s*\}\s*$')
_TAIL_BYTES = 48  # enough for the tail above, with some spaces
_HEAD_BYTES = 64  # where an error answer's "error" key is, as servers write one


class Outcome(enum.StrEnum):
    """How a request ended; the names the command line and the wire use."""

    OK = "ok"
    TOOL_ERROR = "tool-error"  # answered, and the tool said it failed (isError)
    ERROR = "error"  # a JSON-RPC error answer; its code is kept
    CANCELLED = "cancelled"  # its app cancelled it (notifications/cancelled)
    CRASHED = "crashed"  # the server died while it ran; the app got -31001
    INTERRUPTED = "interrupted"  # MCP Tray stopped or restarted the server while it ran

    @property
    def failed(self) -> bool:
        return self in (Outcome.TOOL_ERROR, Outcome.ERROR, Outcome.CRASHED, Outcome.INTERRUPTED)


# Methods as a person would name what the app did; a tool call is named by its tool.
_METHOD_WORDS = {
    "tools/list": "List tools",
    "prompts/list": "List prompts",
    "prompts/get": "Get a prompt",
    "resources/list": "List resources",
    "resources/templates/list": "List resource templates",
    "resources/read": "Read a resource",
    "resources/subscribe": "Watch a resource",
    "resources/unsubscribe": "Stop watching a resource",
    "completion/complete": "Suggest completions",
    "logging/setLevel": "Set the log level",
}


# Not frozen: a frozen dataclass takes three times as long to make, and the relay makes
# one a request. Nothing changes a row once it is made.
@dataclass(slots=True, kw_only=True)
class Request:
    """One request that reached a server, once it ended."""

    seq: int  # counts every row of the hub: newer rows have larger numbers
    server: str
    at: float  # when it was sent to the server, in seconds since the epoch
    app: str  # its client's name (clientInfo), or UNKNOWN_APP
    method: str
    tool: str | None  # the tool of a tools/call
    duration_s: float
    outcome: Outcome
    code: int | None = None  # the error code of an ERROR

    @property
    def what(self) -> str:
        """The tool a call called, else the method: what the command line shows."""
        return self.tool if self.tool is not None else self.method

    def what_words(self) -> str:
        """What the app asked, for a person: the tool's name, or "List tools"."""
        return self.tool if self.tool is not None else _METHOD_WORDS.get(self.method, self.method)

    def outcome_text(self) -> str:
        """The outcome for the command line: "ok", "error -32602", "cancelled"."""
        if self.outcome is Outcome.ERROR and self.code is not None:
            return f"error {self.code}"
        return self.outcome.value

    def outcome_words(self) -> str:
        """The outcome for a person: "Answered", "Failed (error -32602)", "Cancelled"."""
        if self.outcome is Outcome.ERROR:
            return f"Failed (error {self.code})" if self.code is not None else "Failed"
        return _OUTCOME_WORDS[self.outcome]

    def to_wire(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "server": self.server,
            "at": self.at,
            "app": self.app,
            "method": self.method,
            "tool": self.tool,
            "duration_s": self.duration_s,
            "outcome": self.outcome.value,
            "code": self.code,
        }

    @classmethod
    def from_wire(cls, wire: dict[str, Any]) -> Request:
        """The row ``to_wire`` made (ValueError: an outcome this version does not know)."""
        tool, code = wire.get("tool"), wire.get("code")
        return cls(
            seq=int(wire["seq"]),
            server=str(wire["server"]),
            at=float(wire["at"]),
            app=str(wire.get("app") or UNKNOWN_APP),
            method=str(wire["method"]),
            tool=None if tool is None else str(tool),
            duration_s=float(wire["duration_s"]),
            outcome=Outcome(wire["outcome"]),
            code=code if isinstance(code, int) and not isinstance(code, bool) else None,
        )


_OUTCOME_WORDS = {
    Outcome.OK: "Answered",
    Outcome.TOOL_ERROR: "Failed (the tool reported an error)",
    Outcome.CANCELLED: "Cancelled",
    Outcome.CRASHED: "Interrupted: the server stopped",
    Outcome.INTERRUPTED: "Interrupted: MCP Tray stopped the server",
}


def app_name(client_info: Any) -> str:
    """The name a client gives in its clientInfo (initialize, or the 2026-07-28 envelope)."""
    name = client_info.get("name") if isinstance(client_info, dict) else None
    if not isinstance(name, str):
        return UNKNOWN_APP
    shown = "".join(char for char in name if char.isprintable()).strip()[:APP_NAME_CHARS]
    return shown or UNKNOWN_APP


def answer_outcome(message: dict[str, Any]) -> tuple[Outcome, int | None]:
    """How a parsed answer ended its request, and the error code if it is an error."""
    error = message.get("error")
    if error is not None:
        code = error.get("code") if isinstance(error, dict) else None
        return Outcome.ERROR, code if isinstance(code, int) and not isinstance(code, bool) else None
    found = message.get("result")
    if isinstance(found, dict) and found.get("isError") is True:
        return Outcome.TOOL_ERROR, None
    return Outcome.OK, None


def line_outcome(raw: bytes) -> tuple[Outcome, int | None]:
    """The same for an answer the relay passes on unparsed, read from its first bytes
    (an error and its code) and its last (a tool's isError, where the SDKs write it)."""
    # The plain searches first: most answers are results, and say nothing of isError.
    head = _ERROR_HEAD.match(raw) if raw.find(b'"error"', 0, _HEAD_BYTES) >= 0 else None
    if head is None:
        said = raw.find(b'"isError"', max(len(raw) - _TAIL_BYTES, 0))
        if said >= 0 and raw.find(b"true", said) >= 0 and _TOOL_ERROR_TAIL.match(raw, said):
            return Outcome.TOOL_ERROR, None
        return Outcome.OK, None
    if head[1] is not None:
        return Outcome.ERROR, int(head[1])
    if len(raw) <= PARSED_ERROR_BYTES:
        try:
            return answer_outcome(json.loads(raw))
        except ValueError:  # passed on as it is; the app sees what it makes of it
            pass
    return Outcome.ERROR, None


class Recorder:
    """One server's side of the record, for its relay's request table."""

    __slots__ = ("_activity", "server")

    def __init__(self, activity: Activity, server: str) -> None:
        self._activity = activity
        self.server = server

    def ended(
        self,
        *,
        sent_at: float,
        app: str,
        method: str,
        tool: str | None,
        outcome: Outcome,
        code: int | None = None,
    ) -> None:
        """A request sent at ``sent_at`` (time.monotonic) ended now, so."""
        took = time.monotonic() - sent_at
        self._activity.add(
            Request(
                seq=self._activity.next_seq(),
                server=self.server,
                at=time.time() - took,
                app=app,
                method=method[:NAME_CHARS],
                tool=None if tool is None else tool[:NAME_CHARS],
                duration_s=took,
                outcome=outcome,
                code=code,
            )
        )


class Activity:
    """Every server's last requests. ``on_rows`` hears of the new ones, oldest first, a
    batch at a time (at most every ``batch_s``, on the running loop): the hub's bus."""

    def __init__(
        self,
        *,
        kept: int = ROWS_KEPT,
        on_rows: Callable[[list[Request]], None] | None = None,
        batch_s: float = BATCH_S,
    ) -> None:
        self._kept = kept
        self._on_rows = on_rows
        self._batch_s = batch_s
        self._untold: list[Request] = []
        self._rows: dict[str, deque[Request]] = {}
        self._numbers = itertools.count(1)

    def recorder(self, server: str) -> Recorder:
        return Recorder(self, server)

    def next_seq(self) -> int:
        """The number of the next row (Request.seq)."""
        return next(self._numbers)

    def add(self, row: Request) -> None:
        rows = self._rows.get(row.server)
        if rows is None:
            rows = self._rows[row.server] = deque(maxlen=self._kept)
        rows.append(row)
        if self._on_rows is not None:
            if not self._untold:
                asyncio.get_running_loop().call_later(self._batch_s, self._tell)
            self._untold.append(row)

    def _tell(self) -> None:
        rows, self._untold = self._untold, []
        assert self._on_rows is not None
        self._on_rows(rows)

    def rows(self, server: str | None = None, app: str | None = None) -> list[Request]:
        """The rows kept, oldest first: of one server, or of all; of one app, or of all."""
        if server is not None:
            kept: Iterable[Request] = self._rows.get(server, ())
        else:
            kept = heapq.merge(*self._rows.values(), key=lambda row: row.seq)
        return matching(kept, app=app)

    def forget(self, server: str) -> None:
        """A server left the config: its rows go with it."""
        self._rows.pop(server, None)


def matching(
    rows: Iterable[Request], *, server: str | None = None, app: str | None = None
) -> list[Request]:
    """The rows of ``server`` and ``app`` (None: any)."""
    return [
        row
        for row in rows
        if (server is None or row.server == server) and (app is None or row.app == app)
    ]


@dataclass(frozen=True, slots=True)
class Usage:
    """How often one tool (or method) of one server was asked, and how long it took."""

    server: str
    what: str  # Request.what
    words: str  # Request.what_words
    calls: int
    failed: int  # ended other than answered or cancelled
    median_s: float


def usage(rows: Iterable[Request]) -> list[Usage]:
    """Per server and tool (or method): calls, failures and the median time; the most
    asked first."""
    grouped: dict[tuple[str, str], list[Request]] = {}
    for row in rows:
        grouped.setdefault((row.server, row.what), []).append(row)
    found = [
        Usage(
            server=server,
            what=what,
            words=requests[0].what_words(),
            calls=len(requests),
            failed=sum(row.outcome.failed for row in requests),
            median_s=statistics.median(row.duration_s for row in requests),
        )
        for (server, what), requests in grouped.items()
    ]
    return sorted(found, key=lambda each: (-each.calls, each.server, each.what))


def clock(at: float) -> str:
    """When a request was sent, as a clock shows it: "14:02:11" (local time)."""
    return time.strftime("%H:%M:%S", time.localtime(at))


def took(seconds: float) -> str:
    """A request's duration as people read it: "0.4 ms", "12 ms", "1.2 s", "2 min 5 s"."""
    if seconds < 0.001:
        return f"{seconds * 1000:.1f} ms"
    if seconds < 0.9995:  # else it would read "1000 ms"
        return f"{seconds * 1000:.0f} ms"
    if seconds < 59.95:  # else it would read "60.0 s"
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"
