"""The PATH servers get: the one a terminal would give them.

An app started at login or from a desktop menu inherits a short PATH (on
macOS ``/usr/bin:/bin:/usr/sbin:/sbin``), so ``npx``, ``uvx``, ``node`` or
``docker`` installed through nvm, fnm, volta, asdf, Homebrew, ``~/.local/bin``,
``~/.cargo/bin`` or bun are not found: "spawn npx ENOENT". So, once per hub
run, MCP Tray asks the user's login shell (``$SHELL -l -i -c``) for the
environment its rc files set up, then adds the well-known runtime folders
that exist and are not on that PATH yet.

The PATH, in order: the folders of MCP Tray's own PATH that the login shell
does not have (put there on purpose by whoever started it: an activated
virtualenv, a test), then the login shell's PATH in its order (so the
``node`` found is the one a terminal finds), then the runtime folders.

What servers get from the login shell, and why not all of it:

- ``PATH``, as above.
- The homes of the runtime managers whose shims are on that PATH
  (:data:`MANAGER_HOMES`: ``VOLTA_HOME``, ``PYENV_ROOT`` …), when MCP Tray
  has none of its own: a shim needs it to find its versions when they live
  somewhere other than the default.
- Nothing else. The rest of a login environment belongs to a terminal
  session (``TERM``, ``PS1``, ``SHLVL``, a tmux or ssh session's variables)
  or is whatever the rc files export, tokens included; handing that to every
  server would give it to programs that never asked for it. A config that
  names a variable (``${env:NAME}``) does find the login shell's value: the
  user asked for that one (:attr:`ShellEnvironment.login`).

Asking the shell: its output is whatever the rc files print (greetings,
prompts, escape codes), so the environment is printed with ``env -0``
between two markers made fresh each time. The shell runs in a session of its
own with no terminal and no input, so an interactive rc file can neither
take over MCP Tray's terminal nor wait for a key; it has
:data:`LOGIN_SHELL_TIMEOUT_S` to finish, after which its whole process group
is killed. Its output goes to an unnamed file rather than a pipe, so a
program an rc file leaves running in the background cannot hold the answer
up. Rc files can tell they are being asked, and skip slow work, by
``MCP_TRAY_RESOLVING_ENVIRONMENT=1``.

Without a login shell to ask (Windows, no shell, one that fails, hangs or
prints no markers), servers get MCP Tray's own PATH with the runtime folders
added, and the hub's log says why in one line.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)

# nvm's initialisation alone takes about a second; an rc file slower than this
# is stuck (waiting on a network share, a prompt), and servers would wait with it.
LOGIN_SHELL_TIMEOUT_S = 5.0
RESOLVING = "MCP_TRAY_RESOLVING_ENVIRONMENT"  # set for the shell: rc files may skip slow work

# The runtime managers' homes a shim on the PATH needs (see the module docstring).
MANAGER_HOMES = (
    "NVM_DIR",
    "FNM_DIR",
    "VOLTA_HOME",
    "ASDF_DIR",
    "ASDF_DATA_DIR",
    "MISE_DATA_DIR",
    "PYENV_ROOT",
    "BUN_INSTALL",
    "DENO_INSTALL",
    "CARGO_HOME",
    "RUSTUP_HOME",
    "PNPM_HOME",
)

# Installers that put programs system-wide put them here: Homebrew on Apple
# silicon, on Intel Macs (and most installers' default), Homebrew on Linux,
# snaps.
SYSTEM_FOLDERS = (
    Path("/opt/homebrew/bin"),
    Path("/opt/homebrew/sbin"),
    Path("/usr/local/bin"),
    Path("/home/linuxbrew/.linuxbrew/bin"),
    Path("/snap/bin"),
)

# Runs a shell: (argv, its environment, time limit) -> what it wrote on stdout.
# Raises TimeoutError past the limit (its process group killed), OSError when
# it cannot be run at all.
Runner = Callable[[Sequence[str], Mapping[str, str], float], bytes]


@dataclass(frozen=True, kw_only=True)
class ShellEnvironment:
    """What servers get of the user's environment; see the module docstring."""

    path: str  # the PATH servers get, and their programs are looked up on
    homes: Mapping[str, str] = field(default_factory=dict)  # runtime managers' homes
    login: Mapping[str, str] = field(default_factory=dict)  # the login shell's, for ${env:…}

    def variables(self) -> dict[str, str]:
        """What a server's environment gets beside MCP Tray's own (its config's env wins)."""
        return {**self.homes, "PATH": self.path}


def resolve(
    environ: Mapping[str, str],
    *,
    home: Path | None = None,
    shell: str | None = None,
    runner: Runner | None = None,
    timeout: float = LOGIN_SHELL_TIMEOUT_S,
    system_folders: Sequence[Path] = SYSTEM_FOLDERS,
) -> ShellEnvironment:
    """The environment for servers, from ``environ`` (MCP Tray's own) and the login
    shell's. ``shell``: instead of ``$SHELL`` (or the account's); ``runner``: how it
    is run (:func:`run_shell`)."""
    login = (
        ask_login_shell(environ, shell=shell, runner=runner or run_shell, timeout=timeout)
        if os.name == "posix"
        else None
    )
    known = {**(login or {}), **environ}  # where the managers live, MCP Tray's own first
    folders = runtime_folders(
        home or Path(environ.get("HOME") or Path.home()), known, system=system_folders
    )
    path = merged_path(environ.get("PATH", os.defpath), (login or {}).get("PATH"), folders)
    homes = {name: login[name] for name in MANAGER_HOMES if login and name in login}
    return ShellEnvironment(
        path=path,
        homes={name: value for name, value in homes.items() if name not in environ},
        login=login or {},
    )


def merged_path(own: str, login: str | None, folders: Iterable[str]) -> str:
    """Own folders the login shell lacks, then the login shell's, then ``folders``; each once."""
    own_entries = _entries(own)
    if login is None:
        ordered = own_entries
    else:
        login_entries = _entries(login)
        ordered = [entry for entry in own_entries if entry not in login_entries] + login_entries
    return os.pathsep.join(dict.fromkeys([*ordered, *folders]))


def _entries(path: str) -> list[str]:
    return [entry for entry in path.split(os.pathsep) if entry]


def runtime_folders(
    home: Path, variables: Mapping[str, str], *, system: Sequence[Path] = SYSTEM_FOLDERS
) -> list[str]:
    """The folders runtime installers put programs in, those that exist; ``variables``
    say where a manager lives when it is not in its default place."""

    def under(name: str, default: Path) -> Path:
        return Path(variables[name]) if variables.get(name) else default

    data = under("XDG_DATA_HOME", home / ".local" / "share")
    candidates = [
        *([Path(variables["NVM_BIN"])] if variables.get("NVM_BIN") else []),
        *_newest_first(under("NVM_DIR", home / ".nvm") / "versions" / "node"),
        *(
            base / "aliases" / "default" / "bin"
            for base in (
                under("FNM_DIR", data / "fnm"),
                home / "Library" / "Application Support" / "fnm",
                home / ".fnm",
            )
        ),
        under("VOLTA_HOME", home / ".volta") / "bin",
        under("ASDF_DATA_DIR", home / ".asdf") / "shims",
        under("MISE_DATA_DIR", data / "mise") / "shims",
        under("PYENV_ROOT", home / ".pyenv") / "shims",
        under("PNPM_HOME", data / "pnpm"),
        *system,
        home / ".linuxbrew" / "bin",
        home / ".local" / "bin",  # uv, pipx
        under("CARGO_HOME", home / ".cargo") / "bin",
        under("BUN_INSTALL", home / ".bun") / "bin",
        under("DENO_INSTALL", home / ".deno") / "bin",
        home / ".docker" / "bin",  # Docker Desktop's per-user install
    ]
    return list(dict.fromkeys(str(folder) for folder in candidates if folder.is_dir()))


def _newest_first(versions: Path) -> list[Path]:
    """nvm's ``v20.11.1/bin`` folders, the highest version first."""
    try:
        found = [entry / "bin" for entry in versions.iterdir()]
    except OSError:
        return []
    return sorted(found, key=lambda bin_: _version(bin_.parent.name), reverse=True)


def _version(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", name))


# ----- asking the login shell


def ask_login_shell(
    environ: Mapping[str, str],
    *,
    shell: str | None = None,
    runner: Runner | None = None,
    timeout: float = LOGIN_SHELL_TIMEOUT_S,
) -> dict[str, str] | None:
    """The environment the user's login shell sets up; None (and one info line) when
    it cannot be had."""
    shell = shell or environ.get("SHELL") or _account_shell()
    if not shell:
        logger.info("servers get MCP Tray's own PATH: no login shell is set for this account")
        return None
    start, end = f"_MCP_TRAY_{uuid.uuid4().hex}_START_", f"_MCP_TRAY_{uuid.uuid4().hex}_END_"
    # Each marker is written as two quoted halves, so a shell that echoes the
    # command it runs (an rc file's `set -v`) never prints the marker itself.
    command = f"echo {_halves(start)}; env -0 2>/dev/null || env; echo {_halves(end)}"
    argv = [shell, "-l", "-i", "-c", command]
    try:
        output = (runner or run_shell)(argv, {**environ, RESOLVING: "1"}, timeout)
    except TimeoutError:
        why = f"it did not finish within {timeout:g} s"
    except OSError as error:
        why = f"it could not be run ({error.strerror or error})"
    else:
        found = parse_environment(output, start, end)
        if found is not None and found.get("PATH"):
            return found
        why = "it did not print its environment"
    logger.info("servers get MCP Tray's own PATH: asked the login shell %s, but %s", shell, why)
    return None


def _halves(marker: str) -> str:
    middle = len(marker) // 2
    return f"'{marker[:middle]}''{marker[middle:]}'"


def parse_environment(output: bytes, start: str, end: str) -> dict[str, str] | None:
    """The variables printed between the markers (``env -0``, or ``env`` where it has no
    ``-0``); None when the markers are not both there."""
    text = output.decode("utf-8", errors="replace")
    _, found, rest = text.partition(start)
    payload, found_end, _ = rest.partition(end)
    if not (found and found_end):
        return None
    payload = payload.lstrip("\r\n")
    entries = payload.split("\0") if "\0" in payload else payload.splitlines()
    variables = {}
    for entry in entries:
        name, equals, value = entry.partition("=")
        if equals and name and "\n" not in name:
            variables[name] = value
    return variables


def run_shell(argv: Sequence[str], env: Mapping[str, str], timeout: float) -> bytes:
    """Run ``argv`` with no terminal and no input; what it wrote on stdout (see the module
    docstring). Past ``timeout``, its process group is killed and TimeoutError raised."""
    with tempfile.TemporaryFile() as output:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.DEVNULL,  # an rc file's complaints without a terminal
            env=dict(env),
            start_new_session=True,  # no controlling terminal, and one group to kill
        )
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            _kill_group(process.pid)
            process.wait()
            raise TimeoutError(f"{argv[0]} did not finish within {timeout:g} s") from None
        output.seek(0)
        return output.read()


def _kill_group(leader: int) -> None:
    """SIGKILL the shell's group, and its descendants in groups of their own (an
    interactive shell with job control gives each job one)."""
    if sys.platform == "win32":
        return  # never asked there (resolve() is POSIX only)
    import psutil

    try:
        descendants = psutil.Process(leader).children(recursive=True)
    except psutil.Error:
        descendants = []
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(leader, signal.SIGKILL)
    for process in descendants:
        with contextlib.suppress(psutil.Error):
            process.kill()


def _account_shell() -> str | None:
    """The login shell the account is set up with, when ``$SHELL`` says none (an app
    started by launchd or systemd may not have it)."""
    if sys.platform == "win32":
        return None
    import pwd

    try:
        return pwd.getpwuid(os.getuid()).pw_shell or None
    except KeyError:
        return None


# ----- once per hub run


_Key = tuple[str | None, str | None, str | None]  # the SHELL, HOME and PATH it was asked for


class LoginEnvironment:
    """:func:`resolve`, once per hub run: again only after :meth:`forget` (the user may
    have just installed a program), or for another ``environ``'s shell, home or PATH.

    Thread-safe: the hub asks from a worker thread, the Add dialog from the GUI's,
    and a second caller waits for the first one's answer rather than asking again.
    The lock is never held while the shell runs (up to :data:`LOGIN_SHELL_TIMEOUT_S`):
    :meth:`forget` is called on the hub's event loop, which carries every editor's
    traffic. Each answer is one generation, a future its askers share; ``forget``
    starts the next one at once, and an answer still under way then goes only to
    those already waiting for it.
    """

    def __init__(self, resolver: Callable[[Mapping[str, str]], ShellEnvironment] = resolve):
        self._resolver = resolver
        self._lock = threading.Lock()
        self._generation: tuple[_Key, Future[ShellEnvironment]] | None = None

    def get(self, environ: Mapping[str, str]) -> ShellEnvironment:
        key = (environ.get("SHELL"), environ.get("HOME"), environ.get("PATH"))
        with self._lock:
            generation = self._generation
            asking = generation is None or generation[0] != key
            if asking:
                generation = self._generation = (key, Future())
        assert generation is not None  # set above when there was none
        answer = generation[1]
        if asking:
            try:
                answer.set_result(self._resolver(environ))
            except BaseException as error:
                answer.set_exception(error)
                self._drop(generation)  # the next caller asks again
        return answer.result()

    def forget(self) -> None:
        self._drop(None)

    def _drop(self, generation: tuple[_Key, Future[ShellEnvironment]] | None) -> None:
        """End ``generation`` (None: whichever is current)."""
        with self._lock:
            if generation is None or self._generation is generation:
                self._generation = None


SHARED = LoginEnvironment()  # the hub's and the Add dialog's: one process, one answer


def server_path(environ: Mapping[str, str], own: str | None = None) -> str:
    """The PATH a server gets, and its program is looked up on: ``own`` (its config's
    ``env.PATH``) when it sets one, else the login shell's with the runtime folders."""
    return own if own is not None else SHARED.get(environ).path
