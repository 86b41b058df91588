"""One life of a server process, from its spawn to its stop.

A supervisor (app.core.supervise.supervisor) drives a server through many
lives, one :class:`ServerRun` each:

    fill in the placeholders → spawn → MCP initialize → running, pinged at each
    interval → it exits, hangs, or the supervisor's wish ends the run → stop the
    tree → tell the listener (the relay) what the server may have read

and learns how it ended as an :class:`Outcome`. A run moves the state and
writes the log only through the supervisor (:class:`RunOwner`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from app.core.config import ServerConfig
from app.core.config.placeholders import MissingValues
from app.core.events import EventBus, ServerExited
from app.core.racing import first_done
from app.core.rpc.backend import BackendClosed, BackendSession, RpcError, ServerInput
from app.core.rpc.framing import MalformedLine, Message, MessageReader
from app.core.supervise import lifecycle
from app.core.supervise.failure import Failure
from app.core.supervise.process import (
    ExitStatus,
    ProgramMissing,
    ServerProcess,
    SpawnSpec,
    StartFailure,
    resolve_command,
)
from app.core.supervise.programs import MissingProgram
from app.core.supervise.states import Trigger
from app.core.supervise.stderr import ServerLog, pump_lines

logger = logging.getLogger(__name__)

LAST_LINES_IN_EVENTS = 5
EXIT_AFTER_CLOSE_S = 2.0  # a server that closed its pipes is given this long to exit by itself
STDERR_DRAIN_S = 0.5  # a crashed server's last words (its traceback) arrive just after its exit


class SessionListener(Protocol):
    """Who hears about the server's sessions: the relay, in the hub."""

    def server_message(self, message: Message, raw: bytes) -> None:
        """Anything the server sends that is not an answer to the hub's own requests.

        ``raw`` is the line it came as, so it can be passed on without re-encoding.
        """

    def server_line(self, raw: bytes) -> bool:
        """A line before it is parsed: True when the listener passed it on as it is."""

    async def session_ready(self, session: BackendSession) -> None:
        """A new process finished its handshake (awaited before it counts as running)."""

    def session_ended(self, *, planned: bool, delivered: int | None) -> None:
        """The process is gone; ``planned`` when the hub ended it.

        ``delivered``: how far into its stdin the server may have read (None when
        unknown); a request that starts beyond it never reached the server.
        """

    def waiting_since(self) -> float | None:
        """When the oldest request now waiting on the server was sent to it (monotonic);
        None when none waits."""


# Fills in a server's placeholders at spawn time, giving its args and env;
# raises MissingValues (a secret or variable is not there) or StartFailure.
Launch = Callable[[ServerConfig], Awaitable[tuple[list[str], dict[str, str]]]]


async def as_written(config: ServerConfig) -> tuple[list[str], dict[str, str]]:
    return list(config.args), dict(config.env)


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """How one run of the server ended, as the driver loop needs to know it."""

    failure: Failure | None  # None: it ended because it was asked to
    uptime_s: float
    deterministic: bool = False
    # The network failed, not the server (a remote one): tried again at the backoff's
    # pace for as long as it takes, never paused, since nothing is the user's to fix.
    offline: bool = False
    missing_secrets: tuple[str, ...] = ()
    missing_program: MissingProgram | None = None
    needs_sign_in: bool = False  # a remote server's: no token works, the user must sign in


@dataclass(frozen=True, kw_only=True)
class Wiring:
    """What every run of one server is connected to; fixed for the supervisor's life."""

    bus: EventBus
    listener: SessionListener | None
    launch: Launch
    base_env: Mapping[str, str]
    on_spawn: Callable[[str, ServerProcess | None], None]


class RunOwner(Protocol):
    """What a run needs of the supervisor that drives it."""

    name: str
    config: ServerConfig
    log: ServerLog
    last_exit: ExitStatus | None

    def move(self, trigger: Trigger) -> None:
        """Move the state machine (and publish the change)."""

    def note(self, text: str) -> None:
        """A lifecycle line in the server's log."""

    def hear(self, text: str) -> None:
        """A line of the server's own stderr."""

    def count_spawn(self) -> None:
        """A process is about to be spawned (each after the first is a restart)."""

    def interrupted(self) -> bool:
        """Whether the supervisor's wish ends this run now (stop, planned restart)."""

    async def until_interrupted(self) -> None:
        """Return once :meth:`interrupted` holds."""


class ServerRun:
    """One spawn of the server, until its process tree is gone."""

    def __init__(self, owner: RunOwner, wiring: Wiring) -> None:
        self._owner = owner
        self._wiring = wiring
        self.name = owner.name
        self.process: ServerProcess | None = None
        self.session: BackendSession | None = None
        self.ready_at: float | None = None  # monotonic, once the handshake succeeded
        self._exit_reported = False
        self._exit_planned = False
        self._stderr_pump: asyncio.Task[None] | None = None

    async def live(self) -> Outcome:
        """Spawn, serve and stop the server; how it ended."""
        owner = self._owner
        spec = await self._prepare()
        if isinstance(spec, Outcome):
            return spec
        owner.count_spawn()
        try:
            process = await ServerProcess.spawn(spec)
        except ProgramMissing as missing:
            return self._program_missing(missing.program)
        except StartFailure as failure:
            return self._cannot_start(str(failure))
        except OSError as error:
            return self._cannot_start(f"could not be started: {error}", reason=str(error))
        self.process = process
        owner.note(lifecycle.started(process.pid))
        self._wiring.on_spawn(self.name, process)
        try:
            return await self._serve(process)
        finally:
            await self._stop(process)

    def kill_tree(self) -> None:
        if self.process is not None:
            self.process.kill_tree()

    async def _stop(self, process: ServerProcess) -> None:
        owner = self._owner
        if owner.interrupted():
            owner.move(Trigger.STOP)
        # A planned stop asks the server to exit; a hung or dead one is just ended.
        status = await process.stop(ask_first=owner.interrupted())
        if not self._exit_reported:  # the hub ended it, so nothing has told of its exit
            # Planned only when asked for; a hung server that was ended crashed.
            self._exited(status, planned=owner.interrupted(), by_hub=True)
        listener = self._wiring.listener
        if listener is not None:
            delivered = process.stdin.read_upto()
            listener.session_ended(planned=self._exit_planned, delivered=delivered)
        self.process = None
        self.session = None
        self.ready_at = None
        self._wiring.on_spawn(self.name, None)

    async def _serve(self, process: ServerProcess) -> Outcome:
        session = self._new_session(MessageReader(process.stdout), process.stdin)
        self._stderr_pump = asyncio.create_task(pump_lines(process.stderr, self._owner.hear))
        background = [
            asyncio.create_task(session.run(), name=f"{self.name} stdout"),
            self._stderr_pump,
        ]
        started = time.monotonic()
        try:
            failure = await self._first(process, self._handshake(session))
            if failure is not None or self._owner.interrupted():
                return Outcome(failure=failure, uptime_s=time.monotonic() - started)
            ready_at = self._became_ready(f"pid {process.pid}")
            failure = await self._first(process, self._health(session))
            return Outcome(failure=failure, uptime_s=time.monotonic() - ready_at)
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)

    def _new_session(self, reader: MessageReader, writer: ServerInput) -> BackendSession:
        """The hub's MCP session over the server's output and input, wired to the relay."""
        listener = self._wiring.listener
        self.session = BackendSession(
            reader,
            writer,
            name=self.name,
            on_message=listener.server_message if listener else None,
            on_line=listener.server_line if listener else None,
            on_malformed=self._stdout_garbage,
        )
        return self.session

    def _became_ready(self, where: str) -> float:
        """The handshake succeeded: running from now (returned)."""
        ready_at = self.ready_at = time.monotonic()
        self._owner.move(Trigger.READY)
        self._owner.note(lifecycle.RUNNING)
        logger.info("%s is running (%s)", self.name, where)
        return ready_at

    async def _first(
        self, process: ServerProcess, work: Coroutine[Any, Any, str | None]
    ) -> Failure | None:
        """Run ``work`` until it finishes, the process exits, or a stop/restart is asked.

        ``work`` returns the phrase of what went wrong, or None. Returns the
        failure that ends this run, or None when ``work`` succeeded or the run
        was interrupted on purpose.
        """
        racers = {
            asyncio.ensure_future(work),
            exited := asyncio.ensure_future(process.wait()),
            asyncio.ensure_future(self._owner.until_interrupted()),
        }
        done = await first_done(racers)
        if exited in done:
            await self._drain_stderr()
            return self._exited(exited.result(), planned=self._owner.interrupted())
        if self._owner.interrupted():
            return None
        (finished,) = done
        result = finished.result()
        if not isinstance(result, str):
            return None
        self._owner.note(lifecycle.failed(result))
        return Failure(phrase=result)

    async def _handshake(self, session: BackendSession) -> str | None:
        timeout = self._owner.config.restart.start_timeout_ms / 1000
        revision = self._owner.config.protocol_version
        first = "server/discover" if revision else "initialize"  # the request it is asked first
        try:
            await session.initialize(timeout=timeout, capabilities={}, revision=revision)
        except TimeoutError:
            return f"did not answer the MCP {first} request within {timeout:g}s"
        except RpcError as error:
            return f"refused the MCP {first} request: {error}"
        except (BackendClosed, ConnectionError):
            # Usually the process is exiting and its exit status tells the real
            # story; give it a moment to do so.
            await asyncio.sleep(EXIT_AFTER_CLOSE_S)
            return "closed its input or output without answering the MCP initialize request"
        if self._wiring.listener is not None:
            await self._wiring.listener.session_ready(session)
        return None

    async def _health(self, session: BackendSession) -> str:
        """Ping the server at each interval; return why it is considered hung.

        Idle, it is hung after ``pingFailures`` unanswered pings in a row. While
        requests wait on it, unanswered pings do not count (a server may answer
        nothing while it works), but silence does: a server that says nothing at
        all (no answer, no progress, no answer to a ping) for ``stallTimeoutMs``
        while requests wait is hung too.
        """
        limits = self._owner.config.restart
        interval, timeout = limits.ping_interval_ms / 1000, limits.ping_timeout_ms / 1000
        stall_limit = limits.stall_timeout_ms / 1000
        failures = 0
        while failures < limits.ping_failures:
            await asyncio.sleep(interval)
            asked_at = time.monotonic()
            try:
                await session.ping(timeout=timeout)  # writing included: it never waits to send
                failures = 0
            except (TimeoutError, RpcError):
                # A server that still talked while we waited is slow, not hung; one
                # with work waiting may answer nothing until it is done (the stall
                # timeout bounds that).
                busy = session.in_flight or self._waiting_since() is not None
                failures = 0 if busy or session.last_message_at > asked_at else failures + 1
            except (BackendClosed, ConnectionError):
                # Usually the process is exiting, and its exit status wins the race.
                await asyncio.sleep(EXIT_AFTER_CLOSE_S)
                return "closed its input or output while running"
            if (silent := self._silent_for(session)) >= stall_limit:
                logger.warning("%s said nothing for %.0fs while requests waited", self.name, silent)
                return f"stopped responding (requests waited {silent:.0f}s without a word from it)"
        logger.warning("%s did not answer %d pings in a row; restarting it", self.name, failures)
        return f"stopped answering ({failures} pings in a row went unanswered)"

    def _waiting_since(self) -> float | None:
        listener = self._wiring.listener
        return listener.waiting_since() if listener is not None else None

    def _silent_for(self, session: BackendSession) -> float:
        """How long requests have waited on a server that said nothing; 0 when none waits."""
        waiting_since = self._waiting_since()
        if waiting_since is None:
            return 0.0
        return time.monotonic() - max(waiting_since, session.last_message_at)

    async def _drain_stderr(self) -> None:
        """Let the pump read what the server wrote just before it died (bounded: a
        grandchild may hold stderr open for much longer)."""
        if self._stderr_pump is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._stderr_pump), STDERR_DRAIN_S)

    def _exited(self, status: ExitStatus, *, planned: bool, by_hub: bool = False) -> Failure:
        """Tell of an exit; ``by_hub``: MCP Tray ended the process (planned, or it hung)."""
        self._owner.last_exit = status
        self._exit_reported = True
        self._exit_planned = planned
        event = ServerExited(
            server=self.name,
            exit_code=status.code,
            signal=status.signal,
            planned=planned,
            last_stderr=self._owner.log.last_lines(LAST_LINES_IN_EVENTS),
        )
        if not planned:
            self._owner.note(
                lifecycle.ended_by_hub(event.how()) if by_hub else lifecycle.ended(event.how())
            )
        self._wiring.bus.publish(event)
        return event.failure()

    async def _prepare(self) -> SpawnSpec | Outcome:
        """What to spawn, or the outcome of a start that cannot get that far."""
        try:
            spec = await self._spawn_spec()
            # Looked up before counting a spawn: a program that is not there never
            # ran, so a Retry that still finds none is not a restart.
            resolve_command(spec)
        except MissingValues as missing:
            return self._missing(missing)
        except ProgramMissing as missing:
            return self._program_missing(missing.program)
        except StartFailure as failure:
            return self._cannot_start(str(failure))
        return spec

    async def _spawn_spec(self) -> SpawnSpec:
        config = self._owner.config
        args, env = await self._wiring.launch(config)
        return SpawnSpec(
            command=config.command,
            args=tuple(args),
            env={**self._wiring.base_env, **env},
            cwd=config.resolved_cwd(),
        )

    def _missing(self, missing: MissingValues) -> Outcome:
        """A secret or variable its config uses is not there: it waits for it."""
        if not missing.secrets:  # a missing secret has a line of its own: waiting for it
            self._owner.note(lifecycle.cannot_start(str(missing)))
        return Outcome(
            failure=Failure(phrase=str(missing)),
            uptime_s=0,
            deterministic=True,
            missing_secrets=missing.secrets,
        )

    def _cannot_start(self, error: str, *, reason: str | None = None) -> Outcome:
        """A start that cannot succeed as configured: say why, and park without retries."""
        self._owner.note(lifecycle.cannot_start(reason or error))
        return Outcome(failure=Failure(phrase=error), uptime_s=0, deterministic=True)

    def _program_missing(self, program: MissingProgram) -> Outcome:
        """No retry can find it: the server waits until the user installs it and retries."""
        self._owner.note(lifecycle.cannot_start(f"it {program.phrase()}"))
        return Outcome(
            failure=Failure(phrase=program.phrase(), missing_program=program.command),
            uptime_s=0,
            deterministic=True,
            missing_program=program,
        )

    def _stdout_garbage(self, line: MalformedLine) -> None:
        self._owner.hear(f"[mcp-tray] ignored a stdout line that is not MCP: {line}")
