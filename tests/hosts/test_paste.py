"""Pasting: every form a README gives a server in becomes the right drafts, or one sentence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.core.config.draft import ServerDraft, Variable
from app.hosts.paste import NothingToAdd, derived_name, drafts_from_text

FIXTURES = Path(__file__).parent / "fixtures"
GITHUB_TOKEN = "ghp_Fx4kL9mQ2wR7tY1uI8oP3aS6dG0hJ5zX2cV7"  # as in the fixtures
MEMORY = ["-y", "@modelcontextprotocol/server-memory"]


def only(text: str, **options: Path) -> ServerDraft:
    (draft,) = drafts_from_text(text, **options)
    return draft


@pytest.mark.parametrize(
    "fixture",
    ["claude-desktop", "claude-code", "cursor", "windsurf", "gemini", "zed", "vscode"],
)
def test_each_apps_whole_config_gives_its_github_server_with_the_token_as_a_secret(
    fixture: str,
) -> None:
    drafts = {d.name: d for d in drafts_from_text((FIXTURES / f"{fixture}.json").read_text())}

    github = drafts["github"]
    assert (github.command, github.args) == ("npx", ["-y", "@modelcontextprotocol/server-github"])
    (variable,) = github.variables
    assert variable.name == "GITHUB_PERSONAL_ACCESS_TOKEN" and variable.secret
    assert github.config_entry()["env"] == {
        "GITHUB_PERSONAL_ACCESS_TOKEN": "${secret:GITHUB_PERSONAL_ACCESS_TOKEN}"
    }
    assert github.secrets["GITHUB_PERSONAL_ACCESS_TOKEN"] in ("", GITHUB_TOKEN)


def test_a_remote_entry_is_a_draft_with_its_url_and_every_server_is_returned() -> None:
    drafts = drafts_from_text((FIXTURES / "zed.json").read_text())

    assert [d.name for d in drafts] == ["github", "time", "linear"]
    assert drafts[1].command == "uvx"  # the older Zed shape, command as an object
    assert drafts[2].remote_url == "https://mcp.linear.app/mcp" and not drafts[2].command


def test_vs_codes_input_becomes_a_required_secret_described_by_the_input() -> None:
    github = drafts_from_text((FIXTURES / "vscode.json").read_text())[0]

    assert github.variables == [
        Variable(
            "GITHUB_PERSONAL_ACCESS_TOKEN",
            "",
            secret=True,
            required=True,
            description="GitHub Personal Access Token",
        )
    ]
    assert github.missing() == ["GITHUB_PERSONAL_ACCESS_TOKEN"]


def test_variables_are_translated_as_import_translates_them() -> None:
    snippet = {
        "servers": {
            "site": {
                "command": "node",
                "args": ["${workspaceFolder}/server.js", "--tz=${TZ:-UTC}"],
                "env": {"HOME_DIR": "${userHome}"},
            }
        }
    }

    site = only(json.dumps(snippet), workspace=Path("/work/site"))

    assert site.args == ["/work/site/server.js", "--tz=${env:TZ}"]
    assert site.variables == [Variable("HOME_DIR", str(Path.home()))]
    assert site.notes == ["the default of ${TZ:-UTC} was dropped"]


@pytest.mark.parametrize(
    "snippet",
    [
        '"memory": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-memory"]}',
        '"memory": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-memory"],},',
        '{"memory": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-memory"]}}',
        '{"command": "npx", "args": ["-y", "@modelcontextprotocol/server-memory"]}',
        '{"name": "memory", "command": "npx", '
        '"args": ["-y", "@modelcontextprotocol/server-memory"]}',
        '{\n  // from the README\n  "mcpServers": {"memory": {"command": "npx", '
        '"args": ["-y", "@modelcontextprotocol/server-memory"]}}\n}',
        "npx -y @modelcontextprotocol/server-memory",
        "$ npx -y \\\n  @modelcontextprotocol/server-memory",
        "claude mcp add memory -- npx -y @modelcontextprotocol/server-memory",
        "claude mcp add -s user memory npx -y @modelcontextprotocol/server-memory",
        "claude mcp add-json memory "
        '\'{"type":"stdio","command":"npx","args":["-y","@modelcontextprotocol/server-memory"]}\'',
    ],
)
def test_every_form_of_the_memory_server_gives_the_same_draft(snippet: str) -> None:
    memory = only(snippet)

    assert (memory.name, memory.command, memory.args) == ("memory", "npx", MEMORY)
    assert memory.variables == [] and not memory.remote_url


def test_a_command_lines_assignments_become_variables_and_tokens_secrets() -> None:
    git = only(f"GITHUB_TOKEN={GITHUB_TOKEN} LOG_LEVEL=debug uvx mcp-server-git --repository .")

    assert (git.name, git.command, git.args) == (
        "git",
        "uvx",
        ["mcp-server-git", "--repository", "."],
    )
    assert git.variables == [
        Variable("GITHUB_TOKEN", GITHUB_TOKEN, secret=True, required=True),
        Variable("LOG_LEVEL", "debug"),
    ]
    assert GITHUB_TOKEN not in json.dumps(git.config_entry())


def test_claude_mcp_add_takes_its_env_options_and_a_remote_transport() -> None:
    github = only(
        f"claude mcp add github -e GITHUB_PERSONAL_ACCESS_TOKEN={GITHUB_TOKEN} -e DEBUG=1 "
        "--scope user -- docker run -i --rm -e GITHUB_PERSONAL_ACCESS_TOKEN "
        "ghcr.io/github/github-mcp-server"
    )
    sentry = only("claude mcp add --transport http sentry https://mcp.sentry.dev/mcp")

    assert github.command == "docker" and github.args[-1] == "ghcr.io/github/github-mcp-server"
    assert [(v.name, v.secret) for v in github.variables] == [
        ("GITHUB_PERSONAL_ACCESS_TOKEN", True),
        ("DEBUG", False),
    ]
    assert (sentry.name, sentry.remote_url) == ("sentry", "https://mcp.sentry.dev/mcp")
    # MCP Tray runs remote servers from its config file; this window cannot add them yet.
    assert sentry.notes == [
        "it runs on the internet (a remote server), which this window cannot add yet; "
        "MCP Tray's config file can"
    ]


def test_a_token_in_an_argument_stays_there_with_a_note() -> None:
    server = only(f"npx -y some-mcp --api-key {GITHUB_TOKEN}")

    assert server.args[-1] == GITHUB_TOKEN
    assert "argument 4 looks like a token" in server.notes[0]


@pytest.mark.parametrize(
    ("command", "args", "name"),
    [
        ("npx", MEMORY, "memory"),
        ("uvx", ["mcp-server-git", "--repository", "."], "git"),
        ("docker", ["run", "-i", "--rm", "mcp/fetch"], "fetch"),
        ("npx", ["-y", "@playwright/mcp@latest"], "playwright"),
        ("npx", ["-y", "@upstash/context7-mcp"], "context7"),
        ("uvx", ["--from", "git+https://example.org/x", "mcp-server-sqlite"], "sqlite"),
        ("python", ["-m", "mcp_server_fetch"], "fetch"),
        ("node", ["/home/ada/weather/build/index.js"], "weather"),
        ("C:\\Tools\\notion-mcp.exe", [], "notion"),
    ],
)
def test_a_server_is_named_after_what_it_runs(command: str, args: list[str], name: str) -> None:
    assert derived_name(command, args) == name


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "There is nothing to add."),
        ("   \n", "There is nothing to add."),
        ("please add the memory server", "'please' is not a program MCP Tray knows"),
        ('{"theme": "dark"}', "No server could be read from that."),
        ('{"mcpServers": {"x": {"args": ["a"]}}}', "x: no command to run"),
        ("{not json", "That is not JSON MCP Tray can read"),
        ("npx 'unclosed", "That command line cannot be read"),
        ("claude mcp add memory", "gives memory no command to run"),
    ],
)
def test_text_with_no_server_says_what_was_expected(text: str, says: str) -> None:
    with pytest.raises(NothingToAdd) as raised:
        drafts_from_text(text)

    assert says in str(raised.value)
    assert str(raised.value).endswith(
        "Paste a server's JSON from its README, or a command like `npx -y PACKAGE`."
    )
