"""Running the hub headless: ``mcp-tray serve``.

Start-up order: config (first run writes the default) → the single-instance
lock → logging (which masks secret values) → the hub. SIGTERM and SIGINT stop every server cleanly;
a second SIGINT kills them at once; SIGHUP re-reads the config. Nothing here
imports Qt.
"""

from __future__ import annotations

import asyncio
import logging
import logging.handlers
import signal
import sys

from app.core.config import ConfigError, ensure_config
from app.core.endpoint.instance import AlreadyRunning, InstanceLock
from app.core.hub import Hub
from app.core.installation import demo_command
from app.core.paths import Paths, UnsafeRuntimeDir
from app.core.secrets import RedactingFilter, Redactor, Secrets, SecretStore

logger = logging.getLogger("app")

HUB_LOG_BYTES = 2 * 1024 * 1024
HUB_LOG_ROTATIONS = 3


def configure_logging(paths: Paths, *, to_stderr: bool, redact: Redactor) -> None:
    handlers: list[logging.Handler] = [
        logging.handlers.RotatingFileHandler(
            paths.hub_log, maxBytes=HUB_LOG_BYTES, backupCount=HUB_LOG_ROTATIONS, encoding="utf-8"
        )
    ]
    if to_stderr:
        handlers.append(logging.StreamHandler(sys.stderr))
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in handlers:
        handler.setFormatter(formatter)
        handler.addFilter(RedactingFilter(redact))
    logging.basicConfig(level=logging.INFO, handlers=handlers, force=True)


def serve(paths: Paths, *, write_default: bool = True) -> int:
    """Run the hub until a signal stops it; ``write_default`` creates a missing config."""
    if not prepare(paths, write_default=write_default):
        return 1
    lock = InstanceLock(paths.lock_path)
    try:
        lock.acquire()
    except AlreadyRunning as running:
        print(f"{running}; use `mcp-tray status` to see its servers.", file=sys.stderr)
        return 1
    try:
        return asyncio.run(_serve(logged_hub(paths)))
    finally:
        lock.release()


def prepare(paths: Paths, *, write_default: bool) -> bool:
    """Folders, and on a first run the default config; False once it said what failed."""
    try:
        paths.ensure()
    except (UnsafeRuntimeDir, OSError) as error:
        print(f"mcp-tray: cannot prepare its folders: {error}", file=sys.stderr)
        return False
    try:
        if write_default and ensure_config(paths.config_file, demo=demo_command()):
            print(
                f"Wrote a default config with the demo server to {paths.config_file}",
                file=sys.stderr,
            )
    except OSError as error:
        print(f"mcp-tray: cannot write the default config: {error}", file=sys.stderr)
        return False
    return True


def logged_hub(paths: Paths) -> Hub:
    """A hub whose log (hub.log and stderr) masks the secret values it hands out."""
    secrets = Secrets(SecretStore(paths.secret_index))
    configure_logging(paths, to_stderr=True, redact=secrets.redact)
    return Hub(paths, secrets=secrets)


async def _serve(hub: Hub) -> int:
    try:
        await hub.start()
    except ConfigError as error:
        print(f"{error}\nFix the config, then start again.", file=sys.stderr)
        return 1
    except OSError as error:  # the control socket could not be opened
        print(f"mcp-tray: cannot start: {error}", file=sys.stderr)
        await hub.shutdown()
        return 1
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    hub.quitter = stop.set  # `mcp-tray quit`
    loop.add_signal_handler(signal.SIGINT, lambda: _interrupt(hub, stop))
    reloads: set[asyncio.Task[None]] = set()  # kept, so none is collected half-way

    def reload_later() -> None:
        task = loop.create_task(hub.apply_config_file())
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    loop.add_signal_handler(signal.SIGHUP, reload_later)
    try:
        await stop.wait()
        logger.info("stopping every server")
        await hub.shutdown()
    finally:
        hub.kill_everything_now()  # whatever happened above, leave nothing running
    return 0


def _interrupt(hub: Hub, stop: asyncio.Event) -> None:
    if stop.is_set():  # the second Ctrl-C: the user does not want to wait
        hub.kill_everything_now()
        raise SystemExit(130)
    stop.set()
