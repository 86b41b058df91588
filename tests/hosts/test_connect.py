"""connect and disconnect: comments kept, the user's later edits respected, the command line;
with --http, a file made private for the token it holds, and a new token that reaches it."""

from __future__ import annotations

import json
import os
import socket
import stat
from pathlib import Path
from typing import Any

import httpx2

from app.core.config.draft import ServerDraft
from app.core.config.switches import set_http_enabled
from app.core.jsontext.jsonc import Document
from app.core.paths import Paths, default_paths
from app.core.secrets import SecretStore
from app.hosts.linking import Connections, connect
from app.hosts.registry import HOSTS
from app.hosts.servers import add
from tests.helpers import INITIALIZE_REQUEST
from tests.hubprocess import HubProcess, mcp_tray
from tests.keyrings import MemoryKeyring
from tests.relaykit import rich_entry

FIXTURES = Path(__file__).parent / "fixtures"


def fixture_copy(name: str, folder: Path) -> Path:
    path = folder / f"{name}.json"
    path.write_bytes((FIXTURES / f"{name}.json").read_bytes())
    return path


def test_comments_outside_the_rewritten_entry_survive_connect(tmp_path: Path) -> None:
    path = fixture_copy("zed", tmp_path)

    Connections(tmp_path / "state").connect(HOSTS["zed"], path, {"github", "time"})

    text = path.read_text()
    assert text.startswith("// Zed settings\n//\n")
    assert "// written by an older Zed" in text
    assert '/* MCP servers are "context servers" in Zed */' in text
    assert '"vim_mode": false,' in text  # the trailing comma, as the user wrote it


def test_disconnect_after_the_user_edited_the_file_puts_back_only_our_entry(
    tmp_path: Path,
) -> None:
    host = HOSTS["cursor"]
    path = fixture_copy("cursor", tmp_path)
    connections = Connections(tmp_path / "state")
    connections.connect(host, path, {"github"})
    edited = Document.parse(path.read_text()).insert(
        ("mcpServers",), "added-later", {"command": "x"}
    )
    path.write_text(edited)

    connections.disconnect(host, path)

    servers = json.loads(path.read_text())["mcpServers"]
    assert (
        servers["github"]
        == json.loads((FIXTURES / "cursor.json").read_text())["mcpServers"]["github"]
    )
    assert servers["added-later"] == {"command": "x"}


def test_connect_and_disconnect_from_the_command_line(tray_home: Path, tmp_path: Path) -> None:
    (tray_home / "config.json").write_text(
        json.dumps({"mcpServers": {"github": {"command": "npx", "args": ["-y", "srv"]}}})
    )
    path = fixture_copy("claude-desktop", tmp_path)
    original = path.read_bytes()

    connected = mcp_tray(tray_home, "connect", "claude-desktop", "--path", str(path))
    entry = json.loads(path.read_text())["mcpServers"]["github"]
    disconnected = mcp_tray(tray_home, "disconnect", "claude-desktop", "--path", str(path))

    assert connected.returncode == 0, connected.stderr
    assert "Connected github. Quit and reopen Claude Desktop" in connected.stdout
    assert entry["args"][-2:] == ["attach", "github"]
    assert Path(entry["command"]).is_absolute()
    assert disconnected.returncode == 0, disconnected.stderr
    assert path.read_bytes() == original


def test_connect_gives_an_app_without_servers_those_mcp_tray_runs_and_disconnect_takes_them_back(
    tray_home: Path, tmp_path: Path
) -> None:
    ours = {
        "demo": {"command": "python3", "args": ["-m", "demo"]},
        "github": {"command": "npx", "args": ["-y", "srv"]},
        "paused": {"command": "npx", "args": ["-y", "other"], "disabled": True},
    }
    (tray_home / "config.json").write_text(json.dumps({"mcpServers": ours}))
    path = tmp_path / "claude_desktop_config.json"
    path.write_text('{\n  "globalShortcut": "Ctrl+Space"\n}\n')  # no servers at all yet
    original = path.read_bytes()

    connected = mcp_tray(tray_home, "connect", "claude-desktop", "--path", str(path))
    given = json.loads(path.read_text())
    disconnected = mcp_tray(tray_home, "disconnect", "claude-desktop", "--path", str(path))

    assert connected.returncode == 0, connected.stderr
    assert "Gave Claude Desktop demo, github from MCP Tray." in connected.stdout
    assert given["globalShortcut"] == "Ctrl+Space"
    assert sorted(given["mcpServers"]) == ["demo", "github"]  # not the one turned off
    assert [e["args"][-2:] for e in given["mcpServers"].values()] == [
        ["attach", "demo"],
        ["attach", "github"],
    ]
    assert disconnected.returncode == 0, disconnected.stderr
    assert path.read_bytes() == original


def test_disconnect_after_an_edit_takes_out_only_the_servers_connect_gave(tmp_path: Path) -> None:
    host = HOSTS["cursor"]
    path = fixture_copy("cursor", tmp_path)
    connections = Connections(tmp_path / "state")
    connections.connect(host, path, {"github"}, given=["demo"])
    edited = Document.parse(path.read_text()).insert(
        ("mcpServers",), "added-later", {"command": "x"}
    )
    path.write_text(edited)  # the whole file can no longer be put back as it was

    connections.disconnect(host, path)

    servers = json.loads(path.read_text())["mcpServers"]
    before = json.loads((FIXTURES / "cursor.json").read_text())["mcpServers"]
    assert "demo" not in servers
    assert servers["github"] == before["github"]
    assert servers["added-later"] == {"command": "x"}


def test_disconnect_refuses_an_app_file_replaced_by_a_pipe_in_words_without_waiting(
    tray_home: Path, tmp_path: Path
) -> None:
    (tray_home / "config.json").write_text(
        json.dumps({"mcpServers": {"github": {"command": "npx", "args": ["-y", "srv"]}}})
    )
    path = fixture_copy("claude-desktop", tmp_path)
    assert mcp_tray(tray_home, "connect", "claude-desktop", "--path", str(path)).returncode == 0
    path.unlink()
    os.mkfifo(path)  # nobody will ever write to it: a blocking read would wait forever

    disconnected = mcp_tray(tray_home, "disconnect", "claude-desktop", "--path", str(path))

    assert disconnected.returncode == 1
    assert "is not an ordinary file; it was left as it is" in disconnected.stderr
    assert "Traceback" not in disconnected.stderr


def test_a_malformed_app_config_is_not_connected(tray_home: Path, tmp_path: Path) -> None:
    (tray_home / "config.json").write_text('{"mcpServers": {"github": {"command": "npx"}}}')
    path = tmp_path / "mcp.json"
    broken = '{"mcpServers": {"github": {"command": "npx"}'
    path.write_text(broken)

    result = mcp_tray(tray_home, "connect", "cursor", "--path", str(path))

    assert result.returncode == 1 and "is not valid JSON" in result.stderr
    assert path.read_text() == broken


def test_connect_http_makes_the_file_private_and_a_new_token_replaces_it_everywhere(
    tray_home: Path, tmp_path: Path, secret_service: dict[str, str]
) -> None:
    port = free_port()
    rich = rich_entry()
    config = {"mcpServers": {"rich": rich}, "http": {"enabled": True, "port": port}}
    (tray_home / "config.json").write_text(json.dumps(config))
    path = tmp_path / "mcp.json"
    path.write_text(json.dumps({"mcpServers": {"rich": rich}}, indent=2))
    path.chmod(0o644)  # what a home folder usually gives
    original = path.read_bytes()
    hub = HubProcess(tray_home, env=secret_service)
    try:
        hub.wait_for_line(r"HTTP endpoint: http://127\.0\.0\.1")
        connected = mcp_tray(
            tray_home, "connect", "cursor", "--path", str(path), "--http", env=secret_service
        )
        old = bearer(path)
        mode_after_connect = stat.S_IMODE(path.stat().st_mode)
        rotated = mcp_tray(tray_home, "http", "rotate-token", env=secret_service)
        new = bearer(path)
        url = f"http://127.0.0.1:{port}/servers/rich/mcp"
        with_old, with_new = initialize(url, old), initialize(url, new)
    finally:
        hub.stop()
    disconnected = mcp_tray(tray_home, "disconnect", "cursor", "--path", str(path))

    assert connected.returncode == 0, connected.stderr
    assert mode_after_connect == 0o600
    assert "now holds MCP Tray's access token, so only you can read it" in connected.stdout
    assert "(other users of this computer could before)" in connected.stdout
    assert rotated.returncode == 0, rotated.stderr
    assert "Made a new access token" in rotated.stdout
    assert "The old token no longer works." in rotated.stdout
    assert f"Updated Cursor ({path}): rich." in rotated.stdout
    assert new != old and old not in rotated.stdout + rotated.stderr
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # disconnect gave the old bits back
    assert with_old == 401 and with_new == 200
    assert disconnected.returncode == 0, disconnected.stderr
    assert path.read_bytes() == original


def bearer(path: Path) -> str:
    headers = json.loads(path.read_text())["mcpServers"]["rich"]["headers"]
    return str(headers["Authorization"]).removeprefix("Bearer ")


def initialize(url: str, token: str) -> int:
    """The status an initialize with ``token`` gets."""
    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": "application/json, text/event-stream",
    }
    with httpx2.Client(timeout=30.0) as http:
        return http.post(url, headers=headers, json=INITIALIZE_REQUEST).status_code


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _ours(tray_home: Path, servers: dict[str, Any], **settings: Any) -> Paths:
    (tray_home / "config.json").write_text(json.dumps({"mcpServers": servers, **settings}))
    paths = default_paths()
    paths.ensure()
    return paths


def test_a_renamed_server_follows_into_a_connected_app_that_had_only_it(
    tray_home: Path, tmp_path: Path
) -> None:
    paths = _ours(tray_home, {"demo": {"command": "python3", "args": ["-m", "demo"]}})
    cursor = tmp_path / "mcp.json"
    cursor.write_text('{"mcpServers": {}}')
    connect(HOSTS["cursor"], cursor, paths)  # Cursor was given demo, its only entry
    store = SecretStore(paths.secret_index, backend=MemoryKeyring())

    renamed = ServerDraft(name="hello", command="python3", args=["-m", "demo"])
    saved = add(paths, renamed, store, replace="demo")

    assert [title for title, _ in saved.apps] == ["Cursor"]
    assert list(json.loads(cursor.read_text())["mcpServers"]) == ["hello"]
    assert Connections(paths.connections_dir).connected(HOSTS["cursor"], cursor)


def test_an_app_connected_over_http_gets_no_new_server_while_http_is_off(
    tray_home: Path, tmp_path: Path
) -> None:
    paths = _ours(tray_home, {"demo": {"command": "python3", "args": ["-m", "demo"]}})
    cursor = tmp_path / "mcp.json"
    cursor.write_text('{"mcpServers": {}}')
    store = SecretStore(paths.secret_index, backend=MemoryKeyring())
    connect(HOSTS["cursor"], cursor, paths, http=True, store=store)
    set_http_enabled(paths.config_file, False)  # the user turned Serve over HTTP off since

    saved = add(paths, ServerDraft(name="more", command="python3", args=["-m", "more"]), store)

    assert saved.apps == ()
    assert "Cursor reaches MCP Tray over HTTP, which is turned off" in saved.apps_trouble[0]
    assert json.loads(paths.config_file.read_text())["http"]["enabled"] is False
    assert "more" not in json.loads(cursor.read_text())["mcpServers"]
