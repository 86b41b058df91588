"""Secrets without a keyring daemon: placeholders, redaction, migration plans, the store.

The store runs against an in-memory keyring backend here; tests/test_keyring.py
runs the same paths against a real Secret Service.
"""

from __future__ import annotations

import json
import logging
import stat
from pathlib import Path

import pytest

from app.core.config import ConfigError, ServerConfig, parse_config
from app.core.config.placeholders import MissingValues, expand, placeholders_in
from app.core.secrets import KeyringUnavailable, Redactor, Secrets, SecretStore
from app.core.secrets.migrate import looks_secret, plan_migration, rewrite
from app.core.secrets.redact import RedactingFilter
from tests.keyrings import BrokenKeyring, MemoryKeyring

pytestmark = pytest.mark.anyio

GITHUB_TOKEN = "ghp_" + "A1b2C3d4E5" * 4  # shaped like a real one, valid nowhere


# ----- placeholders


def test_placeholders_expand_from_secrets_and_environment() -> None:
    value = "Bearer ${secret:TOKEN} for ${env:USER_NAME}, literally $${secret:TOKEN}"

    expanded = expand(value, secrets={"TOKEN": "s3cret"}, environ={"USER_NAME": "ada"})

    assert expanded == "Bearer s3cret for ada, literally ${secret:TOKEN}"


@pytest.mark.parametrize(
    ("written", "hint"),
    [
        ("${input:token}", "VS Code's ${input:…} prompts do not work here"),
        ("${GITHUB_TOKEN}", "write ${env:NAME} for an environment variable"),
        ("${workspaceFolder}/src", "VS Code variable"),
        ("${secret:}", "the name in ${secret:…} must start"),
        ("${secret:TOKEN", 'without a closing "}"'),
    ],
)
def test_a_malformed_placeholder_is_a_config_error_at_its_position(written: str, hint: str) -> None:
    text = json.dumps({"mcpServers": {"s": {"command": "x", "env": {"T": written}}}}, indent=2)

    with pytest.raises(ConfigError) as raised:
        parse_config(text, path=Path("config.json"))

    assert "config.json:6:14: mcpServers.s.env.T: " in str(raised.value)
    assert hint in str(raised.value)


def test_placeholders_are_found_in_order() -> None:
    found = placeholders_in("${env:A}-${secret:B}")

    assert [(p.kind, p.name) for p in found] == [("env", "A"), ("secret", "B")]


# ----- redaction


def test_the_redactor_masks_every_learned_value_and_the_longest_first() -> None:
    redact = Redactor()
    redact.learn(["abcd", "abcdefgh", "xyz"])  # "xyz" is too short to mask safely

    assert redact("token abcdefgh, key abcd, word xyz") == "token ***, key ***, word xyz"


def test_the_logging_filter_masks_messages_and_their_arguments(
    caplog: pytest.LogCaptureFixture,
) -> None:
    redact = Redactor()
    redact.learn([GITHUB_TOKEN])
    logger = logging.getLogger("tests.redaction")
    caplog.handler.addFilter(RedactingFilter(redact))

    with caplog.at_level(logging.INFO, logger="tests.redaction"):
        logger.info("started with %s", GITHUB_TOKEN)

    assert caplog.records[0].getMessage() == "started with ***"
    assert GITHUB_TOKEN not in caplog.text


# ----- what looks like a secret


@pytest.mark.parametrize(
    ("name", "value", "secret"),
    [
        ("GITHUB_PERSONAL_ACCESS_TOKEN", "abcdef123", True),
        ("OPENAI_API_KEY", "whatever-value", True),
        ("DB_PASSWORD", "hunter22", True),
        ("GITLAB_PAT", "value1234", True),
        ("CLIENT_SECRET", "value1234", True),
        ("PATH", "/usr/bin:/bin", False),
        ("SSH_KEY_PATH", "/home/ada/.ssh/id_ed25519", False),
        ("CLIENT_ID", "value1234", False),
        ("LOG_LEVEL", "debug", False),
        ("ANYTHING", GITHUB_TOKEN, True),
        ("ANYTHING", "sk-ant-api03-" + "x" * 30, True),
        ("ANYTHING", "xoxb-1234567890-abcdefghij", True),
        ("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE", True),
        ("GITHUB_TOKEN", "${secret:GITHUB_TOKEN}", False),
        ("API_KEY", "", False),
        ("API_KEY", "true", False),
    ],
)
def test_looks_secret(name: str, value: str, secret: bool) -> None:
    assert looks_secret(name, value) is secret


# ----- migration plans and rewriting


CONFIG_TEXT = """{
  "mcpServers": {
    "github": {
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-github"],
      "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": "TOKEN_HERE", "LOG_LEVEL": "debug"}
    },
    "search":   {"command": "search-server",
                 "args": ["--api-key", "k-123456789", "--token=TOKEN_HERE", "--verbose"]}
  }
}
""".replace("TOKEN_HERE", GITHUB_TOKEN)


def test_migration_moves_secret_values_and_rewrites_only_those_strings() -> None:
    config = parse_config(CONFIG_TEXT, path=Path("config.json"))

    moves = plan_migration(config)
    rewritten = rewrite(CONFIG_TEXT, moves)

    assert [(m.server, m.name, m.in_args) for m in moves] == [
        ("github", "GITHUB_PERSONAL_ACCESS_TOKEN", False),
        ("search", "API_KEY", True),
        ("search", "TOKEN", True),
    ]
    expected = (
        CONFIG_TEXT.replace(
            f'"{GITHUB_TOKEN}", "LOG', '"${secret:GITHUB_PERSONAL_ACCESS_TOKEN}", "LOG'
        )
        .replace('"k-123456789"', '"${secret:API_KEY}"')
        .replace(f'"--token={GITHUB_TOKEN}"', '"--token=${secret:TOKEN}"')
    )
    assert rewritten == expected  # spacing, order and everything else kept byte for byte
    assert GITHUB_TOKEN not in rewritten
    assert plan_migration(parse_config(rewritten, path=Path("config.json"))) == []


def test_two_different_values_under_one_name_get_two_entries() -> None:
    config = ServerConfig.model_validate(
        {"command": "x", "args": ["--token", "tok-aaaaaaaa", "--token", "tok-bbbbbbbb"]}
    )
    from app.core.config import Config

    moves = plan_migration(Config(mcpServers={"s": config}))

    assert [m.name for m in moves] == ["TOKEN", "TOKEN_2"]


# ----- the store


def test_each_server_has_its_own_scope(tmp_path: Path) -> None:
    backend = MemoryKeyring()
    store = SecretStore(tmp_path / "names.json", backend=backend)

    store.set("github", "TOKEN", "for-github")
    store.set("gitlab", "TOKEN", "for-gitlab")

    assert store.get("github", "TOKEN") == "for-github"
    assert store.get("gitlab", "TOKEN") == "for-gitlab"
    assert store.names("github") == ["TOKEN"]
    assert set(backend.entries) == {("mcp-tray/github", "TOKEN"), ("mcp-tray/gitlab", "TOKEN")}
    index = (tmp_path / "names.json").read_text()
    assert "for-git" not in index  # names only
    assert stat.S_IMODE((tmp_path / "names.json").stat().st_mode) == 0o600

    assert store.delete("github", "TOKEN") is True
    assert store.delete("github", "TOKEN") is False
    assert store.get("github", "TOKEN") is None
    assert store.names("github") == []


def test_a_locked_keyring_is_an_error_that_says_what_to_do(tmp_path: Path) -> None:
    store = SecretStore(tmp_path / "names.json", backend=BrokenKeyring())

    with pytest.raises(KeyringUnavailable, match="the keyring is locked; unlock it"):
        store.set("github", "TOKEN", "value")
    assert not (tmp_path / "names.json").exists()  # nothing recorded for a failed store


def test_no_keyring_at_all_names_the_missing_d_bus(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import keyring
    from keyring.backends import fail

    monkeypatch.setattr(keyring, "get_keyring", fail.Keyring)
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    store = SecretStore(tmp_path / "names.json")

    with pytest.raises(KeyringUnavailable, match="there is no D-Bus session"):
        store.get("github", "TOKEN")


# ----- filling in at spawn time


async def test_filling_in_names_every_missing_secret_and_variable(tmp_path: Path) -> None:
    secrets = Secrets(SecretStore(tmp_path / "names.json", backend=MemoryKeyring()))
    server = ServerConfig.model_validate(
        {
            "command": "x",
            "args": ["--user", "${env:MCP_TRAY_TEST_UNSET}"],
            "env": {"A": "${secret:ALPHA}", "B": "${secret:BETA}"},
        }
    )

    with pytest.raises(MissingValues) as missing:
        await secrets.fill_in("s", server, {})

    assert missing.value.secrets == ("ALPHA", "BETA")
    assert missing.value.variables == ("MCP_TRAY_TEST_UNSET",)
    assert "mcp-tray secret set s ALPHA" in str(missing.value)


async def test_filled_in_values_reach_the_env_and_are_masked_from_then_on(tmp_path: Path) -> None:
    secrets = Secrets(SecretStore(tmp_path / "names.json", backend=MemoryKeyring()))
    secrets.store.set("s", "ALPHA", "alpha-value")
    server = ServerConfig.model_validate(
        {"command": "x", "args": ["${env:HOME_DIR}"], "env": {"A": "key=${secret:ALPHA}"}}
    )

    args, env = await secrets.fill_in("s", server, {"HOME_DIR": "/home/ada"})

    assert (args, env) == (["/home/ada"], {"A": "key=alpha-value"})
    assert secrets.redact("echo alpha-value") == "echo ***"
