"""The catalog MCP Tray ships with, and finding an entry in any catalog.

The bundled catalog is ``resources/catalog``: one registry ``server.json``
per file, named after the entry's id, so adding a server is adding a file
and each file can be checked against the registry's schema unchanged.
"""

from __future__ import annotations

import difflib
import json
import logging
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from app.core.catalog.serverjson import CatalogEntry, read_server
from app.core.errors import UserError
from app.resources import resource_path

logger = logging.getLogger(__name__)

# How well a word matches an entry, best first; an entry ranks by its words' sum.
_EXACT_ID, _ID_START, _TITLE_START, _ID_OR_TITLE, _DESCRIPTION = range(5)


class UnknownEntry(UserError):
    """No catalog entry has the id the user gave; the sentence names close ones."""

    def __init__(self, wanted: str, close: list[str]) -> None:
        if close:
            sentence = (
                f'The catalog has no server called "{wanted}". Did you mean {_or_list(close)}?'
            )
        else:
            sentence = f'The catalog has no server called "{wanted}"; search it to see what it has.'
        super().__init__(sentence)
        self.wanted = wanted
        self.close = close


def bundled(folder: Path | None = None) -> list[CatalogEntry]:
    """The servers MCP Tray knows without going online, sorted by id.

    A file that cannot be read is a defect of MCP Tray itself, not of the
    user's machine: it raises (tests/core/test_catalog.py reads them all).
    """
    folder = folder or resource_path("catalog")
    entries = [read_server(json.loads(path.read_text("utf-8"))) for path in folder.glob("*.json")]
    return sorted(unique_ids(entries), key=lambda entry: entry.id)


def unique_ids(entries: Iterable[CatalogEntry]) -> list[CatalogEntry]:
    """The entries with ids made unique: a later entry whose id is taken gets its
    publisher's name added (``memory-acme``), then a number."""
    taken: set[str] = set()
    unique: list[CatalogEntry] = []
    for entry in entries:
        publisher = entry.name.rpartition("/")[0].rpartition(".")[2].lower()
        candidates = [entry.id, f"{entry.id}-{publisher}"]
        candidates += [f"{entry.id}-{n}" for n in range(2, len(taken) + 3)]
        new_id = next(c for c in candidates if c not in taken)
        taken.add(new_id)
        unique.append(entry if new_id == entry.id else replace(entry, id=new_id))
    return unique


def search(entries: Iterable[CatalogEntry], text: str) -> list[CatalogEntry]:
    """The entries matching every word of ``text`` in their id, title or description
    (case-insensitive), best matches first; all of them for an empty text."""
    words = text.lower().split()
    ranked: list[tuple[int, int, CatalogEntry]] = []
    for position, entry in enumerate(entries):
        ranks = [_rank(entry, word) for word in words]
        if None not in ranks:
            ranked.append((sum(rank for rank in ranks if rank is not None), position, entry))
    return [entry for _, _, entry in sorted(ranked, key=lambda item: item[:2])]


def entry(entries: Iterable[CatalogEntry], id: str) -> CatalogEntry:
    """The entry called ``id`` (case-insensitive); :class:`UnknownEntry` otherwise."""
    by_id = {candidate.id: candidate for candidate in entries}
    found = by_id.get(id.strip().lower())
    if found is None:
        raise UnknownEntry(id, difflib.get_close_matches(id.lower(), list(by_id), n=3))
    return found


def _rank(entry: CatalogEntry, word: str) -> int | None:
    title = entry.title.lower()
    if entry.id == word:
        return _EXACT_ID
    if entry.id.startswith(word):
        return _ID_START
    if title.startswith(word):
        return _TITLE_START
    if word in entry.id or word in title:
        return _ID_OR_TITLE
    if word in entry.description.lower():
        return _DESCRIPTION
    return None


def _or_list(ids: list[str]) -> str:
    """``a``, ``a or b``, ``a, b or c``."""
    return ids[0] if len(ids) == 1 else f"{', '.join(ids[:-1])} or {ids[-1]}"
