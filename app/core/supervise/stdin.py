"""A server's standard input, written by the hub, which knows what the server read.

When a server dies with requests on their way to it, each request must be
told apart: one the server may have read (a ``tools/call`` that may have had
effects, never sent again) from one it cannot have read (sent again to the
next process, so nothing is lost). That needs the exact number of bytes the
kernel took into the pipe, which asyncio's pipe transport cannot give: it
drops its unsent buffer the moment it sees the pipe close. So the hub writes
the pipe itself: bytes the kernel did not take yet wait in a queue here, and
are counted as never read.

Writing never waits: a message is queued at once and goes out as the server
reads. A server that stops reading is the supervisor's to notice (its health
check), not something a writer blocks on.
"""

from __future__ import annotations

import array
import asyncio
import collections
import contextlib
import errno
import os
import sys

if sys.platform != "win32":
    import fcntl
    import termios


class InputClosed(ConnectionResetError):
    """The server's input is closed: nothing more can be sent to this process."""


class StdinPipe:
    """The write end of a server's stdin pipe (POSIX), owned by the hub."""

    def __init__(self, fd: int) -> None:
        os.set_blocking(fd, False)
        self._fd: int | None = fd
        self._loop = asyncio.get_running_loop()
        self._queue: collections.deque[memoryview] = collections.deque()
        self._watching = False
        self.written = 0  # bytes the kernel took into the pipe
        self._broken = False  # the server's end is closed
        self._read_upto: int | None = None  # fixed at close: see read_upto

    @property
    def writable(self) -> bool:
        return self._fd is not None and not self._broken

    def write(self, data: bytes) -> None:
        """Send ``data`` after everything written before it; InputClosed when it cannot."""
        if not self.writable:
            raise InputClosed("the server's input is closed")
        view = memoryview(data)
        if not self._queue:
            view = view[self._write_some(view) :]
        if view and self.writable:
            self._queue.append(view)
            if not self._watching:
                self._loop.add_writer(self._fd, self._flush)  # type: ignore[arg-type]
                self._watching = True

    def read_upto(self) -> int | None:
        """After close: how far into its input the server may have read (None: unknown).

        Everything beyond it never reached the server. Bytes still in the pipe
        count as read unless the server was already gone when its input was
        closed: a live server may read them after the close.
        """
        return self._read_upto

    def close(self, *, reader_gone: bool) -> None:
        """Close the hub's end (the server sees end-of-file); fixes :meth:`read_upto`.

        ``reader_gone``: the server has exited, so what is left in the pipe is
        what it never read.
        """
        if self._fd is None:
            return
        unread = self._unread_in_pipe() if reader_gone else 0
        self._read_upto = None if unread is None else self.written - unread
        self._stop_watching()
        self._queue.clear()
        with contextlib.suppress(OSError):
            os.close(self._fd)
        self._fd = None

    def _write_some(self, view: memoryview) -> int:
        assert self._fd is not None
        try:
            count = os.write(self._fd, view)
        except BlockingIOError:
            return 0
        except (BrokenPipeError, ConnectionResetError):
            self._break()
            return 0
        except OSError as error:
            if error.errno not in (errno.EPIPE, errno.EBADF):
                raise
            self._break()
            return 0
        self.written += count
        return count

    def _flush(self) -> None:
        while self._queue and self.writable:
            head = self._queue[0]
            count = self._write_some(head)
            if count < len(head):
                self._queue[0] = head[count:]
                return  # the pipe is full: the loop calls again when it has room
            self._queue.popleft()
        self._stop_watching()

    def _break(self) -> None:
        """The server closed its end: what is still queued was never written, so it is unread."""
        self._broken = True
        self._stop_watching()

    def _stop_watching(self) -> None:
        if self._watching and self._fd is not None:
            self._loop.remove_writer(self._fd)
        self._watching = False

    def _unread_in_pipe(self) -> int | None:
        """What is in the pipe and not read (FIONREAD works on a pipe's write end on Linux)."""
        if self._fd is None or sys.platform == "win32":
            return None
        count = array.array("i", [0])
        try:
            fcntl.ioctl(self._fd, termios.FIONREAD, count)
        except OSError:
            return None
        return count[0]


class StreamInput:
    """asyncio's StreamWriter with the same surface, where the hub cannot own the pipe
    (Windows): it cannot tell what the server read, so :meth:`read_upto` is unknown."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer

    @property
    def writable(self) -> bool:
        return not self._writer.transport.is_closing()

    def write(self, data: bytes) -> None:
        if not self.writable:
            raise InputClosed("the server's input is closed")
        self._writer.write(data)

    def read_upto(self) -> int | None:
        return None

    def close(self, *, reader_gone: bool) -> None:
        with contextlib.suppress(OSError):
            self._writer.close()
