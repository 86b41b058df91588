"""``mcp-tray add`` and ``remove`` end to end: a real hub, real servers, the real Secret Service.

The hub (``mcp-tray serve``) runs on the test session's private keyring;
each command is a real ``mcp-tray`` process, and a server added is reached
the way an editor reaches it, through ``mcp-tray attach``.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from app.cli import main
from app.core.config.draft import ServerDraft
from app.core.paths import Paths
from app.hosts import servers
from app.hosts.servers import Saved
from tests.helpers import PYTHON, SERVERS
from tests.hubprocess import HubProcess, mcp_tray
from tests.test_attach import attached, text
from tests.test_keyring import files_containing, keyring_value

ANSWER = SERVERS / "answer.py"
SECRETIVE = SERVERS / "secretive.py"
TOKEN = "tok-" + "k7" * 12  # long and odd enough to be kept, and masked, as a secret
# The user's own config, formatted their way: every change keeps the rest as it is.
CONFIG = f"""{{
    "mcpServers": {{
        "kept": {{"command": "{PYTHON}", "args": ["{ANSWER}"]}}
    }}
}}
"""


@pytest.fixture
def hub(tray_home: Path, secret_service: dict[str, str]) -> Iterator[HubProcess]:
    (tray_home / "config.json").write_text(CONFIG)
    process = HubProcess(tray_home, env=secret_service)
    process.wait_for_line(r"kept is running")
    yield process
    process.stop()


def add_api(hub: HubProcess, *, typed: str) -> subprocess.CompletedProcess[str]:
    """``mcp-tray add api --secret API_TOKEN`` for the secretive test server, ``typed`` on stdin."""
    command = ("add", "api", "--secret", "API_TOKEN", "--", PYTHON, str(SECRETIVE))
    return mcp_tray(hub.home, *command, input=typed, env=hub.env)


def answer_of(home: Path, name: str, tool: str) -> str:
    async def ask() -> str:
        async with attached(home, name) as client:
            return text(await client.call_tool(tool, {}))

    return anyio.run(ask)


def test_a_pasted_snippet_is_added_started_and_answers_through_attach(hub: HubProcess) -> None:
    snippet = json.dumps({"edited": {"command": PYTHON, "args": [str(ANSWER)]}})[1:-1]

    added = mcp_tray(hub.home, "add", "--paste", input=snippet, env=hub.env)
    answer = answer_of(hub.home, "edited", "answer")
    config = (hub.home / "config.json").read_text()

    assert added.returncode == 0, added.stderr
    assert f"Added edited to {hub.home / 'config.json'}." in added.stdout
    assert "edited is running (pid " in added.stdout
    assert answer == "v0"
    assert config.startswith(CONFIG[: CONFIG.index("}")])  # the user's file, edited in place
    assert list(json.loads(config)["mcpServers"]) == ["kept", "edited"]


def test_a_command_line_paste_is_named_after_its_program(hub: HubProcess) -> None:
    added = mcp_tray(hub.home, "add", "--paste", input=f"{PYTHON} {SECRETIVE}", env=hub.env)

    assert added.returncode == 0, added.stderr
    assert "secretive is running" in added.stdout


def test_a_secret_goes_to_the_keyring_never_to_the_file_and_remove_deletes_it(
    hub: HubProcess,
) -> None:
    added = add_api(hub, typed=TOKEN + "\n")
    answer = answer_of(hub.home, "api", "token")
    stored = keyring_value(hub.env or {}, "api", "API_TOKEN")
    leaks = files_containing(hub.home, TOKEN)
    entry = json.loads((hub.home / "config.json").read_text())["mcpServers"]["api"]

    removed = mcp_tray(hub.home, "remove", "api", env=hub.env)
    rows = {row["name"] for row in hub.status()}  # the hub has stopped it when remove returns

    assert added.returncode == 0, added.stderr
    assert "Stored API_TOKEN for api in the keyring." in added.stdout
    assert TOKEN not in added.stdout + added.stderr
    assert answer == TOKEN  # the server got it from the keyring
    assert stored == TOKEN
    assert leaks == []
    assert entry["env"] == {"API_TOKEN": "${secret:API_TOKEN}"}
    assert removed.returncode == 0, removed.stderr
    assert "MCP Tray stopped api." in removed.stdout
    assert "Deleted API_TOKEN of api from the keyring." in removed.stdout
    assert rows == {"kept"}
    assert keyring_value(hub.env or {}, "api", "API_TOKEN") is None


def test_remove_keep_secrets_leaves_them_in_the_keyring(hub: HubProcess) -> None:
    added = add_api(hub, typed=TOKEN)  # no newline: piped, not typed
    removed = mcp_tray(hub.home, "remove", "api", "--keep-secrets", env=hub.env)

    assert added.returncode == 0, added.stderr
    assert removed.returncode == 0, removed.stderr
    assert "API_TOKEN stay in the keyring" in removed.stdout
    assert keyring_value(hub.env or {}, "api", "API_TOKEN") == TOKEN


@pytest.mark.parametrize(
    ("args", "stdin", "says"),
    [
        (("add", "--paste"), "this is not a server", "is not a program MCP Tray knows"),
        (("add", "--paste"), '{"theme": "dark"}', "No server could be read from that"),
        (("add", "kept", "--", PYTHON, str(ANSWER)), "", "already has a server named kept"),
        (("add", "x", "--", "no-such-program-here"), "", "is not a program MCP Tray knows"),
        (("remove", "nothing-of-that-name"), "", "has no server named 'nothing-of-that-name'"),
    ],
)
def test_bad_input_changes_nothing_and_exits_1_with_one_sentence(
    tray_home: Path, args: tuple[str, ...], stdin: str, says: str
) -> None:
    config = tray_home / "config.json"
    config.write_text(CONFIG)

    done = mcp_tray(tray_home, *args, input=stdin)

    assert done.returncode == 1
    assert says in done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("mcp-tray: ")
    assert config.read_text() == CONFIG  # byte for byte
    assert list(tray_home.glob("config.json.*.bak")) == []


def test_a_paste_of_several_servers_adds_them_all_and_waits_for_them_together(
    hub: HubProcess,
) -> None:
    snippet = json.dumps(
        {
            "mcpServers": {
                "first": {"command": PYTHON, "args": [str(ANSWER)]},
                "second": {"command": PYTHON, "args": [str(ANSWER)]},
            }
        }
    )

    added = mcp_tray(hub.home, "add", "--paste", input=snippet, env=hub.env)

    assert added.returncode == 0, added.stderr
    said = added.stdout.splitlines()
    assert said[:2] == [
        f"Added {name} to {hub.home / 'config.json'}." for name in ("first", "second")
    ]
    assert "first is running (pid " in said[2] and "second is running (pid " in said[3]


# ----- a paste of several servers, in this process (no snippet MCP Tray reads today gives
# two servers one name: the paste's reading is stood in for)


def paste_gives(monkeypatch: pytest.MonkeyPatch, *names: str) -> None:
    drafts = [ServerDraft(name=name, command=PYTHON, args=[str(ANSWER)]) for name in names]
    monkeypatch.setattr("app.hosts.paste.drafts_from_text", lambda text, **_: drafts)
    monkeypatch.setattr(sys, "stdin", io.StringIO("the snippet"))


def test_a_paste_holding_two_servers_of_one_name_adds_neither(
    tray_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tray_home / "config.json").write_text(CONFIG)
    paste_gives(monkeypatch, "twin", "twin")

    done = main(["add", "--paste"])

    assert done == 1
    assert "more than one server named twin; nothing was added" in capsys.readouterr().err
    assert (tray_home / "config.json").read_text() == CONFIG


def test_a_paste_whose_second_server_cannot_be_saved_says_how_many_were_added(
    tray_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tray_home / "config.json").write_text(CONFIG)
    paste_gives(monkeypatch, "one", "two", "three")
    add = servers.add

    def refusing_two(paths: Paths, draft: ServerDraft, *args: Any, **kwargs: Any) -> Saved:
        if draft.name == "two":
            raise servers.ServerNotSaved("the keyring said no")
        return add(paths, draft, *args, **kwargs)

    monkeypatch.setattr(servers, "add", refusing_two)

    done = main(["add", "--paste"])

    said = capsys.readouterr()
    assert done == 1
    assert "Added 2 of 3; two was not added: the keyring said no" in said.err
    assert "MCP Tray is not running; one and three start with it." in said.out
    assert list(json.loads((tray_home / "config.json").read_text())["mcpServers"]) == [
        "kept",
        "one",
        "three",
    ]


def test_a_token_given_with_env_goes_to_the_keyring_and_secret_is_suggested_for_next_time(
    tray_home: Path, secret_service: dict[str, str]
) -> None:
    (tray_home / "config.json").write_text(CONFIG)
    command = ("add", "api", "--env", f"API_TOKEN={TOKEN}", "--", PYTHON, str(SECRETIVE))

    added = mcp_tray(tray_home, *command, env=secret_service)
    plain = mcp_tray(tray_home, "add", "plain", "--env", "MODE=fast", "--", PYTHON, str(ANSWER))

    assert added.returncode == 0, added.stderr
    assert added.stderr.splitlines() == [
        "Next time, use --secret NAME: it asks for the value without showing it."
    ]
    assert keyring_value(secret_service, "api", "API_TOKEN") == TOKEN
    assert plain.returncode == 0, plain.stderr
    assert "--secret" not in plain.stderr


def test_remove_takes_the_server_out_of_each_connected_app_and_says_which(
    hub: HubProcess, tmp_path: Path
) -> None:
    cursor = tmp_path / "mcp.json"
    cursor.write_text(
        "{\n"
        "  // my servers\n"
        '  "mcpServers": {\n'
        f'    "kept": {{"command": "{PYTHON}", "args": ["{ANSWER}"]}},\n'
        '    "mine": {"command": "my-own-server"}\n'
        "  }\n"
        "}\n"
    )
    connected = mcp_tray(hub.home, "connect", "cursor", "--path", str(cursor), env=hub.env)
    assert connected.returncode == 0, connected.stderr
    attached = cursor.read_text()

    removed = mcp_tray(hub.home, "remove", "kept", "--yes", env=hub.env)
    disconnected = mcp_tray(hub.home, "disconnect", "cursor", "--path", str(cursor), env=hub.env)

    assert removed.returncode == 0, removed.stderr
    assert f"Took kept out of Cursor's {cursor}" in removed.stdout
    assert cursor.read_text() == (
        '{\n  // my servers\n  "mcpServers": {\n    "mine": {"command": "my-own-server"}\n  }\n}\n'
    )
    assert attached in [p.read_text() for p in tmp_path.glob("mcp.json.*")]  # a backup
    assert disconnected.returncode == 0, disconnected.stderr
    assert "kept" not in cursor.read_text()  # disconnect does not bring it back


def test_a_server_added_reaches_each_connected_app_and_disconnect_takes_it_out(
    hub: HubProcess, tmp_path: Path
) -> None:
    cursor = tmp_path / "mcp.json"
    cursor.write_text(
        f'{{"mcpServers": {{"kept": {{"command": "{PYTHON}", "args": ["{ANSWER}"]}}}}}}'
    )
    connected = mcp_tray(hub.home, "connect", "cursor", "--path", str(cursor), env=hub.env)
    assert connected.returncode == 0, connected.stderr

    added = mcp_tray(hub.home, "add", "answer", "--", PYTHON, str(ANSWER), env=hub.env)
    given = json.loads(cursor.read_text())["mcpServers"]
    disconnected = mcp_tray(hub.home, "disconnect", "cursor", "--path", str(cursor), env=hub.env)

    assert added.returncode == 0, added.stderr
    assert f"Gave answer to Cursor in {cursor}" in added.stdout
    assert given["answer"]["args"][-2:] == ["attach", "answer"]
    assert disconnected.returncode == 0, disconnected.stderr
    assert sorted(json.loads(cursor.read_text())["mcpServers"]) == ["kept"]
