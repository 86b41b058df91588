"""Captured stderr (app/core/supervise/stderr.py): the rotating file, the tail and the line pump."""

from __future__ import annotations

import asyncio
import re
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.core.events import ServerLogLine
from app.core.supervise import stderr
from app.core.supervise.stderr import LogEntry, ServerLog, parse_log_line, pump_lines
from tests.helpers import ChunkByChunk

STAMP = r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}"
PUMP_TIMEOUT_S = 10.0


@pytest.fixture
def log(tmp_path: Path) -> Iterator[ServerLog]:
    server_log = ServerLog(tmp_path / "servers" / "demo.log")
    yield server_log
    server_log.close()


def _file_lines(path: Path) -> list[str]:
    """The lines of a log file without their time stamps."""
    return [re.sub(f"^{STAMP} ", "", line) for line in path.read_text().splitlines()]


def _rotations(path: Path) -> list[Path]:
    return sorted(path.parent.glob(f"{path.name}.*"))


# ----- the file and the tail


def test_each_line_is_stamped_in_the_file_and_kept_in_the_tail(log: ServerLog) -> None:
    stamp, kept = log.write("hello\n")

    assert kept == "hello"
    assert re.fullmatch(STAMP, stamp)
    assert log.path.read_text() == f"{stamp} hello\n"
    assert log.last_lines(5) == ("hello",)
    assert log.last_stamped(5) == [f"{stamp} hello"]


def test_the_log_directory_is_created_on_the_first_line(log: ServerLog) -> None:
    assert not log.path.parent.exists()

    log.write("first")

    assert log.path.is_file()


def test_last_lines_returns_the_newest_lines_oldest_first(log: ServerLog) -> None:
    for number in range(10):
        log.write(f"line {number}")

    assert log.last_lines(3) == ("line 7", "line 8", "line 9")
    assert [re.sub(f"^{STAMP} ", "", s) for s in log.last_stamped(2)] == ["line 8", "line 9"]
    assert log.last_lines(100) == tuple(f"line {n}" for n in range(10))
    assert log.last_lines(0) == ()
    assert log.last_stamped(0) == []


def test_the_tail_keeps_only_the_newest_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stderr, "TAIL_LINES", 4)
    log = ServerLog(tmp_path / "tail.log")
    try:
        for number in range(10):
            log.write(f"line {number}")

        assert log.last_lines(10) == ("line 6", "line 7", "line 8", "line 9")
        assert len(_file_lines(log.path)) == 10  # the file keeps them all
    finally:
        log.close()


def test_a_log_continues_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "demo.log"
    first = ServerLog(path)
    first.write("from the last run")
    first.close()

    second = ServerLog(path)
    second.write("from this run")
    second.close()

    assert _file_lines(path) == ["from the last run", "from this run"]


def test_the_log_window_goes_on_from_the_last_run_but_a_crash_speaks_of_this_one(
    tmp_path: Path,
) -> None:
    path = tmp_path / "demo.log"
    first = ServerLog(path)
    first.note("Started (process 4242).")
    first.write("from the last run")
    first.close()

    second = ServerLog(path)
    second.write("from this run")

    assert [parse_log_line(line).text for line in second.last_stamped(10)] == [
        "Started (process 4242).",
        "from the last run",
        "from this run",
    ]
    assert [parse_log_line(line).text for line in second.last_stamped(2)] == [
        "from the last run",
        "from this run",
    ]
    assert second.last_lines(10) == ("from this run",)  # a crash's last output
    second.close()


def test_a_windows_line_ending_is_not_kept(log: ServerLog) -> None:
    _, kept = log.write("dos line\r\n")

    assert kept == "dos line"
    assert _file_lines(log.path) == ["dos line"]


def test_the_redact_hook_applies_to_the_file_the_tail_and_the_return_value(
    tmp_path: Path,
) -> None:
    log = ServerLog(tmp_path / "secret.log", redact=lambda line: line.replace("s3cr3t", "***"))
    try:
        _, kept = log.write("token=s3cr3t ok")

        assert kept == "token=*** ok"
        assert log.last_lines(1) == ("token=*** ok",)
        assert log.last_stamped(1)[0].endswith(" token=*** ok")
        assert "s3cr3t" not in log.path.read_text()
        assert _file_lines(log.path) == ["token=*** ok"]
    finally:
        log.close()


def test_a_very_long_line_is_cut_and_marked(log: ServerLog) -> None:
    _, kept = log.write("x" * (stderr.MAX_LINE_CHARS + 5000))

    assert kept == "x" * stderr.MAX_LINE_CHARS + " …[cut]"
    assert log.last_lines(1) == (kept,)
    assert _file_lines(log.path) == [kept]


def test_a_line_of_exactly_the_limit_is_kept_whole(log: ServerLog) -> None:
    _, kept = log.write("y" * stderr.MAX_LINE_CHARS)

    assert kept == "y" * stderr.MAX_LINE_CHARS


def test_a_secret_straddling_the_cut_is_redacted_before_cutting(tmp_path: Path) -> None:
    secret = "TOPSECRETVALUE"
    text = "z" * (stderr.MAX_LINE_CHARS - 5) + secret
    log = ServerLog(tmp_path / "cut.log", redact=lambda line: line.replace(secret, "***"))
    try:
        _, kept = log.write(text)
    finally:
        log.close()

    assert "TOPSE" not in kept
    assert "TOPSE" not in log.path.read_text()


# ----- lifecycle lines


def test_a_lifecycle_line_is_marked_in_the_file_and_kept_in_the_tail(log: ServerLog) -> None:
    log.write("serving")
    stamp, kept = log.note("Exited with status 3.")

    assert kept == "Exited with status 3."
    assert log.path.read_text().splitlines()[-1] == f"{stamp} » Exited with status 3."
    assert log.last_stamped(1) == [f"{stamp} » Exited with status 3."]


def test_last_lines_are_the_servers_own_and_leave_lifecycle_lines_out(log: ServerLog) -> None:
    log.note("Started (process 7).")
    log.write("one")
    log.note("Running.")
    log.write("two")
    log.note("Exited with status 1.")
    log.note("Restarting in 2 s.")

    assert log.last_lines(2) == ("one", "two")
    assert log.last_lines(1) == ("two",)
    assert log.last_lines(10) == ("one", "two")
    assert len(log.last_stamped(10)) == 6  # the story keeps them all


def test_every_line_reads_back_as_written_from_the_file_and_the_tail(log: ServerLog) -> None:
    written = [
        ("Started (process 7).", True),
        ("plain output", False),
        ("", False),
        ("Exited with status 1.", True),
    ]
    for text, lifecycle in written:
        (log.note if lifecycle else log.write)(text)

    from_file = [parse_log_line(line) for line in log.path.read_text().splitlines()]
    from_tail = [parse_log_line(line) for line in log.last_stamped(10)]

    assert [(e.text, e.lifecycle) for e in from_file] == written
    assert from_tail == from_file
    assert all(re.fullmatch(STAMP, e.stamp) for e in from_file)


@pytest.mark.parametrize(
    "text",
    ["» Stopped by you.", "»  Warning: from an oclif CLI", "\\» escaped once", "\\\\» twice", "»"],
)
def test_a_server_printing_the_marker_is_not_read_as_mcp_tray(log: ServerLog, text: str) -> None:
    stamp, kept = log.write(text)

    (in_file,) = log.path.read_text().splitlines()
    published = ServerLogLine(server="demo", stamp=stamp, line=kept).stamped()

    for line in (in_file, log.last_stamped(1)[0], published):
        assert parse_log_line(line) == LogEntry(stamp=stamp, text=text, lifecycle=False)
    assert log.last_lines(1) == (text,)


def test_a_line_without_a_stamp_is_read_as_plain_text() -> None:
    for line in ("", "no stamp here", "2025-01-01 00:00:00", "2025-01-01 00:00:00» x"):
        assert parse_log_line(line) == LogEntry(stamp="", text=line, lifecycle=False)


def test_a_backslash_that_does_not_precede_the_marker_is_left_alone(log: ServerLog) -> None:
    log.write("\\server\\share not found")

    assert log.path.read_text().split(" ", 2)[2] == "\\server\\share not found\n"


def test_lifecycle_lines_are_redacted_and_rotate_like_the_servers_own(
    tmp_path: Path, small_logs: int
) -> None:
    log = ServerLog(tmp_path / "demo.log", redact=lambda line: line.replace("s3cr3t", "***"))
    try:
        for number in range(8):
            log.note(f"Started (process {number}) s3cr3t.")
    finally:
        log.close()

    assert log.path.with_name("demo.log.1").exists()
    assert "s3cr3t" not in log.path.read_text() + log.path.with_name("demo.log.1").read_text()


# ----- rotation


@pytest.fixture
def small_logs(monkeypatch: pytest.MonkeyPatch) -> int:
    """Rotate at 200 bytes: about five 36-byte stamped lines per file."""
    monkeypatch.setattr(stderr, "MAX_LOG_BYTES", 200)
    return 200


def _write_numbered(log: ServerLog, count: int) -> None:
    for number in range(count):
        log.write(f"line {number:04d} " + "." * 5)  # 36 bytes with stamp and newline


def test_the_file_rotates_once_it_reaches_the_size_limit(log: ServerLog, small_logs: int) -> None:
    _write_numbered(log, 5)  # 180 bytes: below the limit
    assert _rotations(log.path) == []

    _write_numbered(log, 1)  # 216 bytes: rotates

    rotated = log.path.with_name("demo.log.1")
    assert _rotations(log.path) == [rotated]
    assert len(_file_lines(rotated)) == 6
    assert rotated.stat().st_size >= small_logs
    assert not log.path.exists() or log.path.stat().st_size == 0

    log.write("after the rotation")
    assert _file_lines(log.path) == ["after the rotation"]


def test_rotation_keeps_only_the_newest_files_and_loses_no_line_in_between(
    log: ServerLog, small_logs: int
) -> None:
    _write_numbered(log, 6 * 10)  # ten full files' worth

    names = [p.name for p in _rotations(log.path)]
    assert names == [f"demo.log.{n}" for n in range(1, stderr.KEPT_ROTATIONS + 1)]
    # Oldest rotation first, then newer ones: consecutive line numbers, none lost.
    kept = [
        line
        for path in [*reversed(_rotations(log.path)), log.path]
        if path.exists()
        for line in _file_lines(path)
    ]
    numbers = [int(line.split()[1]) for line in kept]
    assert numbers == list(range(numbers[0], 60))
    assert numbers[0] == 60 - 6 * stderr.KEPT_ROTATIONS


def test_the_number_of_kept_rotations_follows_the_constant(
    log: ServerLog, small_logs: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stderr, "KEPT_ROTATIONS", 5)

    _write_numbered(log, 6 * 8)

    assert [p.name for p in _rotations(log.path)] == [f"demo.log.{n}" for n in range(1, 6)]


def test_a_log_reopened_near_the_limit_counts_what_the_file_already_holds(
    tmp_path: Path, small_logs: int
) -> None:
    path = tmp_path / "demo.log"
    earlier = ServerLog(path)
    _write_numbered(earlier, 5)  # 180 bytes
    earlier.close()

    log = ServerLog(path)
    try:
        _write_numbered(log, 1)
    finally:
        log.close()

    assert _rotations(path) == [path.with_name("demo.log.1")]


def test_the_tail_survives_rotation(log: ServerLog, small_logs: int) -> None:
    _write_numbered(log, 20)

    assert log.last_lines(2) == ("line 0018 .....", "line 0019 .....")


# ----- the pump


async def _pump(*chunks: bytes) -> list[str]:
    stream = asyncio.StreamReader()
    for chunk in chunks:
        stream.feed_data(chunk)
    stream.feed_eof()
    lines: list[str] = []
    async with asyncio.timeout(PUMP_TIMEOUT_S):
        await pump_lines(stream, lines.append)
    return lines


@pytest.mark.anyio
async def test_the_pump_joins_lines_split_across_reads() -> None:
    chunks = [b"hel", b"lo\nwor", b"ld\n", b"tail without newline"]
    source = ChunkByChunk()
    lines: list[str] = []

    async with asyncio.timeout(PUMP_TIMEOUT_S):
        feeding = asyncio.create_task(source.feed(chunks))
        await pump_lines(source, lines.append)  # type: ignore[arg-type]  # reads only
        await feeding

    assert source.reads == [*chunks, b""]  # the pump really saw the pieces separately
    assert lines == ["hello", "world", "tail without newline"]


@pytest.mark.anyio
async def test_the_pump_passes_every_line_of_one_chunk_and_keeps_empty_ones() -> None:
    assert await _pump(b"one\ntwo\n\nthree\n") == ["one", "two", "", "three"]


@pytest.mark.anyio
async def test_the_pump_replaces_bytes_that_are_not_utf8() -> None:
    assert await _pump(b"caf\xc3\xa9 \xff\n") == ["café \ufffd"]


@pytest.mark.anyio
async def test_an_endless_line_without_newline_is_passed_on_in_bounded_pieces() -> None:
    limit = stderr.MAX_LINE_CHARS * 4
    endless = b"e" * (limit * 10)
    chunks = [endless[i : i + 64 * 1024] for i in range(0, len(endless), 64 * 1024)]

    lines = await _pump(*chunks, b"\nnext\n")

    assert "".join(lines[:-1]) == endless.decode()  # nothing lost
    assert lines[-1] == "next"
    assert len(lines) > 2
    assert all(len(line) <= limit + 64 * 1024 for line in lines)


@pytest.mark.anyio
async def test_pumped_lines_land_in_the_log(log: ServerLog) -> None:
    await _pump_into(log, b"starting\nready\n")

    assert log.last_lines(5) == ("starting", "ready")
    assert _file_lines(log.path) == ["starting", "ready"]


async def _pump_into(log: ServerLog, data: bytes) -> None:
    stream = asyncio.StreamReader()
    stream.feed_data(data)
    stream.feed_eof()
    async with asyncio.timeout(PUMP_TIMEOUT_S):
        await pump_lines(stream, log.write)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits")
def test_a_server_log_file_is_private_to_the_user(tmp_path: Path) -> None:
    log = ServerLog(tmp_path / "servers" / "github.log")
    log.write("what a server prints can be private")
    log.close()

    assert stat.S_IMODE((tmp_path / "servers" / "github.log").stat().st_mode) == 0o600
