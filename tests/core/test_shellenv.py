"""The PATH servers get (app.core.shellenv), from real login shells written by each test.

A fake login shell is a real executable set as SHELL: it takes ``-l -i -c
COMMAND`` as a login shell does, runs its "rc file" (a few lines of sh), then
the command. Each test gives MCP Tray a short PATH of its own, as an app
started from a desktop menu has.
"""

from __future__ import annotations

import logging
import shutil
import sys
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest

from app.core.config.draft import ServerDraft, Variable
from app.core.shellenv import (
    RESOLVING,
    LoginEnvironment,
    ShellEnvironment,
    merged_path,
    parse_environment,
    resolve,
    runtime_folders,
    server_path,
)
from app.hosts import servers

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="login shells are POSIX only")

DESKTOP_PATH = "/usr/bin:/bin"  # what an app started from a desktop menu gets, about


def login_shell(where: Path, rc: str) -> Path:
    """A login shell whose rc file is ``rc``: it runs that, then the command it was given."""
    shell = where / "fake-login-shell"
    shell.write_text(
        "#!/bin/sh\n"
        f"{rc}\n"
        'while [ "$#" -gt 1 ]; do shift; done  # -l -i -c COMMAND: keep COMMAND\n'
        '/bin/sh -c "$1"\n'
    )
    shell.chmod(0o755)
    return shell


def program(folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("#!/bin/sh\necho hello\n")
    path.chmod(0o755)
    return path


def desktop_environ(home: Path, shell: Path | str) -> dict[str, str]:
    return {"PATH": DESKTOP_PATH, "HOME": str(home), "SHELL": str(shell)}


def test_a_program_on_the_login_shells_path_is_found_while_mcp_trays_own_path_lacks_it(
    tmp_path: Path,
) -> None:
    tool = program(tmp_path / "nvm-like" / "bin", "my-tool")
    shell = login_shell(tmp_path, f'PATH="{tool.parent}:$PATH"; export PATH')

    found = resolve(desktop_environ(tmp_path, shell), system_folders=())

    assert shutil.which("my-tool", path=DESKTOP_PATH) is None
    assert shutil.which("my-tool", path=found.path) == str(tool)
    assert found.path.split(":")[:3] == [str(tool.parent), "/usr/bin", "/bin"]
    assert found.login[RESOLVING] == "1"  # rc files can tell they are being asked


def test_a_shell_that_hangs_is_killed_at_the_time_limit_and_mcp_trays_own_path_is_used(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="app.core.shellenv")
    pids = tmp_path / "pids"
    shell = login_shell(tmp_path, f'echo $$ > "{pids}"; sleep 60 & echo $! >> "{pids}"; wait')

    began = time.monotonic()
    found = resolve(desktop_environ(tmp_path, shell), timeout=0.5, system_folders=())
    took = time.monotonic() - began

    assert took < 3.0
    assert found == ShellEnvironment(path=DESKTOP_PATH)
    (line,) = [r.getMessage() for r in caplog.records if r.name == "app.core.shellenv"]
    assert line == (
        f"servers get MCP Tray's own PATH: asked the login shell {shell}, "
        "but it did not finish within 0.5 s"
    )
    processes = [psutil.Process(int(pid)) for pid in pids.read_text().split() if _alive(pid)]
    _, alive = psutil.wait_procs(processes, timeout=3)
    assert [p for p in alive if p.status() != psutil.STATUS_ZOMBIE] == []


def test_what_an_rc_file_prints_around_the_environment_does_not_get_in_the_way(
    tmp_path: Path,
) -> None:
    tool = program(tmp_path / "tools", "my-tool")
    shell = login_shell(
        tmp_path,
        "echo 'Welcome back! PATH=/nonsense'; printf '\\033]0;title\\007\\000junk=1\\n'\n"
        "trap 'echo goodbye PATH=/after' EXIT\n"
        f'PATH="{tool.parent}:$PATH"; export PATH',
    )

    found = resolve(desktop_environ(tmp_path, shell), system_folders=())

    assert shutil.which("my-tool", path=found.path) == str(tool)
    assert "/nonsense" not in found.path and "/after" not in found.path
    assert "junk" not in found.login


def test_a_shell_that_prints_no_environment_or_cannot_run_leaves_mcp_trays_own_path(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="app.core.shellenv")
    silent = login_shell(tmp_path, "exit 0")

    assert resolve(desktop_environ(tmp_path, silent), system_folders=()).path == DESKTOP_PATH
    missing = tmp_path / "no-such-shell"
    assert resolve(desktop_environ(tmp_path, missing), system_folders=()).path == DESKTOP_PATH
    assert [r.getMessage().rpartition(", but ")[2] for r in caplog.records] == [
        "it did not print its environment",
        "it could not be run (No such file or directory)",
    ]


def test_runtime_folders_are_added_only_when_they_exist_newest_node_first(tmp_path: Path) -> None:
    home = tmp_path / "home"
    for folder in (
        ".nvm/versions/node/v9.11.2/bin",
        ".nvm/versions/node/v20.11.1/bin",
        ".nvm/versions/node/v18.19.0/bin",
        ".volta/bin",
        ".cargo/bin",
        ".local/bin",
    ):
        (home / folder).mkdir(parents=True)
    brew = tmp_path / "opt-homebrew-bin"
    brew.mkdir()

    folders = runtime_folders(home, {}, system=[brew, tmp_path / "not-there"])

    assert folders == [
        str(home / ".nvm/versions/node/v20.11.1/bin"),
        str(home / ".nvm/versions/node/v18.19.0/bin"),
        str(home / ".nvm/versions/node/v9.11.2/bin"),
        str(home / ".volta/bin"),
        str(brew),
        str(home / ".local/bin"),
        str(home / ".cargo/bin"),
    ]


def test_a_manager_living_elsewhere_is_found_where_its_variable_says(tmp_path: Path) -> None:
    nvm_bin = tmp_path / "elsewhere" / "node" / "bin"
    bun = tmp_path / "bun-home"
    nvm_bin.mkdir(parents=True)
    (bun / "bin").mkdir(parents=True)

    folders = runtime_folders(
        tmp_path / "home", {"NVM_BIN": str(nvm_bin), "BUN_INSTALL": str(bun)}, system=()
    )

    assert folders == [str(nvm_bin), str(bun / "bin")]


def test_runtime_folders_go_after_the_login_shells_path_and_nothing_is_there_twice(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    (home / ".local/bin").mkdir(parents=True)
    (home / ".cargo/bin").mkdir(parents=True)
    cargo = str(home / ".cargo/bin")
    shell = login_shell(tmp_path, f'PATH="{cargo}:/usr/bin:/bin"; export PATH')

    found = resolve(desktop_environ(home, shell), system_folders=())

    assert found.path == f"{cargo}:/usr/bin:/bin:{home / '.local/bin'}"


def test_folders_mcp_trays_own_path_has_and_the_login_shell_lacks_come_first() -> None:
    path = merged_path("/venv/bin:/usr/bin:/bin", "/nvm/bin:/usr/bin:/bin", ["/extra"])

    assert path == "/venv/bin:/nvm/bin:/usr/bin:/bin:/extra"


def test_servers_get_the_managers_homes_but_not_the_rest_of_the_login_environment(
    tmp_path: Path,
) -> None:
    shell = login_shell(
        tmp_path, "export VOLTA_HOME=/somewhere/volta PYENV_ROOT=/login/pyenv GITHUB_TOKEN=t0k3n"
    )
    environ = {**desktop_environ(tmp_path, shell), "PYENV_ROOT": "/own/pyenv"}

    found = resolve(environ, system_folders=())

    assert found.variables() == {"VOLTA_HOME": "/somewhere/volta", "PATH": DESKTOP_PATH}
    assert found.login["GITHUB_TOKEN"] == "t0k3n"  # for a config's ${env:GITHUB_TOKEN} only


def test_an_env_without_nul_separators_is_read_line_by_line() -> None:
    output = b"motd\nSTART\nPATH=/a:/b\nHOME=/h\nEND\n"

    assert parse_environment(output, "START", "END") == {"PATH": "/a:/b", "HOME": "/h"}
    assert parse_environment(b"START\nPATH=/a\n", "START", "END") is None


def test_the_login_shell_is_asked_once_per_run_and_again_after_forget() -> None:
    asked: list[Mapping[str, str]] = []

    def resolver(environ: Mapping[str, str]) -> ShellEnvironment:
        asked.append(environ)
        return ShellEnvironment(path=f"/login{len(asked)}")

    login = LoginEnvironment(resolver)
    environ = {"PATH": DESKTOP_PATH, "SHELL": "/bin/zsh", "HOME": "/home/me"}

    first, again = login.get(environ), login.get(dict(environ))
    login.forget()
    after_forget = login.get(environ)

    assert (first.path, again.path, after_forget.path) == ("/login1", "/login1", "/login2")
    assert len(asked) == 2


class BlockingResolver:
    """A login shell that answers only when the test lets it, counting how often it was asked."""

    def __init__(self) -> None:
        self.asked = 0
        self.running = threading.Event()
        self.release = threading.Event()

    def __call__(self, environ: Mapping[str, str]) -> ShellEnvironment:
        self.asked += 1
        self.running.set()
        assert self.release.wait(WAIT_S), "the test never let the login shell answer"
        return ShellEnvironment(path=f"/login{self.asked}")


WAIT_S = 5.0  # bound on every wait below; each is over in milliseconds when all is well


def test_forget_returns_at_once_while_the_login_shell_is_still_being_asked() -> None:
    resolver = BlockingResolver()
    login = LoginEnvironment(resolver)
    environ = {"PATH": DESKTOP_PATH, "SHELL": "/bin/zsh", "HOME": "/home/me"}
    with ThreadPoolExecutor(max_workers=2) as pool:
        first = pool.submit(login.get, environ)
        assert resolver.running.wait(WAIT_S)
        forgot = pool.submit(login.forget)

        forgot.result(timeout=WAIT_S)  # the hub's loop calls this: it must not wait
        assert not first.done()
        resolver.release.set()
        assert first.result(timeout=WAIT_S).path == "/login1"  # for whoever was waiting

    assert login.get(environ).path == "/login2"  # asked before forget: not kept


def test_callers_asking_at_once_share_one_login_shell() -> None:
    resolver = BlockingResolver()
    login = LoginEnvironment(resolver)
    environ = {"PATH": DESKTOP_PATH, "SHELL": "/bin/zsh", "HOME": "/home/me"}
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = [pool.submit(login.get, dict(environ)) for _ in range(4)]
        assert resolver.running.wait(WAIT_S)
        resolver.release.set()
        paths = {answer.result(timeout=WAIT_S).path for answer in answers}

    assert paths == {"/login1"}
    assert resolver.asked == 1


def test_a_login_shell_that_fails_is_asked_again_next_time() -> None:
    calls: list[int] = []

    def resolver(environ: Mapping[str, str]) -> ShellEnvironment:
        calls.append(1)
        if len(calls) == 1:
            raise OSError("no shell")
        return ShellEnvironment(path="/login")

    login = LoginEnvironment(resolver)
    environ = {"PATH": DESKTOP_PATH}

    with pytest.raises(OSError, match="no shell"):
        login.get(environ)
    assert login.get(environ).path == "/login"


def test_a_path_the_servers_config_sets_wins_over_the_login_shells(tmp_path: Path) -> None:
    shell = login_shell(tmp_path, 'PATH="/from/login:$PATH"; export PATH')
    environ = desktop_environ(tmp_path, shell)
    own = ServerDraft(name="x", command="npx", variables=[Variable("PATH", "/only/mine")])
    plain = ServerDraft(name="y", command="npx")

    assert server_path(environ, "/only/mine") == "/only/mine"
    assert servers.server_path(own, environ) == "/only/mine"
    assert servers.server_path(plain, environ).startswith("/from/login:")


def _alive(pid: str) -> bool:
    return psutil.pid_exists(int(pid))
