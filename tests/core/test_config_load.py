"""Loading config.json: what parses, and how precisely every problem is reported.

Expected positions are 1-based (line, column) of the offending value, or of
the key for unknown keys and bad server names, counted in the texts below.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from app.core.config import (
    Config,
    ConfigError,
    ConfigIssue,
    RestartPolicy,
    ServerConfig,
    WatchConfig,
    load_config,
    parse_config,
)
from app.core.jsontext.locate import locate


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.json"
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def issues_of(path: Path) -> list[ConfigIssue]:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return caught.value.issues


def where(issue: ConfigIssue) -> tuple[int | None, int | None, str]:
    return issue.line, issue.column, issue.key_path


def only_server(text: str, tmp_path: Path) -> ServerConfig:
    config = load_config(write(tmp_path, text))
    (server,) = config.servers.values()
    return server


# --- what parses ---------------------------------------------------------------


def test_a_snippet_pasted_from_a_server_readme_parses_unchanged(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        {
          "$schema": "https://example.com/mcp-config.schema.json",
          "mcpServers": {
            "github": {
              "command": "npx", "args": ["-y", "@modelcontextprotocol/server-github"],
              "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": "${secret:GITHUB_PERSONAL_ACCESS_TOKEN}"}
            },
            "my-server": {
              "command": "uv", "args": ["run", "server.py"], "cwd": "~/code/my-server",
              "watch": true
            },
            "from-vscode": {"type": "stdio", "command": "uvx", "args": ["mcp-server-time"]}
          }
        }
        """,
    )

    config = load_config(path)

    github = config.servers["github"]
    assert github.command == "npx"
    assert github.args == ["-y", "@modelcontextprotocol/server-github"]
    assert github.env == {"GITHUB_PERSONAL_ACCESS_TOKEN": "${secret:GITHUB_PERSONAL_ACCESS_TOKEN}"}
    assert github.shared is True
    assert github.disabled is False
    assert github.watch is False
    assert config.servers["my-server"].watch is True
    assert config.servers["from-vscode"].type == "stdio"


def test_an_empty_server_list_is_a_valid_config(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "{}")).servers == {}


def test_a_utf8_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_bytes(b'\xef\xbb\xbf{"mcpServers": {"a": {"command": "x"}}}')

    assert load_config(path).servers["a"].command == "x"


def test_watch_accepts_a_flag_a_list_of_globs_or_an_object(tmp_path: Path) -> None:
    text = """
        {"mcpServers": {
          "flag": {"command": "x", "watch": true},
          "globs": {"command": "x", "watch": ["src/**/*.py"]},
          "full": {"command": "x", "watch": {"paths": ["src"], "exclude": ["*.tmp"],
                                             "debounceMs": 50}}
        }}
        """
    servers = load_config(write(tmp_path, text)).servers

    assert servers["flag"].watch is True
    assert servers["globs"].watch == ["src/**/*.py"]
    assert servers["full"].watch == WatchConfig(paths=["src"], exclude=["*.tmp"], debounce_ms=50)


def test_restart_policy_defaults_match_the_design() -> None:
    policy = ServerConfig(command="x").restart

    assert policy == RestartPolicy()
    assert policy.max_failures == 5
    assert policy.initial_delay_ms == 250
    assert policy.max_delay_ms == 60_000
    assert policy.healthy_after_ms == 30_000
    assert policy.reprobe_ms == 300_000
    assert policy.start_timeout_ms == 120_000
    assert policy.ping_interval_ms == 30_000
    assert policy.ping_timeout_ms == 10_000
    assert policy.ping_failures == 3


def test_a_partial_restart_policy_keeps_the_other_defaults(tmp_path: Path) -> None:
    text = '{"mcpServers": {"a": {"command": "x", "restart": {"maxFailures": 2}}}}'

    policy = only_server(text, tmp_path).restart

    assert policy.max_failures == 2
    assert policy.initial_delay_ms == 250


def test_configs_with_the_same_content_compare_equal_and_are_frozen(tmp_path: Path) -> None:
    text = '{"mcpServers": {"a": {"command": "x", "args": ["1"]}}}'
    first = parse_config(text, path=tmp_path / "one.json")
    second = parse_config(text, path=tmp_path / "two.json")

    assert first == second
    assert first != parse_config('{"mcpServers": {}}', path=tmp_path / "three.json")
    with pytest.raises(ValueError, match="frozen"):
        first.servers["a"].command = "y"


def test_resolved_cwd_expands_the_home_directory() -> None:
    assert ServerConfig(command="x", cwd="~/code").resolved_cwd() == Path.home() / "code"
    assert ServerConfig(command="x").resolved_cwd() is None


# --- syntax errors ------------------------------------------------------------


def test_invalid_json_is_reported_at_the_decoders_line_and_column(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        {
          "mcpServers": {
            "a": {"command": "x"}
            "b": {"command": "y"}
          }
        }
        """,
    )

    (issue,) = issues_of(path)

    assert (issue.line, issue.column) == (4, 5)
    assert str(issue) == f"{path}:4:5: invalid JSON: expected a comma between two items"


def test_a_trailing_comma_gets_a_plain_english_explanation(tmp_path: Path) -> None:
    (issue,) = issues_of(write(tmp_path, '{"mcpServers": {},\n}'))

    assert (issue.line, issue.column) == (2, 1)
    assert "no trailing comma" in issue.message


def test_an_empty_file_is_reported_as_empty(tmp_path: Path) -> None:
    (issue,) = issues_of(write(tmp_path, "  \n"))

    assert "empty" in issue.message


def test_a_top_level_that_is_not_an_object_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text('\n  ["github"]')

    (issue,) = issues_of(path)

    assert (issue.line, issue.column) == (2, 3)
    assert issue.message == 'expected an object like {"mcpServers": {...}}, found a list'


# --- schema errors ------------------------------------------------------------


def test_every_schema_error_is_reported_at_once_in_file_order(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        {
          "mcpServers": {
            "github": {
              "command": "npx",
              "args": ["-y", 42],
              "shared": "no"
            },
            "broken": {"args": []},
            "slow": {"command": "x", "restart": {"pingFailures": 0}}
          }
        }
        """,
    )

    with pytest.raises(ConfigError) as caught:
        load_config(path)

    assert [where(issue) for issue in caught.value.issues] == [
        (5, 22, "mcpServers.github.args[1]"),
        (6, 17, "mcpServers.github.shared"),
        (8, 15, "mcpServers.broken"),
        (9, 58, "mcpServers.slow.restart.pingFailures"),
    ]
    assert str(caught.value).splitlines() == [
        f"{path}:5:22: mcpServers.github.args[1]: expected a string, found the number 42",
        f"{path}:6:17: mcpServers.github.shared: expected true or false, found a string; "
        "write true or false without quotes",
        f"{path}:8:15: mcpServers.broken: needs a command to run, or the url of a remote server",
        f"{path}:9:58: mcpServers.slow.restart.pingFailures: must be at least 1, "
        "found the number 0",
    ]


def test_an_unknown_key_suggests_the_closest_allowed_key_at_the_key(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        {"mcpServers": {
          "github": {"comand": "npx",
                     "restart": {"maxFailure": 3}}
        }}
        """,
    )

    issues = issues_of(path)

    assert [(*where(issue), issue.message) for issue in issues] == [
        (2, 14, "mcpServers.github.comand", 'unknown key "comand"; did you mean "command"?'),
        (
            3,
            26,
            "mcpServers.github.restart.maxFailure",
            'unknown key "maxFailure"; did you mean "maxFailures"?',
        ),
    ]


def test_an_unknown_key_with_nothing_close_gets_no_hint(tmp_path: Path) -> None:
    (issue,) = issues_of(write(tmp_path, '{"mcpServers": {}, "theme": "dark"}'))

    assert where(issue) == (1, 20, "theme")
    assert issue.message == 'unknown key "theme"'


def test_a_server_pasted_without_the_mcpservers_wrapper_says_where_it_belongs(
    tmp_path: Path,
) -> None:
    (issue,) = issues_of(write(tmp_path, '{"github": {"command": "npx"}}'))

    assert where(issue) == (1, 2, "github")
    assert issue.message == 'unknown key "github"; servers go inside "mcpServers": {...}'


def test_vscodes_servers_key_is_accepted_too(tmp_path: Path) -> None:
    # populate_by_name admits the attribute name, which is what VS Code's mcp.json uses.
    config = load_config(write(tmp_path, '{"servers": {"a": {"command": "x"}}}'))

    assert config.servers["a"].command == "x"


def test_a_typo_in_the_watch_object_suggests_the_watch_keys(tmp_path: Path) -> None:
    text = '{"mcpServers": {"a": {"command": "x", "watch": {"debounce": 10}}}}'

    (issue,) = issues_of(write(tmp_path, text))

    assert where(issue) == (1, 49, "mcpServers.a.watch.debounce")
    assert issue.message == 'unknown key "debounce"; did you mean "debounceMs"?'


def test_a_wrong_type_names_what_was_expected_and_what_was_found(tmp_path: Path) -> None:
    text = '{"mcpServers": {"a": {"command": "x", "args": "-y server", "env": {"PORT": 8080}}}}'

    issues = issues_of(write(tmp_path, text))

    assert [(*where(issue), issue.message) for issue in issues] == [
        (1, 47, "mcpServers.a.args", "expected a list, found a string"),
        (1, 76, "mcpServers.a.env.PORT", "expected a string, found the number 8080"),
    ]


TOKEN = "ghp_" + "K7m2Q9x4W1" * 4  # shaped like a real one, valid nowhere


@pytest.mark.parametrize(
    "server",
    [
        {"command": "x", "args": TOKEN},
        {"command": "x", "shared": TOKEN},
        {"command": "x", "type": TOKEN},
        {"command": "x", "watch": TOKEN},
        {"command": "x", "restart": {"maxDelayMs": TOKEN}},
        {"command": "x", "restart": TOKEN},
        {"command": "x", "env": {"GITHUB_TOKEN": "${" + TOKEN + "}"}},
        {"command": "x", "env": {"GITHUB_TOKEN": "${input:" + TOKEN + "}"}},
        {"command": "x", "env": {"GITHUB_TOKEN": "${secret:" + TOKEN + "!}"}},
        {"command": "x", "args": ["${env:" + TOKEN + "?}"]},
        TOKEN,
    ],
    ids=[
        "args",
        "shared",
        "type",
        "watch",
        "a-number",
        "restart",
        "bare-placeholder",
        "input-placeholder",
        "bad-name",
        "bad-env-name",
        "server",
    ],
)
def test_a_config_error_never_quotes_a_string_value(tmp_path: Path, server: object) -> None:
    path = write(tmp_path, json.dumps({"mcpServers": {"a": server}}))

    (issue,) = issues_of(path)

    assert issue.line == 1 and issue.column is not None  # it points at the value instead
    pieces = {TOKEN[i : i + 6] for i in range(len(TOKEN) - 5)}
    assert not [piece for piece in pieces if piece in str(issue)], str(issue)


def test_a_watch_value_of_the_wrong_shape_lists_the_accepted_shapes(tmp_path: Path) -> None:
    text = '{"mcpServers": {"a": {"command": "x", "watch": 1}}}'

    (issue,) = issues_of(write(tmp_path, text))

    assert where(issue) == (1, 48, "mcpServers.a.watch")
    assert issue.message.startswith("expected true, false, a list of globs, or an object")
    assert issue.message.endswith("found the number 1")


def test_a_server_that_is_a_string_instead_of_an_object_is_reported(tmp_path: Path) -> None:
    (issue,) = issues_of(write(tmp_path, '{"mcpServers": {"a": "npx server"}}'))

    assert where(issue) == (1, 22, "mcpServers.a")
    assert issue.message == "expected an object, found a string"


def test_a_blank_command_is_rejected(tmp_path: Path) -> None:
    (issue,) = issues_of(write(tmp_path, '{"mcpServers": {"a": {"command": "  "}}}'))

    assert where(issue) == (1, 34, "mcpServers.a.command")
    assert issue.message == "must not be empty"


@pytest.mark.parametrize("name", ["my server", "-dash-first", "a/b", "..", ""])
def test_a_server_name_that_cannot_be_a_file_name_is_reported_at_the_key(
    tmp_path: Path, name: str
) -> None:
    (issue,) = issues_of(write(tmp_path, f'{{"mcpServers": {{\n  "{name}": {{"command": "x"}}}}}}'))

    assert where(issue) == (2, 3, f"mcpServers.{name}")
    assert issue.message.startswith(f'invalid server name "{name}"')


def test_a_server_name_longer_than_100_characters_is_reported_cut_short(tmp_path: Path) -> None:
    longest, too_long = "a" * 100, "b" * 101
    text = (
        f'{{"mcpServers": {{"{longest}": {{"command": "x"}}, "{too_long}": {{"command": "x"}}}}}}'
    )

    (issue,) = issues_of(write(tmp_path, text))

    assert issue.message.startswith(f'invalid server name "{"b" * 40}…": use letters, digits')
    assert "at most 100 characters" in issue.message


def test_a_server_name_with_control_characters_is_reported_with_them_escaped(
    tmp_path: Path,
) -> None:
    (issue,) = issues_of(write(tmp_path, '{"mcpServers": {"a\\u001b[2Jb": {"command": "x"}}}'))

    assert issue.message.startswith('invalid server name "a\\x1b[2Jb": use')


@pytest.mark.parametrize(
    ("server", "sse"),
    [
        ('{"url": "https://mcp.example.com/mcp"}', False),
        ('{"type": "http", "url": "https://mcp.example.com/mcp"}', False),
        ('{"type": "sse", "url": "https://mcp.example.com/sse"}', True),
        ('{"type": "streamable-http", "url": "https://mcp.example.com/mcp"}', False),
    ],
)
def test_a_remote_server_is_taken_as_hosts_write_it(tmp_path: Path, server: str, sse: bool) -> None:
    config = load_config(write(tmp_path, f'{{"mcpServers": {{"remote": {server}}}}}'))

    remote = config.servers["remote"]
    assert remote.remote and remote.old_sse_transport == sse
    assert remote.url is not None and remote.url.startswith("https://mcp.example.com/")


@pytest.mark.parametrize(
    ("server", "said"),
    [
        (
            '{"command": "x", "url": "https://a.example/mcp"}',
            "has both a command (a program run on this computer) and a url (a remote server): "
            "keep the one you mean",
        ),
        ('{"type": "http"}', 'a "type": "http" server needs a url'),
        (
            '{"url": "https://a.example/mcp", "args": [], "watch": true}',
            "args, watch: only for a command MCP Tray runs, not for a remote server",
        ),
        (
            '{"url": "https://a.example/mcp", "shared": false}',
            '"shared": false is only for a command MCP Tray runs: a remote server is one for '
            "every app",
        ),
        ("{}", "needs a command to run, or the url of a remote server"),
    ],
)
def test_a_remote_entry_that_mixes_in_a_commands_keys_is_refused_in_one_sentence(
    tmp_path: Path, server: str, said: str
) -> None:
    (issue,) = issues_of(write(tmp_path, f'{{"mcpServers": {{"remote": {server}}}}}'))

    assert where(issue) == (1, 27, "mcpServers.remote")
    assert issue.message == said


def test_an_unknown_transport_type_names_the_one_accepted(tmp_path: Path) -> None:
    text = '{"mcpServers": {"a": {"command": "x", "type": "websocket"}}}'

    (issue,) = issues_of(write(tmp_path, text))

    assert issue.message == (
        'expected "stdio", "http", "sse", "streamable-http" or "streamableHttp", '
        "found another string"
    )


@pytest.mark.parametrize(
    ("policy", "key", "message"),
    [
        ('{"maxFailures": 0}', "maxFailures", "must be at least 1, found the number 0"),
        ('{"initialDelayMs": -1}', "initialDelayMs", "must be at least 0, found the number -1"),
        ('{"reprobeMs": 99}', "reprobeMs", "must be at least 100, found the number 99"),
        ('{"startTimeoutMs": 5}', "startTimeoutMs", "must be at least 100, found the number 5"),
        ('{"pingIntervalMs": 49}', "pingIntervalMs", "must be at least 50, found the number 49"),
        ('{"pingTimeoutMs": 1}', "pingTimeoutMs", "must be at least 50, found the number 1"),
        (
            '{"healthyAfterMs": 1.5}',
            "healthyAfterMs",
            "expected a whole number, found the number 1.5",
        ),
        (
            '{"maxDelayMs": "60s"}',
            "maxDelayMs",
            "expected a whole number, found a string; write the number without quotes",
        ),
    ],
)
def test_restart_policy_values_out_of_range_are_reported_with_the_limit(
    tmp_path: Path, policy: str, key: str, message: str
) -> None:
    text = f'{{"mcpServers": {{"a": {{"command": "x", "restart": {policy}}}}}}}'

    (issue,) = issues_of(write(tmp_path, text))

    assert (issue.line, issue.key_path, issue.message) == (
        1,
        f"mcpServers.a.restart.{key}",
        message,
    )
    assert issue.column == text.index(policy) + len(key) + 6  # just past '{"key": '


def test_a_backoff_cap_below_the_first_delay_is_rejected(tmp_path: Path) -> None:
    text = """
        {"mcpServers": {"a": {"command": "x",
          "restart": {"initialDelayMs": 500, "maxDelayMs": 100}}}}
        """

    (issue,) = issues_of(write(tmp_path, text))

    assert where(issue) == (2, 14, "mcpServers.a.restart")
    assert issue.message == "maxDelayMs (100) must be at least initialDelayMs (500)"


def test_a_server_defined_twice_is_reported_at_the_second_definition(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        {"mcpServers": {
          "a": {"command": "x"},
          "a": {"command": "y"}
        }}
        """,
    )

    (issue,) = issues_of(path)

    assert where(issue) == (3, 3, "mcpServers.a")
    assert issue.message.startswith('duplicate key "a"')


def test_messages_never_show_pydantic_internals(tmp_path: Path) -> None:
    text = '{"mcpServers": {"a": {"args": [1], "env": [], "watch": {"x": 1}, "restart": 3}}}'

    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))

    rendered = str(caught.value)
    assert len(caught.value.issues) == 4  # a missing command is told once these are fixed
    for fragment in ("pydantic", "http", "Input should", "Field required", "[key]", "options"):
        assert fragment not in rendered


# --- the file itself -------------------------------------------------------------


def test_a_missing_file_says_how_to_create_one(tmp_path: Path) -> None:
    path = tmp_path / "absent" / "config.json"

    (issue,) = issues_of(path)

    assert (issue.line, issue.column, issue.key_path) == (None, None, "")
    assert str(issue).startswith(f"{path}: the file does not exist")
    assert "mcp-tray config path" in issue.message
    assert "Run `mcp-tray`" in issue.message


def test_a_file_that_is_not_utf8_is_reported_at_the_bad_byte(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_bytes(b'{"mcpServers": {\n  "caf\xe9": {"command": "x"}}}')

    (issue,) = issues_of(path)

    assert (issue.line, issue.column) == (2, 7)
    assert issue.message == "the file is not UTF-8 text (byte 0xe9); save it as UTF-8"


def test_a_directory_in_place_of_the_file_is_reported(tmp_path: Path) -> None:
    (issue,) = issues_of(tmp_path)

    assert issue.message == "this is a directory, not a config file"


def test_an_issue_renders_only_the_parts_it_knows() -> None:
    path = Path("config.json")

    assert (
        str(ConfigIssue(path, 3, 7, "mcpServers.a", "bad")) == "config.json:3:7: mcpServers.a: bad"
    )
    assert str(ConfigIssue(path, 3, None, "", "bad")) == "config.json:3: bad"
    assert str(ConfigIssue(path, None, None, "", "bad")) == "config.json: bad"


def test_config_servers_is_the_mapping_of_names_to_servers() -> None:
    config = Config.model_validate({"mcpServers": {"a": {"command": "x"}}})

    assert config.servers == {"a": ServerConfig(command="x")}


# --- positions ------------------------------------------------------------------


def test_locate_maps_values_and_keys_including_escaped_keys_and_list_items() -> None:
    text = '{\n  "a\\u00e9": [1, {"b": null}],\n\t"c" : "x\\"y"\n}'

    source = locate(text)

    assert source.values[()] == (1, 1)
    assert source.keys[("aé",)] == (2, 3)
    assert source.values[("aé",)] == (2, 14)
    assert source.values[("aé", 0)] == (2, 15)
    assert source.values[("aé", 1)] == (2, 18)
    assert source.values[("aé", 1, "b")] == (2, 24)
    assert source.keys[("c",)] == (3, 2)
    assert source.values[("c",)] == (3, 8)
    assert source.duplicates == []


def test_a_number_too_long_for_python_is_a_readable_config_error(tmp_path: Path) -> None:
    digits = "9" * 5000  # Python refuses to read integers of more than 4300 digits
    path = write(tmp_path, f'{{"mcpServers": {{"a": {{"command": "x", "x": {digits}}}}}}}')

    (issue,) = issues_of(path)

    assert issue.message == "a number in it has too many digits"


def test_tool_switches_take_names_and_globs_one_way_only() -> None:
    off = ServerConfig.model_validate({"command": "x", "tools": {"disabled": ["push_*", "rm"]}})
    only = ServerConfig.model_validate({"command": "x", "tools": {"enabled": ["read_*"]}})

    assert [off.tools.allows(t) for t in ("push_all", "rm", "read")] == [False, False, True]
    assert [only.tools.allows(t) for t in ("read_file", "write_file")] == [True, False]
    with pytest.raises(ValueError, match='has both "enabled" and "disabled": keep one'):
        ServerConfig.model_validate({"command": "x", "tools": {"enabled": [], "disabled": ["a"]}})


def test_a_watched_server_trusts_its_own_tool_changes_unless_told_otherwise() -> None:
    watched = ServerConfig.model_validate({"command": "x", "watch": True})
    told = ServerConfig.model_validate({"command": "x", "watch": True, "trustChanges": False})

    assert (watched.trusts_changes, told.trusts_changes) == (True, False)
    assert ServerConfig(command="x").trusts_changes is False
