"""Secrets end to end, against a real Secret Service (gnome-keyring on a private D-Bus).

Real ``mcp-tray`` processes (the hub and the ``secret`` commands) reach the
keyring through the test session's private bus; tests/servers/secretive.py
prints its token to stderr as a careless server would, so the logs can be
searched for it.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from keyring.backends import SecretService

from app.core.paths import Paths
from tests.core.test_secrets import pem_key
from tests.helpers import PYTHON, SERVERS
from tests.hubprocess import LINE_TIMEOUT_S, HubProcess, mcp_tray
from tests.relaykit import RawClient
from tests.servers.leaky import DONE

SECRETIVE = SERVERS / "secretive.py"
LEAKY = SERVERS / "leaky.py"
GITHUB_TOKEN = "ghp_" + "Z9y8X7w6V5" * 4  # shaped like a real token, valid nowhere


def secretive(variable: str = "API_TOKEN", **env: str) -> dict[str, Any]:
    return {"command": PYTHON, "args": [str(SECRETIVE), variable], "env": env}


def write_config(home: Path, servers: dict[str, Any]) -> Path:
    config = home / "config.json"
    config.write_text(json.dumps({"mcpServers": servers}, indent=2))
    return config


def keyring_value(bus: dict[str, str], server: str, name: str) -> str | None:
    """Read the real keyring directly, as any other program of the user could."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DBUS_SESSION_BUS_ADDRESS", bus["DBUS_SESSION_BUS_ADDRESS"])
        value: str | None = SecretService.Keyring().get_password(f"mcp-tray/{server}", name)
        return value


def files_containing(root: Path, text: str) -> list[Path]:
    return [
        path for path in root.rglob("*") if path.is_file() and text.encode() in path.read_bytes()
    ]


def test_set_list_and_rm_keep_the_secret_in_the_real_keyring(
    tray_home: Path, secret_service: dict[str, str]
) -> None:
    write_config(tray_home, {"api": secretive(API_TOKEN="${secret:API_TOKEN}")})

    stored = mcp_tray(
        tray_home, "secret", "set", "api", "API_TOKEN", env=secret_service, input="tok-1234\n"
    )
    listed = mcp_tray(tray_home, "secret", "list", "api", env=secret_service)
    value = keyring_value(secret_service, "api", "API_TOKEN")
    removed = mcp_tray(tray_home, "secret", "rm", "api", "API_TOKEN", env=secret_service)
    again = mcp_tray(tray_home, "secret", "rm", "api", "API_TOKEN", env=secret_service)

    assert stored.returncode == 0, stored.stderr
    assert "Stored API_TOKEN for api in the keyring." in stored.stdout
    assert value == "tok-1234"  # the trailing newline of the piped input is not part of it
    assert listed.stdout.split() == ["API_TOKEN", "stored"]
    assert "tok-1234" not in listed.stdout + stored.stdout + stored.stderr
    assert removed.returncode == 0
    assert keyring_value(secret_service, "api", "API_TOKEN") is None
    assert again.returncode == 1 and "no secret API_TOKEN is stored for api" in again.stderr


def test_a_server_waits_for_its_secret_then_runs_and_never_shows_it(
    tray_home: Path, secret_service: dict[str, str]
) -> None:
    write_config(tray_home, {"api": secretive(API_TOKEN="${secret:API_TOKEN}")})
    token = "tok-" + "q" * 24
    hub = HubProcess(tray_home, env=secret_service)
    try:
        hub.wait_for_line(r"api needs the secret API_TOKEN")
        (waiting,) = hub.status()
        stored = mcp_tray(
            tray_home, "secret", "set", "api", "API_TOKEN", env=secret_service, input=token
        )
        hub.wait_for_line(r"api is running \(pid (\d+)\)")
        (running,) = hub.status()
        logs = mcp_tray(tray_home, "logs", "api", env=secret_service)
        command_line = Path(f"/proc/{running['pid']}/cmdline").read_bytes()
        status = mcp_tray(tray_home, "status", env=secret_service)
    finally:
        hub.stop()

    assert waiting["state"] == "needs-secret"
    assert "mcp-tray secret set api API_TOKEN" in waiting["last_error"]
    assert "api is starting with its secrets." in stored.stdout
    assert running["state"] == "running"
    assert "using token ***" in logs.stdout
    assert token.encode() not in command_line  # secrets travel in env, never argv
    assert token not in logs.stdout + status.stdout + "\n".join(hub.lines)
    assert files_containing(tray_home, token) == []  # logs, state, config: nowhere


def test_two_servers_with_a_secret_of_the_same_name_get_their_own(
    tray_home: Path, secret_service: dict[str, str]
) -> None:
    write_config(
        tray_home,
        {
            "first": secretive(API_TOKEN="${secret:API_TOKEN}"),
            "second": secretive(API_TOKEN="${secret:API_TOKEN}"),
        },
    )
    for server, value in (("first", "value-of-first"), ("second", "value-of-second")):
        done = mcp_tray(
            tray_home, "secret", "set", server, "API_TOKEN", env=secret_service, input=value
        )
        assert done.returncode == 0, done.stderr
    hub = HubProcess(tray_home, env=secret_service)
    try:
        hub.wait_for_line(r"first is running")
        hub.wait_for_line(r"second is running")
        answers = {server: _token_of(hub, server) for server in ("first", "second")}
    finally:
        hub.stop()

    assert answers == {"first": "value-of-first", "second": "value-of-second"}


def _token_of(hub: HubProcess, server: str) -> str:
    import anyio

    from app.core.paths import default_paths

    async def ask() -> str:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("MCP_TRAY_HOME", str(hub.home))
            socket_path = default_paths().socket_path
        client = await RawClient.attach(socket_path, server)
        try:
            return await client.call("token")
        finally:
            await client.close()

    return anyio.run(ask)


def test_migrate_moves_a_plaintext_token_into_the_keyring_and_out_of_every_file(
    tray_home: Path, secret_service: dict[str, str]
) -> None:
    config = write_config(
        tray_home,
        {
            "github": secretive(
                "GITHUB_PERSONAL_ACCESS_TOKEN", GITHUB_PERSONAL_ACCESS_TOKEN=GITHUB_TOKEN
            )
        },
    )
    hub = HubProcess(tray_home, env=secret_service)
    try:
        hub.wait_for_line(r"github is running")
        planned = mcp_tray(tray_home, "secret", "migrate", "--dry-run", env=secret_service)
        unchanged = config.read_text()
        migrated = mcp_tray(tray_home, "secret", "migrate", env=secret_service)
        hub.wait_for_line(r"config applied; changed: github")
        hub.wait_for_line(r"github is running \(pid \d+\)")
        answer = _token_of(hub, "github")
    finally:
        hub.stop()

    assert planned.returncode == 0
    assert "github: env GITHUB_PERSONAL_ACCESS_TOKEN → ${secret:GITHUB_PERSONAL_ACCESS_TOKEN}" in (
        planned.stdout
    )
    assert GITHUB_TOKEN in unchanged  # the dry run changed nothing
    assert migrated.returncode == 0, migrated.stderr
    assert GITHUB_TOKEN not in planned.stdout + migrated.stdout + migrated.stderr
    assert keyring_value(secret_service, "github", "GITHUB_PERSONAL_ACCESS_TOKEN") == GITHUB_TOKEN
    assert answer == GITHUB_TOKEN  # the restarted server got it from the keyring
    assert "${secret:GITHUB_PERSONAL_ACCESS_TOKEN}" in config.read_text()
    leaks = files_containing(tray_home, GITHUB_TOKEN)
    (backup,) = leaks  # only the backup keeps the original, as the README says
    assert backup.name.startswith("config.json.") and backup.suffix == ".bak"
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600


def test_without_a_reachable_keyring_the_command_says_why_and_stores_nothing(
    tray_home: Path,
) -> None:
    write_config(tray_home, {"api": secretive(API_TOKEN="${secret:API_TOKEN}")})
    nowhere = {
        **{k: v for k, v in os.environ.items() if k != "PYTHON_KEYRING_BACKEND"},
        "DBUS_SESSION_BUS_ADDRESS": f"unix:path={tray_home / 'no-bus'}",
    }

    result = mcp_tray(
        tray_home, "secret", "set", "api", "API_TOKEN", env=nowhere, input="x1234-5678"
    )

    assert result.returncode == 1
    assert "Secret Service" in result.stderr
    assert "gnome-keyring" in result.stderr
    assert "x1234-5678" not in result.stderr
    assert not (tray_home / "data" / "secret-names.json").exists()


def paths_of(home: Path) -> Paths:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MCP_TRAY_HOME", str(home))
        from app.core.paths import default_paths

        return default_paths()


def follow_log_until(home: Path, server: str, text: str, env: dict[str, str]) -> list[str]:
    """``mcp-tray logs SERVER -f`` until a line holds ``text`` (bounded)."""
    command = [sys.executable, "-m", "app", "logs", server, "-f", "-n", "500"]
    environment = {**env, "MCP_TRAY_HOME": str(home)}
    with subprocess.Popen(command, env=environment, stdout=subprocess.PIPE, text=True) as follow:
        deadline = threading.Timer(LINE_TIMEOUT_S, follow.kill)
        deadline.start()
        lines = []
        try:
            assert follow.stdout is not None
            for line in follow.stdout:
                lines.append(line)
                if text in line:
                    return lines
            raise AssertionError(f"{text!r} never reached the log:\n{''.join(lines)}")
        finally:
            deadline.cancel()
            follow.kill()


def test_a_key_of_several_lines_printed_every_which_way_reaches_no_log(
    tray_home: Path, secret_service: dict[str, str]
) -> None:
    key = pem_key(seed=16)
    write_config(
        tray_home,
        {
            "leaky": {
                "command": PYTHON,
                "args": [str(LEAKY)],
                "env": {"PRIVATE_KEY": "${secret:KEY}"},
            }
        },
    )
    stored = mcp_tray(tray_home, "secret", "set", "leaky", "KEY", env=secret_service, input=key)
    hub = HubProcess(tray_home, env=secret_service)
    try:
        hub.wait_for_line(r"leaky is running")
        followed = "".join(follow_log_until(tray_home, "leaky", DONE, secret_service))
    finally:
        hub.stop()
    paths = paths_of(tray_home)
    server_log = paths.server_log("leaky").read_text()
    hub_log = paths.hub_log.read_text()

    assert stored.returncode == 0, stored.stderr
    assert keyring_value(secret_service, "leaky", "KEY") == key  # all of its lines
    body = key.splitlines()[1:-1]
    for text in (followed, server_log, hub_log, "\n".join(hub.lines)):
        assert not [line for line in body if line in text]
    alone = [line for line in server_log.splitlines() if line[20:] == "***"]
    assert len(alone) == len(body)  # each line of the key, printed on its own
    assert "-----BEGIN PRIVATE KEY-----" in server_log  # what was hidden stays readable
    assert "the server is running and starting its work" in server_log
    assert "leaky is running (pid" in hub_log  # no ordinary word is masked
    assert files_containing(tray_home, body[3]) == []


@pytest.mark.parametrize(
    ("value", "why"),
    [("abc", "It is too short"), ("running", "It is too short"), ("Password", "common word")],
)
def test_a_secret_too_short_or_too_common_to_mask_is_refused_and_nothing_is_stored(
    tray_home: Path, secret_service: dict[str, str], value: str, why: str
) -> None:
    write_config(tray_home, {"refusing": secretive(API_TOKEN="${secret:API_TOKEN}")})

    result = mcp_tray(
        tray_home, "secret", "set", "refusing", "API_TOKEN", env=secret_service, input=value
    )

    assert result.returncode == 1
    assert result.stderr.startswith("mcp-tray: API_TOKEN was not stored. It is ")
    assert why in result.stderr
    assert "replacing it with ***" in result.stderr
    assert keyring_value(secret_service, "refusing", "API_TOKEN") is None
    assert not (tray_home / "data" / "secret-names.json").exists()


def test_migrate_leaves_a_plaintext_value_too_common_to_mask_and_says_so(
    tray_home: Path,
) -> None:
    write_config(
        tray_home,
        {"api": secretive(API_KEY="running", GITHUB_TOKEN=GITHUB_TOKEN, LOG_LEVEL="debug")},
    )

    planned = mcp_tray(tray_home, "secret", "migrate", "--dry-run")

    assert planned.returncode == 0, planned.stderr
    assert planned.stdout.splitlines()[:3] == [
        "Left as it is: api: env API_KEY is too short or too common to be a real secret "
        "(it is not hidden in logs either).",
        f"Would move 1 value(s) from {tray_home / 'config.json'} into the keyring:",
        "  api: env GITHUB_TOKEN → ${secret:GITHUB_TOKEN}",
    ]


def test_secrets_of_a_renamed_server_are_listed_apart_and_can_be_removed(
    tray_home: Path, secret_service: dict[str, str]
) -> None:
    write_config(tray_home, {"weather": secretive(API_KEY="${secret:API_KEY}")})
    set_it = ("secret", "set", "weather", "API_KEY")
    assert mcp_tray(tray_home, *set_it, env=secret_service, input="kkkk-1234").returncode == 0
    write_config(tray_home, {"forecast": secretive(API_KEY="${secret:API_KEY}")})  # renamed

    everything = mcp_tray(tray_home, "secret", "list", env=secret_service)
    one = mcp_tray(tray_home, "secret", "list", "weather", env=secret_service)
    removed = mcp_tray(tray_home, "secret", "rm", "weather", "API_KEY", env=secret_service)
    after = mcp_tray(tray_home, "secret", "list", env=secret_service)

    assert everything.returncode == 0, everything.stderr
    assert everything.stdout.splitlines() == [
        "forecast:",
        "  API_KEY  missing",
        "No longer in the config (renamed or removed), still in the keyring:",
        "weather:",
        "  API_KEY  stored",
        "Remove them with `mcp-tray secret rm SERVER NAME`, for example "
        "`mcp-tray secret rm weather API_KEY`.",
    ]
    assert one.returncode == 0, one.stderr
    assert one.stdout.splitlines() == [
        "weather is no longer in the config (renamed or removed); its secrets are still in "
        "the keyring:",
        "  API_KEY  stored",
        "Remove them with `mcp-tray secret rm weather NAME`.",
    ]
    assert removed.returncode == 0, removed.stderr
    assert removed.stdout == "Deleted API_KEY of weather from the keyring.\n"
    assert removed.stderr == ""
    assert keyring_value(secret_service, "weather", "API_KEY") is None
    assert after.stdout.splitlines() == ["forecast:", "  API_KEY  missing"]


def test_setting_one_of_two_secrets_says_what_the_server_still_needs(
    tray_home: Path, secret_service: dict[str, str]
) -> None:
    write_config(
        tray_home,
        {"pair": secretive(API_TOKEN="${secret:API_TOKEN}", OTHER_KEY="${secret:OTHER_KEY}")},
    )
    hub = HubProcess(tray_home, env=secret_service)
    try:
        hub.wait_for_line(r"pair needs the secrets API_TOKEN, OTHER_KEY")
        first = mcp_tray(
            tray_home, "secret", "set", "pair", "API_TOKEN", env=secret_service, input="tok-12345"
        )
        second = mcp_tray(
            tray_home, "secret", "set", "pair", "OTHER_KEY", env=secret_service, input="key-12345"
        )
        hub.wait_for_line(r"pair is running")
    finally:
        hub.stop()

    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == [
        "Stored API_TOKEN for pair in the keyring.",
        "pair still needs the secret OTHER_KEY: set it from the tray or with "
        "`mcp-tray secret set pair OTHER_KEY`.",
    ]
    assert second.stdout.splitlines()[1] in (
        "pair is starting with its secrets.",
        "pair is running with its secrets.",
    )
