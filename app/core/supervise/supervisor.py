"""One supervisor per server: start it, watch it, bring it back, or park it.

The supervisor owns a single driver task that runs the server's life as a
loop: start → (ready → serve until exit) → decide → wait → start again. The
public methods only change what is wanted and wake the driver; the driver
alone moves the state machine, so there is never a race between "the user
pressed Stop" and "the server just crashed".

    starting ──ready──> running ──exit──> backoff ──delay──> starting
       │                   │                  └─too many──> crash-loop
       └──cannot start─────┴──────────────────────────────> crash-loop
    crash-loop ──slow re-probe, Start or Restart──> starting
    starting ──a secret is missing──> needs-secret ──secret set──> starting

At each turn it also writes a lifecycle line into the server's log
(app.core.supervise.lifecycle), so the log tells what happened around the
server's own output.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from app.core.config import ServerConfig
from app.core.config.placeholders import MissingValues
from app.core.events import (
    EventBus,
    SecretsMissing,
    ServerExited,
    ServerLogLine,
    ServerStateChanged,
)
from app.core.rpc.backend import BackendClosed, BackendSession, RpcError
from app.core.rpc.framing import MalformedLine, Message, MessageReader
from app.core.supervise import lifecycle, policy
from app.core.supervise.process import ExitStatus, ServerProcess, SpawnSpec, StartFailure
from app.core.supervise.states import RUN, Goal, State, Trigger, Wish, transition
from app.core.supervise.stderr import ServerLog, pump_lines

logger = logging.getLogger(__name__)

LAST_LINES_IN_EVENTS = 5
EXIT_AFTER_CLOSE_S = 2.0  # a server that closed its pipes is given this long to exit by itself
STDERR_DRAIN_S = 0.5  # a crashed server's last words (its traceback) arrive just after its exit
SETTLE_MARGIN_S = 10.0  # beyond the start timeout: the stop before a restart, the backoff


@dataclass(frozen=True, kw_only=True)
class ServerStatus:
    """One row of ``mcp-tray status``."""

    name: str
    state: str
    pid: int | None
    restarts: int
    uptime_s: float | None
    last_exit: int | None  # exit status; negative: killed by that signal number
    last_error: str | None
    stopped_by_user: bool = False  # it stays stopped, even across MCP Tray restarts

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "state": self.state,
            "pid": self.pid,
            "restarts": self.restarts,
            "uptime_s": None if self.uptime_s is None else round(self.uptime_s, 1),
            "last_exit": self.last_exit,
            "last_error": self.last_error,
            "stopped_by_user": self.stopped_by_user,
        }


class SessionListener(Protocol):
    """Who hears about the server's sessions: the relay, in the hub."""

    def server_message(self, message: Message, raw: bytes) -> None:
        """Anything the server sends that is not an answer to the hub's own requests.

        ``raw`` is the line it came as, so it can be passed on without re-encoding.
        """

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


async def _as_written(config: ServerConfig) -> tuple[list[str], dict[str, str]]:
    return list(config.args), dict(config.env)


@dataclass(frozen=True, kw_only=True)
class _Outcome:
    """How one run of the server ended, as the driver loop needs to know it."""

    error: str | None
    uptime_s: float
    deterministic: bool = False
    missing_secrets: tuple[str, ...] = ()


class Supervisor:
    def __init__(
        self,
        name: str,
        config: ServerConfig,
        *,
        bus: EventBus,
        log: ServerLog,
        base_env: Mapping[str, str] | None = None,
        on_spawn: Callable[[str, ServerProcess | None], None] = lambda name, process: None,
        listener: SessionListener | None = None,
        launch: Launch = _as_written,
        redact: Callable[[str], str] = str,
    ) -> None:
        self.name = name
        self.config = config
        self._bus = bus
        self.log = log
        self._base_env = dict(os.environ if base_env is None else base_env)
        self._on_spawn = on_spawn
        self._listener = listener
        self._launch = launch
        self._redact = redact  # secret values never reach the log, events or errors
        self.state = State.DISABLED if config.disabled else State.STOPPED
        self._wish = Wish(Goal.STOP)  # what is wanted next; only the driver acts on it
        self._wake = asyncio.Event()
        self._driver: asyncio.Task[None] | None = None
        self._process: ServerProcess | None = None
        self.session: BackendSession | None = None
        self._failures = 0
        self.restarts = 0
        self._spawns = 0
        self._ready_at: float | None = None
        self.last_exit: ExitStatus | None = None
        self._exit_reported = False
        self._exit_planned = False
        self._stderr_pump: asyncio.Task[None] | None = None
        self.last_error: str | None = None
        # The user stopped it: the hub keeps that choice (app.core.choices) and
        # does not start it by itself. Cleared by any start.
        self.stopped_by_user = False

    # ----- what the hub and the user ask for

    def status(self) -> ServerStatus:
        uptime = None
        if self.state is State.RUNNING and self._ready_at is not None:
            uptime = time.monotonic() - self._ready_at
        return ServerStatus(
            name=self.name,
            state=self.state.value,
            pid=self._process.pid if self._process is not None else None,
            restarts=self.restarts,
            uptime_s=uptime,
            last_exit=_returncode(self.last_exit),
            last_error=self.last_error,
            stopped_by_user=self.stopped_by_user,
        )

    def start(self, *, why: str = "as you asked") -> None:
        """Bring the server up; one resting (backoff, crash-loop, needs-secret) tries at once.

        ``why`` completes its log line when it was resting ("Trying again now as you asked.").
        """
        self.stopped_by_user = False
        if self.config.disabled:
            return
        if self._driver is not None and not self._driver.done():
            if not self._wish.wanted:  # a stop is still finishing: start once it is done
                self._wish = Wish(Goal.STOP_THEN_RUN, by_user=self._wish.by_user)
            elif self.state in _RESTING:
                self.restart(why=why)
            return
        self._wish = RUN
        self._failures = 0
        self._driver = asyncio.get_running_loop().create_task(
            self._drive(), name=f"supervise {self.name}"
        )

    @property
    def wanted(self) -> bool:
        """Whether the server is meant to run (it may be resting between attempts)."""
        return self._wish.wanted

    def restart(self, *, why: str = "as you asked") -> None:
        """A planned restart: stop the tree and start again at once, without backoff.

        A server parked in crash-loop gets one more try: if it still fails, it
        parks again at once instead of going through its retries anew. ``why``
        completes its log line: "Restarting as you asked.", "… because its files changed.".
        """
        if not self._wish.wanted or self._driver is None or self._driver.done():
            self.start(why=why)
            return
        if self.state in _RESTING:
            self._note(lifecycle.trying_again_now(why))
        else:
            self._note(lifecycle.restarting(why))
        if self.state is not State.CRASH_LOOP:
            self._failures = 0
        self._wish = Wish(Goal.RESTART)
        self._wake.set()

    async def stop(self, *, by_user: bool = False) -> None:
        """Stop the server and its whole tree; returns once it is gone.

        ``by_user``: the user asked (tray, ``mcp-tray stop``), so it stays stopped;
        otherwise MCP Tray stops it (quitting, the server left the config).
        """
        if by_user:
            self.stopped_by_user = True
        self._wish = Wish(Goal.STOP, by_user=by_user)
        self._wake.set()
        if self._driver is not None:
            await self._driver

    async def settle(self, action: Callable[[], None]) -> None:
        """Do ``action`` (a start or restart) and return once the server has started,
        or failed to; TimeoutError after :attr:`settle_timeout_s`."""
        settled = asyncio.Event()
        left_start = self.state is State.STARTING  # a start already under way counts

        def watch(event: ServerStateChanged) -> None:
            nonlocal left_start
            if event.server != self.name:
                return
            if event.state == State.STARTING:
                left_start = True
            elif left_start and State(event.state) in _SETTLED:
                settled.set()

        unsubscribe = self._bus.subscribe(ServerStateChanged, watch)
        try:
            action()
            async with asyncio.timeout(self.settle_timeout_s):
                await settled.wait()
        finally:
            unsubscribe()

    @property
    def settle_timeout_s(self) -> float:
        return self.config.restart.start_timeout_ms / 1000 + SETTLE_MARGIN_S

    def keep_stopped(self) -> None:
        """Not started when MCP Tray starts, because the user stopped it; says so in its log."""
        self.stopped_by_user = True
        self._note(lifecycle.KEPT_STOPPED)

    def unavailable_reason(self) -> str | None:
        """Why requests cannot wait for this server to come back; None while it may."""
        name = self.name
        if self.state is State.CRASH_LOOP:
            return (
                f"{name} is not running: {self.last_error or 'it keeps failing'}. Fix it, then "
                f"restart it from the tray or with `mcp-tray restart {name}`."
            )
        if self.state is State.DISABLED:
            return f"{name} is disabled in MCP Tray's config."
        if self.state is State.NEEDS_SECRET:
            return f"{name} is not running: it {self.last_error}."
        if self.state in (State.STOPPED, State.STOPPING) and not self._wish.wanted:
            return f"{name} is stopped. Start it from the tray or with `mcp-tray start {name}`."
        return None

    def kill_now(self) -> None:
        """Last resort at hub exit: SIGKILL the tree without waiting."""
        if self._process is not None:
            self._process.kill_tree()

    def _interrupted(self) -> bool:
        return self._wish.interrupts

    def _restart_begun(self) -> None:
        """A restart asked for is under way: from now on the server is simply wanted."""
        if self._wish.goal is Goal.RESTART:
            self._wish = RUN

    async def _until_interrupted(self) -> None:
        while not self._interrupted():
            self._wake.clear()
            await self._wake.wait()

    # ----- the driver

    async def _drive(self) -> None:
        try:
            await self._drive_loop()
        except Exception as error:
            # A bug in the hub must not look like a healthy server: say so and stop.
            logger.exception("supervising %s failed", self.name)
            self.last_error = f"MCP Tray stopped supervising it after an internal error: {error}"
            self._note(lifecycle.failed(self.last_error))
        finally:
            if self._settle_stopped():
                self._note(lifecycle.stopped(by_user=self._wish.by_user))
            if self._wish.goal is Goal.STOP_THEN_RUN:
                self._driver = None
                self.start()

    async def _drive_loop(self) -> None:
        while self._wish.wanted:
            outcome = await self._run_once()
            if self._wish.goal is Goal.RESTART:  # planned: again at once, without backoff
                self._restart_begun()
            elif self._wish.goal is Goal.RUN:  # it ended by itself: a failure
                await self._after_failure(outcome)

    async def _after_failure(self, outcome: _Outcome) -> None:
        limits = self.config.restart
        self.last_error = outcome.error and self._redact(outcome.error)
        if outcome.missing_secrets:
            await self._wait_for_secrets(outcome.missing_secrets)
            return
        self._failures = policy.failures_after_exit(self._failures, outcome.uptime_s, limits)
        if outcome.deterministic or policy.should_park(self._failures, limits):
            self._move(Trigger.PARKED)
            logger.warning(
                "%s entered crash-loop after %d failed start(s): %s",
                self.name,
                self._failures,
                self.last_error,
            )
            reprobe_s = limits.reprobe_ms / 1000
            self._note(
                lifecycle.paused(self._failures, reprobe_s, cannot_start=outcome.deterministic)
            )
            # Once parked, any further failure (a re-probe, a re-arm after an
            # edit) parks again at once rather than starting the retries anew.
            self._failures = max(self._failures, limits.max_failures)
            if await self._rest(reprobe_s):
                self._note(lifecycle.TRYING_AGAIN)
            return
        delay = policy.backoff_delay_s(self._failures, limits, jitter=random.random())
        self._move(Trigger.FAILED)
        logger.info("%s restarting in %.2fs (failure %d)", self.name, delay, self._failures)
        self._note(lifecycle.restarting_in(delay))
        await self._rest(delay)

    async def _wait_for_secrets(self, names: tuple[str, ...]) -> None:
        """No retries: nothing changes until the secret is set (or Stop, Start, Restart)."""
        self._move(Trigger.SECRET_MISSING)
        self._note(lifecycle.waiting_for_secrets(names))
        logger.warning("%s %s", self.name, self.last_error)
        self._bus.publish(SecretsMissing(server=self.name, names=names))
        await self._until_interrupted()
        self._restart_begun()

    async def _rest(self, seconds: float) -> bool:
        """Wait out a backoff or a re-probe interval; Start, Restart and Stop cut it short.

        Returns whether it was waited out in full.
        """
        try:
            await asyncio.wait_for(self._until_interrupted(), seconds)
        except TimeoutError:
            return True
        finally:
            self._restart_begun()
        return False

    def _settle_stopped(self) -> bool:
        """Come to rest in "stopped"; returns whether the state changed to get there."""
        if self.state in (State.STOPPED, State.DISABLED):
            return False
        if self.state is not State.STOPPING:
            self._move(Trigger.STOP)
        self._move(Trigger.STOPPED)
        return True

    async def _run_once(self) -> _Outcome:
        self._move(Trigger.START)
        try:
            spec = await self._spawn_spec()
        except MissingValues as missing:
            if not missing.secrets:  # a missing secret has a line of its own: waiting for it
                self._note(lifecycle.cannot_start(str(missing)))
            return _Outcome(
                error=str(missing),
                uptime_s=0,
                deterministic=True,
                missing_secrets=missing.secrets,
            )
        except StartFailure as failure:
            return self._cannot_start(str(failure))
        if self._spawns > 0:
            self.restarts += 1
        self._spawns += 1
        try:
            process = await ServerProcess.spawn(spec)
        except StartFailure as failure:
            return self._cannot_start(str(failure))
        except OSError as error:
            return self._cannot_start(f"could not be started: {error}", reason=str(error))
        self._process = process
        self._exit_reported = False
        self._note(lifecycle.started(process.pid))
        self._on_spawn(self.name, process)
        try:
            return await self._serve(process)
        finally:
            if self._interrupted():
                self._move(Trigger.STOP)
            # A planned stop asks the server to exit; a hung or dead one is just ended.
            status = await process.stop(ask_first=self._interrupted())
            if not self._exit_reported:  # the hub ended it, so nothing has told of its exit
                # Planned only when asked for; a hung server that was ended crashed.
                self._exited(status, planned=self._interrupted(), by_hub=True)
            if self._listener is not None:
                delivered = process.stdin.read_upto()
                self._listener.session_ended(planned=self._exit_planned, delivered=delivered)
            self._process = None
            self.session = None
            self._ready_at = None
            self._on_spawn(self.name, None)

    async def _serve(self, process: ServerProcess) -> _Outcome:
        session = BackendSession(
            MessageReader(process.stdout),
            process.stdin,
            name=self.name,
            on_message=self._listener.server_message if self._listener else None,
            on_malformed=self._stdout_garbage,
        )
        self.session = session
        self._stderr_pump = asyncio.create_task(pump_lines(process.stderr, self._stderr_line))
        background = [
            asyncio.create_task(session.run(), name=f"{self.name} stdout"),
            self._stderr_pump,
        ]
        started = time.monotonic()
        try:
            error = await self._first(process, self._handshake(session))
            if error is not None or self._interrupted():
                return _Outcome(error=error, uptime_s=time.monotonic() - started)
            self._ready_at = time.monotonic()
            self._move(Trigger.READY)
            self._note(lifecycle.RUNNING)
            logger.info("%s is running (pid %s)", self.name, process.pid)
            error = await self._first(process, self._health(session))
            return _Outcome(error=error, uptime_s=time.monotonic() - self._ready_at)
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)

    async def _first(
        self, process: ServerProcess, work: Coroutine[Any, Any, str | None]
    ) -> str | None:
        """Run ``work`` until it finishes, the process exits, or a stop/restart is asked.

        Returns the error that ends this run, or None when ``work`` succeeded
        or the run was interrupted on purpose.
        """
        racers = {
            asyncio.ensure_future(work),
            exited := asyncio.ensure_future(process.wait()),
            asyncio.ensure_future(self._until_interrupted()),
        }
        done, pending = await asyncio.wait(racers, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        if exited in done:
            await self._drain_stderr()
            return self._exited(exited.result(), planned=self._interrupted())
        if self._interrupted():
            return None
        (finished,) = done
        result = finished.result()
        if not isinstance(result, str):
            return None
        self._note(lifecycle.failed(result))
        return result

    async def _handshake(self, session: BackendSession) -> str | None:
        timeout = self.config.restart.start_timeout_ms / 1000
        try:
            await session.initialize(timeout=timeout, capabilities={})
        except TimeoutError:
            return f"did not answer the MCP initialize request within {timeout:g}s"
        except RpcError as error:
            return f"refused the MCP initialize request: {error}"
        except (BackendClosed, ConnectionError):
            # Usually the process is exiting and its exit status tells the real
            # story; give it a moment to do so.
            await asyncio.sleep(EXIT_AFTER_CLOSE_S)
            return "closed its input or output without answering the MCP initialize request"
        if self._listener is not None:
            await self._listener.session_ready(session)
        return None

    async def _health(self, session: BackendSession) -> str:
        """Ping the server at each interval; return why it is considered hung.

        Idle, it is hung after ``pingFailures`` unanswered pings in a row. While
        requests wait on it, unanswered pings do not count (a server may answer
        nothing while it works), but silence does: a server that says nothing at
        all (no answer, no progress, no answer to a ping) for ``stallTimeoutMs``
        while requests wait is hung too.
        """
        limits = self.config.restart
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
        return self._listener.waiting_since() if self._listener is not None else None

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

    def _exited(self, status: ExitStatus, *, planned: bool, by_hub: bool = False) -> str:
        """Tell of an exit; ``by_hub``: MCP Tray ended the process (planned, or it hung)."""
        self.last_exit = status
        self._exit_reported = True
        self._exit_planned = planned
        event = ServerExited(
            server=self.name,
            exit_code=status.code,
            signal=status.signal,
            planned=planned,
            last_stderr=self.log.last_lines(LAST_LINES_IN_EVENTS),
        )
        if not planned:
            self._note(
                lifecycle.ended_by_hub(event.how()) if by_hub else lifecycle.ended(event.how())
            )
        self._bus.publish(event)
        return event.describe().removeprefix(f"{self.name} ")

    # ----- plumbing

    async def _spawn_spec(self) -> SpawnSpec:
        args, env = await self._launch(self.config)
        return SpawnSpec(
            command=self.config.command,
            args=tuple(args),
            env={**self._base_env, **env},
            cwd=self.config.resolved_cwd(),
        )

    def _cannot_start(self, error: str, *, reason: str | None = None) -> _Outcome:
        """A start that cannot succeed as configured: say why, and park without retries."""
        self._note(lifecycle.cannot_start(reason or error))
        return _Outcome(error=error, uptime_s=0, deterministic=True)

    def _stderr_line(self, text: str) -> None:
        self._log_line(text, ours=False)

    def _note(self, text: str) -> None:
        """A lifecycle line in the server's log, published like its own lines."""
        self._log_line(text, ours=True)

    def _log_line(self, text: str, *, ours: bool) -> None:
        """One line into the log and onto the bus; ``ours``: MCP Tray's lifecycle line."""
        keep = self.log.note if ours else self.log.write
        try:
            stamp, line = keep(self._redact(text))
        except OSError as error:
            # Keep draining the pipe whatever the disk says, or the server blocks.
            logger.warning("cannot write %s: %s", self.log.path, error)
            return
        event = ServerLogLine(server=self.name, stamp=stamp, line=line, lifecycle=ours)
        self._bus.publish(event)

    def _stdout_garbage(self, line: MalformedLine) -> None:
        self._stderr_line(f"[mcp-tray] ignored a stdout line that is not MCP: {line}")

    def _move(self, trigger: Trigger) -> None:
        previous, self.state = self.state, transition(self.state, trigger)
        if self.state is State.RUNNING:
            self.last_error = None
        self._bus.publish(
            ServerStateChanged(
                server=self.name,
                state=self.state.value,
                previous=previous.value,
                pid=self._process.pid if self._process else None,
                restarts=self.restarts,
                last_error=self.last_error,
            )
        )


_RESTING = (State.BACKOFF, State.CRASH_LOOP, State.NEEDS_SECRET)
# States in which a start or restart has reached an answer the user can act on.
_SETTLED = {State.RUNNING, State.BACKOFF, State.CRASH_LOOP, State.NEEDS_SECRET, State.STOPPED}


def _returncode(status: ExitStatus | None) -> int | None:
    if status is None:
        return None
    return -status.signal if status.signal is not None else status.code
