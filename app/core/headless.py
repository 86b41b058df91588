"""Running the hub headless: ``mcp-tray serve``.

Start-up as the tray's (app.core.startup): folders and config (the first run
writes the default) → the single-instance lock → logging (which masks secret
values) → the hub. SIGTERM and SIGINT stop every server cleanly; a second
SIGINT kills them at once; SIGHUP re-reads the config. What stops a start is
a UserError, for the command line to print. Nothing here imports Qt.
"""

from __future__ import annotations

import asyncio
import logging
import signal

from app.core.config import ConfigError
from app.core.endpoint.instance import AlreadyRunning
from app.core.errors import EXIT_INTERRUPTED, EXIT_OK, CommandError
from app.core.hub import Hub
from app.core.paths import Paths
from app.core.startup import run_once

logger = logging.getLogger("app")  # the name hub.log has always shown for these lines


def serve(paths: Paths, *, write_default: bool = True) -> int:
    """Run the hub until a signal stops it; ``write_default`` creates a missing config."""

    def refuse(running: AlreadyRunning) -> int:
        raise CommandError(f"{running}; `mcp-tray status` shows its servers") from None

    return run_once(
        paths,
        lambda hub: asyncio.run(_serve(hub)),
        write_default=write_default,
        already_running=refuse,
    )


async def _serve(hub: Hub) -> int:
    try:
        await hub.start()
    except ConfigError as error:  # nothing started yet: the config is read first
        raise CommandError(
            f"the config has errors, so MCP Tray did not start; fix them, then start it "
            f"again:\n{error}"
        ) from None
    except OSError as error:  # the control socket could not be opened
        await hub.shutdown()
        raise CommandError(
            f"MCP Tray could not open its control socket ({error.strerror or error}); "
            "see its log (hub.log)"
        ) from None
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
    return EXIT_OK


def _interrupt(hub: Hub, stop: asyncio.Event) -> None:
    if stop.is_set():  # the second Ctrl-C: the user does not want to wait
        hub.kill_everything_now()
        raise SystemExit(EXIT_INTERRUPTED)
    stop.set()
