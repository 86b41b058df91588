"""Watching source trees without polling, and turning bursts of changes into one action.

:class:`FileWatcher` owns the hub's single watchdog observer, whose threads
block on the operating system's change notifications (inotify, FSEvents,
ReadDirectoryChangesW): an idle tree costs no CPU. Each change is checked
against the tree's filter on the watchdog thread and only a source change
is handed to the event loop.

A directory tree is watched as its top folder plus one recursive watch per
sub-folder that is not ignored, so ``node_modules`` or ``.venv`` never cost a
single watch; a sub-folder created later gets its watch when it appears.

:class:`DebouncedAction` is the restart discipline: a trailing debounce, at
most one run pending, and a change that arrives while the action runs causes
exactly one more run, so the last edit always wins.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import threading
import warnings
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver, ObservedWatch

from app.core.supervise.sources import SourceTree

logger = logging.getLogger(__name__)

# watchdog warns when a folder tree appears faster than it adds watches and
# it registers the same callback on a watch twice: benign (the callback
# replaces itself), but it would reach the hub's stderr on every `mkdir -p`.
warnings.filterwarnings(
    "ignore", message="Callback with id .* already exists for watch", category=RuntimeWarning
)

# Writes, creations, deletions and renames. Not opens or reads: a server
# reading its own sources at start-up must not look like an edit.
CHANGE_EVENTS: list[type[FileSystemEvent]] = [
    FileCreatedEvent,
    FileModifiedEvent,  # the only sign of a write on macOS and Windows
    FileClosedEvent,  # Linux: a file opened for writing was closed
    FileDeletedEvent,
    FileMovedEvent,  # atomic saves: write a temporary file, rename it over the original
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
]

Action = Callable[[frozenset[Path]], Awaitable[None]]


class DebouncedAction:
    """Run ``action(paths)`` once changes have been quiet for ``delay_s``.

    Never drops a change: changes that arrive while the action runs are kept
    and run it once more when it is done.
    """

    def __init__(self, action: Action, delay_s: float, *, name: str) -> None:
        self._action = action
        self._delay_s = delay_s
        self._loop = asyncio.get_running_loop()
        self._pending: set[Path] = set()
        self._last_change = 0.0
        self._arrived = asyncio.Event()
        self._task = self._loop.create_task(self._run(), name=name)

    def changed(self, path: Path) -> None:
        self._pending.add(path)
        self._last_change = self._loop.time()
        self._arrived.set()

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _run(self) -> None:
        while True:
            await self._arrived.wait()
            # Trailing debounce: sleep only while changes keep coming.
            while (left := self._last_change + self._delay_s - self._loop.time()) > 0:
                await asyncio.sleep(left)
            self._arrived.clear()
            paths, self._pending = frozenset(self._pending), set()
            try:
                await self._action(paths)
            except Exception:
                # A failed run must not end the watching: the next edit tries again.
                logger.exception("%s failed", self._task.get_name())


class FileWatcher:
    """The hub's one watchdog observer, shared by every watched tree."""

    def __init__(self) -> None:
        self._observer: BaseObserver = Observer()
        self._observer.daemon = True  # never keeps a dying hub alive
        self._users: Counter[ObservedWatch] = Counter()  # trees sharing a watch
        self._lock = threading.Lock()  # trees are scheduled from worker threads
        self._started = False

    async def watch(self, tree: SourceTree, action: Action, *, name: str) -> TreeWatch:
        """Run ``action`` (debounced) whenever a source file of ``tree`` changes.

        Raises OSError when the tree cannot be watched (a root is missing, or
        the system's limit of watches is reached).
        """
        if not self._started:
            self._observer.start()
            self._started = True
        watch = TreeWatch(self, tree, DebouncedAction(action, tree.debounce_s, name=name))
        try:
            await watch.start()
        except BaseException:
            await watch.close()
            raise
        return watch

    async def close(self) -> None:
        if self._started:
            self._observer.stop()
            await asyncio.to_thread(self._observer.join)

    # Adding a recursive watch walks the tree: file I/O, so callers run it on a
    # worker thread.

    def add(self, handler: FileSystemEventHandler, path: Path, *, recursive: bool) -> ObservedWatch:
        watch = self._observer.schedule(
            handler, str(path), recursive=recursive, event_filter=CHANGE_EVENTS
        )
        with self._lock:
            self._users[watch] += 1
        return watch

    def remove(self, handler: FileSystemEventHandler, watch: ObservedWatch) -> None:
        with self._lock:
            self._users[watch] -= 1
            last = self._users[watch] <= 0
            if last:
                del self._users[watch]
        # An emitter whose folder was deleted has already gone away by itself.
        with contextlib.suppress(KeyError):
            if last:
                self._observer.unschedule(watch)
            else:
                self._observer.remove_handler_for_watch(handler, watch)


class TreeWatch(FileSystemEventHandler):
    """The watches of one tree; also the handler their events arrive at."""

    def __init__(self, files: FileWatcher, tree: SourceTree, debounced: DebouncedAction) -> None:
        self._files = files
        self.tree = tree
        self._debounced = debounced
        self._loop = asyncio.get_running_loop()
        self._watches: list[ObservedWatch] = []
        self._closed = False

    async def start(self) -> None:
        await asyncio.to_thread(self._schedule_roots)

    async def close(self) -> None:
        self._closed = True
        await self._debounced.close()
        watches, self._watches = self._watches, []
        await asyncio.to_thread(self._remove, watches)

    def _remove(self, watches: list[ObservedWatch]) -> None:
        for watch in watches:
            self._files.remove(self, watch)

    def _schedule_roots(self) -> None:
        for root in self.tree.roots:
            if not root.exists():
                raise FileNotFoundError(errno.ENOENT, "it does not exist", str(root))
            if root.is_dir():
                self._watches.append(self._files.add(self, root, recursive=False))
                for child in _subdirectories(root):
                    self._schedule_subtree(child)
            else:  # a single file: its folder, filtered down to the file
                self._watches.append(self._files.add(self, root.parent, recursive=False))

    def _schedule_subtree(self, directory: Path) -> None:
        if self.tree.watches(directory):
            self._watches.append(self._files.add(self, directory, recursive=True))

    # ----- on watchdog's thread

    def dispatch(self, event: FileSystemEvent) -> None:
        paths = [event.src_path, event.dest_path] if event.dest_path else [event.src_path]
        for raw in paths:
            path = Path(os.fsdecode(raw))
            appeared = event.is_directory and event.event_type != "deleted"
            if appeared and path.parent in self.tree.roots:
                self._post(self._new_top_folder, path)
            if self.tree.is_source(path, directory=event.is_directory):
                self._post(self._debounced.changed, path)

    def _post(self, callback: Callable[[Path], None], path: Path) -> None:
        with contextlib.suppress(RuntimeError):  # the loop has closed: the hub is exiting
            self._loop.call_soon_threadsafe(callback, path)

    # ----- back on the event loop

    def _new_top_folder(self, directory: Path) -> None:
        """A folder appeared next to the watched ones: watch it too."""
        if self._closed or not directory.is_dir():
            return
        task = self._loop.create_task(asyncio.to_thread(self._schedule_subtree, directory))
        task.add_done_callback(self._report_failed_watch)

    def _report_failed_watch(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and (error := task.exception()) is not None:
            logger.warning("cannot watch a new folder: %s", error)


def _subdirectories(root: Path) -> list[Path]:
    with os.scandir(root) as entries:
        return [Path(entry.path) for entry in entries if entry.is_dir(follow_symlinks=False)]
