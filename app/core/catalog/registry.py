"""Searching an online MCP Registry, with its answers kept on disk.

Only when the user turns it on (``catalog.online`` in config.json): the
request carries what they typed. The API is the registry's
``GET /v0.1/servers?search=TEXT&limit=N&version=latest`` (docs/reference/api
in modelcontextprotocol/registry); ``/v0.1`` is the version the registry
keeps stable, ``/v0`` the one it changes. The answer::

    {"servers": [{"server": {...server.json...}, "_meta": {...}}, ...],
     "metadata": {"nextCursor": "...", "count": 30}}

Every answer is cached in ``cache_dir`` under a hash of the request, with the
time it came. A fresh cache answers without going online; when the registry
cannot be reached, an older cache answers instead; with neither,
:class:`CatalogUnavailable` says so in words and the caller shows the bundled
catalog. One entry the reader cannot use (app.core.catalog.serverjson) is
left out, never the whole answer.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from app import __version__
from app.core.atomic import write_atomically
from app.core.catalog.lookup import unique_ids
from app.core.catalog.serverjson import CatalogEntry, Unusable, read_server
from app.core.errors import UserError

logger = logging.getLogger(__name__)

CACHE_FRESH_S = 6 * 3600.0  # the registry changes daily at most; a search box asks often
PAGE_SIZE = 50  # one page is plenty to pick from; the registry allows up to 100
MAX_ANSWER_BYTES = 8 << 20  # a page of 50 entries is far below; more is not a registry
UNREACHABLE = "The online catalog could not be reached; showing the servers MCP Tray knows."


class CatalogUnavailable(UserError):
    """The online catalog could not be asked and nothing was cached; ``cause`` says why
    (for the log, not the user)."""

    def __init__(self, cause: str) -> None:
        super().__init__(UNREACHABLE)
        self.cause = cause


def from_registry(
    url: str,
    text: str,
    *,
    cache_dir: Path,
    timeout: float,
    max_age: float = CACHE_FRESH_S,
) -> list[CatalogEntry]:
    """The registry at ``url``'s servers matching ``text``, in its order."""
    request_url = search_url(url, text)
    cache = cache_dir / f"{hashlib.sha256(request_url.encode()).hexdigest()[:32]}.json"
    cached = _read_cache(cache)
    if cached is not None and time.time() - cached[0] < max_age:
        return _entries(cached[1])
    try:
        answer = _fetch(request_url, timeout)
    except CatalogUnavailable as error:
        if cached is None:
            raise
        logger.info("catalog: %s; using the answer cached before", error.cause)
        return _entries(cached[1])
    _write_cache(cache, request_url, answer)
    return _entries(answer)


def search_url(url: str, text: str) -> str:
    """The request for ``text`` at the registry whose base address is ``url``."""
    if urllib.parse.urlsplit(url).scheme not in {"http", "https"}:
        raise UserError(f"The online catalog's address must start with https://, not {url!r}.")
    query = {"limit": str(PAGE_SIZE), "version": "latest"}
    if text.strip():
        query["search"] = text.strip()
    return f"{url.rstrip('/')}/v0.1/servers?{urllib.parse.urlencode(query)}"


def _fetch(request_url: str, timeout: float) -> Any:
    request = urllib.request.Request(
        request_url,
        headers={"Accept": "application/json", "User-Agent": f"mcp-tray/{__version__}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read(MAX_ANSWER_BYTES + 1)
    except (urllib.error.URLError, OSError) as error:  # HTTPError and timeouts included
        raise CatalogUnavailable(f"{request_url}: {error}") from error
    if len(body) > MAX_ANSWER_BYTES:
        raise CatalogUnavailable(f"{request_url}: answer larger than {MAX_ANSWER_BYTES} bytes")
    try:
        answer = json.loads(body)
    except ValueError as error:  # UnicodeDecodeError too
        raise CatalogUnavailable(f"{request_url}: not JSON ({error})") from error
    if not isinstance(answer, dict) or not isinstance(answer.get("servers"), list):
        raise CatalogUnavailable(f"{request_url}: no servers list in the answer")
    return answer


def _entries(answer: dict[str, Any]) -> list[CatalogEntry]:
    entries = []
    for item in answer["servers"]:
        # Registries from before 2025-09-29 listed server.json objects themselves.
        server = item.get("server", item) if isinstance(item, dict) else item
        try:
            entries.append(read_server(server))
        except Unusable as reason:
            logger.debug("catalog: skipping a registry entry (%s): %.200r", reason, server)
    return unique_ids(entries)


def _read_cache(path: Path) -> tuple[float, dict[str, Any]] | None:
    try:
        saved = json.loads(path.read_text("utf-8"))
        return float(saved["fetched"]), dict(saved["answer"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as error:
        logger.debug("catalog: ignoring the unreadable cache %s: %s", path, error)
        return None


def _write_cache(path: Path, request_url: str, answer: dict[str, Any]) -> None:
    saved = {"url": request_url, "fetched": time.time(), "answer": answer}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, json.dumps(saved).encode())
    except OSError as error:  # a cache that cannot be written only costs a request
        logger.debug("catalog: could not cache %s: %s", path, error)
