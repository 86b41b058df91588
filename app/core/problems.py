"""A server's last failure as a person reads it: what happened, then what to do.

The supervisor words its failures (app.core.supervise.failure) for the log
and the command line ("the command npx does not exist; fix \"command\"",
"exited with status 1", "set it … with `mcp-tray secret set …`"). The tray shows the
same facts as one sentence about what happened and one about what to do,
never a command line, an exit status or a process id. Those stay in the
details view, the log and ``mcp-tray status``. Qt-free.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from app.core.overview import signed_out
from app.core.supervise.failure import Failure
from app.core.supervise.programs import MissingProgram
from app.core.supervise.states import State
from app.core.supervise.status import ServerStatus

MISTAKE = "The config file has a mistake: "
PAUSED = "MCP Tray paused it and tries again every few minutes."  # a server in crash-loop


@dataclass(frozen=True)
class Problem:
    what: str  # one sentence: what happened
    todo: str  # one sentence: what the user can do about it
    said: str = ""  # the last line the server itself wrote, when there is one

    def sentences(self) -> str:
        return with_last_words(f"{self.what} {self.todo}".strip(), self.said)


def with_last_words(text: str, said: str) -> str:
    """``text``, then the last line the server wrote, when there is one."""
    return f"{text}\nIt last said: {said}" if said else text


def problem(row: ServerStatus, *, secrets: Sequence[str] = ()) -> Problem | None:
    """Why ``row`` is not running as it should, or None when nothing is wrong."""
    if row.state is State.NEEDS_SECRET:
        names = " and ".join(secrets) if secrets else "a secret"
        return Problem(
            f"It needs {names} before it can start.",
            "Choose Set secret… and paste it; it is kept in your system's keyring.",
        )
    if row.state is State.NEEDS_PROGRAM:
        return needs_program(row.failure)
    if row.state is State.NEEDS_SIGN_IN:
        return needs_sign_in(row)
    if row.state is State.DISABLED:
        return Problem("It is turned off in the config file.", 'Remove "disabled" to use it.')
    if row.failure is None or row.state in (State.RUNNING, State.STOPPING):
        return None
    return Problem(what_happened(row.failure), _todo(row), row.failure.last_words)


def listed(names: Sequence[str]) -> str:
    """Names as a sentence lists them: "a", "a and b", "a, b and c" (each once)."""
    names = list(dict.fromkeys(names))  # an app with two config files is named once
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def new_or_changed(count: int) -> str:
    """Tools held for review, counted: "a new or changed tool", "2 new or changed tools"."""
    return "a new or changed tool" if count == 1 else f"{count} new or changed tools"


def needs_sign_in(row: ServerStatus) -> Problem:
    """A remote server without a sign-in: never signed in, signed out, or expired."""
    if signed_out(row):
        return Problem("You signed out of it.", "Choose Sign in… to use its tools again.")
    expired = row.failure is not None and "expired" in row.failure.phrase
    return Problem(
        "Its sign-in has expired." if expired else "It needs you to sign in to use its tools.",
        "Sign in… opens its sign-in page in your browser.",
    )


def needs_program(failure: Failure | None) -> Problem:
    """A program the server is started with is not on this computer: which, and where
    to get it (app.core.supervise.programs)."""
    if failure is None or failure.missing_program is None:
        return Problem("A program it needs is not installed.", "Install it, then choose Retry.")
    missing = MissingProgram(failure.missing_program)
    return Problem(
        f"It needs {missing.what()}, which is not installed.",
        f"{missing.get_it()}, then choose Retry.",
    )


def _todo(row: ServerStatus) -> str:
    state = row.state
    if state is State.CRASH_LOOP:
        return f"{PAUSED} Fix the cause, then choose Try again."
    if state is State.BACKOFF:
        return f"MCP Tray will {'try again' if row.remote else 'restart it'} in a moment."
    if state is State.STOPPED:
        return "Choose Start to try again."
    return ""


# The supervisor's own phrasings (app/core/supervise), most specific first.
_PHRASES: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    # A remote server's (app.core.supervise.remote)
    (
        re.compile(r"refused the key in its headers"),
        lambda m: "It refused the key MCP Tray sent it; check the key in its headers.",
    ),
    (
        re.compile(r"its certificate is not trusted"),
        lambda m: "Its certificate is not trusted, so MCP Tray did not connect to it.",
    ),
    (
        re.compile(r"no secure connection could be made"),
        lambda m: (
            "A secure connection to it failed; check whether its address starts with https or http."
        ),
    ),
    (
        re.compile(r"has no MCP server at that address"),
        lambda m: "There is no MCP server at its address; check the address.",
    ),
    (
        re.compile(r"answered with a web page"),
        lambda m: "Its address leads to a web page, not an MCP server; check the address.",
    ),
    (
        re.compile(r"could not be reached"),
        lambda m: (
            "Nothing answers at its address: the server may be down, the address "
            "wrong, or this computer offline."
        ),
    ),
    (re.compile(r"lost its connection"), lambda m: "Its connection was lost."),
    (re.compile(r"refused to connect \(HTTP"), lambda m: "It refused the connection."),
    (
        re.compile(r"the command (?P<cmd>.+) does not exist"),
        lambda m: (
            f"The program {_program(m['cmd'])} is not installed on this computer, "
            "or MCP Tray cannot find it."
        ),
    ),
    (
        re.compile(r"the command (?P<cmd>.+) is not executable"),
        lambda m: f"The file {_program(m['cmd'])} is not a program this computer can run.",
    ),
    (
        re.compile(r"its working directory (?P<dir>.+) does not exist"),
        lambda m: f"Its folder {m['dir']} does not exist.",
    ),
    (
        re.compile(r"exited with status (?P<code>-?\d+)"),
        lambda m: "It quit by itself." if m["code"] == "0" else "It stopped with an error.",
    ),
    (re.compile(r"was killed by"), lambda m: "It was ended by the system."),
    (
        re.compile(
            r"did not answer the MCP (initialize|server/discover) request within (?P<s>[\d.]+)s"
        ),
        lambda m: f"It started but did not answer MCP Tray within {m['s']} seconds.",
    ),
    (
        re.compile(r"refused the MCP (initialize|server/discover) request"),
        lambda m: "It started but refused to talk to MCP Tray.",
    ),
    (
        re.compile(r"closed its input or output"),
        lambda m: "It closed its connection to MCP Tray and quit.",
    ),
    (re.compile(r"stopped answering"), lambda m: "It stopped responding."),
    (
        re.compile(r"stopped responding \(requests waited (?P<s>\d+)s"),
        lambda m: f"It stopped responding: apps waited {m['s']} seconds without a word from it.",
    ),
    (
        re.compile(r"cannot read its secrets"),
        lambda m: "MCP Tray could not read its secrets from your system's keyring.",
    ),
    (
        re.compile(r"environment variable\(s\) (?P<names>.+?), not set for MCP Tray"),
        lambda m: (
            f"It uses the setting {m['names']} from your environment, which MCP Tray does not have."
        ),
    ),
    (
        re.compile(r"MCP Tray stopped supervising it after an internal error"),
        lambda m: "MCP Tray ran into a problem of its own while looking after it.",
    ),
    (re.compile(r"could not be started"), lambda m: "It could not be started."),
]


def what_happened(failure: Failure) -> str:
    """The supervisor's phrase ("exited with status 3", "the command npx does not
    exist; …") as one sentence a person reads ("It stopped with an error.")."""
    error = failure.phrase.strip().rstrip(".")
    for pattern, sentence in _PHRASES:
        match = pattern.search(error)
        if match:
            return sentence(match)
    return plain(error)


def _program(command: str) -> str:
    """A program's name, not its path: "npx", not "/usr/local/bin/npx"."""
    return f"“{command.rstrip('/').rsplit('/', 1)[-1]}”"


def plain(error: str) -> str:
    """An error nobody worded for the tray: sentences, with any command line left out."""
    text = re.sub(r"\s*(?:;|,)?\s*(?:or )?(?:with|run|see) `[^`]*`", "", error)
    text = re.sub(r"`[^`]*`", "", text).strip(" ;,.")
    return f"{text[:1].upper()}{text[1:]}." if text else "Something went wrong."


def secret_progress(
    row: ServerStatus | None, server: str, *, still_needed: Sequence[str] = ()
) -> tuple[str, bool]:
    """What the secret dialog says after Save, as ``server`` moves on; True once the
    story is over (running, or why not)."""
    if row is None:
        return f"Saved. {server} is no longer in the config.", True
    if row.state is State.RUNNING:
        return f"Saved. {server} is running.", True
    if row.state is State.NEEDS_SECRET:
        names = " and ".join(still_needed) or "another secret"
        return f"Saved. {server} still needs {names}.", True
    if row.state in (State.STARTING, State.BACKOFF):
        return f"Saved. {server} is starting…", False
    if row.state is State.STOPPED and row.stopped_by_user:
        return f"Saved. {server} will use it when you start it.", True
    found = problem(row)
    reason = found.what if found else "it is not running."
    return f"Saved, but {server} did not start: {reason[:1].lower()}{reason[1:]}", True


_WHERE = re.compile(r"^(?P<file>.+?):(?P<line>\d+)(?::(?P<column>\d+))?: (?P<rest>.*)$", re.S)


def config_mistake(first_error: str) -> tuple[str, str]:
    """ "/home/me/.config/mcp-tray/config.json:3:5: mcpServers.x: …" as a person reads it:
    where ("config.json, line 3, column 5", or "" when the error names no place) and what."""
    match = _WHERE.match(first_error)
    if match is None:
        return "", first_error
    where = f"{Path(match['file']).name}, line {match['line']}"
    if match["column"]:
        where += f", column {match['column']}"
    return where, match["rest"]


def config_error_line(first_error: str) -> str:
    """The config's first problem in one line: "The config file has a mistake: where: what"."""
    where, what = config_mistake(first_error)
    return f"{MISTAKE}{where}: {what}" if where else f"{MISTAKE}{what}"
