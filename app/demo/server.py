"""The demo server's tools, and the notes file behind them.

Tools: ``current_time``, ``add_note``, ``list_notes``, ``delete_note``;
resource: ``notes://all``. Notes live in ``<data dir>/demo-notes.json``
(``MCP_TRAY_HOME`` moves it, as it moves every MCP Tray file)::

    {"version": 1, "next_id": 4, "notes": [{"id": 3, "text": "...", "created": "..."}]}

``next_id`` never goes down, so a deleted note's id is never handed to a new
note: a model that remembers "note 3" cannot delete the wrong one later.

Failures the user or the model can act on (unknown timezone, unknown note id,
a damaged or unwritable notes file) come back as tool errors that say what to
do; the server itself keeps running.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field, ValidationError

from app import __version__
from app.core.atomic import write_atomically

logger = logging.getLogger(__name__)

NAME = "MCP Tray demo"
NOTES_FILE_NAME = "demo-notes.json"
INSTRUCTIONS = """\
This is the demo server bundled with MCP Tray. It proves that MCP Tray is running
the user's MCP servers, and it is mildly useful on its own:
- current_time tells the current date and time, locally or in any IANA timezone
  (for example "Europe/Paris" or "America/New_York").
- add_note, list_notes and delete_note keep short notes that persist between
  conversations, in MCP Tray's data folder on this computer. Add a note when the
  user asks you to remember something; list the notes when they ask what you
  noted; delete a note by the id that list_notes shows.
"""


class Note(BaseModel):
    """One note, as stored and as returned to the model."""

    id: int = Field(description="Stable id; pass it to delete_note.")
    text: str
    created: datetime = Field(description="When the note was added (UTC).")


class CurrentTime(BaseModel):
    """The answer of ``current_time``."""

    timezone: str = Field(description='The IANA name asked for, or "local".')
    iso8601: str = Field(description="The time with its UTC offset, to the second.")
    readable: str = Field(description='For people, e.g. "Tuesday 14 January 2025, 15:04 CET".')


class _NotesFile(BaseModel):
    version: Literal[1] = 1
    next_id: int = 1
    notes: list[Note] = Field(default_factory=list)


class NotesFileError(ResourceError):
    """The notes file cannot be read or written.

    A ``ResourceError`` because the SDK treats that as an anticipated failure in
    tools and resources alike: the model reads this message (which names the
    file and what to do) instead of a bare "Error executing tool".
    """


class NoteStore:
    """Notes in one JSON file, read on every call and replaced atomically on change.

    Reading on every call keeps the file the single source of truth, so a second
    server process (``"shared": false``) or a hand edit is seen at once. The lock
    covers read-modify-write within this process: the SDK runs sync tools on
    worker threads. Two processes adding at the same instant can still lose one
    note; for a demo that is an accepted limit, not worth a cross-process lock.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def notes(self) -> list[Note]:
        with self._lock:
            return self._load().notes

    def add(self, text: str) -> Note:
        with self._lock:
            data = self._load()
            created = datetime.now(UTC).replace(microsecond=0)
            note = Note(id=data.next_id, text=text, created=created)
            data.notes.append(note)
            data.next_id += 1
            self._save(data)
            return note

    def delete(self, note_id: int) -> Note | None:
        """The removed note, or ``None`` when no note has that id."""
        with self._lock:
            data = self._load()
            found = next((note for note in data.notes if note.id == note_id), None)
            if found is not None:
                data.notes.remove(found)
                self._save(data)
            return found

    def _load(self) -> _NotesFile:
        try:
            raw = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return _NotesFile()  # first use: nothing noted yet
        except OSError as exc:
            raise NotesFileError(
                f"Cannot read the notes file {self.path}: {_reason(exc)}."
            ) from exc
        try:
            return _NotesFile.model_validate_json(raw)
        except ValidationError as exc:
            # Never overwrite a damaged file: it may hold the only copy of the notes.
            raise NotesFileError(
                f"The notes file {self.path} is damaged ({_first_problem(exc)}). "
                "Fix it by hand, or move it away to start with no notes."
            ) from exc

    def _save(self, data: _NotesFile) -> None:
        try:
            write_atomically(self.path, (data.model_dump_json(indent=2) + "\n").encode())
        except OSError as exc:
            raise NotesFileError(
                f"Cannot save the notes file {self.path}: {_reason(exc)}."
            ) from exc


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)  # strerror is None for errors raised without an errno


def _first_problem(exc: ValidationError) -> str:
    error = exc.errors(include_url=False)[0]
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {error['msg']}" if where else error["msg"]


def current_time(timezone: str | None = None) -> CurrentTime:
    """The current date and time, in the given IANA timezone or else in local time."""
    now = datetime.now(_zone(timezone)) if timezone else datetime.now().astimezone()
    return CurrentTime(
        timezone=timezone or "local",
        iso8601=now.isoformat(timespec="seconds"),
        readable=now.strftime("%A %d %B %Y, %H:%M %Z"),
    )


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    # ValueError: ZoneInfo refuses absolute paths and names like "../x" outright.
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ToolError(
            f"Unknown timezone {name!r}. Use an IANA name such as 'Europe/Paris', "
            "'America/New_York' or 'UTC', or leave it out for local time."
        ) from exc


def build_server(store: NoteStore) -> MCPServer[Any]:
    """The demo server, with its tools bound to ``store``."""
    server: MCPServer[Any] = MCPServer(NAME, instructions=INSTRUCTIONS, version=__version__)
    read_only = ToolAnnotations(read_only_hint=True)
    server.tool(annotations=read_only)(current_time)

    @server.tool(annotations=ToolAnnotations(destructive_hint=False))
    def add_note(text: str) -> Note:
        """Save a short note that persists between conversations; returns it with its id."""
        if not text.strip():
            raise ToolError("A note needs some text.")
        return store.add(text.strip())

    @server.tool(annotations=read_only)
    def list_notes() -> list[Note]:
        """Every saved note, oldest first."""
        return store.notes()

    @server.tool(annotations=ToolAnnotations(destructive_hint=True))
    def delete_note(note_id: int) -> Note:
        """Delete the note with this id (as shown by list_notes); returns the deleted note."""
        deleted = store.delete(note_id)
        if deleted is None:
            raise ToolError(f"There is no note with id {note_id}. Call list_notes to see the ids.")
        return deleted

    @server.resource("notes://all", name="notes", mime_type="application/json")
    def all_notes() -> str:
        """Every saved note, as a JSON array."""
        return json.dumps([note.model_dump(mode="json") for note in store.notes()], indent=2)

    return server
