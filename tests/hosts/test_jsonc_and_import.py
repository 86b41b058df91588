"""Host configs: JSON with comments edited in place, and host entries translated for import."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.core.config import shown_name
from app.core.jsontext.jsonc import Document, JsoncError
from app.hosts.importing import UNFIT_NAME, host_entries
from app.hosts.names import HOST_NAMES
from app.hosts.registry import HOSTS, UnknownHost, host_named

VSCODE_WORKSPACE = """{
  // Servers for this workspace (VS Code's .vscode/mcp.json)
  "inputs": [
    {"type": "promptString", "id": "github-token", "description": "GitHub PAT", "password": true}
  ],
  "servers": {
    "github": {
      "type": "stdio",
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-github"],
      "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": "${input:github-token}"}, // asked once
    },
    "files": {
      "command": "node",
      "args": ["${workspaceFolder}/build/index.js"], /* built by tsc */
    },
    "remote": {"type": "http", "url": "https://example.com/mcp"},
  },
}
"""


def test_comments_and_trailing_commas_are_read_and_kept_by_edits() -> None:
    document = Document.parse(VSCODE_WORKSPACE)

    edited = document.replace(("servers", "files"), {"command": "/opt/mcp-tray", "args": ["a"]})

    assert document.data["servers"]["files"]["command"] == "node"
    reparsed = Document.parse(edited)
    assert reparsed.data["servers"]["files"] == {"command": "/opt/mcp-tray", "args": ["a"]}
    assert "// asked once" in edited  # comments outside the replaced value stay
    before, after = VSCODE_WORKSPACE.split('"files"', maxsplit=1)[0], edited.split('"files"')[0]
    assert before == after  # everything up to the edited entry is byte for byte the same


def test_a_member_is_inserted_with_the_object_s_indentation() -> None:
    document = Document.parse('{\n    "mcpServers": {\n        "a": {"command": "x"}\n    }\n}\n')

    edited = document.insert(("mcpServers",), "b", {"command": "y"})

    assert edited == (
        '{\n    "mcpServers": {\n        "a": {"command": "x"},\n'
        '        "b": {\n          "command": "y"\n        }\n    }\n}\n'
    )
    empty = Document.parse('{"mcpServers": {}}').insert(("mcpServers",), "b", {"command": "y"})
    assert Document.parse(empty).data == {"mcpServers": {"b": {"command": "y"}}}


def test_malformed_text_names_line_and_column() -> None:
    with pytest.raises(JsoncError, match="line 2, column"):
        Document.parse('{\n  "a": }')


def test_vscode_entries_are_translated_or_refused_with_reasons(tmp_path: Path) -> None:
    path = tmp_path / "project" / ".vscode" / "mcp.json"

    entries = {
        e.name: e for e in host_entries(HOSTS["vscode"], path, Document.parse(VSCODE_WORKSPACE))
    }

    github = entries["github"]
    assert github.config == {
        "command": "npx",
        "args": ["-y", "@modelcontextprotocol/server-github"],
        "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": "${secret:github-token}"},
    }
    assert "mcp-tray secret set github github-token" in github.notes[0]
    assert entries["files"].config == {
        "command": "node",
        "args": [f"{tmp_path / 'project'}/build/index.js"],
    }
    assert entries["remote"].config == {"url": "https://example.com/mcp"}  # no key: signs in


def test_shell_style_variables_become_env_placeholders_and_unknown_ones_refuse() -> None:
    text = """{"mcpServers": {
      "ok": {"command": "srv", "args": ["${HOME}/data", "${PORT:-8080}"]},
      "no": {"command": "srv", "args": ["${config:editor.fontSize}"]}
    }}"""
    path = Path("/home/ada/.claude.json")

    entries = {e.name: e for e in host_entries(HOSTS["claude-code"], path, Document.parse(text))}

    assert entries["ok"].config == {"command": "srv", "args": ["${env:HOME}/data", "${env:PORT}"]}
    assert entries["ok"].notes == ["the default of ${PORT:-8080} was dropped"]
    assert entries["no"].config is None
    assert "cannot translate ${config:editor.fontSize}" in entries["no"].notes[0]


def test_zed_entries_in_both_shapes() -> None:
    text = """{
      // Zed settings
      "context_servers": {
        "new": {"source": "custom", "command": "srv", "args": ["a"], "env": {}},
        "old": {"command": {"path": "srv", "args": ["b"], "env": {"K": "v"}}},
        "ext": {"source": "extension", "settings": {}}
      }
    }"""

    entries = {
        e.name: e for e in host_entries(HOSTS["zed"], Path("settings.json"), Document.parse(text))
    }

    assert entries["new"].config == {"command": "srv", "args": ["a"]}
    assert entries["old"].config == {"command": "srv", "args": ["b"], "env": {"K": "v"}}
    assert entries["ext"].config is None


def test_every_host_has_a_location_and_unknown_names_are_refused() -> None:
    assert tuple(HOSTS) == HOST_NAMES  # the command line's list, kept light for `attach`
    assert all(host.default_path().is_absolute() for host in HOSTS.values())
    with pytest.raises(UnknownHost, match="the apps it knows: claude-desktop, "):
        host_named("notepad")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("[" * 100_000 + "]" * 100_000, "nested more than 100 levels deep"),
        # Python reads this much nesting, but what then walks or writes it would not.
        ('{"s": {"a": {"args": ' + "[" * 150 + "]" * 150 + "}}}", "nested more than 100"),
        ('{"mcpServers": {"a": {"command": "x", "n": ' + "9" * 5000 + "}}}", "too many digits"),
    ],
    ids=["deeply-nested", "nested-within-python-s-reach", "huge-integer"],
)
def test_hostile_json_is_a_readable_error_not_a_crash(text: str, reason: str) -> None:
    with pytest.raises(JsoncError, match=reason):
        Document.parse(text)


def test_nesting_as_deep_as_allowed_is_read_and_edited() -> None:
    text = '{"a": ' + "[" * 99 + "]" * 99 + ', "b": 1}'  # 100 levels with the outer object

    edited = Document.parse(text).replace(("b",), 2)

    assert Document.parse(edited).data["b"] == 2


NOT_TEXTS = "its args are not a list of texts"
NO_TEXT_FOR_EACH = "its env does not give each variable a text"


@pytest.mark.parametrize(
    ("entry", "note"),
    [
        ({"command": "x", "args": 5}, NOT_TEXTS),
        ({"command": "x", "args": {"a": "b"}}, NOT_TEXTS),
        ({"command": "x", "args": ["a", ["b"]]}, NOT_TEXTS),
        ({"command": "x", "args": [None]}, NOT_TEXTS),
        ({"command": "x", "env": "A=1"}, NO_TEXT_FOR_EACH),
        ({"command": "x", "env": ["A=1"]}, NO_TEXT_FOR_EACH),
        ({"command": "x", "env": {"A": {"nested": 1}}}, NO_TEXT_FOR_EACH),
    ],
    ids=[
        "args-number",
        "args-object",
        "args-list-in-list",
        "args-null",
        "env-text",
        "env-list",
        "env-object-value",
    ],
)
def test_an_entry_whose_args_or_env_are_not_texts_is_refused_with_the_reason(
    entry: dict[str, object], note: str
) -> None:
    text = json.dumps({"mcpServers": {"a": entry, "b": {"command": "y", "args": ["-v", 2]}}})

    a, b = host_entries(HOSTS["cursor"], Path("mcp.json"), Document.parse(text))

    assert a.config is None and a.notes == [note]
    assert b.config == {"command": "y", "args": ["-v", "2"]}  # a number is taken as its text


def test_an_entry_whose_type_is_not_text_is_read_as_a_local_server() -> None:
    text = '{"mcpServers": {"a": {"command": "x", "type": ["http"]}}}'

    (a,) = host_entries(HOSTS["cursor"], Path("mcp.json"), Document.parse(text))

    assert a.config == {"command": "x"}


def test_zed_s_older_shape_is_checked_the_same_way() -> None:
    text = '{"context_servers": {"old": {"command": {"path": "srv", "args": 3}}}}'

    (old,) = host_entries(HOSTS["zed"], Path("settings.json"), Document.parse(text))

    assert old.config is None and old.notes == [NOT_TEXTS]


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("../../x", '"../../x"'),
        ("", '""'),
        ("a/b", '"a/b"'),
        ("my server", '"my server"'),
        ("bell\x07", '"bell\\x07"'),
        ("\x1b]0;title\x07", '"\\x1b]0;title\\x07"'),
        ("x" * 101, '"' + "x" * 40 + '…"'),
    ],
    ids=["parent-folders", "empty", "slash", "space", "control", "terminal-escape", "too-long"],
)
def test_a_name_mcp_tray_cannot_take_is_not_imported_and_shown_safely(
    name: str, shown: str
) -> None:
    text = json.dumps({"mcpServers": {name: {"command": "x"}, "x" * 100: {"command": "y"}}})

    unfit, longest = host_entries(HOSTS["cursor"], Path("mcp.json"), Document.parse(text))

    assert unfit.config is None
    assert unfit.notes == [f"{UNFIT_NAME}; rename it in Cursor to bring it over"]
    assert shown_name(unfit.name) == shown
    assert longest.config == {"command": "y"}  # 100 characters are still a name
