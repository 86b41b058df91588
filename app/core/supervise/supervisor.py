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
    starting ──its program is missing──> needs-program ──Retry (Start, Restart)──> starting
    starting, running ──no token works──> needs-sign-in ──signed in (a restart)──> starting

Each start is one life of the server's process, a ServerRun
(app.core.supervise.run): spawn, handshake, health checks, stop. What the
user or the hub asks for is one Wish (app.core.supervise.states), which the
driver reads at each turn.

At each turn it also writes a lifecycle line into the server's log
(app.core.supervise.lifecycle), so the log tells what happened around the
server's own output.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time
from collections.abc import Callable, Mapping

from app.core.config import ServerConfig
from app.core.events import EventBus, SecretsMissing, ServerLogLine, ServerStateChanged
from app.core.rpc.backend import BackendSession
from app.core.supervise import lifecycle, policy
from app.core.supervise.failure import Failure
from app.core.supervise.process import ExitStatus, ServerProcess
from app.core.supervise.remote import AuthFor, Headers, RemoteRun, as_configured, no_sign_in
from app.core.supervise.run import (
    Launch,
    Outcome,
    ServerRun,
    SessionListener,
    Wiring,
    as_written,
)
from app.core.supervise.states import RUN, Goal, State, Trigger, Wish, transition
from app.core.supervise.status import ServerStatus, shown_address
from app.core.supervise.stderr import ServerLog

logger = logging.getLogger(__name__)

SETTLE_MARGIN_S = 10.0  # beyond the start timeout: the stop before a restart, the backoff


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
        launch: Launch = as_written,
        headers: Headers = as_configured,
        auth: AuthFor = no_sign_in,
        redact: Callable[[str], str] = str,
    ) -> None:
        self.name = name
        self.config = config
        self._bus = bus
        self.log = log
        self._wiring = Wiring(
            bus=bus,
            listener=listener,
            launch=launch,
            base_env=dict(os.environ if base_env is None else base_env),
            on_spawn=on_spawn,
        )
        self._headers = headers  # a remote server's, filled in at each connection
        self._auth = auth  # a remote server's sign-in, for each connection
        self._redact = redact  # secret values never reach the log, events or errors
        self.state = State.DISABLED if config.disabled else State.STOPPED
        self._wish = Wish(Goal.STOP)  # what is wanted next; only the driver acts on it
        self._wake = asyncio.Event()
        self._driver: asyncio.Task[None] | None = None
        self._run: ServerRun | None = None  # the current or the last life of its process
        self._failures = 0
        self.restarts = 0
        self._spawns = 0
        self.last_exit: ExitStatus | None = None
        self.failure: Failure | None = None  # how its last run failed; None once it runs
        # The user stopped it: the hub keeps that choice (app.core.choices) and
        # does not start it by itself. Cleared by any start.
        self.stopped_by_user = False

    # ----- what the hub and the user ask for

    def status(self) -> ServerStatus:
        uptime = None
        ready_at = self._run.ready_at if self._run is not None else None
        if self.state is State.RUNNING and ready_at is not None:
            uptime = time.monotonic() - ready_at
        return ServerStatus(
            name=self.name,
            state=self.state,
            pid=self._pid(),
            restarts=self.restarts,
            uptime_s=uptime,
            last_exit=_returncode(self.last_exit),
            failure=self.failure,
            stopped_by_user=self.stopped_by_user,
            url=shown_address(self.config.url),
            signed_in=isinstance(self._run, RemoteRun) and self._run.signed_in,
        )

    @property
    def session(self) -> BackendSession | None:
        """The MCP session with the running process (None between processes)."""
        return self._run.session if self._run is not None else None

    def start(self, *, why: str = "as you asked") -> None:
        """Bring the server up; one resting (backoff, crash-loop, needs-secret or -program)
        tries at once.

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
            self.note(lifecycle.trying_again_now(why))
        else:
            self.note(lifecycle.restarting(why))
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
            if event.state is State.STARTING:
                left_start = True
            elif left_start and event.state in _SETTLED:
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
        self.note(lifecycle.KEPT_STOPPED)

    def unavailable_reason(self) -> str | None:
        """Why requests cannot wait for this server to come back; None while it may."""
        name = self.name
        if self.state is State.CRASH_LOOP:
            why = self.failure.text() if self.failure else "it keeps failing"
            return (
                f"{name} is not running: {why}. Fix it, then "
                f"restart it from the tray or with `mcp-tray restart {name}`."
            )
        if self.state is State.DISABLED:
            return f"{name} is disabled in MCP Tray's config."
        if self.state is State.NEEDS_SIGN_IN:
            why = self.failure.phrase if self.failure else "needs you to sign in"
            return (
                f"{name} {why}: use Sign in… in MCP Tray's menu, or run `mcp-tray signin {name}`."
            )
        if self.state in _WAITING_FOR_YOU and self.failure is not None:
            return f"{name} is not running: it {self.failure.text()}."
        if self.state in (State.STOPPED, State.STOPPING) and not self._wish.wanted:
            return f"{name} is stopped. Start it from the tray or with `mcp-tray start {name}`."
        return None

    def kill_now(self) -> None:
        """Last resort at hub exit: SIGKILL the tree without waiting."""
        if self._run is not None:
            self._run.kill_tree()

    def _restart_begun(self) -> None:
        """A restart asked for is under way: from now on the server is simply wanted."""
        if self._wish.goal is Goal.RESTART:
            self._wish = RUN

    # ----- the driver

    async def _drive(self) -> None:
        try:
            await self._drive_loop()
        except Exception as error:
            # A bug in the hub must not look like a healthy server: say so and stop.
            logger.exception("supervising %s failed", self.name)
            why = f"MCP Tray stopped supervising it after an internal error: {error}"
            self.failure = Failure(phrase=why)
            self.note(lifecycle.failed(why))
        finally:
            if self._settle_stopped():
                self.note(lifecycle.stopped(by_user=self._wish.by_user))
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

    async def _after_failure(self, outcome: Outcome) -> None:
        limits = self.config.restart
        self.failure = outcome.failure and outcome.failure.redacted(self._redact)
        if outcome.missing_secrets:
            await self._wait_for_secrets(outcome.missing_secrets)
            return
        if outcome.missing_program is not None:
            await self._wait_for_program()
            return
        if outcome.needs_sign_in:
            await self._wait_for_sign_in()
            return
        self._failures = policy.failures_after_exit(self._failures, outcome.uptime_s, limits)
        parks = outcome.deterministic or policy.should_park(self._failures, limits)
        if parks and not outcome.offline:
            self.move(Trigger.PARKED)
            logger.warning(
                "%s entered crash-loop after %d failed start(s): %s",
                self.name,
                self._failures,
                self.failure and self.failure.text(),
            )
            reprobe_s = limits.reprobe_ms / 1000
            self.note(
                lifecycle.paused(self._failures, reprobe_s, cannot_start=outcome.deterministic)
            )
            # Once parked, any further failure (a re-probe, a re-arm after an
            # edit) parks again at once rather than starting the retries anew.
            self._failures = max(self._failures, limits.max_failures)
            if await self._rest(reprobe_s):
                self.note(lifecycle.TRYING_AGAIN)
            return
        delay = policy.backoff_delay_s(self._failures, limits, jitter=random.random())
        self.move(Trigger.FAILED)
        logger.info("%s restarting in %.2fs (failure %d)", self.name, delay, self._failures)
        self.note(lifecycle.restarting_in(delay, remote=self.config.remote))
        await self._rest(delay)

    async def _wait_for_secrets(self, names: tuple[str, ...]) -> None:
        """No retries: nothing changes until the secret is set (or Stop, Start, Restart)."""
        self.move(Trigger.SECRET_MISSING)
        self.note(lifecycle.waiting_for_secrets(names))
        if self.failure is not None:
            logger.warning("%s", self.failure.sentence(self.name))
        self._bus.publish(SecretsMissing(server=self.name, names=names))
        await self.until_interrupted()
        self._restart_begun()

    async def _wait_for_program(self) -> None:
        """No retries, no crash-loop: nothing changes until the user installs the program
        and presses Retry (or Stop, Start, Restart). Its failure names the program."""
        self.move(Trigger.PROGRAM_MISSING)
        if self.failure is not None:
            logger.warning("%s", self.failure.sentence(self.name))
        await self.until_interrupted()
        self._restart_begun()

    async def _wait_for_sign_in(self) -> None:
        """No retries: only the user can sign in (app.core.signin.flow); the hub restarts
        the server once they have. Its failure says why ("its sign-in has expired")."""
        self.move(Trigger.SIGN_IN_NEEDED)
        if self.failure is not None:
            logger.warning("%s", self.failure.sentence(self.name))
        await self.until_interrupted()
        self._restart_begun()

    async def _rest(self, seconds: float) -> bool:
        """Wait out a backoff or a re-probe interval; Start, Restart and Stop cut it short.

        Returns whether it was waited out in full.
        """
        try:
            await asyncio.wait_for(self.until_interrupted(), seconds)
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
            self.move(Trigger.STOP)
        self.move(Trigger.STOPPED)
        return True

    async def _run_once(self) -> Outcome:
        self.move(Trigger.START)
        if self.config.remote:
            self._run = RemoteRun(self, self._wiring, self._headers, self._auth)
        else:
            self._run = ServerRun(self, self._wiring)
        return await self._run.live()

    # ----- for its runs (app.core.supervise.run.RunOwner)

    def interrupted(self) -> bool:
        return self._wish.interrupts

    async def until_interrupted(self) -> None:
        while not self.interrupted():
            self._wake.clear()
            await self._wake.wait()

    def hear(self, text: str) -> None:
        self._log_line(text, ours=False)

    def note(self, text: str) -> None:
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

    def count_spawn(self) -> None:
        if self._spawns > 0:
            self.restarts += 1
        self._spawns += 1

    def move(self, trigger: Trigger) -> None:
        previous, self.state = self.state, transition(self.state, trigger)
        if self.state is State.RUNNING:
            self.failure = None
        self._bus.publish(
            ServerStateChanged(
                server=self.name,
                state=self.state,
                previous=previous,
                pid=self._pid(),
                restarts=self.restarts,
                failure=self.failure,
                remote=self.config.remote,
            )
        )

    def _pid(self) -> int | None:
        process = self._run.process if self._run is not None else None
        return process.pid if process is not None else None


# States that wait for the user to do something only they can.
_WAITING_FOR_YOU = (State.NEEDS_SECRET, State.NEEDS_PROGRAM, State.NEEDS_SIGN_IN)
_RESTING = (State.BACKOFF, State.CRASH_LOOP, *_WAITING_FOR_YOU)
# States in which a start or restart has reached an answer the user can act on.
_SETTLED = {
    State.RUNNING,
    State.BACKOFF,
    State.CRASH_LOOP,
    State.NEEDS_SECRET,
    State.NEEDS_PROGRAM,
    State.NEEDS_SIGN_IN,
    State.STOPPED,
}


def _returncode(status: ExitStatus | None) -> int | None:
    if status is None:
        return None
    return -status.signal if status.signal is not None else status.code
