"""What keeps the HTTP endpoint standing when someone without the token leans on it.

A connection costs a file descriptor before anyone knows who is calling, and
the hub's descriptors are shared with its servers' pipes and the control
socket (``mcp-tray status``). So each listener:

- holds at most ``max_connections`` at once; one more is answered 503 and
  closed at once, before a byte of it is read;
- gives each request ``deadline_s`` from its first byte (or from the
  connection) to arrive whole, head and body; a connection still short of a
  whole request then is cut (no answer owed: it never asked a whole question).

uvicorn's own settings do the rest: ``timeout_keep_alive`` closes a kept-alive
connection that stays idle after a response (5 s), and h11 refuses a request
head above 16 KiB with 400. Its ``limit_concurrency`` is not used: it answers
503 only once a request's head has arrived, so connections that never finish
their head would still hold every descriptor.

Every line an outsider can cause (refusals, cut connections, uvicorn's "Invalid
HTTP request") goes through one :class:`Throttle`: at most ``most`` lines a
minute, each cut to ``LINE_CHARS`` with control characters escaped, and one
line that counts the rest.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import ClassVar

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

MAX_CONNECTIONS = 128  # per listener: well inside the usual 1,024 descriptors, and many apps' worth
ACCEPT_BATCH = 32  # how many connections asyncio accepts in one turn of the loop
LISTEN_QUEUE = 1024  # how many the kernel queues before they are accepted
REQUEST_DEADLINE_S = 10.0  # a request over loopback arrives in milliseconds, even at the body limit
LINE_CHARS = 300  # a refusal line: method, path, address and reason, never a screenful
LINES_PER_WINDOW = 20  # refusal lines logged one by one per window; the rest are counted
WINDOW_S = 60.0

_BUSY_TEXT = b"MCP Tray's HTTP endpoint has too many connections open; try again in a moment.\n"
BUSY_RESPONSE = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Length: " + str(len(_BUSY_TEXT)).encode() + b"\r\n"
    b"Connection: close\r\n\r\n" + _BUSY_TEXT
)
_UNFINISHED = (h11.IDLE, h11.SEND_BODY)  # the client's side of a request still coming in


def cut(text: str, most: int = LINE_CHARS) -> str:
    """``text`` on one line (control characters escaped), at most ``most`` characters."""
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text if len(text) <= most else text[: most - 1] + "…"


class Throttle(logging.Filter):
    """A filter for the loggers an outsider can make speak: lets ``most`` records
    through per ``window_s`` seconds, each cut with :func:`cut`, and counts the
    rest; when a window that held some back ends, one line on ``summary`` says
    how many.

    Attach it with :meth:`watch`; :meth:`close` detaches it and says what is
    still held back.
    """

    def __init__(
        self, summary: logging.Logger, *, most: int = LINES_PER_WINDOW, window_s: float = WINDOW_S
    ) -> None:
        super().__init__()
        self._summary = summary
        self._most = most
        self._window_s = window_s
        self._window_ends = 0.0
        self._passed = 0
        self._held = 0
        self._report: asyncio.TimerHandle | None = None
        self._watched: list[logging.Logger] = []

    def watch(self, *loggers: logging.Logger) -> None:
        for watched in loggers:
            watched.addFilter(self)
            self._watched.append(watched)

    def close(self) -> None:
        for watched in self._watched:
            watched.removeFilter(self)
        self._watched.clear()
        if self._report is not None:
            self._report.cancel()
        self._say_held()

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "throttle_summary", False):
            return True
        now = time.monotonic()
        if now >= self._window_ends:
            self._window_ends = now + self._window_s
            self._passed = 0
        if self._passed < self._most:
            self._passed += 1
            record.msg, record.args = cut(record.getMessage()), None
            return True
        self._held += 1
        if self._report is None:
            self._schedule_report(self._window_ends - now)
        return False

    def _schedule_report(self, delay: float) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # a record from another thread: the next window's report counts it
        self._report = loop.call_later(delay, self._say_held)

    def _say_held(self) -> None:
        self._report = None
        held, self._held = self._held, 0
        if held:
            self._summary.warning(
                "HTTP endpoint: %d more line(s) like the above in the last %.0f s were not "
                "logged one by one",
                held,
                self._window_s,
                extra={"throttle_summary": True},
            )


logger = logging.getLogger(__name__)  # outsiders make it speak: watched by a Throttle


@dataclass(frozen=True)
class Limits:
    max_connections: int = MAX_CONNECTIONS
    deadline_s: float = REQUEST_DEADLINE_S


class GuardedH11(H11Protocol):
    """uvicorn's HTTP/1.1 protocol with a cap on connections and a deadline per request.

    uvicorn makes one per connection, with the arguments it gives its own;
    :func:`guarded_protocol` makes the subclass that carries the limits.
    """

    limits: ClassVar[Limits] = Limits()
    _turned_away = False
    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if len(self.connections) >= self.limits.max_connections:
            self._turned_away = True
            transport.write(BUSY_RESPONSE)
            transport.close()
            logger.warning(
                "HTTP endpoint turned away a connection: %d are open already (the most it keeps)",
                self.limits.max_connections,
            )
            return
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._turned_away:
            return
        if self._deadline is None and self.conn.their_state in _UNFINISHED:
            self._arm()  # the next request on a kept-alive connection starts
        super().data_received(data)
        if self.conn.their_state not in _UNFINISHED:
            self._disarm()  # whole: the answer may take as long as the call does

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if not self._turned_away:
            super().connection_lost(exc)

    def _arm(self) -> None:
        self._deadline = self.loop.call_later(self.limits.deadline_s, self._too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if self.transport.is_closing() or self.conn.their_state not in _UNFINISHED:
            return
        client = self.client[0] if self.client else "a local socket"
        logger.warning(
            "HTTP endpoint cut a connection from %s: no whole request within %g s",
            client,
            self.limits.deadline_s,
        )
        self.transport.abort()  # not close(): that would wait on a peer that does not read


def guarded_protocol(limits: Limits) -> type[GuardedH11]:
    """The protocol class for one listener's uvicorn config."""

    class Guarded(GuardedH11):
        pass

    Guarded.limits = limits
    return Guarded
