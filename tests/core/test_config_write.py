"""Writing config.json atomically with backups, and the first-run default config."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from app.core.config import (
    DEMO_SERVER_NAME,
    default_config_text,
    ensure_config,
    load_config,
    parse_config,
    write_config_text,
)
from app.core.config.write import BACKUPS_KEPT
from app.core.installation import demo_command

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits")


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def backups_of(path: Path) -> list[Path]:
    return sorted(path.parent.glob(f"{path.name}.*.bak"))


# --- write_config_text ---------------------------------------------------------


@posix_only
def test_a_new_file_is_private_and_gets_no_backup(tmp_path: Path) -> None:
    path = tmp_path / "deeper" / "still" / "config.json"

    backup = write_config_text(path, "{}\n")

    assert backup is None
    assert path.read_text() == "{}\n"
    assert mode_of(path) == 0o600
    assert os.listdir(path.parent) == ["config.json"]


@posix_only
def test_rewriting_keeps_the_permission_bits_and_backs_up_the_old_text_privately(
    tmp_path: Path,
) -> None:
    path = tmp_path / "config.json"
    path.write_text("old\n")
    path.chmod(0o644)

    backup = write_config_text(path, "new\n")

    assert path.read_text() == "new\n"
    assert mode_of(path) == 0o644
    assert backup is not None
    assert backup.parent == tmp_path
    assert backup.read_text() == "old\n"
    assert mode_of(backup) == 0o600
    assert backup.name.startswith("config.json.")
    assert backup.name.endswith(".bak")


def test_backups_within_one_second_never_overwrite_each_other(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    for version in range(4):
        write_config_text(path, f"version {version}\n")

    backups = backups_of(path)

    assert sorted(backup.read_text() for backup in backups) == [
        "version 0\n",
        "version 1\n",
        "version 2\n",
    ]


def test_only_the_newest_backups_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text("current\n")
    # Older backups from earlier days, named the way write_config_text names them.
    for day in range(1, BACKUPS_KEPT + 3):
        (tmp_path / f"config.json.200001{day:02d}-120000.bak").write_text(f"day {day}\n")

    backup = write_config_text(path, "next\n")

    kept = backups_of(path)
    assert len(kept) == BACKUPS_KEPT
    assert backup in kept
    assert backup is not None and backup.read_text() == "current\n"
    # The oldest went first: days 1..3 are gone, days 4..12 remain.
    assert [p.name for p in kept[:2]] == [
        "config.json.20000104-120000.bak",
        "config.json.20000105-120000.bak",
    ]


def test_many_quick_writes_keep_the_backups_of_the_newest_versions(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    for version in range(BACKUPS_KEPT + 3):
        write_config_text(path, f"{version}\n")

    contents = sorted(int(backup.read_text()) for backup in backups_of(path))

    assert contents == list(range(2, BACKUPS_KEPT + 2))


def test_files_that_merely_look_like_backups_are_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    unrelated = [tmp_path / "config.json.mine.bak", tmp_path / "other.json.20000101-000000.bak"]
    for file in unrelated:
        file.write_text("keep me\n")
    for version in range(BACKUPS_KEPT + 3):
        write_config_text(path, f"{version}\n")

    assert all(file.read_text() == "keep me\n" for file in unrelated)
    assert len(backups_of(path)) == BACKUPS_KEPT + 1  # ours plus config.json.mine.bak


def test_a_failed_replace_leaves_the_old_file_and_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "config.json"
    path.write_text("old\n")

    def refuse(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    # The OS edge: a real disk-full is hard to arrange in a test.
    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError, match="No space left"):
        write_config_text(path, "new\n")
    monkeypatch.undo()

    assert path.read_text() == "old\n"
    leftovers = {p.name for p in tmp_path.iterdir()} - {"config.json"}
    assert all(name.endswith(".bak") for name in leftovers), leftovers


def test_successful_writes_leave_no_temporary_files(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    for version in range(3):
        write_config_text(path, f"{version}\n")

    names = {p.name for p in tmp_path.iterdir()}

    assert names == {"config.json", *(p.name for p in backups_of(path))}


@posix_only
def test_a_symlinked_config_is_written_through_the_link(tmp_path: Path) -> None:
    real = tmp_path / "dotfiles" / "mcp-tray.json"
    real.parent.mkdir()
    real.write_text("old\n")
    link = tmp_path / "config.json"
    link.symlink_to(real)

    backup = write_config_text(link, "new\n")

    assert link.is_symlink()
    assert real.read_text() == "new\n"
    assert backup is not None and backup.parent == real.parent


def test_text_is_written_as_utf8_bytes_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "config.json"

    write_config_text(path, '{"note": "Jörg\'s server"}\r\n')

    assert path.read_bytes() == '{"note": "Jörg\'s server"}\r\n'.encode()


# --- the default config ----------------------------------------------------------


def test_the_default_config_runs_the_demo_with_the_given_command(tmp_path: Path) -> None:
    text = default_config_text(["/opt/py/bin/python3", "-m", "app.demo"])

    config = parse_config(text, path=tmp_path / "config.json")

    assert list(config.servers) == [DEMO_SERVER_NAME]
    demo = config.servers[DEMO_SERVER_NAME]
    assert demo.command == "/opt/py/bin/python3"
    assert demo.args == ["-m", "app.demo"]


def test_the_default_config_is_pretty_printed_with_a_trailing_newline() -> None:
    text = default_config_text(["python", "-m", "app.demo"])

    assert text.startswith('{\n  "mcpServers": {\n    "demo": {\n')
    assert text.endswith("}\n")
    assert not text.endswith("\n\n")


def test_a_windows_interpreter_path_survives_the_round_trip(tmp_path: Path) -> None:
    python = r"C:\Users\Jörg\AppData\Local\Programs\Python\python.exe"

    config = parse_config(
        default_config_text([python, "-m", "app.demo"]), path=tmp_path / "config.json"
    )

    assert config.servers[DEMO_SERVER_NAME].command == python


@posix_only
def test_ensure_config_writes_a_private_default_on_first_run(tmp_path: Path) -> None:
    path = tmp_path / "home" / "config.json"

    assert ensure_config(path, demo=demo_command()) is True

    assert load_config(path).servers[DEMO_SERVER_NAME].command == sys.executable
    assert mode_of(path) == 0o600


def test_ensure_config_never_overwrites_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text("{ this is the user's, even if broken")

    assert ensure_config(path, demo=demo_command()) is False

    assert path.read_text() == "{ this is the user's, even if broken"
    assert backups_of(path) == []
