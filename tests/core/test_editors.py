"""The text editor Open config falls back to (app.core.editors), found on a PATH each test writes.

A fake editor is a real executable named as an editor: it writes the
arguments it was started with to a file beside it, as a real editor would
open them.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from app.core.editors import text_editor_command

pytestmark = pytest.mark.skipif(
    sys.platform in {"darwin", "win32"}, reason="looks for editors on PATH on Linux only"
)


def fake_program(folder: Path, name: str) -> Path:
    """An executable ``folder/name`` that writes its arguments, one a line, to ``name.args``."""
    program = folder / name
    program.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{folder / name}.args"\n')
    program.chmod(0o755)
    return program


@pytest.fixture
def path_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The only folder on PATH, empty until a test puts programs in it."""
    folder = tmp_path / "bin"
    folder.mkdir()
    monkeypatch.setenv("PATH", str(folder))
    return folder


def test_the_editor_found_on_path_opens_the_config_file(path_dir: Path, tmp_path: Path) -> None:
    fake_program(path_dir, "mousepad")
    config = tmp_path / "my config.json"

    command = text_editor_command(config)
    assert command is not None
    subprocess.run(command, check=True, timeout=10)

    assert (path_dir / "mousepad.args").read_text() == f"{config}\n"  # one argument, spaces kept


def test_the_more_common_editor_is_chosen_when_there_are_several(
    path_dir: Path, tmp_path: Path
) -> None:
    for name in ("code", "mousepad", "gedit"):
        fake_program(path_dir, name)

    command = text_editor_command(tmp_path / "config.json")

    assert command == [str(path_dir / "gedit"), str(tmp_path / "config.json")]


def test_terminal_editors_are_not_used_for_they_would_open_nowhere(
    path_dir: Path, tmp_path: Path
) -> None:
    for name in ("vi", "vim", "nano"):
        fake_program(path_dir, name)

    assert text_editor_command(tmp_path / "config.json") is None


def test_a_file_named_like_an_editor_that_cannot_run_is_passed_over(
    path_dir: Path, tmp_path: Path
) -> None:
    fake_program(path_dir, "gedit").chmod(0o644)
    fake_program(path_dir, "kate")

    command = text_editor_command(tmp_path / "config.json")

    assert command is not None and command[0] == str(path_dir / "kate")
