"""Secrets without a keyring daemon: placeholders, redaction, migration plans, the store.

The store runs against an in-memory keyring backend here; tests/test_keyring.py
runs the same paths against a real Secret Service.
"""

from __future__ import annotations

import ast
import base64
import json
import logging
import random
import re
import stat
import urllib.parse
from collections.abc import Callable
from pathlib import Path

import pytest

from app.core.config import ConfigError, ServerConfig, parse_config
from app.core.config.placeholders import MissingValues, expand, placeholders_in
from app.core.errors import NotKept
from app.core.secrets import KeyringUnavailable, Redactor, Secrets, SecretStore, UnsafeSecret
from app.core.secrets.migrate import looks_secret, migrate, plan_migration, rewrite
from app.core.secrets.redact import LOG_WORDS, MIN_SECRET_LENGTH, RedactingFilter, refusal
from tests.keyrings import BrokenKeyring, ForgetfulKeyring, MemoryKeyring

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


def pem_key(seed: int = 15) -> str:
    """A private key's shape: armour around lines of base64 (random bytes, no real key)."""
    body = base64.b64encode(random.Random(seed).randbytes(1190)).decode()
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "\n".join(["-----BEGIN PRIVATE KEY-----", *lines, "-----END PRIVATE KEY-----"])


JS_ESCAPES = str.maketrans({"\\": "\\\\", "'": "\\'", "\n": "\\n", "\t": "\\t"})
# Every character that JSON, repr or URL-encoding writes differently.
AWKWARD = 'k3y/with+"quotes" & it\'s \\back\tünï=\n2nd-line-of-it'


def test_the_redactor_masks_every_learned_value_and_the_longest_first() -> None:
    redact = Redactor()
    redact.learn(["abcd-efgh", "abcd-efgh-ijkl"])

    assert redact("token abcd-efgh-ijkl, key abcd-efgh") == "token ***, key ***"


def test_each_line_of_a_secret_of_several_lines_is_masked_where_it_is_printed_alone() -> None:
    key = pem_key()
    redact = Redactor()
    redact.learn([key])

    printed = [redact(line) for line in ["key:", *key.splitlines()]]

    assert printed[0] == "key:"
    assert printed[1] == "-----BEGIN PRIVATE KEY-----"  # armour gives nothing away
    assert set(printed[2:-1]) == {"***"}
    assert printed[-1] == "-----END PRIVATE KEY-----"
    assert redact(f"whole: {key}") == "whole: ***"


@pytest.mark.parametrize(
    "written",
    [
        lambda v: json.dumps({"key": v}),
        lambda v: json.dumps({"key": v}, ensure_ascii=False),
        lambda v: json.dumps(v).replace("/", "\\/"),  # PHP's and Java's encoders
        lambda v: repr({"key": v}),
        repr,
        ascii,
        lambda v: "'" + v.translate(JS_ESCAPES) + "'",  # Node's console.log of an object
        lambda v: "https://x.invalid/?key=" + urllib.parse.quote(v, safe=""),
        lambda v: "https://x.invalid/" + urllib.parse.quote(v),
        lambda v: "key=" + urllib.parse.quote_plus(v),
    ],
    ids=[
        "json",
        "json-unicode",
        "json-slashes",
        "repr-dict",
        "repr",
        "ascii",
        "javascript",
        "query",
        "path",
        "form",
    ],
)
@pytest.mark.parametrize("secret", [AWKWARD, pem_key()], ids=["awkward", "pem"])
def test_a_secret_printed_escaped_is_masked(written: Callable[[str], str], secret: str) -> None:
    redact = Redactor()
    redact.learn([secret])

    text = redact(written(secret))

    leaked = [line for line in secret.splitlines() if len(line) >= 8 and line in text]
    assert "***" in text
    assert not [line for line in leaked if not line.startswith("-----")], text
    assert "k3y/with" not in text and "2nd-line" not in text


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("", "too short"),
        ("abc", "too short"),
        ("1234567", "too short"),
        ("running", "too short"),
        ("Password", "common word"),
        ("12345678", "common word"),
        ("restarting", "common word"),  # MCP Tray's own log word
        ("supervis", "common word"),  # a piece of one: "supervising" would read "***ing"
        ("xxxxxxxx", "common word"),
        ("********", "common word"),
    ],
)
def test_a_value_that_cannot_be_masked_safely_is_refused_with_the_reason(
    value: str, why: str
) -> None:
    reason = refusal(value)

    assert reason is not None and why in reason
    assert "replacing it with ***" in reason  # says why that matters


@pytest.mark.parametrize("value", ["tok-1234", "hunter22", "correcthorsebatterystaple", AWKWARD])
def test_a_value_long_and_uncommon_enough_is_accepted(value: str) -> None:
    assert refusal(value) is None


def test_masking_never_hides_a_word_of_the_hub_log() -> None:
    redact = Redactor()
    redact.learn(["running", "abc", "restarting", "password"])

    line = "api is running (pid 42); restarting abc with its password"
    assert redact(line) == line


def test_log_words_hold_every_long_word_mcp_tray_writes_in_its_logs() -> None:
    app = Path(__file__).parents[2] / "app"
    written: set[str] = set()
    for path in app.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        whole_file = path.name in ("lifecycle.py", "states.py")  # server log lines, states
        for node in ast.walk(tree):
            texts = [node] if whole_file else _log_formats(node)
            for text in texts:
                for sub in ast.walk(text):
                    if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
                        written |= set(re.findall(r"[A-Za-z]+", sub.value))
    long_words = {w.lower() for w in written if len(w) >= MIN_SECRET_LENGTH}

    assert long_words - LOG_WORDS == set(), "add them to LOG_WORDS in app/core/secrets/redact.py"


def _log_formats(node: ast.AST) -> list[ast.AST]:
    """The format string of a ``logger.info("…", …)`` call, if ``node`` is one."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
        return []
    target = node.func.value
    levels = {"debug", "info", "warning", "error", "exception", "critical"}
    if node.func.attr in levels and isinstance(target, ast.Name) and target.id == "logger":
        return node.args[:1]
    return []


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
        ("API_KEY", "running", False),  # masking it would give it away in every log
        ("DB_PASSWORD", "password", False),
        ("API_KEY", "abc1", False),
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


def test_migrate_moves_the_values_then_writes_the_config_that_names_them(tmp_path: Path) -> None:
    config_file = tmp_path / "config.json"
    config_file.write_text(CONFIG_TEXT)
    keyring = MemoryKeyring()
    moves = plan_migration(parse_config(CONFIG_TEXT, path=config_file))

    backup = migrate(config_file, CONFIG_TEXT, moves, SecretStore(tmp_path / "i", backend=keyring))

    assert keyring.entries[("mcp-tray/search", "API_KEY")] == "k-123456789"
    assert config_file.read_text() == rewrite(CONFIG_TEXT, moves)
    assert backup is not None and backup.read_text() == CONFIG_TEXT


def test_migrate_leaves_the_config_as_it_was_when_the_keyring_forgets(tmp_path: Path) -> None:
    config_file = tmp_path / "config.json"
    config_file.write_text(CONFIG_TEXT)
    store = SecretStore(tmp_path / "index.json", backend=ForgetfulKeyring())
    moves = plan_migration(parse_config(CONFIG_TEXT, path=config_file))

    with pytest.raises(NotKept, match="the keyring did not keep GITHUB_PERSONAL_ACCESS_TOKEN"):
        migrate(config_file, CONFIG_TEXT, moves, store)

    assert config_file.read_text() == CONFIG_TEXT


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
        store.set("github", "TOKEN", "value-of-the-token")
    assert not (tmp_path / "names.json").exists()  # nothing recorded for a failed store


class _OddKeyring(MemoryKeyring):
    """A backend failing in a way MCP Tray has no words of its own for."""

    def set_password(self, service: str, username: str, password: str) -> None:
        raise RuntimeError("org.freedesktop.DBus.Error.NoReply")


def test_an_unforeseen_keyring_failure_gives_its_reason_and_what_to_try(tmp_path: Path) -> None:
    store = SecretStore(tmp_path / "names.json", backend=_OddKeyring())

    with pytest.raises(KeyringUnavailable) as refused:
        store.set("github", "TOKEN", "value-of-the-token")

    assert str(refused.value) == (
        "the keyring could not do it (org.freedesktop.DBus.Error.NoReply); make sure it "
        "runs and is unlocked, then try again"
    )


@pytest.mark.parametrize("value", ["abc", "running", "password"])
def test_a_value_too_short_or_too_common_is_refused_before_the_keyring(
    tmp_path: Path, value: str
) -> None:
    backend = MemoryKeyring()
    store = SecretStore(tmp_path / "names.json", backend=backend)

    with pytest.raises(UnsafeSecret, match=r"replacing it with \*\*\*"):
        store.set("weather", "API_KEY", value)

    assert backend.entries == {}
    assert not (tmp_path / "names.json").exists()


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


async def test_a_stored_value_too_short_to_mask_is_not_used_and_the_server_waits(
    tmp_path: Path,
) -> None:
    backend = MemoryKeyring()
    backend.set_password("mcp-tray/s", "ALPHA", "abc")  # stored by another program
    backend.set_password("mcp-tray/s", "BETA", "beta-value")
    secrets = Secrets(SecretStore(tmp_path / "names.json", backend=backend))
    server = ServerConfig.model_validate(
        {"command": "x", "env": {"A": "${secret:ALPHA}", "B": "${secret:BETA}"}}
    )

    with pytest.raises(MissingValues) as missing:
        await secrets.fill_in("s", server, {})

    assert missing.value.secrets == ("ALPHA",)
    assert str(missing.value) == (
        "cannot use its stored secret ALPHA: too short or too common to be kept out of the "
        "logs; set it again, with the value the service gave you, from the tray or with "
        "`mcp-tray secret set s ALPHA`"
    )
    assert await secrets.still_missing("s", server) == ["ALPHA"]
    assert secrets.redact("x abc y") == "x abc y"


def test_a_plaintext_value_too_common_to_mask_is_not_learned_and_the_log_says_where(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    secrets = Secrets(SecretStore(tmp_path / "names.json", backend=MemoryKeyring()))
    config = parse_config(
        json.dumps(
            {
                "mcpServers": {
                    "api": {
                        "command": "x",
                        "args": ["--api-key", "abc", "--token", GITHUB_TOKEN],
                        "env": {"API_KEY": "running"},
                    }
                }
            }
        ),
        path=Path("config.json"),
    )

    with caplog.at_level(logging.INFO, logger="app.core.secrets"):
        secrets.learn_config(config)

    assert secrets.redact(f"api is running with abc and {GITHUB_TOKEN}") == (
        "api is running with abc and ***"
    )
    assert [r.getMessage() for r in caplog.records] == [
        "api: the value of env API_KEY is not hidden in logs: too short or too common to be "
        "a real secret",
        "api: the value of args[1] is not hidden in logs: too short or too common to be "
        "a real secret",
    ]


async def test_filled_in_values_reach_the_env_and_are_masked_from_then_on(tmp_path: Path) -> None:
    secrets = Secrets(SecretStore(tmp_path / "names.json", backend=MemoryKeyring()))
    secrets.store.set("s", "ALPHA", "alpha-value")
    server = ServerConfig.model_validate(
        {"command": "x", "args": ["${env:HOME_DIR}"], "env": {"A": "key=${secret:ALPHA}"}}
    )

    args, env = await secrets.fill_in("s", server, {"HOME_DIR": "/home/ada"})

    assert (args, env) == (["/home/ada"], {"A": "key=alpha-value"})
    assert secrets.redact("echo alpha-value") == "echo ***"
