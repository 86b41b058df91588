"""Watching real folders (app/core/supervise/watcher.py): what is seen, and how bursts collapse."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from app.core.config import ServerConfig
from app.core.supervise.sources import SourceTree, source_tree
from app.core.supervise.watcher import DebouncedAction, FileWatcher

pytestmark = pytest.mark.anyio

WAIT_S = 10.0  # a change reaches the loop in milliseconds; generous for a loaded machine
DEBOUNCE_MS = 50


class Batches:
    """Records each run of a debounced action: the set of paths it was given."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[frozenset[Path]] = asyncio.Queue()

    async def __call__(self, paths: frozenset[Path]) -> None:
        await self.queue.put(paths)

    async def next(self) -> frozenset[Path]:
        async with asyncio.timeout(WAIT_S):
            return await self.queue.get()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    (project / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    (project / "src" / "server.py").write_text("ANSWER = 1\n")
    (project / "node_modules" / "dep").mkdir(parents=True)
    return project


def tree(project: Path, **watch: object) -> SourceTree:
    config = ServerConfig.model_validate(
        {
            "command": "python",
            "args": [str(project / "src" / "server.py")],
            "watch": {"debounceMs": DEBOUNCE_MS, **watch},
        }
    )
    result = source_tree(config)
    assert result is not None
    return result


@pytest.fixture
async def files() -> AsyncIterator[FileWatcher]:
    watcher = FileWatcher()
    yield watcher
    await watcher.close()


async def test_an_in_place_save_is_seen(files: FileWatcher, project: Path) -> None:
    batches = Batches()
    await files.watch(tree(project), batches, name="test")

    (project / "src" / "server.py").write_text("ANSWER = 2\n")

    assert await batches.next() == {project / "src" / "server.py"}


async def test_an_atomic_save_is_seen_as_a_change_of_the_file(
    files: FileWatcher, project: Path
) -> None:
    batches = Batches()
    await files.watch(tree(project), batches, name="test")

    temporary = project / "src" / ".server.py.tmp"
    temporary.write_text("ANSWER = 2\n")
    os.replace(temporary, project / "src" / "server.py")

    assert await batches.next() == {project / "src" / "server.py"}


async def test_folders_created_after_the_start_are_watched(
    files: FileWatcher, project: Path
) -> None:
    batches = Batches()
    await files.watch(tree(project), batches, name="test")

    (project / "tools").mkdir()  # next to src: needs a watch of its own
    assert await batches.next() == {project / "tools"}
    (project / "tools" / "extra.py").write_text("")
    (project / "src" / "deep" / "er").mkdir(parents=True)
    (project / "src" / "deep" / "er" / "x.py").write_text("")

    seen: set[Path] = set()
    while project / "src/deep/er/x.py" not in seen or project / "tools/extra.py" not in seen:
        seen |= await batches.next()


async def test_ignored_paths_cause_no_run(files: FileWatcher, project: Path) -> None:
    batches = Batches()
    await files.watch(tree(project), batches, name="test")

    (project / ".git").mkdir()
    (project / ".git" / "index").write_text("")
    (project / "src" / "__pycache__").mkdir()
    (project / "src" / "__pycache__" / "server.cpython-311.pyc").write_bytes(b"")
    (project / "node_modules" / "dep" / "index.js").write_text("")
    (project / "src" / ".server.py.swp").write_text("")
    (project / "src" / "server.py").write_text("ANSWER = 2\n")  # the one real change

    # Changes arrive in order, so any ignored path that slipped through would
    # be in this first batch, or in an earlier one.
    assert await batches.next() == {project / "src" / "server.py"}


async def test_reading_the_sources_is_not_a_change(files: FileWatcher, project: Path) -> None:
    batches = Batches()
    await files.watch(tree(project), batches, name="test")

    for path in project.rglob("*"):
        if path.is_file():
            path.read_bytes()
    (project / "src" / "marker.py").write_text("")

    assert await batches.next() == {project / "src" / "marker.py"}


async def test_a_burst_of_saves_is_one_run_with_every_path(
    files: FileWatcher, project: Path
) -> None:
    batches = Batches()
    await files.watch(tree(project), batches, name="test")

    for number in range(20):
        (project / "src" / f"module_{number % 4}.py").write_text(f"N = {number}\n")

    assert await batches.next() == {project / "src" / f"module_{n}.py" for n in range(4)}


async def test_a_closed_watch_runs_nothing_more(files: FileWatcher, project: Path) -> None:
    closed, kept = Batches(), Batches()
    watch = await files.watch(tree(project), closed, name="closed")
    await files.watch(tree(project), kept, name="kept")  # shares the same folders
    await watch.close()

    (project / "src" / "server.py").write_text("ANSWER = 2\n")

    assert await kept.next() == {project / "src" / "server.py"}
    assert closed.queue.empty()


async def test_a_missing_root_is_an_error_the_caller_can_report(
    files: FileWatcher, tmp_path: Path
) -> None:
    config = ServerConfig.model_validate(
        {"command": "python", "watch": {"paths": [str(tmp_path / "gone")]}}
    )
    missing = source_tree(config)
    assert missing is not None

    with pytest.raises(OSError):
        await files.watch(missing, Batches(), name="test")


# ----- the restart discipline, on its own


async def test_a_change_during_the_action_runs_it_exactly_once_more() -> None:
    started = asyncio.Queue[frozenset[Path]]()
    finish = asyncio.Event()

    async def action(paths: frozenset[Path]) -> None:
        await started.put(paths)
        await finish.wait()
        finish.clear()

    debounced = DebouncedAction(action, 0.01, name="test")
    try:
        debounced.changed(Path("a"))
        async with asyncio.timeout(WAIT_S):
            assert await started.get() == {Path("a")}
        debounced.changed(Path("b"))  # while the first run is still going
        debounced.changed(Path("c"))
        finish.set()
        async with asyncio.timeout(WAIT_S):
            assert await started.get() == {Path("b"), Path("c")}
        finish.set()
        debounced.changed(Path("d"))
        async with asyncio.timeout(WAIT_S):
            assert await started.get() == {Path("d")}  # nothing left over from before
        finish.set()
    finally:
        await debounced.close()


async def test_changes_keep_the_action_waiting_until_they_stop() -> None:
    runs: list[tuple[float, frozenset[Path]]] = []
    done = asyncio.Event()
    loop = asyncio.get_running_loop()

    async def action(paths: frozenset[Path]) -> None:
        runs.append((loop.time(), paths))
        done.set()

    delay = 0.2
    debounced = DebouncedAction(action, delay, name="test")
    try:
        for name in "abcde":
            debounced.changed(Path(name))
        last_change = loop.time()
        async with asyncio.timeout(WAIT_S):
            await done.wait()
    finally:
        await debounced.close()

    ((ran_at, paths),) = runs
    assert paths == {Path(name) for name in "abcde"}
    assert ran_at - last_change >= delay * 0.99  # trailing: counted from the last change
