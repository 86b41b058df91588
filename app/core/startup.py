"""The start-up the tray (app.gui.app) and the headless hub (app.core.headless) share.

Order: folders and, on a first run, the default config (:func:`prepare`) →
the single-instance lock (:func:`run_once`; when another MCP Tray holds it,
each caller answers its own way: a second tray asks the first to come
forward, a second ``serve`` refuses) → logging, which masks secret
values → the hub (:func:`logged_hub`). What stops a start is a UserError,
for the command line to print. Nothing here imports Qt.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
from collections.abc import Callable

from app.core.config import ensure_config
from app.core.endpoint.instance import AlreadyRunning, InstanceLock
from app.core.errors import CommandError
from app.core.hub import Hub
from app.core.installation import demo_command
from app.core.paths import Paths, UnsafeRuntimeDir
from app.core.secrets import RedactingFilter, Redactor, Secrets, SecretStore

HUB_LOG_BYTES = 2 * 1024 * 1024
HUB_LOG_ROTATIONS = 3


def run_once(
    paths: Paths,
    run: Callable[[Hub], int],
    *,
    write_default: bool,
    already_running: Callable[[AlreadyRunning], int],
) -> int:
    """Prepare, take the single-instance lock, and ``run`` the hub while holding it;
    ``already_running`` answers when another MCP Tray holds the lock. Returns the
    exit code."""
    prepare(paths, write_default=write_default)
    lock = InstanceLock(paths.lock_path)
    try:
        lock.acquire()
    except AlreadyRunning as running:
        return already_running(running)
    try:
        return run(logged_hub(paths))
    finally:
        lock.release()


def prepare(paths: Paths, *, write_default: bool) -> None:
    """Folders, and on a first run the default config; a CommandError says what failed."""
    try:
        paths.ensure()
    except UnsafeRuntimeDir as error:
        raise CommandError(f"MCP Tray did not start: {error}") from None
    except OSError as error:
        raise CommandError(f"MCP Tray cannot create its folders: {_said(error)}") from None
    try:
        if write_default and ensure_config(paths.config_file, demo=demo_command()):
            print(
                f"Wrote a default config with the demo server to {paths.config_file}",
                file=sys.stderr,
            )
    except OSError as error:
        raise CommandError(f"MCP Tray cannot write its default config: {_said(error)}") from None


def _said(error: OSError) -> str:
    """What the operating system said, without Python's "[Errno 13]" and quotes."""
    if error.strerror and error.filename:
        return f"{error.filename}: {error.strerror}"
    return error.strerror or str(error)


# The HTTP client of remote servers logs each request, and the SDK's transports each
# session and stream they open, at INFO: a line per call in hub.log.
QUIET_LOGGERS = ("httpx2", "mcp.client.streamable_http", "mcp.client.sse")


def logged_hub(paths: Paths) -> Hub:
    """A hub whose log (hub.log and stderr) masks the secret values it hands out."""
    secrets = Secrets(SecretStore(paths.secret_index))
    configure_logging(paths, to_stderr=True, redact=secrets.redact)
    return Hub(paths, secrets=secrets)


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
    for chatty in QUIET_LOGGERS:
        logging.getLogger(chatty).setLevel(logging.WARNING)
