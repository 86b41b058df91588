"""The hub: one per user, the composition of everything below it.

It owns the config, one supervisor per server, the record of running process
groups, the source and config watches and the control socket, and publishes
on its event bus. The headless ``mcp-tray serve`` and the tray app run the
very same hub; the tray only adds a presentation of it.

Start-up order: sweep what an earlier hub left behind → start the servers →
watch their sources and the config → open the control socket. Shutdown
reverses it, stopping every server in parallel so that the whole hub is gone
within the stop sequence's bound.

Servers find programs as a terminal would: the hub asks the user's login
shell for its PATH once (app.core.shellenv) while it starts, and each server
waits for that answer before it spawns. A server whose program is still not
found waits in needs-program; a Retry (Start or Restart of it) and a config
change ask the login shell again first, as the user may just have installed it.

What the user stopped stays stopped: the hub keeps that choice in MCP Tray's
own state (app.core.choices), never in the user's config, and does not start
such a server at start-up or on a config change until the user starts it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.core.accepted import AcceptedTools
from app.core.activity import Activity, Request
from app.core.choices import UserChoices
from app.core.config import Config, ConfigError, HttpConfig, ServerConfig, load_config
from app.core.config.placeholders import names_used
from app.core.endpoint.control import ControlError, ControlServer
from app.core.events import (
    ActivityRecorded,
    ConfigApplied,
    ConfigProblem,
    EventBus,
    ServerStateChanged,
    SourcesChanged,
    ToolsHeld,
)
from app.core.instances import InstanceNames, PerClientServer, is_instance, server_of
from app.core.paths import Paths
from app.core.reconcile import Launch, Plan, plan
from app.core.rpc.errors import UNKNOWN_SERVER
from app.core.rpc.relay import Relay
from app.core.rpc.toolgate import ToolGate
from app.core.secrets import KeyringUnavailable, Secrets, SecretStore, UnsafeSecret, secret_names
from app.core.shellenv import SHARED, ShellEnvironment
from app.core.signin import ConnectionAuth, SignIn, SignInFailed, SignIns, SignInStore, sign_in
from app.core.supervise.orphans import GroupRecords
from app.core.supervise.process import ServerProcess, StartFailure
from app.core.supervise.remote import signs_in
from app.core.supervise.states import State
from app.core.supervise.status import ServerStatus
from app.core.supervise.stderr import ServerLog
from app.core.supervise.supervisor import Supervisor
from app.core.supervise.watches import Watches

if TYPE_CHECKING:
    from app.core.endpoint.http import HttpEndpoint

logger = logging.getLogger(__name__)


class Hub:
    remote = False  # the tray's hub runs here (see app.core.endpoint.remote for the other kind)

    def __init__(
        self, paths: Paths, *, bus: EventBus | None = None, secrets: Secrets | None = None
    ) -> None:
        self.paths = paths
        self.bus = bus or EventBus()
        self.secrets = secrets or Secrets(SecretStore(paths.secret_index))
        self.config = Config()
        self.choices = UserChoices(paths.choices_file)
        self._choosing = asyncio.Lock()  # choices reach the file in the order they were made
        self.supervisors: dict[str, Supervisor] = {}
        self.relays: dict[str, Relay] = {}
        # What the apps asked of each server (app.core.activity); new rows go on the bus
        # a batch at a time.
        self._activity = Activity(
            on_rows=lambda rows: self.bus.publish(ActivityRecorded(rows=tuple(rows)))
        )
        self._instance_names = InstanceNames()
        self._changing = asyncio.Lock()  # config reloads apply one at a time
        self._leaving: set[asyncio.Future[None]] = set()  # servers being dropped
        self._groups = GroupRecords(paths.state_dir / "groups")
        self._control = ControlServer(self, paths.socket_path, attach=self.relay)
        # Set by the tray: brings its window forward when MCP Tray is started again.
        self.presenter: Callable[[], None] | None = None
        # Set by the tray: opens its Add dialog on a bundle file opened on the desktop.
        self.bundle_opener: Callable[[str], None] | None = None
        # Set by whoever runs the hub (serve, the tray): ends it as SIGTERM or Quit would.
        self.quitter: Callable[[], None] | None = None
        self.http: HttpEndpoint | None = None  # when the config enables it
        self._programs: asyncio.Future[ShellEnvironment] | None = None  # the login shell's PATH
        self.sign_ins = SignIns()  # at most one open per server
        self.accepted = AcceptedTools(paths.state_dir / "accepted-tools.json")
        self._signed_out: set[str] = set()  # by the user, since the hub started
        self._watches = Watches(on_sources=self._sources_changed, on_config=self._config_changed)
        self.bus.subscribe(ServerStateChanged, self._wake_relay)

    async def start(self, *, keep_going: bool = False) -> None:
        """Load the config, then run it.

        A ConfigError is for the caller to report; with ``keep_going`` (the
        tray) it is published instead, and the hub starts with no servers and
        applies the config as soon as an edit fixes it.
        """
        try:
            config = load_config(self.paths.config_file)
        except ConfigError as error:
            if not keep_going:
                raise
            self._report_config_error(error)
            config = Config()
        else:
            await self._forget_choices_outside(config)  # not for a config that failed to load
        self._shell_environment()  # asked now: the servers wait for it before they spawn
        swept = self._groups.sweep()
        if swept:
            logger.warning("ended %d server process group(s) left over from an earlier run", swept)
        self._apply(config)
        await self._watches.follow(self.config.servers)
        await self._watches.watch_config(self.paths.config_file)
        await self._control.start()
        await self._serve_http(config.http)
        logger.info(
            "hub ready with %d server(s); control socket %s",
            len(self.supervisors),
            self.paths.socket_path,
        )

    async def shutdown(self) -> None:
        await self._serve_http(None)
        await self._control.close()
        await self._watches.close()
        await self.sign_ins.end()  # their loopback listeners close
        supervisors = list(self.supervisors.values())
        await asyncio.gather(*map(_stop_for_good, supervisors), *self._leaving)
        await self.accepted.flush()
        logger.info("hub stopped; every server has ended")

    def kill_everything_now(self) -> None:
        """For exits that cannot wait (a second Ctrl-C): SIGKILL every server tree."""
        for supervisor in self.supervisors.values():
            supervisor.kill_now()

    # ----- the hub's API (app.core.endpoint.hubapi), for the tray and the control socket

    def status_rows(self) -> list[ServerStatus]:
        return [
            dataclasses.replace(
                s.status(), held_tools=tuple(sorted(self.accepted.held_names(server_of(s.name))))
            )
            for s in self.supervisors.values()
        ]

    async def start_server(self, name: str) -> None:
        """The user starts it: it runs from now on, also after MCP Tray restarts."""
        supervisor = await self._wanted_by_user(name)
        self._look_again_for_programs(supervisor)
        if supervisor.state is not State.RUNNING:
            await self._settle(supervisor, supervisor.start)

    async def stop_server(self, name: str) -> None:
        """The user stops it: it stays stopped, also after MCP Tray restarts, until started."""
        supervisor = self._supervisor(name)
        await self._remember_stopped(name, True)
        await supervisor.stop(by_user=True)

    async def restart_server(self, name: str, *, why: str = "as you asked") -> None:
        """A planned restart: attached clients wait, and lose no request.

        ``why`` completes the line in the server's log ("Restarting as you asked.").
        """
        supervisor = await self._wanted_by_user(name)
        self._look_again_for_programs(supervisor)
        relay = self.relays[name]
        await relay.prepare_planned_restart()
        try:
            await self._settle(supervisor, lambda: supervisor.restart(why=why))
        finally:
            if supervisor.state is not State.RUNNING:
                relay.release()  # held requests now get the readable reason

    async def _wanted_by_user(self, name: str) -> Supervisor:
        """A start or restart: forget that the user stopped ``name``; refused if disabled."""
        supervisor = self._supervisor(name)
        await self._remember_stopped(name, False)
        if supervisor.config.disabled:
            supervisor.stopped_by_user = False
            raise ControlError(f'{name} is disabled in the config; remove "disabled" to start it')
        return supervisor

    def _look_again_for_programs(self, supervisor: Supervisor) -> None:
        """Retry of a server that needs a program: the user may just have installed it,
        into a folder the login shell's PATH had not had before."""
        if supervisor.state is State.NEEDS_PROGRAM:
            self._forget_programs()

    def _forget_programs(self) -> None:
        SHARED.forget()
        self._programs = None

    def _shell_environment(self) -> asyncio.Future[ShellEnvironment]:
        """What servers get of the user's environment (app.core.shellenv), asked once.

        A worker thread asks the login shell: it may take seconds, and editors'
        traffic on the loop must not wait for it.
        """
        if self._programs is None:
            environ = dict(os.environ)
            self._programs = asyncio.ensure_future(asyncio.to_thread(SHARED.get, environ))
        return self._programs

    def relay(self, name: str) -> Relay | PerClientServer:
        if is_instance(name):  # NAME#N: the private process of another app's attachment
            server = server_of(name)
            raise ControlError(
                f"{name} is another app's own process of {server}; attach to {server} "
                "to get one of your own",
                code=UNKNOWN_SERVER,
            )
        supervisor = self._supervisor(name)  # a readable refusal for names not configured
        if not supervisor.config.shared:
            return PerClientServer(self, name)
        return self.relays[name]

    def start_instance(self, name: str) -> tuple[str, Relay]:
        """A private process of server ``name`` for one client (``"shared": false``)."""
        instance = self._instance_names.next(name)
        supervisor = self._add(instance, self.config.servers[name])
        supervisor.start()
        return instance, self.relays[instance]

    async def end_instance(self, instance: str) -> None:
        if instance in self.supervisors:
            await self._drop(instance)
            self.relays.pop(instance, None)
            logger.info("%s ended with its client", instance)

    async def show(self) -> None:
        """Bring the tray's window forward (a second `mcp-tray` asks for this)."""
        if self.presenter is None:
            raise ControlError("this MCP Tray runs without a window (`mcp-tray serve`)")
        self.presenter()

    async def open_bundle(self, path: str) -> None:
        """Open the tray's Add dialog on the bundle at ``path`` (a bundle file opened on
        the desktop while MCP Tray runs)."""
        if self.bundle_opener is None:
            raise ControlError(
                "this MCP Tray runs without a window (`mcp-tray serve`); add the bundle with "
                "`mcp-tray add --bundle FILE` in a terminal"
            )
        self.bundle_opener(path)

    async def quit(self) -> None:
        """Stop every server and end MCP Tray (``mcp-tray quit``: uninstallers, upgrades).

        The reply goes out first: the quitter only starts the ending, on a later turn.
        """
        if self.quitter is None:
            raise ControlError("this hub is run by a program that does not let it be quit")
        asyncio.get_running_loop().call_soon(self.quitter)

    async def set_secret(self, server: str, name: str, value: str) -> list[str]:
        """Store a secret (for the tray), then act on it as secrets_changed() does."""
        self._configured(server)
        try:
            await asyncio.to_thread(self.secrets.store.set, server, name, value)
        except UnsafeSecret as error:
            raise ControlError(str(error)) from None
        except KeyringUnavailable as error:
            raise ControlError(f"cannot store the secret: {error}") from None
        return await self.secrets_changed(server, [name])

    async def secrets_changed(self, server: str, names: list[str]) -> list[str]:
        """Secrets of ``server`` were set or removed: start it if it waited for them,
        restart it if it runs with an old value. Returns what was (re)started.

        One that still lacks another secret is not among them: it tries once, so
        that its state names only what it still needs, and goes on waiting.
        """
        self._configured(server)
        acted = []
        for supervisor in self._processes_of(server):
            if await self._use_secrets(server, supervisor, names):
                acted.append(supervisor.name)
        return acted

    async def _use_secrets(self, server: str, supervisor: Supervisor, names: list[str]) -> bool:
        """(Re)start one process of ``server`` on its secrets as they are now; whether it
        now starts with them, rather than waits for another."""
        if supervisor.state is State.NEEDS_SECRET:
            start = functools.partial(supervisor.start, why="because its secret was set")
            try:
                waits = bool(await self.secrets.still_missing(server, supervisor.config))
            except KeyringUnavailable:
                waits = False  # its start finds out, and its state says so
            if waits:
                await self._settle(supervisor, start)  # its reason then names what it lacks
                return False
            start()
            return True
        if set(names) & set(secret_names(supervisor.config)) and supervisor.wanted:
            await self.restart_server(supervisor.name, why="because its secret changed")
            return supervisor.status().state is not State.NEEDS_SECRET
        return False

    async def sign_in(self, name: str, show: Callable[[str, bool], None]) -> None:
        """Sign in to remote server ``name``; returns once signed in and connected again.

        ``show(page, new)`` is given the sign-in page's address for the browser; ``new``
        is False when the sign-in was open already (its page is in the browser: another
        window is not opened). ControlError says why a sign-in failed.
        """
        attempt, new = self.begin_sign_in(name)
        either: set[asyncio.Future[Any]] = {attempt.page, attempt.done}
        await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        if attempt.page.done() and not attempt.page.cancelled():
            show(attempt.page.result(), new)
        try:
            await asyncio.shield(attempt.done)
        except SignInFailed as failed:
            raise ControlError(str(failed)) from None

    async def tools(self, name: str) -> list[dict[str, Any]]:
        """The tools ``name`` last listed (the relay asks as it starts), each with whether
        the apps see it (``on``)."""
        self._supervisor(name)  # a server it has, or ControlError
        relay = self.relays.get(name)
        if relay is None:
            return []
        return [
            {
                "name": tool["name"],
                "description": tool.get("description") or "",
                "on": relay.tools.allows(tool["name"]),
            }
            for tool in relay.tool_list()
        ]

    def begin_sign_in(self, name: str) -> tuple[SignIn, bool]:
        """Open the sign-in to remote server ``name`` (app.core.signin.flow), or give the
        one already open (then False): its page's address comes in ``page``, its outcome
        in ``done``. Once signed in, the server connects again with its new tokens."""
        supervisor = self._supervisor(name)
        config = supervisor.config
        self._check_signs_in(name, config)
        url = config.url
        assert url is not None  # a remote server's

        async def run(attempt: SignIn) -> None:
            try:
                await sign_in(name, url, self._sign_in_store(name, url), attempt.page.set_result)
            except SignInFailed as failed:
                supervisor.note(str(failed))
                raise
            self._signed_out.discard(name)
            supervisor.note("Signed in.")
            if supervisor.wanted:
                await self.restart_server(name, why="after you signed in")

        return self.sign_ins.begin(name, run)

    async def sign_out(self, name: str) -> bool:
        """Forget the user's sign-in to ``name`` (tokens and registration, from the keyring);
        a running connection ends, and the server waits for a new sign-in. Whether it was
        signed in."""
        supervisor = self._supervisor(name)
        self._check_signs_in(name, supervisor.config)
        store = self._sign_in_store(name, supervisor.config.url)
        self._signed_out.add(name)  # its next connection takes no token, whatever is kept
        try:
            was_signed_in = await store.forget()
            if supervisor.wanted:
                await self.restart_server(name, why="because you signed out")
            # The connection let go may have refreshed its token while it ended.
            await store.forget()
        except KeyringUnavailable as error:
            raise ControlError(f"cannot sign out of {name}: {error}") from None
        return was_signed_in

    def _check_signs_in(self, name: str, config: ServerConfig) -> None:
        if not config.remote:
            raise ControlError(f"{name} runs on this computer: there is nothing to sign in to")
        if not signs_in(config):
            raise ControlError(f"{name} uses the key in its headers, not a sign-in")

    def _sign_in_store(self, name: str, url: str | None) -> SignInStore:
        return SignInStore(self.secrets.store, name, url, learn=self.secrets.redact.learn)

    async def log_tail(self, name: str, lines: int) -> list[str]:
        """The newest ``lines`` of the server's log, as they stand in the file.

        Asynchronous only to match a hub in another process: it reads memory, and
        never yields, so a caller that subscribed to new lines first misses none.
        """
        return self._supervisor(name).log.last_stamped(lines)

    async def activity(self, name: str | None = None) -> list[Request]:
        """The requests the apps made of server ``name`` (None: of every server), oldest
        first, as long as the record keeps them (app.core.activity).

        Asynchronous, as log_tail, only to match a hub in another process: it never
        yields, so a caller that subscribed to ActivityRecorded first misses no row (and
        hears again, later, of those with a ``seq`` up to the last one returned here).
        """
        if name is not None:
            self._configured(name)
        return self._activity.rows(name)

    async def reload(self) -> list[str]:
        """Re-read the config; apply it by difference, or keep the last good one."""
        async with self._changing:
            return await self._reload()

    async def apply_config_file(self) -> None:
        """Reload for the file watcher and SIGHUP: nobody waits for an answer.

        A broken config has been logged and published by reload(); the last
        good one keeps running.
        """
        with contextlib.suppress(ControlError):
            changed = await self.reload()
            logger.info("config applied; changed: %s", ", ".join(changed) or "nothing")

    async def _reload(self) -> list[str]:
        try:
            config = load_config(self.paths.config_file)
        except ConfigError as error:
            self._report_config_error(error)
            message = f"the config has errors; still running the last good one.\n{error}"
            raise ControlError(message) from None
        http_changed = config.http != self.config.http
        await self._forget_choices_outside(config)
        if config.servers != self.config.servers:
            # A server added or changed may use a program installed since MCP Tray started.
            self._forget_programs()
        changed = await self._apply_changes(config)
        await self._watches.follow(config.servers)
        if http_changed:
            await self._serve_http(config.http)
        self.bus.publish(ConfigApplied(changed=tuple(changed)))
        return changed

    def _report_config_error(self, error: ConfigError) -> None:
        problem = ConfigProblem(path=str(error.path), errors=tuple(map(str, error.issues)))
        logger.error("config not applied, still running the last good one:\n%s", error)
        self.bus.publish(problem)

    # ----- applying a config (what changes is decided by app.core.reconcile.plan)

    def _apply(self, config: Config) -> None:
        """The first config: every server in it is new."""
        steps = plan({}, config.servers, stopped_by_user=self.choices.stopped_servers())
        self._adopt(config)
        self._launch(steps)

    async def _apply_changes(self, config: Config) -> list[str]:
        """Carry out the plan from the running config to ``config``; returns what changed."""
        stopped = self.choices.stopped_servers()
        steps = plan(self.config.servers, config.servers, stopped_by_user=stopped)
        self._adopt(config)
        for name in steps.retune:  # at once: others' restarts are no reason to wait
            self._retune(name)
        await asyncio.gather(
            *(self.relays[name].prepare_planned_restart() for name in steps.replace)
        )
        await asyncio.gather(*(self._drop(name) for name in steps.remove + steps.replace))
        for name in steps.remove:
            self.relays.pop(name).notify()  # its waiting clients learn it is gone
            self._activity.forget(name)
        self._launch(steps)
        for name in steps.remove:
            self.accepted.forget(name)
            await self.sign_ins.end(name)  # no tokens for a server that is gone
        return steps.changed

    def _retune(self, server: str) -> None:
        """Its tool switches changed: the apps' lists follow, its processes run on."""
        config = self.config.servers[server]
        for supervisor in self._processes_of(server):
            supervisor.config = config
        self._regate(server, config)
        logger.info("%s: the tools the apps see changed; it runs on", server)

    def _tool_gate(self, server: str, config: ServerConfig) -> ToolGate:
        return ToolGate(server, config.tools, held=self.accepted.held_names(server))

    def _saw_tools(self, server: str, listed: dict[str, Any]) -> None:
        """A server listed (a page of) its tools: those changed since the user accepted
        them, and new ones, are held back until they review them (app.core.accepted)."""
        config = self.config.servers.get(server)
        if config is None:
            return
        tools = [tool for tool in listed["tools"] if isinstance(tool, dict)]
        last_page = not listed.get("nextCursor")
        trusting = config.trusts_changes
        if not self.accepted.saw(server, tools, trusting=trusting, last_page=last_page):
            return
        self._regate(server, config)
        held = tuple(sorted(self.accepted.held_names(server)))
        if held:
            logger.warning(
                "%s changed or added tools, held until you review them: %s", server, ", ".join(held)
            )
            self.bus.publish(ToolsHeld(server=server, tools=held))

    def _regate(self, server: str, config: ServerConfig) -> None:
        for name, relay in self.relays.items():
            if server_of(name) == server:
                relay.set_tools(self._tool_gate(server, config))

    async def held_tools(self, name: str) -> list[dict[str, Any]]:
        """The tools of ``name`` held for the user's review: each as accepted and as now."""
        self._supervisor(name)
        return [held.to_wire() for held in self.accepted.held(server_of(name))]

    async def accept_tools(self, name: str, reviewed: dict[str, str]) -> list[str]:
        """The user accepted these held tools as they saw them (name: the fingerprint
        held_tools gave): the apps get them. Those accepted; one that changed again
        since stays held."""
        config = self._supervisor(name).config
        accepted = self.accepted.accept(server_of(name), reviewed)
        if accepted:
            self._regate(server_of(name), config)
        return accepted

    def _adopt(self, config: Config) -> None:
        self.config = config
        self.secrets.learn_config(config)

    def _launch(self, steps: Plan) -> None:
        """Supervise each added or replaced server, and start those the plan starts."""
        for name, launch in steps.launch.items():
            supervisor = self._add(name, self.config.servers[name])
            if launch is Launch.START:
                supervisor.start()
                continue
            if launch is Launch.KEEP_STOPPED:
                supervisor.keep_stopped()
                logger.info("%s stays stopped: the user stopped it", name)
            self.relays[name].release()  # nothing restarts behind this name

    # ----- the user's choices

    async def _remember_stopped(self, name: str, stopped: bool) -> None:
        """Keep (or drop) the choice that ``name`` stays stopped.

        A worker thread writes the file, as it waits for the disk (fsync) and the
        loop carries editors' traffic; the lock keeps the writes in the order
        the choices were made, so a quick Stop then Start ends as started.
        Unshared instances (NAME#N) end with their client: nothing to keep.
        """
        if is_instance(name):
            return
        async with self._choosing:
            await asyncio.to_thread(self.choices.set_stopped, name, stopped)

    async def _forget_choices_outside(self, config: Config) -> None:
        """A server that left the config is forgotten: one added later by that name starts."""
        for name in self.choices.stopped_servers() - config.servers.keys():
            await self._remember_stopped(name, False)

    # ----- the HTTP endpoint

    async def _serve_http(self, settings: HttpConfig | None) -> None:
        """Serve HTTP as ``settings`` say (None or disabled: not at all).

        A port in use or a keyring that cannot keep the token is logged and
        leaves the endpoint off; the servers and the socket go on regardless.
        """
        if self.http is not None:
            await self.http.close()
            self.http = None
        if settings is None or not settings.enabled:
            return
        from app.core.endpoint.http import HttpEndpoint, install_token  # its web stack: on demand

        try:
            token = await asyncio.to_thread(install_token, self.secrets.store)
            endpoint = HttpEndpoint(
                self, settings, token=token, socket_path=self.paths.http_socket_path
            )
            await endpoint.start()
        except KeyringUnavailable as error:
            logger.error("HTTP endpoint not started: its token needs the keyring: %s", error)
        except OSError as error:
            logger.error(
                "HTTP endpoint not started: cannot listen on 127.0.0.1:%d (%s); "
                'choose another "port" under "http" in the config',
                settings.port,
                error.strerror or error,
            )
        else:
            self.http = endpoint

    @property
    def store(self) -> SecretStore:
        """The keyring, for work the tray does in it itself (a new HTTP token)."""
        return self.secrets.store

    async def http_token_changed(self) -> bool:
        """The HTTP token was replaced in the keyring (``mcp-tray http rotate-token``):
        from now on the endpoint takes only the new one. False: the endpoint is off,
        and reads the keyring when it starts."""
        if self.http is None:
            return False
        from app.core.endpoint.http import install_token

        try:
            token = await asyncio.to_thread(install_token, self.secrets.store)
        except KeyringUnavailable as error:
            raise ControlError(
                f"cannot read the new access token from the keyring: {error}"
            ) from None
        if self.http is not None:  # not turned off meanwhile
            self.http.use_token(token)
        return True

    # ----- watching sources and the config

    async def _sources_changed(self, name: str, shown: list[str], paths: frozenset[Path]) -> None:
        """Restart what runs of ``name`` (``shown``: the changed paths, as a person reads them)."""
        self.bus.publish(SourcesChanged(server=name, paths=tuple(sorted(map(str, paths)))))
        running = [supervisor for supervisor in self._processes_of(name) if supervisor.wanted]
        if not running:
            logger.info("%s: %s changed; it is not running, so nothing restarts", name, shown[0])
            return
        logger.info("%s: %s changed; restarting it", name, _some(shown))
        why = "because its files changed"
        results = await asyncio.gather(
            *(self.restart_server(supervisor.name, why=why) for supervisor in running),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, ControlError):
                logger.warning("%s", result)
            elif isinstance(result, BaseException):
                raise result

    async def _config_changed(self) -> None:
        logger.info("%s changed; applying it", self.paths.config_file)
        await self.apply_config_file()

    # ----- supervisors

    def _processes_of(self, server: str) -> list[Supervisor]:
        """The supervisor of ``server``, or of each of its unshared instances (NAME#N)."""
        return [s for s in self.supervisors.values() if server_of(s.name) == server]

    def _add(self, name: str, server: ServerConfig) -> Supervisor:
        _warn_about_risks(name, server)
        # The relay outlives config changes, so attached clients stay attached.
        relay = self.relays.get(name) or Relay(
            name,
            unavailable=lambda: self._unavailable(name),
            activity=self._activity.recorder(server_of(name)),  # an instance's rows: its server's
        )
        self.relays[name] = relay
        scope = server_of(name)  # an unshared instance uses its server's secrets and tools
        relay.set_tools(self._tool_gate(scope, server))
        relay.on_tools = functools.partial(self._saw_tools, scope)

        async def launch(config: ServerConfig) -> tuple[list[str], dict[str, str]]:
            found = await asyncio.shield(self._shell_environment())
            # ${env:NAME} also finds what the login shell exports; ${env:PATH} is the
            # PATH servers get.
            environ = {**found.login, **os.environ, **found.variables()}
            with _secrets_read():
                args, env = await self.secrets.fill_in(scope, config, environ)
            return args, {**found.variables(), **env}  # its config's own env.PATH wins

        async def headers(config: ServerConfig) -> dict[str, str]:
            found = await asyncio.shield(self._shell_environment())
            with _secrets_read():
                return await self.secrets.fill_headers(scope, config, {**found.login, **os.environ})

        def auth(config: ServerConfig) -> ConnectionAuth | None:
            if not signs_in(config) or config.url is None:
                return None
            store = self._sign_in_store(scope, config.url)
            return ConnectionAuth(config.url, store, signed_out=scope in self._signed_out)

        supervisor = Supervisor(
            name,
            server,
            bus=self.bus,
            log=ServerLog(self.paths.server_log(name)),
            on_spawn=self._record_group,
            listener=relay,
            launch=launch,
            headers=headers,
            auth=auth,
            redact=self.secrets.redact,
        )
        self.supervisors[name] = supervisor
        return supervisor

    def _unavailable(self, name: str) -> str | None:
        supervisor = self.supervisors.get(name)
        if supervisor is None:
            if name in self.config.servers:
                return None  # being replaced after a config change: it is coming back
            return f"{name} is no longer in MCP Tray's config."
        return supervisor.unavailable_reason()

    def _wake_relay(self, event: ServerStateChanged) -> None:
        relay = self.relays.get(event.server)
        if relay is not None:
            relay.notify()

    async def _drop(self, name: str) -> None:
        """Stop a server that leaves the hub (removed, replaced, or its client left).

        The stop is shielded and tracked, so that neither a cancelled caller
        nor a shutdown happening meanwhile leaves its process behind.
        """
        supervisor = self.supervisors.pop(name)
        stopping = asyncio.ensure_future(_stop_for_good(supervisor))
        self._leaving.add(stopping)
        stopping.add_done_callback(self._leaving.discard)
        await asyncio.shield(stopping)

    def _record_group(self, name: str, process: ServerProcess | None) -> None:
        if process is None:
            self._groups.forget(name)
        else:
            self._groups.remember(name, process.group)

    def _configured(self, server: str) -> None:
        if server not in self.config.servers:
            known = ", ".join(sorted(self.config.servers)) or "none"
            message = f"no server named {server!r} in MCP Tray (configured: {known})"
            raise ControlError(message, code=UNKNOWN_SERVER)

    def _supervisor(self, name: str) -> Supervisor:
        try:
            return self.supervisors[name]
        except KeyError:
            known = ", ".join(sorted(self.supervisors)) or "none"
            message = f"no server named {name!r} in MCP Tray (configured: {known})"
            raise ControlError(message, code=UNKNOWN_SERVER) from None

    async def _settle(self, supervisor: Supervisor, action: Callable[[], None]) -> None:
        try:
            await supervisor.settle(action)
        except TimeoutError:
            raise ControlError(
                f"{supervisor.name} did not finish starting within "
                f"{supervisor.settle_timeout_s:g}s; see `mcp-tray logs {supervisor.name}`"
            ) from None


async def _stop_for_good(supervisor: Supervisor) -> None:
    await supervisor.stop()
    supervisor.log.close()


def _warn_about_risks(name: str, server: ServerConfig) -> None:
    """Say so when the config does something that exposes a secret."""
    if names_used(server.args, "secret"):
        logger.warning(
            "%s: a ${secret:…} in args is visible to every user of this computer in the "
            'process list (ps); put it in "env" instead if the server reads it from there',
            name,
        )


def _some(paths: list[str], shown: int = 3) -> str:
    """A few changed paths for a log line, and how many more there were."""
    text = ", ".join(paths[:shown])
    return text + (f" and {len(paths) - shown} more" if len(paths) > shown else "")


@contextlib.contextmanager
def _secrets_read() -> Iterator[None]:
    """A keyring that cannot be read is a start that cannot succeed as configured."""
    try:
        yield
    except KeyringUnavailable as error:
        raise StartFailure(f"cannot read its secrets: {error}") from None
