"""Spawning and stopping one server process with its whole tree.

POSIX: the server runs under ``launcher.py`` in a session of its own, so the
process group holds the server and every descendant, and the launcher ends
that group when the hub dies (see its docstring). Windows: the server is
put in a Job Object that kills the tree when its last handle closes, which
happens when the hub exits however it exits.

Stopping follows the MCP stdio convention, escalating in bounded steps:
close stdin → grace → SIGTERM to the group → grace → SIGKILL to the group.
The group is signalled even when the server itself has already exited, so a
grandchild it left behind does not survive it.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import os
import shutil
import signal
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.core.installation import bundled
from app.core.supervise.launcher import BUNDLED_LAUNCHER_ARG

if sys.platform != "win32":
    import fcntl
    import termios

STDIN_CLOSE_GRACE_S = 1.0  # MCP stdio shutdown: servers exit on EOF; most do at once
TERM_GRACE_S = 1.5  # after SIGTERM; together with the above, a stop is under 3 s
LAUNCHER = Path(__file__).with_name("launcher.py")


class StartFailure(Exception):
    """A start that cannot succeed until the user changes something.

    Raised before spawning, so it costs no retry: the supervisor parks the
    server with this message instead of restarting it in a loop.
    """


@dataclass(frozen=True, kw_only=True)
class SpawnSpec:
    command: str
    args: tuple[str, ...]
    env: dict[str, str]
    cwd: Path | None


@dataclass(frozen=True)
class ExitStatus:
    code: int | None
    signal: int | None

    @classmethod
    def from_returncode(cls, returncode: int) -> ExitStatus:
        """asyncio's convention: a negative return code is the signal that killed it."""
        return cls(None, -returncode) if returncode < 0 else cls(returncode, None)


def resolve_command(spec: SpawnSpec) -> str:
    """The executable's absolute path, or a StartFailure that says what to fix."""
    if spec.cwd is not None and not spec.cwd.is_dir():
        raise StartFailure(f'its working directory {spec.cwd} does not exist; fix "cwd"')
    command = spec.command
    if os.sep in command or (os.altsep and os.altsep in command):
        path = Path(command) if Path(command).is_absolute() else (spec.cwd or Path.cwd()) / command
        if not path.exists():
            raise StartFailure(f'the command {command} does not exist; fix "command"')
        if not os.access(path, os.X_OK):
            raise StartFailure(f"the command {command} is not executable (chmod +x it)")
        return str(path)
    found = shutil.which(command, path=spec.env.get("PATH", os.defpath))
    if found is None:
        raise StartFailure(
            f"the command {command!r} was not found on PATH; install it or give its full path"
        )
    return found


class ServerProcess:
    """One running server: its pipes, its pid and process group, and its end."""

    def __init__(self, process: asyncio.subprocess.Process, lifeline: socket.socket | None) -> None:
        self._process = process
        self._lifeline = lifeline
        self.pid: int | None = None if lifeline is not None else process.pid
        self.group = process.pid  # the launcher leads the session (POSIX)
        self._job: object | None = None
        self._lifeline_writer: asyncio.StreamWriter | None = None
        self._exit: asyncio.Future[ExitStatus] = asyncio.get_running_loop().create_future()
        self._stopping: asyncio.Future[ExitStatus] | None = None
        self._stdin_copy = _duplicate_write_end(process)

    @property
    def stdin(self) -> asyncio.StreamWriter:
        assert self._process.stdin is not None  # spawned with PIPE
        return self._process.stdin

    @property
    def stdout(self) -> asyncio.StreamReader:
        assert self._process.stdout is not None  # spawned with PIPE
        return self._process.stdout

    @property
    def stderr(self) -> asyncio.StreamReader:
        assert self._process.stderr is not None  # spawned with PIPE
        return self._process.stderr

    @classmethod
    async def spawn(cls, spec: SpawnSpec) -> ServerProcess:
        executable = resolve_command(spec)
        if sys.platform == "win32":
            return await cls._spawn_windows(spec, executable)
        return await cls._spawn_posix(spec, executable)

    @classmethod
    async def _spawn_posix(cls, spec: SpawnSpec, executable: str) -> ServerProcess:
        ours, theirs = socket.socketpair()
        try:
            process = await asyncio.create_subprocess_exec(
                *launcher_argv(theirs.fileno()),
                executable,
                *spec.args,
                **_pipes(spec),
                start_new_session=True,
                pass_fds=(theirs.fileno(),),
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        server = cls(process, ours)
        await server._read_lifeline_start()
        return server

    @classmethod
    async def _spawn_windows(cls, spec: SpawnSpec, executable: str) -> ServerProcess:
        from app.core.supervise import winjob

        process = await asyncio.create_subprocess_exec(
            executable,
            *spec.args,
            **_pipes(spec),
            creationflags=winjob.CREATE_NEW_PROCESS_GROUP,
        )
        server = cls(process, None)
        server._job = winjob.contain(process.pid)
        asyncio.get_running_loop().create_task(server._watch_windows())
        return server

    async def _read_lifeline_start(self) -> None:
        """The launcher's first word: the server's pid, or how it failed to start."""
        assert self._lifeline is not None
        reader, self._lifeline_writer = await asyncio.open_connection(sock=self._lifeline)
        first = (await reader.readline()).decode().split()
        if first[:1] == ["pid"]:
            self.pid = int(first[1])
        elif first[:1] == ["exit"]:
            self._set_exit(ExitStatus(int(first[1]), None))
        asyncio.get_running_loop().create_task(self._watch_posix(reader))

    async def _watch_posix(self, lifeline: asyncio.StreamReader) -> None:
        line = (await lifeline.readline()).decode().split()
        if line[:1] == ["exit"]:
            self._set_exit(ExitStatus.from_returncode(int(line[1])))
        returncode = await self._process.wait()
        self._set_exit(ExitStatus.from_returncode(returncode))

    async def _watch_windows(self) -> None:
        self._set_exit(ExitStatus.from_returncode(await self._process.wait()))

    def _set_exit(self, status: ExitStatus) -> None:
        if not self._exit.done():
            self._exit.set_result(status)

    @property
    def exited(self) -> bool:
        return self._exit.done()

    async def wait(self) -> ExitStatus:
        return await asyncio.shield(self._exit)

    async def stop(
        self, *, stdin_grace: float = STDIN_CLOSE_GRACE_S, term_grace: float = TERM_GRACE_S
    ) -> ExitStatus:
        """The bounded escalation; returns how the server ended. Safe to call twice."""
        if self._stopping is None:
            self._stopping = asyncio.ensure_future(self._escalate(stdin_grace, term_grace))
        return await asyncio.shield(self._stopping)

    async def _escalate(self, stdin_grace: float, term_grace: float) -> ExitStatus:
        self._close_stdin_copy()  # else the server would never see end-of-file
        with contextlib.suppress(OSError):
            self.stdin.close()
        if not await self._exited_within(stdin_grace):
            self._signal_tree(signal.SIGTERM)
            if not await self._exited_within(term_grace):
                self._signal_tree(signal.SIGKILL)
        status = await self.wait()
        self.kill_tree()  # whatever the server left behind in its group
        await self._process.wait()
        self._close()
        return status

    def undelivered_stdin_bytes(self) -> int | None:
        """How many bytes written to the server's stdin it never read (None: unknown).

        Asked after the server died: a request entirely within that tail never
        reached it, so it is safe to send again to the next process. It is what
        is still in the pipe (FIONREAD, on our own copy of the write end, which
        keeps the pipe's buffer alive after asyncio closes its end) plus what
        asyncio had not written yet.
        """
        if self._stdin_copy is None:
            return None
        try:
            in_pipe = array.array("i", [0])
            fcntl.ioctl(self._stdin_copy, termios.FIONREAD, in_pipe)
        except OSError:
            return None
        return in_pipe[0] + self.stdin.transport.get_write_buffer_size()

    def _close_stdin_copy(self) -> None:
        if self._stdin_copy is not None:
            os.close(self._stdin_copy)
            self._stdin_copy = None

    def kill_tree(self) -> None:
        """SIGKILL the whole group at once; safe to call on a process that has ended."""
        self._signal_tree(signal.SIGKILL)

    async def _exited_within(self, seconds: float) -> bool:
        try:
            await asyncio.wait_for(self.wait(), seconds)
        except TimeoutError:
            return False
        return True

    def _signal_tree(self, signum: int) -> None:
        if sys.platform == "win32":
            from app.core.supervise import winjob

            winjob.terminate(self._job)
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.group, signum)

    def _close(self) -> None:
        self._close_stdin_copy()
        if self._lifeline_writer is not None:
            self._lifeline_writer.close()
        elif self._lifeline is not None:
            self._lifeline.close()


def _pipes(spec: SpawnSpec) -> dict[str, Any]:
    """How every server is started: stdio through pipes, its env and folder."""
    pipe = asyncio.subprocess.PIPE
    return {"stdin": pipe, "stdout": pipe, "stderr": pipe, "env": spec.env, "cwd": spec.cwd}


def _duplicate_write_end(process: asyncio.subprocess.Process) -> int | None:
    """A copy of the server's stdin pipe, to tell later how much of it the server read.

    None when that cannot be told: on Windows, or when the server exited so fast
    that asyncio has already closed the pipe (a command that fails at once; on
    Qt's loop this happens before the spawn returns).
    """
    if sys.platform == "win32" or process.stdin is None:
        return None
    pipe = process.stdin.transport.get_extra_info("pipe")
    if pipe is None or pipe.closed:
        return None
    return os.dup(pipe.fileno())


def launcher_argv(lifeline_fd: int) -> list[str]:
    if bundled():  # no separate Python to run launcher.py with: the bundle runs it
        return [sys.executable, BUNDLED_LAUNCHER_ARG, str(lifeline_fd)]
    # -I: ignore the user's PYTHON* variables (they are meant for the server);
    # -S: skip site, the launcher needs nothing beyond the standard library.
    return [sys.executable, "-I", "-S", str(LAUNCHER), str(lifeline_fd)]
