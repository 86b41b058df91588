"""One server's status, as the hub reports it: a row of ``mcp-tray status``.

The supervisor makes it, the hub lists it, the tray and the command line read
it. Over the control socket it travels as a JSON object (:meth:`to_wire`,
:meth:`from_wire`) whose fields ``status --json`` prints as they are, so the
wire form is a promise to scripts: fields are added, never renamed. Its
failure travels as the text ``last_error`` has always held.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from app.core.supervise.failure import Failure
from app.core.supervise.states import State


@dataclass(frozen=True, kw_only=True)
class ServerStatus:
    name: str
    state: State
    pid: int | None = None
    restarts: int = 0
    uptime_s: float | None = None
    last_exit: int | None = None  # exit status; negative: killed by that signal number
    failure: Failure | None = None  # how its last run failed; None once it runs
    stopped_by_user: bool = False  # it stays stopped, even across MCP Tray restarts
    url: str | None = None  # a remote server's address (shown_address): it connects, not starts
    signed_in: bool = False  # a remote server's connection carries the user's sign-in
    held_tools: tuple[str, ...] = ()  # changed or new, kept from the apps until reviewed

    def to_wire(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "state": self.state.value,
            "pid": self.pid,
            "restarts": self.restarts,
            "uptime_s": None if self.uptime_s is None else round(self.uptime_s, 1),
            "last_exit": self.last_exit,
            "last_error": None if self.failure is None else self.failure.text(),
            "stopped_by_user": self.stopped_by_user,
            # needs-program: the command it is started with ("npx"), for words naming it
            "missing_program": self.failure.missing_program if self.failure else None,
            "url": self.url,
            "signed_in": self.signed_in,
            "held_tools": list(self.held_tools),
        }

    @classmethod
    def from_wire(cls, row: Mapping[str, Any]) -> ServerStatus:
        """The row :meth:`to_wire` made; fields an older hub does not send take their default.

        ValueError for a state this version does not know (a newer hub's).
        """
        last_exit, last_error = row.get("last_exit"), row.get("last_error")
        missing = row.get("missing_program")
        failure = (
            Failure.from_text(last_error, last_exit=last_exit, missing_program=missing)
            if last_error
            else None
        )
        return cls(
            name=str(row["name"]),
            state=State(row["state"]),
            pid=row.get("pid"),
            restarts=int(row.get("restarts") or 0),
            uptime_s=row.get("uptime_s"),
            last_exit=last_exit,
            failure=failure,
            stopped_by_user=bool(row.get("stopped_by_user")),
            url=row.get("url"),
            signed_in=bool(row.get("signed_in")),
            held_tools=tuple(row.get("held_tools") or ()),
        )

    @property
    def remote(self) -> bool:
        """Whether it is reached over the network."""
        return self.url is not None


def shown_address(url: str | None) -> str | None:
    """A remote server's address as status shows it: without a user name, password or
    query, where some services put their key ("https://mcp.example.com/mcp?…")."""
    if url is None:
        return None
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "…" if parts.query else "", ""))
