"""Spawning and stopping one server process with its whole tree.

POSIX: the server runs under ``launcher.py`` in a session of its own, so the
process group holds the server and every descendant, and the launcher ends
that group when the hub dies (see its docstring). Windows: the server is
put in a Job Object that kills the tree when its last handle closes, which
happens when the hub exits however it exits.

Stopping follows the MCP stdio convention, escalating in bounded steps:
close stdin → grace → SIGTERM to the group → grace → SIGKILL to the group
(a hung server skips the first step: it would not read the end-of-file).
The group is signalled even when the server itself has already exited, so a
grandchild it left behind does not survive it.
"""

from __future__ import annotations

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
from app.core.supervise.programs import MissingProgram, is_path, path_missing
from app.core.supervise.stdin import StdinPipe, StreamInput

STDIN_CLOSE_GRACE_S = 1.0  # MCP stdio shutdown: servers exit on EOF; most do at once
TERM_GRACE_S = 1.5  # after SIGTERM; together with the above, a stop is under 3 s
LAUNCHER_GONE_WAIT_S = 5.0  # for the pipes to close once an orphaned tree is killed (bound)
LAUNCHER = Path(__file__).with_name("launcher.py")


class StartFailure(Exception):
    """A start that cannot succeed until the user changes something.

    Raised before spawning, so it costs no retry: the supervisor parks the
    server with this message instead of restarting it in a loop.
    """


class ProgramMissing(StartFailure):
    """The program the server is started with, a bare name, is not on the PATH it gets.
    Nothing but installing it helps, so the server waits for the user (needs-program)
    rather than parking as if it crashed. A path that is not there is a plain
    StartFailure: installing nothing fixes it."""

    def __init__(self, program: MissingProgram) -> None:
        self.program = program
        super().__init__(program.phrase())


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
    if is_path(command):
        folder = None if Path(command).is_absolute() else spec.cwd or Path.cwd()
        path = Path(command) if folder is None else folder / command
        if not path.exists():
            # A file the settings name, not an install: crash-loop, not needs-program.
            raise StartFailure(path_missing(command, None if folder is None else str(folder)))
        if not os.access(path, os.X_OK):
            raise StartFailure(f"the command {command} is not executable (chmod +x it)")
        return str(path)
    # The PATH the server itself gets (the login shell's, or its config's own), so
    # the program found is the one its children find too.
    found = shutil.which(command, path=spec.env.get("PATH", os.defpath))
    if found is None:
        raise ProgramMissing(MissingProgram(command))
    return found


class ServerProcess:
    """One running server: its pipes, its pid and process group, and its end."""

    def __init__(
        self,
        process: asyncio.subprocess.Process,
        lifeline: socket.socket | None,
        stdin: StdinPipe | StreamInput,
    ) -> None:
        self._process = process
        self.stdin = stdin
        self._lifeline = lifeline
        self.pid: int | None = None if lifeline is not None else process.pid
        self.group = process.pid  # the launcher leads the session (POSIX)
        self._job: object | None = None
        self._lifeline_writer: asyncio.StreamWriter | None = None
        self._exit: asyncio.Future[ExitStatus] = asyncio.get_running_loop().create_future()
        self._stopping: asyncio.Future[ExitStatus] | None = None

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
        # The hub writes the server's stdin itself (app.core.supervise.stdin).
        stdin_read, stdin_write = os.pipe()
        try:
            process = await asyncio.create_subprocess_exec(
                *launcher_argv(theirs.fileno()),
                executable,
                *spec.args,
                **{**_pipes(spec), "stdin": stdin_read},
                start_new_session=True,
                pass_fds=(theirs.fileno(),),
            )
        except BaseException:
            ours.close()
            os.close(stdin_write)
            raise
        finally:
            theirs.close()
            os.close(stdin_read)
        server = cls(process, ours, StdinPipe(stdin_write))
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
        assert process.stdin is not None  # spawned with PIPE
        server = cls(process, None, StreamInput(process.stdin))
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
        with contextlib.suppress(ConnectionError):
            line = (await lifeline.readline()).decode().split()
            if line[:1] == ["exit"]:
                self._set_exit(ExitStatus.from_returncode(int(line[1])))
        if not self.exited:
            await self._launcher_gone()
        returncode = await self._process.wait()
        self._set_exit(ExitStatus.from_returncode(returncode))

    async def _launcher_gone(self) -> None:
        """The launcher died without reporting an exit (killed on its own): its server
        is an orphan nobody would end. End the tree; it counts as the server's death.

        ``wait()`` returns only once every holder of the pipes has closed them,
        which the kill brings about at once (bounded, for a descendant that left
        the group).
        """
        self._signal_tree(signal.SIGKILL)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._process.wait()), LAUNCHER_GONE_WAIT_S)
        returncode = self._process.returncode
        self._set_exit(
            ExitStatus.from_returncode(returncode)
            if returncode is not None
            else ExitStatus(None, signal.SIGKILL)
        )

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
        self,
        *,
        ask_first: bool = True,
        stdin_grace: float = STDIN_CLOSE_GRACE_S,
        term_grace: float = TERM_GRACE_S,
    ) -> ExitStatus:
        """The bounded escalation; returns how the server ended. Safe to call twice.

        ``ask_first``: close its stdin and give it a grace to exit, as MCP's stdio
        convention asks. Not for a hung server: it would not read the end-of-file,
        and, its input left open until it is gone, the hub can tell exactly which
        requests it never read.
        """
        if self._stopping is None:
            self._stopping = asyncio.ensure_future(
                self._escalate(ask_first, stdin_grace, term_grace)
            )
        return await asyncio.shield(self._stopping)

    async def _escalate(self, ask_first: bool, stdin_grace: float, term_grace: float) -> ExitStatus:
        if ask_first and not self.exited:
            self.stdin.close(reader_gone=False)
            await self._exited_within(stdin_grace)
        if not self.exited:
            self._signal_tree(signal.SIGTERM)
            if not await self._exited_within(term_grace):
                self._signal_tree(signal.SIGKILL)
        status = await self.wait()
        self.kill_tree()  # whatever the server left behind in its group
        await self._process.wait()  # every holder of its pipes is gone
        self.stdin.close(reader_gone=True)  # what is left in its input, nobody read
        self._close()
        return status

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
        if self._lifeline_writer is not None:
            self._lifeline_writer.close()
        elif self._lifeline is not None:
            self._lifeline.close()


def _pipes(spec: SpawnSpec) -> dict[str, Any]:
    """How every server is started: stdio through pipes, its env and folder."""
    pipe = asyncio.subprocess.PIPE
    return {"stdin": pipe, "stdout": pipe, "stderr": pipe, "env": spec.env, "cwd": spec.cwd}


def launcher_argv(lifeline_fd: int) -> list[str]:
    if bundled():  # no separate Python to run launcher.py with: the bundle runs it
        return [sys.executable, BUNDLED_LAUNCHER_ARG, str(lifeline_fd)]
    # -I: ignore the user's PYTHON* variables (they are meant for the server);
    # -S: skip site, the launcher needs nothing beyond the standard library.
    return [sys.executable, "-I", "-S", str(LAUNCHER), str(lifeline_fd)]
