"""The user's choices kept by MCP Tray itself (app/core/choices.py): the file and its failures."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

from app.core import atomic
from app.core.choices import UserChoices
from app.core.paths import default_paths


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "choices.json"


def test_with_no_file_nothing_is_chosen_and_nothing_is_written(path: Path) -> None:
    choices = UserChoices(path)

    assert choices.stopped_servers() == frozenset()
    assert not choices.welcome_shown()
    assert not choices.mute_restarts()
    assert not path.exists()


def test_every_choice_is_read_back_by_the_next_mcp_tray(path: Path) -> None:
    first = UserChoices(path)
    first.set_stopped("github", True)
    first.set_stopped("notes", True)
    first.set_stopped("notes", False)
    first.set_welcome_shown()
    first.set_mute_restarts(True)

    again = UserChoices(path)

    assert again.stopped_servers() == frozenset({"github"})
    assert again.welcome_shown()
    assert again.mute_restarts()
    assert json.loads(path.read_text())["stopped_servers"] == ["github"]


def test_unmuting_restarts_is_kept_too(path: Path) -> None:
    choices = UserChoices(path)
    choices.set_mute_restarts(True)
    choices.set_mute_restarts(False)

    assert not UserChoices(path).mute_restarts()


def test_the_choices_file_is_private_to_the_user(path: Path) -> None:
    UserChoices(path).set_welcome_shown()

    assert path.stat().st_mode & 0o777 == 0o600


def test_a_choice_that_changes_nothing_does_not_rewrite_the_file(path: Path) -> None:
    choices = UserChoices(path)
    choices.set_stopped("github", True)
    written = path.stat().st_ino  # an atomic write is a new file, so a new inode

    choices.set_stopped("github", True)
    choices.set_stopped("other", False)

    assert path.stat().st_ino == written


@pytest.mark.parametrize(
    "content",
    [b"{not json", b"\xff\xfe\x00", b"[1, 2]", b'{"stopped_servers": "github"}'],
    ids=["broken-json", "not-utf8", "not-an-object", "wrong-type"],
)
def test_a_corrupt_choices_file_is_logged_once_and_treated_as_empty(
    path: Path, content: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    path.parent.mkdir(parents=True)
    path.write_bytes(content)

    with caplog.at_level(logging.WARNING, logger="app.core.choices"):
        choices = UserChoices(path)
        choices.stopped_servers()
        choices.welcome_shown()

    assert choices.stopped_servers() == frozenset()
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
    assert str(path) in caplog.records[0].getMessage()

    choices.set_stopped("github", True)  # the next choice writes a good file afresh
    assert UserChoices(path).stopped_servers() == frozenset({"github"})


def test_an_unreadable_choices_file_is_treated_as_empty(
    path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path.mkdir(parents=True)  # reading a directory fails as a permission problem would

    with caplog.at_level(logging.WARNING, logger="app.core.choices"):
        choices = UserChoices(path)

    assert choices.stopped_servers() == frozenset()
    assert len(caplog.records) == 1


def test_a_write_that_fails_midway_leaves_the_previous_file_whole(
    path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    choices = UserChoices(path)
    choices.set_stopped("github", True)
    before = path.read_bytes()

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.os, "fsync", disk_full)  # the OS edge: the disk fills up
    with caplog.at_level(logging.WARNING, logger="app.core.choices"):
        choices.set_stopped("notes", True)
    monkeypatch.undo()

    assert path.read_bytes() == before
    assert os.listdir(path.parent) == [path.name]  # no temporary file left behind
    assert choices.stopped_servers() == frozenset({"github", "notes"})  # kept until quit
    assert "No space left on device" in caplog.records[0].getMessage()


def test_the_choices_file_is_in_mcp_trays_data_folder(tray_home: Path) -> None:
    paths = default_paths()

    assert paths.choices_file == tray_home / "data" / "choices.json"
    assert paths.choices_file.parent == paths.data_dir


def test_the_hub_and_the_tray_holding_the_file_do_not_undo_each_others_choices(
    path: Path,
) -> None:
    hub, tray = UserChoices(path), UserChoices(path)  # loaded before either chose anything

    tray.set_welcome_shown()
    tray.set_mute_restarts(True)
    hub.set_stopped("github", True)  # written after the tray's choices, by a holder
    tray.set_mute_restarts(False)  # that had not read them, and the other way round

    again = UserChoices(path)
    assert again.welcome_shown()
    assert again.stopped_servers() == {"github"}
    assert not again.mute_restarts()
