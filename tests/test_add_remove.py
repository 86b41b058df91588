"""``mcp-tray add`` and ``remove`` end to end: a real hub, real servers, the real Secret Service.

The hub (``mcp-tray serve``) runs on the test session's private keyring;
each command is a real ``mcp-tray`` process, and a server added is reached
the way an editor reaches it, through ``mcp-tray attach``.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

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
