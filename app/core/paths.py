"""Where MCP Tray keeps its files.

``MCP_TRAY_HOME=DIR`` (portable mode, and what every test uses) puts everything
under one directory. Otherwise the locations follow the platform's conventions
through platformdirs, with ``appauthor=False`` so Windows paths carry no
vendor folder.
"""

from __future__ import annotations

import errno
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "mcp-tray"
HOME_ENV = "MCP_TRAY_HOME"


@dataclass(frozen=True, kw_only=True)
class Paths:
    """Every directory and file MCP Tray reads or writes."""

    config_file: Path
    data_dir: Path  # the demo server's notes, anything the user would miss
    state_dir: Path  # pid records; safe to delete when no hub runs
    log_dir: Path  # the hub's log and one rotating log per server
    runtime_dir: Path  # the control socket and the single-instance lock

    @property
    def socket_path(self) -> Path:
        return self.runtime_dir / "hub.sock"

    @property
    def http_socket_path(self) -> Path:
        """The HTTP endpoint over a Unix socket (app.core.endpoint.http), when enabled."""
        return self.runtime_dir / "http.sock"

    @property
    def lock_path(self) -> Path:
        return self.runtime_dir / "hub.lock"

    @property
    def hub_log(self) -> Path:
        return self.log_dir / "hub.log"

    @property
    def secret_index(self) -> Path:
        """The names (never the values) of the secrets kept in the keyring, per server."""
        return self.data_dir / "secret-names.json"

    @property
    def choices_file(self) -> Path:
        """What the user chose in MCP Tray itself (app.core.choices), never in their config."""
        return self.data_dir / "choices.json"

    @property
    def connections_dir(self) -> Path:
        """What ``connect`` changed in each app's config, to undo it (app.hosts.linking)."""
        return self.data_dir / "connections"

    def server_log(self, server: str) -> Path:
        return self.log_dir / "servers" / f"{server}.log"

    def ensure(self) -> None:
        """Create the directories. MCP Tray's own (data, state, logs, runtime) are private
        to the user: logs can hold what servers print, data the names of secrets. The
        config's folder may be one the user chose (``--config``), so it is left as it is."""
        self.config_file.parent.mkdir(parents=True, exist_ok=True)
        for directory in (self.data_dir, self.state_dir, self.log_dir):
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            if sys.platform != "win32":
                os.chmod(directory, 0o700)
        if sys.platform == "win32":
            self.runtime_dir.mkdir(parents=True, exist_ok=True)
            return
        if not self.runtime_dir.is_symlink():  # a planted link is refused below, not followed
            self.runtime_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        _make_private(self.runtime_dir)


class UnsafeRuntimeDir(Exception):
    """The folder for the control socket could have been planted by someone else."""


def _make_private(directory: Path) -> None:
    """Make the runtime folder 0700, refusing one another user could have planted to
    catch our socket or to have us change their target's mode: a symbolic link (even
    to a folder of ours), anything but a folder, or a folder of another user.

    The folder is opened without following a link and changed through that handle,
    so a link swapped in after the checks changes nothing.
    """
    advice = "Remove it or set XDG_RUNTIME_DIR to a private folder."
    try:
        handle = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError as error:
        if error.errno not in (errno.ELOOP, errno.ENOTDIR):
            raise
        raise UnsafeRuntimeDir(
            f"{directory} is a symbolic link or not a folder; MCP Tray will not put its "
            f"control socket there. {advice}"
        ) from None
    try:
        owner = os.fstat(handle).st_uid
        if owner != os.getuid():
            raise UnsafeRuntimeDir(
                f"{directory} belongs to another user (uid {owner}); MCP Tray will not put "
                f"its control socket there. {advice}"
            )
        os.fchmod(handle, 0o700)
    finally:
        os.close(handle)


def default_paths(*, config_file: Path | None = None) -> Paths:
    """The paths in force for this process (``--config`` overrides the config file only)."""
    home = os.environ.get(HOME_ENV)
    paths = _portable_paths(Path(home)) if home else _platform_paths()
    if config_file is not None:
        paths = Paths(
            config_file=config_file.expanduser().absolute(),
            data_dir=paths.data_dir,
            state_dir=paths.state_dir,
            log_dir=paths.log_dir,
            runtime_dir=paths.runtime_dir,
        )
    return paths


def _portable_paths(home: Path) -> Paths:
    home = home.expanduser().absolute()
    return Paths(
        config_file=home / "config.json",
        data_dir=home / "data",
        state_dir=home / "state",
        log_dir=home / "logs",
        runtime_dir=_short_enough(home / "run"),
    )


def _platform_paths() -> Paths:
    dirs = platformdirs.PlatformDirs(APP_NAME, appauthor=False)
    if sys.platform.startswith("linux") and not os.environ.get("XDG_RUNTIME_DIR"):
        # No login session (ssh, cron, containers): a private folder of our
        # own rather than platformdirs' shared /tmp/runtime-UID fallback.
        runtime = Path(tempfile.gettempdir()) / f"{APP_NAME}-{os.getuid()}"
    else:
        runtime = Path(dirs.user_runtime_dir)
    return Paths(
        config_file=Path(dirs.user_config_dir) / "config.json",
        data_dir=Path(dirs.user_data_dir),
        state_dir=Path(dirs.user_state_dir),
        log_dir=Path(dirs.user_log_dir),
        runtime_dir=_short_enough(runtime),
    )


# sun_path holds 108 bytes on Linux and 104 on macOS, including the file name.
_MAX_SOCKET_DIR_BYTES = 90


def _short_enough(runtime_dir: Path) -> Path:
    """A runtime directory whose socket path fits in ``sun_path``.

    Deep ``MCP_TRAY_HOME`` folders (pytest's tmp paths, macOS's long temp
    dirs) would otherwise make the socket impossible to bind. The fallback is
    derived from the wanted path so that every process agrees on it.
    """
    if sys.platform == "win32" or len(os.fsencode(runtime_dir)) <= _MAX_SOCKET_DIR_BYTES:
        return runtime_dir
    import hashlib

    digest = hashlib.sha256(os.fsencode(runtime_dir)).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"{APP_NAME}-{os.getuid()}-{digest}"
