"""What the Add dialog and ``mcp-tray add`` say stops a draft from being saved
(:func:`app.hosts.servers.check`), in the form's words."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.core.config import Config
from app.core.config.draft import ServerDraft, Variable
from app.hosts import servers

SYSTEM_PATH = os.defpath  # /bin and /usr/bin: enough for /bin/sh, the program below


def check(draft: ServerDraft, path: str = SYSTEM_PATH) -> list[str]:
    return servers.check(draft, Config(), path_for_lookup=path)


def test_a_program_not_on_the_path_is_one_to_install(tmp_path: Path) -> None:
    (problem,) = check(ServerDraft(name="docs", command="npx"), path=str(tmp_path))

    assert problem == (
        "npx cannot be found on this computer: it comes with Node.js. "
        "Get it from nodejs.org, or give the program's full path."
    )


@pytest.mark.parametrize("command", ["./build/index.js", "build/index.js"])
def test_a_path_that_does_not_exist_is_a_setting_to_check_not_a_program_to_install(
    tmp_path: Path, command: str
) -> None:
    (problem,) = check(ServerDraft(name="mine", command=command, cwd=str(tmp_path)))

    assert problem == (
        f"Its program {command} does not exist (in {tmp_path}); check the program in the "
        "server's settings — a server you build yourself may need building first."
    )


def test_an_absolute_path_that_does_not_exist_names_no_folder(tmp_path: Path) -> None:
    command = str(tmp_path / "bin" / "tool")

    (problem,) = check(ServerDraft(name="mine", command=command))

    assert problem.startswith(f"Its program {command} does not exist; check the program")
    assert "install" not in problem


def test_a_file_that_is_there_but_cannot_run_says_how_to_start_it(tmp_path: Path) -> None:
    (tmp_path / "index.js").write_text("console.log('hi')\n")

    (problem,) = check(ServerDraft(name="mine", command="./index.js", cwd=str(tmp_path)))

    assert problem.startswith("./index.js is not a program this computer can run")


def test_a_program_path_that_is_there_passes(tmp_path: Path) -> None:
    program = tmp_path / "build" / "server"
    program.parent.mkdir()
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)

    assert check(ServerDraft(name="mine", command="./build/server", cwd=str(tmp_path))) == []


def test_a_placeholder_mistake_names_the_field_of_the_form_and_how_to_write_a_dollar() -> None:
    draft = ServerDraft(
        name="docs",
        command="/bin/sh",
        args=["-c", "echo ${PRICE}", "cost: ${"],
        variables=[Variable("GREETING", "hello ${USER}")],
    )

    problems = check(draft)

    assert problems == [
        'The 2nd argument: a ${…} without "env:" or "secret:": write ${env:NAME} for an '
        "environment variable or ${secret:NAME} for a secret from the keyring. "
        "To use a $ sign as it is, write $$.",
        'The 3rd argument: "${" without a closing "}" (write "$${" for a literal "${").',
        'The setting GREETING: a ${…} without "env:" or "secret:": write ${env:NAME} for an '
        "environment variable or ${secret:NAME} for a secret from the keyring. "
        "To use a $ sign as it is, write $$.",
    ]
    assert not any("args." in problem or "env." in problem for problem in problems)


def test_what_the_problem_says_to_write_is_what_mcp_tray_reads_as_a_dollar() -> None:
    fixed = ServerDraft(name="docs", command="/bin/sh", args=["-c", "echo $${PRICE}"])

    assert check(fixed) == []


def test_an_empty_form_asks_for_a_program_and_names_no_program_that_cannot_be_found() -> None:
    problems = check(ServerDraft(name="", command="  "))

    assert problems == ["Give the server a name.", "Say which program starts the server."]
