"""The tiny process between the hub and one server (POSIX).

Run as ``python -I -S launcher.py LIFELINE_FD COMMAND [ARG ...]`` in a new
session, so it leads the server's process group. It starts the server with
the inherited stdio, then waits for one of two things:

* the server exits: the launcher reports ``exit CODE`` on the lifeline,
  ends whatever the server left behind in its group, and exits;
* the lifeline reaches end-of-file, which means the hub is gone however it
  died (even SIGKILL): the launcher ends the whole group, so no server or
  descendant outlives the hub.

It imports only the standard library and stays out of the way: signals sent
to the group reach the server with their default meaning, while the
launcher itself waits for the server to act on them.
"""

import contextlib
import os
import select
import signal
import subprocess
import sys
import time

TERM_GRACE_S = 1.5  # after SIGTERM before SIGKILL; keeps hub-death cleanup under 3 s
# A bundle has no Python of its own to run this file with: its executable,
# given this as the first argument, runs main() instead (installers/entry.py).
BUNDLED_LAUNCHER_ARG = "--mcp-tray-launcher"
EXIT_CANNOT_RUN = 126
EXIT_NOT_FOUND = 127


def main(argv: list[str]) -> int:
    lifeline = int(argv[1])
    command = argv[2:]
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    for signum in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        # A Python handler (not SIG_IGN) so that the server, after exec,
        # gets the default disposition back.
        signal.signal(signum, _note_signal)
    try:
        server = subprocess.Popen(command, close_fds=True)
    except OSError as error:
        print(f"mcp-tray: cannot start {command[0]!r}: {error.strerror}", file=sys.stderr)
        code = EXIT_NOT_FOUND if isinstance(error, FileNotFoundError) else EXIT_CANNOT_RUN
        _tell(lifeline, f"exit {code}")
        return code
    _tell(lifeline, f"pid {server.pid}")
    _let_go_of_stdio()
    return _watch(server, lifeline, wake_read)


def _let_go_of_stdio() -> None:
    """Only the server may hold its pipes: when it dies, the hub must see them close
    at once (a write to a dead server fails instead of vanishing into the pipe)."""
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)


def _watch(server: "subprocess.Popen[bytes]", lifeline: int, wake_read: int) -> int:
    while server.poll() is None:
        readable, _, _ = select.select([lifeline, wake_read], [], [])
        if wake_read in readable:
            os.read(wake_read, 512)
        if lifeline in readable and not _lifeline_alive(lifeline):
            _end_group(server)
            return 1
    code = server.returncode
    _tell(lifeline, f"exit {code}")
    _end_group(server)
    return code if code >= 0 else 128 - code


def _lifeline_alive(lifeline: int) -> bool:
    try:
        return os.read(lifeline, 512) != b""
    except OSError:
        return False


def _end_group(server: "subprocess.Popen[bytes]") -> None:
    """SIGTERM to everything in our group but us, then SIGKILL after a grace."""
    group = os.getpgid(0)
    if not _signal_group(group, signal.SIGTERM):
        return
    deadline = time.monotonic() + TERM_GRACE_S
    while time.monotonic() < deadline and _others_in_group(group):
        if server.poll() is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                server.wait(timeout=0.05)
        else:
            time.sleep(0.05)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _signal_group(group, signal.SIGKILL)  # takes the launcher too, which is the point


def _others_in_group(group: int) -> bool:
    """Whether anything but the launcher is left in the group (Linux /proc; else assume so)."""
    try:
        entries = os.listdir("/proc")
    except OSError:
        return True
    me = str(os.getpid())
    return any(entry.isdigit() and entry != me and _live_member(entry, group) for entry in entries)


def _live_member(pid: str, group: int) -> bool:
    """Zombies do not count: in a container nobody may ever reap them."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return False
    return fields[0] != b"Z" and int(fields[2]) == group


def _signal_group(group: int, signum: int) -> bool:
    try:
        os.killpg(group, signum)
    except ProcessLookupError:
        return False
    return True


def _tell(lifeline: int, line: str) -> None:
    with contextlib.suppress(OSError):  # the hub is gone; the lifeline check will notice
        os.write(lifeline, (line + "\n").encode())


def _note_signal(signum: int, frame: object) -> None:
    """Wake the select loop; the real work happens there."""


if __name__ == "__main__":
    sys.exit(main(sys.argv))
