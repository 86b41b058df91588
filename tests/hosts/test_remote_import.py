"""An app's remote servers (a url, not a command): imported into MCP Tray's config, their
header tokens moved to the keyring, then connected like any other server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from app.core.paths import Paths, default_paths
from app.core.secrets import SecretStore
from app.hosts import survey
from app.hosts.host import HostError
from app.hosts.importing import import_servers
from app.hosts.linking import attach_command, connect, disconnect
from app.hosts.registry import HOSTS
from app.hosts.survey import Route
from tests.keyrings import ForgetfulKeyring, MemoryKeyring

HEADER_TOKEN = "sk-" + "Zy8Xw7Vu6T" * 3  # shaped like a real token, valid nowhere
NOTION = "https://mcp.notion.example/mcp"
EMPTY_CONFIG = '{\n  "mcpServers": {}\n}\n'

# ~/.claude.json as Claude Code writes it: history and settings around the servers.
CLAUDE_CODE = {
    "numStartups": 3,
    "mcpServers": {
        "time": {"type": "stdio", "command": "uvx", "args": ["mcp-server-time"], "env": {}},
        "notion": {
            "type": "http",
            "url": NOTION,
            "headers": {"Authorization": f"Bearer {HEADER_TOKEN}", "Notion-Version": "2025-09"},
        },
    },
    "projects": {"/home/ada/site": {"allowedTools": [], "mcpServers": {}}},
}


@pytest.fixture
def paths(tray_home: Path) -> Paths:
    (tray_home / "config.json").write_text(EMPTY_CONFIG)
    paths = default_paths()
    paths.ensure()
    return paths


@pytest.fixture
def keyring() -> MemoryKeyring:
    return MemoryKeyring()


@pytest.fixture
def store(paths: Paths, keyring: MemoryKeyring) -> SecretStore:
    return SecretStore(paths.secret_index, backend=keyring)


def app_file(folder: Path, host: str, servers: dict[str, Any], **around: Any) -> Path:
    """The app's config file, written as the app would: its servers under its own key."""
    path = folder / "app" / f"{host}.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps({**around, HOSTS[host].key: servers}, indent=2))
    return path


def ours(paths: Paths) -> dict[str, Any]:
    servers: dict[str, Any] = json.loads(paths.config_file.read_text())["mcpServers"]
    return servers


def test_claude_code_s_http_server_is_imported_with_its_token_in_the_keyring_then_connected(
    paths: Paths, store: SecretStore, keyring: MemoryKeyring, tmp_path: Path
) -> None:
    host = HOSTS["claude-code"]
    path = tmp_path / ".claude.json"
    path.write_text(json.dumps(CLAUDE_CODE, indent=2))
    original = path.read_bytes()

    plan = import_servers(host, path, paths, store=store)
    connected = connect(host, path, paths)
    after = json.loads(path.read_text())
    undone = disconnect(host, path, paths)

    assert plan.lines == [
        "time: imported",
        "notion: imported; secret(s) Authorization go to the keyring",
    ]
    assert ours(paths)["notion"] == {
        "url": NOTION,
        "headers": {"Authorization": "Bearer ${secret:Authorization}", "Notion-Version": "2025-09"},
    }
    assert ours(paths)["time"] == {"command": "uvx", "args": ["mcp-server-time"]}
    assert keyring.entries == {("mcp-tray/notion", "Authorization"): HEADER_TOKEN}
    assert HEADER_TOKEN not in paths.config_file.read_text()
    assert connected.changed == ["time", "notion"]
    for name in ("time", "notion"):
        command, args = attach_command(name)
        assert after["mcpServers"][name] == {"command": command, "args": args}
    assert HEADER_TOKEN not in json.dumps(after)  # the app no longer holds the token either
    assert {k: v for k, v in after.items() if k != "mcpServers"} == {
        k: v for k, v in CLAUDE_CODE.items() if k != "mcpServers"
    }
    assert undone.changed == ["time", "notion"] and path.read_bytes() == original


URL = "https://mcp.example.com/mcp"
# A header that is no key (an entry without headers gets a word on signing in as well).
TEAM = {"X-Team": "design"}

# Each app's way of writing a remote server, and the entry MCP Tray takes from it.
SPELLINGS = [
    ("claude-code", {"type": "http", "url": URL, "headers": TEAM}, {"url": URL, "headers": TEAM}),
    (
        "claude-code",
        {"type": "sse", "url": URL, "headers": {"X-Team": "design"}},
        {"url": URL, "type": "sse", "headers": {"X-Team": "design"}},
    ),
    ("claude-desktop", {"url": URL, "headers": TEAM}, {"url": URL, "headers": TEAM}),
    (
        "cursor",
        {"url": URL, "headers": {"X-Region": "${env:REGION}"}},
        {"url": URL, "headers": {"X-Region": "${env:REGION}"}},
    ),
    ("vscode", {"type": "http", "url": URL, "headers": TEAM}, {"url": URL, "headers": TEAM}),
    (
        "vscode",
        {"type": "sse", "url": URL, "headers": {"Authorization": "Bearer ${input:api-token}"}},
        {"url": URL, "type": "sse", "headers": {"Authorization": "Bearer ${secret:api-token}"}},
    ),
    (
        "windsurf",
        {"serverUrl": URL, "headers": {"X-Region": "${REGION}"}},
        {"url": URL, "headers": {"X-Region": "${env:REGION}"}},
    ),
    (
        "gemini",
        {"httpUrl": URL, "headers": {"X-Region": "$REGION"}, "timeout": 5000},
        {"url": URL, "headers": {"X-Region": "${env:REGION}"}},
    ),
    # Gemini's "url" is the old transport
    ("gemini", {"url": URL, "headers": TEAM}, {"url": URL, "type": "sse", "headers": TEAM}),
    ("gemini", {"type": "http", "url": URL, "headers": TEAM}, {"url": URL, "headers": TEAM}),
    (
        "zed",
        {"url": URL, "headers": {"X-Team": "design"}},
        {"url": URL, "headers": {"X-Team": "design"}},
    ),
]


@pytest.mark.parametrize(
    ("host_name", "written", "imported"),
    SPELLINGS,
    ids=[f"{host}-{'-'.join(written)}" for host, written, _ in SPELLINGS],
)
def test_each_app_s_spelling_of_a_remote_server_is_imported(  # noqa: PLR0917 - cases and fixtures
    host_name: str,
    written: dict[str, Any],
    imported: dict[str, Any],
    paths: Paths,
    store: SecretStore,
    tmp_path: Path,
) -> None:
    path = app_file(tmp_path, host_name, {"remote": written})

    plan = import_servers(HOSTS[host_name], path, paths, store=store)

    assert plan.lines[0].startswith("remote: imported")
    assert ours(paths) == {"remote": imported}


def test_a_remote_server_mcp_tray_cannot_reach_as_written_stays_with_the_app_and_says_why(
    paths: Paths, store: SecretStore, keyring: MemoryKeyring, tmp_path: Path
) -> None:
    servers = {
        "socket": {"url": "ws://localhost:9000/mcp"},
        "listed": {"url": URL, "headers": ["Authorization: Bearer abc"]},
        "nested": {"url": URL, "headers": {"X-Options": {"fast": True}}},
        "two-lines": {"url": URL, "headers": {"X-Team": "design\r\nHost: elsewhere"}},
        "keyed": {"url": f"{URL}?api_key={HEADER_TOKEN}"},
        "signs-in": {"type": "http", "url": URL, "oauth": {"clientId": "claude"}},
        "no-key": {"url": URL},
        "good": {"url": URL, "headers": TEAM},
        "time": {"command": "uvx", "args": ["mcp-server-time"]},
    }
    path = app_file(tmp_path, "claude-code", servers)
    original = path.read_bytes()

    plan = import_servers(HOSTS["claude-code"], path, paths, store=store)
    found = survey.look_at(HOSTS["claude-code"], path)
    connected = connect(HOSTS["claude-code"], path, paths)

    assert plan.lines == [
        "socket: not imported: its address ws://localhost:9000/mcp is not a web address; "
        "MCP Tray reaches remote servers at http:// or https:// addresses only",
        "listed: not imported: its headers do not give each header a text",
        "nested: not imported: its headers do not give each header a text",
        "two-lines: not imported: a header's value runs over more than one line",
        "keyed: not imported: its address holds a key (api_key=), which MCP Tray would have to "
        "copy into its config, and it keeps keys only in the keyring; ask the service for a way "
        "to send it in a header",
        "signs-in: not imported: Claude Code signs you in to it with settings of its own "
        "(oauth), which MCP Tray cannot use",
        "no-key: imported; if it asks you to sign in, sign in from MCP Tray's menu or with "
        "`mcp-tray signin no-key`",
        "good: imported",
        "time: imported",
    ]
    assert sorted(ours(paths)) == ["good", "no-key", "time"]
    assert keyring.entries == {}
    assert HEADER_TOKEN not in paths.config_file.read_text()
    unusable = {
        server.name: server.why for server in found.servers if server.route is Route.UNUSABLE
    }
    assert unusable["socket"].startswith("its address ws://localhost:9000/mcp is not a web address")
    assert set(unusable) == {"socket", "listed", "nested", "two-lines", "keyed", "signs-in"}
    assert connected.changed == ["no-key", "good", "time"]
    after = json.loads(path.read_text())["mcpServers"]
    for name in unusable:
        assert after[name] == servers[name]  # left as the app wrote them
    assert original != path.read_bytes()


def test_importing_again_says_already_imported_and_a_different_address_is_not_overwritten(
    paths: Paths, store: SecretStore, tmp_path: Path
) -> None:
    docs, wiki = {"url": URL, "headers": TEAM}, {"url": URL + "/v2", "headers": TEAM}
    path = app_file(tmp_path, "cursor", {"docs": docs, "wiki": docs})
    import_servers(HOSTS["cursor"], path, paths, store=store)
    path.write_text(json.dumps({"mcpServers": {"docs": docs, "wiki": wiki}}))

    again = import_servers(HOSTS["cursor"], path, paths, store=store)
    connected = connect(HOSTS["cursor"], path, paths)

    assert again.lines == [
        "docs: already imported",
        "wiki: MCP Tray has a server of that name; not imported",
    ]
    assert ours(paths) == {"docs": docs, "wiki": docs}
    assert connected.changed == ["docs"]
    assert connected.untouched == [
        "wiki: MCP Tray has a different server of that name; left as it is"
    ]
    assert json.loads(path.read_text())["mcpServers"]["wiki"] == wiki


@pytest.mark.parametrize(
    ("headers", "kept", "moved"),
    [
        ({"X-API-Key": HEADER_TOKEN}, {"X-API-Key": "${secret:X-API-Key}"}, HEADER_TOKEN),
        (
            {"Authorization": "Basic " + "YWRhOmxvdmVsYWNl" * 2},
            {"Authorization": "Basic ${secret:Authorization}"},
            "YWRhOmxvdmVsYWNl" * 2,
        ),
        ({"X-Custom": HEADER_TOKEN}, {"X-Custom": "${secret:X-Custom}"}, HEADER_TOKEN),
        (
            {"Authorization": "Bearer ${DOCS_TOKEN}"},
            {"Authorization": "Bearer ${env:DOCS_TOKEN}"},
            None,
        ),
        (
            {"Authorization": "Bearer abc"},
            {"Authorization": "Bearer abc"},
            None,
        ),  # too short to hide
        ({"X-Team": "design"}, {"X-Team": "design"}, None),
    ],
    ids=["named-key", "basic-auth", "token-shaped", "variable", "too-short", "plain"],
)
def test_a_header_holding_a_key_or_token_has_it_moved_to_the_keyring(  # noqa: PLR0917 - cases and fixtures
    headers: dict[str, str],
    kept: dict[str, str],
    moved: str | None,
    paths: Paths,
    store: SecretStore,
    keyring: MemoryKeyring,
    tmp_path: Path,
) -> None:
    path = app_file(tmp_path, "cursor", {"docs": {"url": URL, "headers": headers}})

    import_servers(HOSTS["cursor"], path, paths, store=store)

    assert ours(paths)["docs"]["headers"] == kept
    assert list(keyring.entries.values()) == ([moved] if moved else [])


def test_a_header_token_the_keyring_did_not_keep_imports_nothing(
    paths: Paths, tmp_path: Path
) -> None:
    path = tmp_path / ".claude.json"
    path.write_text(json.dumps(CLAUDE_CODE))
    store = SecretStore(paths.secret_index, backend=ForgetfulKeyring())

    with pytest.raises(HostError) as refused:
        import_servers(HOSTS["claude-code"], path, paths, store=store)

    assert str(refused.value) == (
        "the keyring did not keep Authorization of notion; nothing was imported"
    )
    assert paths.config_file.read_text() == EMPTY_CONFIG


def test_the_connect_dialog_offers_a_remote_server_and_puts_it_through_mcp_tray(
    paths: Paths, store: SecretStore, tmp_path: Path
) -> None:
    host = HOSTS["cursor"]
    path = app_file(
        tmp_path, "cursor", {"docs": {"url": URL, "headers": {"X-API-Key": HEADER_TOKEN}}}
    )

    before = survey.look_at(host, path)
    said = survey.connect_app(before, paths, store=store)
    after = survey.look_at(host, path)

    assert before.can_connect and before.named(Route.REMOTE) == ["docs"]
    assert before.describe(before.servers[0]) == "a remote server Cursor connects to itself"
    assert said == f"Cursor now reaches 1 server through MCP Tray: docs. {host.restart}"
    assert after.named(Route.THROUGH_TRAY) == ["docs"]
    assert HEADER_TOKEN not in path.read_text() + paths.config_file.read_text()


def test_a_remote_server_that_sends_no_key_is_imported_and_connected_and_may_need_a_sign_in(
    paths: Paths, store: SecretStore, tmp_path: Path
) -> None:
    host = HOSTS["cursor"]
    linear = {"url": "https://mcp.linear.app/mcp"}
    path = app_file(tmp_path, "cursor", {"linear": linear, "time": {"command": "uvx"}})

    before = survey.look_at(host, path)
    said = survey.connect_app(before, paths, store=store)
    after = survey.look_at(host, path)

    assert before.named(Route.REMOTE) == ["linear"]
    assert ours(paths) == {"linear": linear, "time": {"command": "uvx"}}
    assert said.split("\n") == [
        f"Cursor now reaches 2 servers through MCP Tray: linear, time. {host.restart}",
        "linear may ask you to sign in; if it does, MCP Tray will ask you.",
    ]
    assert after.named(Route.THROUGH_TRAY) == ["linear", "time"]
