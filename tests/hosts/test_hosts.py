"""Each host's config, shaped as its documentation shows it: import, dry run, connect,
disconnect, and a malformed copy. The files are under ``fixtures/``, one per host."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.core.jsontext.jsonc import Document
from app.core.paths import Paths, default_paths
from app.core.secrets import SecretStore
from app.hosts.host import Host, HostError
from app.hosts.importing import import_servers
from app.hosts.linking import attach_command, connect, disconnect
from app.hosts.registry import HOSTS
from tests.keyrings import ForgetfulKeyring, MemoryKeyring

FIXTURES = Path(__file__).parent / "fixtures"
TOKEN = "ghp_Fx4kL9mQ2wR7tY1uI8oP3aS6dG0hJ5zX2cV7"  # the fixtures' token, valid nowhere
EMPTY_CONFIG = '{\n  "mcpServers": {}\n}\n'

# What importing each fixture brings in: the servers it runs, and the remote ones (as
# MCP Tray's entries; those that send no key are told how to sign in if they ask).
EXPECTED = {
    "claude-desktop": ({"filesystem", "github"}, {}),
    "claude-code": ({"github", "time"}, {"sentry": {"url": "https://mcp.sentry.dev/mcp"}}),
    "cursor": ({"github", "time"}, {"context7": {"url": "https://mcp.context7.com/mcp"}}),
    "vscode": ({"github", "time"}, {"fetch": {"url": "https://remote.mcpservers.org/fetch/mcp"}}),
    "windsurf": ({"github", "time"}, {"figma": {"url": "https://mcp.figma.example/mcp"}}),
    "zed": ({"github", "time"}, {"linear": {"url": "https://mcp.linear.app/mcp"}}),
    "gemini": (
        {"github", "time"},
        {
            "docs": {
                "url": "https://docs.example.com/mcp",
                "headers": {"Authorization": "Bearer ${env:DOCS_TOKEN}"},  # Gemini's $DOCS_TOKEN
            }
        },
    ),
}
GITHUB_TOKEN_BECOMES = {name: "${secret:GITHUB_PERSONAL_ACCESS_TOKEN}" for name in EXPECTED} | {
    "vscode": "${secret:github-token}"
}


@pytest.fixture(params=sorted(EXPECTED))
def host(request: pytest.FixtureRequest) -> Host:
    return HOSTS[request.param]


@pytest.fixture
def host_file(host: Host, tmp_path: Path) -> Path:
    path = tmp_path / "app" / f"{host.name}.json"
    path.parent.mkdir()
    path.write_bytes((FIXTURES / f"{host.name}.json").read_bytes())
    return path


@pytest.fixture
def paths(tray_home: Path) -> Paths:
    (tray_home / "config.json").write_text(EMPTY_CONFIG)
    paths = default_paths()
    paths.ensure()
    return paths


def test_a_dry_run_lists_every_server_and_changes_nothing(
    host: Host, host_file: Path, paths: Paths
) -> None:
    keyring = MemoryKeyring()

    plan = import_servers(
        host, host_file, paths, dry_run=True, store=SecretStore(paths.secret_index, backend=keyring)
    )

    local, remote = EXPECTED[host.name]
    assert set(plan.added) == local | set(remote)
    assert len(plan.lines) == len(local | set(remote))
    assert paths.config_file.read_text() == EMPTY_CONFIG
    assert keyring.entries == {}


def test_import_adds_the_servers_remote_ones_too_and_moves_tokens(
    host: Host, host_file: Path, paths: Paths
) -> None:
    keyring = MemoryKeyring()
    original = host_file.read_bytes()

    plan = import_servers(
        host, host_file, paths, store=SecretStore(paths.secret_index, backend=keyring)
    )

    local, remote = EXPECTED[host.name]
    ours = json.loads(paths.config_file.read_text())["mcpServers"]
    assert set(ours) == local | set(remote)
    github = ours["github"]
    assert github["command"] == "npx"
    assert github["args"] == ["-y", "@modelcontextprotocol/server-github"]
    assert github["env"] == {"GITHUB_PERSONAL_ACCESS_TOKEN": GITHUB_TOKEN_BECOMES[host.name]}
    assert TOKEN not in paths.config_file.read_text()
    moved = {("mcp-tray/github", "GITHUB_PERSONAL_ACCESS_TOKEN"): TOKEN}
    assert keyring.entries == ({} if host.name == "vscode" else moved)
    for name, entry in remote.items():
        assert ours[name] == entry
        sign_in = (
            "; if it asks you to sign in, sign in from MCP Tray's menu or with "
            f"`mcp-tray signin {name}`"
        )
        assert f"{name}: imported{'' if 'headers' in entry else sign_in}" in plan.lines
    assert host_file.read_bytes() == original  # import reads the app's file, never writes it


def test_host_variables_are_translated(paths: Paths, tmp_path: Path) -> None:
    imported = {}
    for name in ("claude-code", "cursor", "gemini", "zed"):
        path = tmp_path / f"{name}.json"
        path.write_bytes((FIXTURES / f"{name}.json").read_bytes())
        plan = import_servers(
            HOSTS[name],
            path,
            paths,
            dry_run=True,
            store=SecretStore(paths.secret_index, backend=MemoryKeyring()),
        )
        imported[name] = (plan.added["time"], plan.lines)

    claude_code, lines = imported["claude-code"]
    assert claude_code["args"] == ["mcp-server-time", "--local-timezone=${env:TZ}"]
    assert "time: imported; the default of ${TZ:-Europe/Paris} was dropped" in lines
    assert imported["cursor"][0]["env"] == {"TZ": "${env:TZ}"}
    assert imported["gemini"][0]["args"] == ["mcp-server-time", "--local-timezone", "${env:TZ}"]
    assert imported["zed"][0] == {"command": "uvx", "args": ["mcp-server-time"]}  # older shape


def test_connect_is_idempotent_and_disconnect_restores_every_byte(
    host: Host, host_file: Path, paths: Paths
) -> None:
    import_servers(
        host, host_file, paths, store=SecretStore(paths.secret_index, backend=MemoryKeyring())
    )
    original = host_file.read_bytes()
    before = Document.parse(original.decode()).data

    connected = connect(host, host_file, paths)
    after = Document.parse(host_file.read_text()).data
    written = host_file.read_bytes()
    again = connect(host, host_file, paths)
    unchanged = host_file.read_bytes()
    undone = disconnect(host, host_file, paths)

    local, remote = EXPECTED[host.name]
    assert set(connected.changed) == local | set(remote)
    for name in local | set(remote):
        entry = host.servers(after)[name]
        command, args = attach_command(name)
        assert entry == host.attach_entry(command, args, previous=host.servers(before)[name])
        assert "env" not in entry  # the token now reaches the server from the keyring
        assert "headers" not in entry and host.url_of(entry) is None
    assert TOKEN not in written.decode()
    assert {k: v for k, v in after.items() if k != host.key} == {
        k: v for k, v in before.items() if k != host.key
    }
    assert again.changed == [] and "already" in again.message
    assert unchanged == written
    assert host.restart in connected.message and host.restart in undone.message
    assert host_file.read_bytes() == original


def test_a_malformed_host_config_is_reported_and_left_untouched(
    host: Host, host_file: Path, paths: Paths
) -> None:
    broken = host_file.read_bytes()[:-12]  # cut off mid-way, as an editor crash might
    host_file.write_bytes(broken)

    for attempt in (
        lambda: import_servers(host, host_file, paths, store=SecretStore(paths.secret_index)),
        lambda: connect(host, host_file, paths),
    ):
        with pytest.raises(HostError, match=r"is not valid JSON \(line \d+, column \d+"):
            attempt()

    assert host_file.read_bytes() == broken
    assert paths.config_file.read_text() == EMPTY_CONFIG


def test_import_checks_the_keyring_kept_each_token_before_the_config_changes(
    paths: Paths, tmp_path: Path
) -> None:
    path = tmp_path / "claude_desktop_config.json"
    path.write_bytes((FIXTURES / "claude-desktop.json").read_bytes())
    store = SecretStore(paths.secret_index, backend=ForgetfulKeyring())

    with pytest.raises(HostError) as refused:
        import_servers(HOSTS["claude-desktop"], path, paths, store=store)

    assert str(refused.value) == (
        "the keyring did not keep GITHUB_PERSONAL_ACCESS_TOKEN of github; nothing was imported"
    )
    assert paths.config_file.read_text() == EMPTY_CONFIG


def test_the_host_s_own_settings_on_an_entry_survive_connect(paths: Paths, tmp_path: Path) -> None:
    path = tmp_path / "mcp_config.json"
    path.write_bytes((FIXTURES / "windsurf.json").read_bytes())
    import_servers(
        HOSTS["windsurf"],
        path,
        paths,
        store=SecretStore(paths.secret_index, backend=MemoryKeyring()),
    )

    connect(HOSTS["windsurf"], path, paths)

    github = json.loads(path.read_text())["mcpServers"]["github"]
    assert github["disabledTools"] == ["delete_repository"] and github["disabled"] is False
    assert github["args"][-2:] == ["attach", "github"]


URL_KEY = {"windsurf": "serverUrl", "gemini": "httpUrl"}


def test_connect_http_gives_each_app_urls_and_the_token(
    host: Host, host_file: Path, paths: Paths
) -> None:
    keyring = MemoryKeyring()
    store = SecretStore(paths.secret_index, backend=keyring)
    import_servers(host, host_file, paths, store=store)
    original = host_file.read_bytes()

    if host.name == "claude-desktop":
        with pytest.raises(HostError, match="by command only"):
            connect(host, host_file, paths, http=True, store=store)
        assert host_file.read_bytes() == original
        assert '"http"' not in paths.config_file.read_text()  # nothing changed first
        return
    connected = connect(host, host_file, paths, http=True, store=store)
    after = Document.parse(host_file.read_text()).data
    again = connect(host, host_file, paths, http=True, store=store)
    disconnect(host, host_file, paths)

    token = keyring.entries[("mcp-tray/_http", "token")]
    http_settings = json.loads(paths.config_file.read_text())["http"]
    assert http_settings == {"enabled": True}  # turned on, at the default port
    local, remote = EXPECTED[host.name]
    assert set(connected.changed) == local | set(remote)
    for name in local | set(remote):
        entry = host.servers(after)[name]
        url = entry[URL_KEY.get(host.name, "url")]
        assert url == f"http://127.0.0.1:47821/servers/{name}/mcp"
        assert entry["headers"] == {"Authorization": f"Bearer {token}"}
        assert "command" not in entry and "env" not in entry
    assert again.changed == [] and "already" in again.message
    assert host_file.read_bytes() == original
