"""The hub's watches: each watched server's source tree, and the config file.

:meth:`Watches.follow` brings the watches in line with a config, redoing
only the entries that changed; a server whose tree cannot be watched is
reported in the log and keeps running without it.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

from app.core.config import ServerConfig
from app.core.supervise.sources import NotWatchable, relative_display, single_file, source_tree
from app.core.supervise.watcher import FileWatcher, TreeWatch

logger = logging.getLogger(__name__)

# (server, changed paths as a person reads them, the paths themselves)
SourcesChanged = Callable[[str, list[str], frozenset[Path]], Awaitable[None]]


class Watches:
    def __init__(
        self, *, on_sources: SourcesChanged, on_config: Callable[[], Awaitable[None]]
    ) -> None:
        self._files = FileWatcher()
        self._on_sources = on_sources
        self._on_config = on_config
        self._trees: dict[str, tuple[ServerConfig, TreeWatch | None]] = {}
        self._config: TreeWatch | None = None

    async def follow(self, servers: Mapping[str, ServerConfig]) -> None:
        for name, (server, watch) in list(self._trees.items()):
            if servers.get(name) != server:
                del self._trees[name]
                if watch is not None:
                    await watch.close()
        for name, server in servers.items():
            if name not in self._trees:
                self._trees[name] = (server, await self._watch_server(name, server))

    async def watch_config(self, path: Path) -> None:
        async def changed(paths: frozenset[Path]) -> None:
            await self._on_config()

        try:
            self._config = await self._files.watch(
                single_file(path), changed, name="watch the config"
            )
        except OSError as error:
            logger.warning(
                "cannot watch %s, so its edits apply only when MCP Tray restarts: %s",
                path,
                _why(error),
            )

    async def close(self) -> None:
        watches = [watch for _, watch in self._trees.values() if watch is not None]
        if self._config is not None:
            watches.append(self._config)
        self._trees.clear()
        for watch in watches:
            await watch.close()
        await self._files.close()

    async def _watch_server(self, name: str, server: ServerConfig) -> TreeWatch | None:
        try:
            tree = source_tree(server)
        except NotWatchable as reason:
            logger.warning("%s: not watching its sources: %s", name, reason)
            return None
        if tree is None or server.disabled:
            return None

        async def changed(paths: frozenset[Path]) -> None:
            shown = sorted(relative_display(path, tree.roots) for path in paths)
            await self._on_sources(name, shown, paths)

        try:
            watch = await self._files.watch(tree, changed, name=f"watch {name}")
        except OSError as error:
            logger.warning("%s: cannot watch %s: %s", name, tree.describe(), _why(error))
            return None
        logger.info("%s: watching %s for changes", name, tree.describe())
        return watch


def _why(error: OSError) -> str:
    if error.errno == errno.ENOSPC:  # inotify's wording, "No space left on device", misleads
        return (
            "the system's limit of watched folders is reached; raise "
            "fs.inotify.max_user_watches, or narrow what is watched"
        )
    return error.strerror or str(error)
