"""A README's stand-in for the reader's own value ("<YOUR_TOKEN>") is no value:
pasted, it comes in empty, and the form asks for it."""

from __future__ import annotations

import json

import pytest

from app.core.config import Config
from app.core.config.draft import Variable, is_placeholder
from app.hosts import servers
from app.hosts.paste import drafts_from_text

STAND_INS = [
    "<YOUR_TOKEN>",
    "<token>",
    "YOUR_API_KEY",
    "your-token-here",
    "your token here",
    "REPLACE_ME",
    "replace-with-your-key",
    "CHANGEME",
    "change_me",
    "placeholder",
    "xxx",
    "XXXXXXXXXXXX",
    "****",
    "ghp_XXXXXXXX",
    "sk-xxxxxxxxxxxx",
    "xxxx-xxxx-xxxx",
    "${YOUR_TOKEN}",
    "${env:YOUR_GITHUB_TOKEN}",
]
VALUES = [
    "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8",
    "sk-proj-Xx9Q2m7Lq0RzT4vY8wK3nB6cD1fG5hJ",
    "xoxb-1234-5678-abcdef",
    "tok-" + "k7" * 12,
    "${env:GITHUB_TOKEN}",
    "${GITHUB_TOKEN}",
    "/home/me/your-notes",
    "https://example.com/replace",
    "production",
    "x",
    "true",
    "",
    "3000",
    "max",
]


@pytest.mark.parametrize("value", STAND_INS)
def test_a_readme_stand_in_is_a_placeholder(value: str) -> None:
    assert is_placeholder(value)


@pytest.mark.parametrize("value", VALUES)
def test_a_real_value_is_not_a_placeholder(value: str) -> None:
    assert not is_placeholder(value)


def test_pasted_stand_ins_come_in_empty_and_the_form_asks_for_them() -> None:
    env = {"GITHUB_TOKEN": "<YOUR_TOKEN>", "API_KEY": "ghp_XXXXXXXX", "REGION": "your-region"}
    snippet = {"mcpServers": {"gh": {"command": "npx", "args": ["-y", "srv"], "env": env}}}

    (draft,) = drafts_from_text(json.dumps(snippet))
    problems = servers.check(draft, Config(), path_for_lookup="")

    assert draft.variables == [
        Variable("GITHUB_TOKEN", "", secret=True, required=True),
        Variable("API_KEY", "", secret=True, required=True),
        Variable("REGION", "", secret=False, required=True),
    ]
    assert [p for p in problems if "needs a value" in p] == [
        f"{name} needs a value: the server cannot run without it." for name in env
    ]


def test_a_placeholder_in_our_own_syntax_becomes_an_empty_setting_too() -> None:
    snippet = {"gh": {"command": "npx", "env": {"GITHUB_TOKEN": "${YOUR_GITHUB_TOKEN}"}}}

    (draft,) = drafts_from_text(json.dumps(snippet))

    assert draft.variables == [Variable("GITHUB_TOKEN", "", secret=True, required=True)]
