"""App config files made to break MCP Tray: each is a readable error for that file or
entry, the other files and entries go on as usual, and nothing is written for the bad ones.

The real ``mcp-tray import`` and ``connect`` run on real files in a temporary folder, and
``survey`` (what "Connect an app…" lists) reads them at the apps' usual places: JSON
nested 100,000 levels deep, or deeper than what walks it after Python can take, a number
of 5,000 digits, a file that is not UTF-8, a folder, a named pipe (read, it would wait for
ever), a link that points at itself, a file larger than any config, a file its owner
cannot read, and server names that cannot be file names.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from app.core.config import Config, ServerConfig
from app.core.paths import default_paths
from app.core.secrets.migrate import plan_migration
from app.hosts.host import MAX_CONFIG_BYTES, Host
from app.hosts.importing import UNFIT_NAME
from app.hosts.registry import HOSTS
from app.hosts.survey import Route, survey
from tests.hubprocess import mcp_tray

OURS = '{\n  "mcpServers": {\n    "github": {"command": "npx"}\n  }\n}\n'
GOOD = {"mcpServers": {"notes": {"command": "uvx", "args": ["notes-mcp"]}}}
# Long enough for a file that should fail at once, short enough that one that hangs is seen.
REFUSED_WITHIN_S = 30.0
AS_ROOT = os.geteuid() == 0


def nested(path: Path) -> None:
    path.write_text("[" * 100_000 + "]" * 100_000)


def nested_in_an_entry(path: Path) -> None:  # Python reads it; the key locator would not
    args = "[" * 150 + "]" * 150
    path.write_text('{"mcpServers": {"github": {"command": "npx", "args": ' + args + "}}}")


def huge_integer(path: Path) -> None:
    path.write_text('{"mcpServers": {"github": {"command": "npx", "n": ' + "9" * 5000 + "}}}")


def not_utf8(path: Path) -> None:
    path.write_bytes(b'{"mcpServers": {"github": {"command": "npx \xff\xfe"}}}')


def folder(path: Path) -> None:
    path.mkdir()


def named_pipe(path: Path) -> None:
    os.mkfifo(path)


def looping_link(path: Path) -> None:
    path.symlink_to(path.name)


def too_large(path: Path) -> None:
    with path.open("wb") as file:  # sparse: takes no room on the disk
        file.truncate(MAX_CONFIG_BYTES + 1)


def unreadable(path: Path) -> None:
    path.write_text(json.dumps({"mcpServers": {"github": {"command": "npx"}}}))
    path.chmod(0)


HOSTILE: dict[str, tuple[Callable[[Path], None], str]] = {
    "nested": (nested, "{} cannot be read: it is nested more than 100 levels deep; "),
    "nested-in-an-entry": (nested_in_an_entry, "{} cannot be read: it is nested more than 100 "),
    "huge-integer": (huge_integer, "{} cannot be read: a number in it has too many digits; "),
    "not-utf8": (not_utf8, "{} is not a text file (MCP Tray reads UTF-8 text); "),
    "folder": (folder, "{} is a folder, not a file; give the app's config file with --path"),
    "named-pipe": (named_pipe, "{} is not an ordinary file; give the app's config file with "),
    "looping-link": (looping_link, "cannot open {} (Too many levels of symbolic links); "),
    "too-large": (too_large, "{} is larger than 128 MB, too large for an app's MCP config; "),
    "unreadable": (unreadable, "cannot open {} (Permission denied); make sure the file is "),
}
ROOT_READS_ANYTHING = pytest.mark.skipif(AS_ROOT, reason="root reads a file of mode 0")


def hostile_kinds() -> list[Any]:
    return [
        pytest.param(kind, marks=ROOT_READS_ANYTHING) if kind == "unreadable" else kind
        for kind in HOSTILE
    ]


def snapshot(path: Path) -> tuple[int, int, int, int]:
    """What a write would change, for any kind of file (without reading it)."""
    status = path.lstat()
    return status.st_ino, status.st_mode, status.st_size, status.st_mtime_ns


@pytest.mark.parametrize("kind", hostile_kinds())
def test_import_and_connect_refuse_a_hostile_file_in_words_and_change_nothing(
    kind: str, tray_home: Path, tmp_path: Path
) -> None:
    ours = tray_home / "config.json"
    ours.write_text(OURS)
    make, said = HOSTILE[kind]
    hostile = tmp_path / "hostile" / "mcp.json"
    hostile.parent.mkdir()
    make(hostile)
    before = snapshot(hostile)
    good = tmp_path / "good" / "mcp.json"
    good.parent.mkdir()
    good.write_text(json.dumps(GOOD))

    refused = [
        mcp_tray(tray_home, verb, "cursor", "--path", str(hostile), timeout=REFUSED_WITHIN_S)
        for verb in ("import", "connect")
    ]
    after = (snapshot(hostile), ours.read_text(), list(default_paths().connections_dir.glob("*")))
    imported = mcp_tray(tray_home, "import", "cursor", "--path", str(good))

    for result in refused:
        assert result.returncode == 1
        assert result.stderr.startswith("mcp-tray: " + said.format(hostile)), result.stderr
        assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1
        assert result.stdout == ""
    assert after == (before, OURS, [])  # nothing written: the file, our config, no record
    assert imported.returncode == 0 and "notes: imported" in imported.stdout  # the next file


UNFIT = ["../../x", "", "a/b", "my server", "bell\x07", "\x1b]0;owned\x07", "x" * 101]


def test_import_leaves_entries_it_cannot_take_behind_and_takes_the_rest(
    tray_home: Path, tmp_path: Path
) -> None:
    ours = tray_home / "config.json"
    ours.write_text(OURS)
    servers: dict[str, Any] = {name: {"command": "npx"} for name in UNFIT}
    servers |= {
        "bad-args": {"command": "npx", "args": {"-y": "srv"}},
        "bad-env": {"command": "npx", "env": ["TOKEN=x"]},
        "odd-type": {"command": "uvx", "args": ["odd"], "type": ["stdio"]},
        "n" * 100: {"command": "uvx", "args": ["long-name"]},
    }
    path = tmp_path / "mcp.json"
    path.write_text(json.dumps({"mcpServers": servers}, indent=2))
    original = path.read_bytes()

    imported = mcp_tray(tray_home, "import", "cursor", "--path", str(path))
    connected = mcp_tray(tray_home, "connect", "cursor", "--path", str(path))

    assert imported.returncode == 0, imported.stderr
    unfit = f"not imported: {UNFIT_NAME}; rename it in Cursor to bring it over"
    assert imported.stdout.splitlines()[1:] == [
        f'  "../../x": {unfit}',
        f'  "": {unfit}',
        f'  "a/b": {unfit}',
        f'  "my server": {unfit}',
        f'  "bell\\x07": {unfit}',
        f'  "\\x1b]0;owned\\x07": {unfit}',
        f'  "{"x" * 40}…": {unfit}',
        "  bad-args: not imported: its args are not a list of texts",
        "  bad-env: not imported: its env does not give each variable a text",
        "  odd-type: imported",
        f"  {'n' * 100}: imported",
        f"Imported 2 server(s) into {ours}.",
        "Next: `mcp-tray connect cursor` makes Cursor use them through MCP Tray.",
    ]
    assert not any(c in imported.stdout for c in "\x07\x1b")
    assert sorted(json.loads(ours.read_text())["mcpServers"]) == ["github", "n" * 100, "odd-type"]
    assert mcp_tray(tray_home, "config", "check").returncode == 0
    assert connected.returncode == 0, connected.stderr
    assert connected.stdout.startswith(
        f"Connected odd-type, {'n' * 100}. Gave Cursor github from MCP Tray."
    )
    assert json.loads(path.read_text())["mcpServers"]["github"]["args"][-2:] == ["attach", "github"]
    after = json.loads(path.read_text())["mcpServers"]
    for name in [*UNFIT, "bad-args", "bad-env"]:
        assert after[name] == servers[name]  # left as the app wrote them
    assert original != path.read_bytes()


def test_what_import_quotes_from_an_app_s_file_reaches_the_terminal_escaped(
    tray_home: Path, tmp_path: Path
) -> None:
    (tray_home / "config.json").write_text(OURS)
    servers = {
        "env-file": {"command": "uvx", "envFile": "\x1b]0;owned\x07.env"},
        "variable": {"command": "uvx", "args": ["${config:\x1b[2J}"]},
        "secret": {"command": "uvx", "env": {"API_\x1b[2J_TOKEN": "ghp_" + "Hb5Gc4Fd3E" * 4}},
    }
    path = tmp_path / "mcp.json"
    path.write_text(json.dumps({"mcpServers": servers}))

    imported = mcp_tray(tray_home, "import", "cursor", "--path", str(path), "--dry-run")

    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.splitlines()[1:3] == [
        "  env-file: imported; envFile \\x1b]0;owned\\x07.env is not read; copy what it sets "
        "into env",
        "  variable: not imported: cannot translate ${config:\\x1b[2J}: MCP Tray has no equivalent",
    ]
    secret = imported.stdout.splitlines()[3]
    assert secret == "  secret: imported; secret(s) API__2J_TOKEN go to the keyring"
    assert "\x1b" not in imported.stdout


def test_a_secret_whose_variable_is_not_a_valid_secret_name_is_kept_under_a_valid_one(
    tray_home: Path, tmp_path: Path
) -> None:
    ours = tray_home / "config.json"
    ours.write_text(OURS)
    token = "ghp_" + "Hb5Gc4Fd3E" * 4  # shaped like a real token, valid nowhere
    servers = {"otp": {"command": "uvx", "env": {"2FA_TOKEN": token}}} | GOOD["mcpServers"]
    path = tmp_path / "mcp.json"
    path.write_text(json.dumps({"mcpServers": servers}))

    imported = mcp_tray(tray_home, "import", "cursor", "--path", str(path), "--dry-run")
    moves = plan_migration(Config.model_validate({"mcpServers": {"otp": servers["otp"]}}))

    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.splitlines()[1:3] == [
        "  otp: imported; secret(s) _2FA_TOKEN go to the keyring",
        "  notes: imported",
    ]
    (move,) = moves
    rewritten = {"command": "uvx", "env": {"2FA_TOKEN": move.replacement}}
    assert ServerConfig.model_validate(rewritten).env == {"2FA_TOKEN": "${secret:_2FA_TOKEN}"}


# ----- what "Connect an app…" lists


def at_usual_place(host: str, make: Callable[[Path], None]) -> Path:
    path = HOSTS[host].default_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    make(path)
    return path


def good_file(path: Path) -> None:
    path.write_text(json.dumps({"mcpServers": {"github": {"command": "npx"}}}))


def unfit_entries(path: Path) -> None:
    servers = {"../../x": {"command": "npx"}, "odd": {"command": "uvx", "type": []}}
    path.write_text(json.dumps({"mcpServers": servers | {"bad": {"command": "x", "args": 5}}}))


def test_one_hostile_file_per_app_leaves_every_other_app_listed(
    tray_home: Path, home: Path, tmp_path: Path
) -> None:
    good = at_usual_place("cursor", good_file)
    files = {
        "claude-desktop": at_usual_place("claude-desktop", nested),
        "vscode": at_usual_place("vscode", huge_integer),
        "windsurf": at_usual_place("windsurf", not_utf8),
        "zed": at_usual_place("zed", too_large),
        "gemini": at_usual_place("gemini", unfit_entries),
    }
    pipe, directory = tmp_path / "pipe.json", tmp_path / "folder.json"
    named_pipe(pipe)
    folder(directory)
    chosen = [(HOSTS["claude-code"], pipe), (HOSTS["claude-code"], directory)]
    paths = default_paths()

    apps = {app.path: app for app in survey(paths, chosen=chosen)}

    assert set(apps) == {good, *files.values(), pipe, directory}
    assert apps[good].can_connect and apps[good].named(Route.STARTS_ITSELF) == ["github"]
    problems = {host: apps[path].problem for host, path in files.items() if apps[path].problem}
    assert problems == {
        "claude-desktop": "~/.config/Claude/claude_desktop_config.json has a mistake (it is "
        "nested more than 100 levels deep). Fix it in Claude Desktop, or undo the last change "
        "to it, then press Look again.",
        "vscode": "~/.config/Code/User/mcp.json has a mistake (a number in it has too many "
        "digits). Fix it in VS Code, or undo the last change to it, then press Look again.",
        "windsurf": "~/.codeium/windsurf/mcp_config.json is not a text file. Choose the file "
        "Windsurf keeps its MCP servers in.",
        "zed": "~/.config/zed/settings.json is larger than 128 MB, too large for an app's MCP "
        "config. Choose the file Zed keeps its MCP servers in.",
    }
    assert apps[pipe].problem.startswith(f"{pipe} is not an ordinary file. Choose the file")
    assert apps[directory].problem.startswith(f"{directory} is a folder, not a file. Choose")
    gemini = apps[files["gemini"]]
    assert [(s.name, s.route) for s in gemini.servers] == [
        ('"../../x"', Route.UNUSABLE),
        ("odd", Route.STARTS_ITSELF),
        ("bad", Route.UNUSABLE),
    ]
    assert gemini.servers[2].why == "its args are not a list of texts"


@pytest.mark.skipif(AS_ROOT, reason="root looks into any folder")
def test_an_app_folder_mcp_tray_may_not_look_into_is_listed_with_the_reason(
    tray_home: Path, home: Path
) -> None:
    good = at_usual_place("cursor", good_file)
    closed = at_usual_place("windsurf", good_file).parent
    closed.chmod(0)
    try:
        apps = {app.path: app for app in survey(default_paths())}
    finally:
        closed.chmod(0o700)

    assert apps[good].can_connect
    problem = apps[HOSTS["windsurf"].default_path()].problem
    assert problem.startswith("MCP Tray cannot open ~/.codeium/windsurf/mcp_config.json (Permis")


class Faulty(Host):
    """A host whose module fails on this file in a way nobody foresaw."""

    def servers(self, data: Any) -> dict[str, Any]:
        raise RuntimeError("a mistake in the host's module")


def test_a_file_that_trips_an_unforeseen_error_is_that_app_s_problem_only(
    tray_home: Path, home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    good = at_usual_place("cursor", good_file)
    faulty = Faulty("faulty", "Faulty", "mcpServers", *(str(home / "faulty.json"),) * 3, "")
    good_file(home / "faulty.json")

    with caplog.at_level(logging.ERROR):
        apps = survey(default_paths(), [HOSTS["cursor"], faulty])

    assert [(app.path, bool(app.problem)) for app in apps] == [
        (good, False),
        (home / "faulty.json", True),
    ]
    assert apps[1].problem == (
        "MCP Tray could not make sense of ~/faulty.json; its log has the details. Fix the "
        "file in Faulty, or undo the last change to it, then press Look again."
    )
    (record,) = caplog.records
    assert record.exc_info and "a mistake in the host's module" in str(record.exc_info[1])
