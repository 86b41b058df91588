"""Programs a server needs, found as a terminal would find them: a real ``mcp-tray serve``
whose own PATH is a desktop app's, and a fake login shell whose rc file knows more.

The user's path for Retry: the tray's notice button and menu entry ask the hub
for a restart of the server, the same operation as ``mcp-tray restart NAME``,
which is what these tests use.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import FLAKY, PYTHON
from tests.hubprocess import HubProcess, mcp_tray

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="login shells are POSIX only")

DESKTOP_PATH = "/usr/bin:/bin"  # what an app started from a desktop menu gets, about


@pytest.fixture
def login(tmp_path: Path) -> dict[str, Path]:
    """A login shell whose rc file puts two folders on PATH, the second only once it
    exists (as nvm's does once Node.js is installed); the first holds a server."""
    there, later = tmp_path / "login-bin", tmp_path / "installed-later"
    _server_program(there / "login-only-server")
    shell = tmp_path / "fake-login-shell"
    shell.write_text(
        "#!/bin/sh\n"
        f'PATH="{there}:$PATH"\n'
        f'[ -d "{later}" ] && PATH="{later}:$PATH"\n'
        "export PATH\n"
        'while [ "$#" -gt 1 ]; do shift; done  # -l -i -c COMMAND: keep COMMAND\n'
        'exec /bin/sh -c "$1"\n'
    )
    shell.chmod(0o755)
    return {"shell": shell, "later": later}


@pytest.fixture
def hub(tray_home: Path, login: dict[str, Path]) -> Iterator[HubProcess]:
    (tray_home / "config.json").write_text(
        json.dumps(
            {
                "mcpServers": {
                    "found": {"command": "login-only-server", "args": [str(FLAKY)]},
                    "missing": {"command": "mcp-tray-test-server", "args": [str(FLAKY)]},
                    "own-path": {
                        "command": "login-only-server",
                        "args": [str(FLAKY)],
                        "env": {"PATH": DESKTOP_PATH},
                    },
                }
            }
        )
    )
    env = {**os.environ, "SHELL": str(login["shell"]), "PATH": DESKTOP_PATH}
    process = HubProcess(tray_home, env=env)
    yield process
    process.stop()


def _server_program(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'#!/bin/sh\nexec "{PYTHON}" "$@"\n')
    path.chmod(0o755)


def test_a_program_only_the_login_shell_finds_runs_and_a_missing_one_says_what_to_install(
    hub: HubProcess, login: dict[str, Path]
) -> None:
    hub.wait_for_line(r"found is running")
    hub.wait_for_line(r"missing needs the program mcp-tray-test-server")
    hub.wait_for_line(r"own-path needs the program login-only-server")  # its env.PATH wins

    rows = {row["name"]: row for row in hub.status()}
    table = mcp_tray(hub.home, "status", env=hub.env)

    assert rows["found"]["state"] == "running"
    missing = rows["missing"]
    assert missing["state"] == "needs-program"
    assert missing["missing_program"] == "mcp-tray-test-server"
    assert missing["restarts"] == 0 and missing["pid"] is None
    assert missing["last_error"] == (
        "needs the program mcp-tray-test-server, which is not installed; install it, then try again"
    )
    (line,) = [line for line in table.stdout.splitlines() if line.startswith("missing ")]
    assert "needs-program" in line and "needs the program mcp-tray-test-server" in line
    assert "ENOENT" not in table.stdout and "No such file" not in table.stdout

    _server_program(login["later"] / "mcp-tray-test-server")  # the user installs it
    retried = mcp_tray(hub.home, "restart", "missing", env=hub.env)

    assert retried.returncode == 0, retried.stdout + retried.stderr
    rows = {row["name"]: row for row in hub.status()}
    assert rows["missing"]["state"] == "running"
    assert rows["missing"]["last_error"] is None


def test_a_path_that_does_not_exist_is_a_mistake_to_fix_not_a_program_to_install(
    tray_home: Path, tmp_path: Path
) -> None:
    project = tmp_path / "my-server"  # its source is there; ./build is not, yet
    project.mkdir()
    (tray_home / "config.json").write_text(
        json.dumps(
            {"mcpServers": {"unbuilt": {"command": "./build/index.js", "cwd": str(project)}}}
        )
    )
    hub = HubProcess(tray_home, env={**os.environ, "SHELL": "/bin/sh", "PATH": DESKTOP_PATH})
    try:
        said = hub.wait_for_line(r"WARNING .* unbuilt ").string  # parked, or waiting for a program
        (row,) = hub.status()
    finally:
        hub.stop()

    assert "entered crash-loop" in said
    assert row["state"] == "crash-loop"
    assert row["missing_program"] is None
    assert row["last_error"] == (
        f"its program ./build/index.js does not exist (in {project}); check the program in "
        "the server's settings — a server you build yourself may need building first"
    )
    assert "install" not in row["last_error"]
