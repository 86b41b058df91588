"""MCP Tray's lines in a server's log: what happened to the server, in plain words.

The supervisor writes one of these at each turn of a server's life, between
the server's own stderr lines (app.core.supervise.stderr marks them), so
that a crash reads as a story:

    » Started (process 4242).
    Traceback (most recent call last): …
    » Exited with status 1.
    » Restarting in 0.3 s.
    …
    » Paused after 5 failed starts; trying again in 5 min.

Each is a sentence about the server whose log it is in, so it names no server.
"""

from __future__ import annotations

from collections.abc import Sequence

RUNNING = "Running."
TRYING_AGAIN = "Trying again."
KEPT_STOPPED = "Not started, because you stopped it. It stays stopped until you start it."
TRYING_OLD_TRANSPORT = (
    "No Streamable HTTP endpoint at that address; trying the older HTTP+SSE transport."
)


def started(pid: int | None) -> str:
    """``pid`` is None when the program could not be run at all (its exit tells why)."""
    return f"Started (process {pid})." if pid is not None else "Started."


def connecting(url: str) -> str:
    """A remote server's run begins."""
    return f"Connecting to {url}."


def starts_a_run(text: str) -> bool:
    """Whether ``text``, one of MCP Tray's lines, is :func:`started`'s or
    :func:`connecting`'s: a new run begins."""
    return (
        text == "Started."
        or (text.startswith("Started (process ") and text.endswith(")."))
        or (text.startswith("Connecting to ") and text.endswith("."))
    )


def ended(how: str) -> str:
    """``how``: ServerExited.how(), e.g. "exited with status 1"."""
    return _sentence(how)


def ended_by_hub(how: str) -> str:
    """A server that was hung or did not answer, ended by MCP Tray so it can start afresh."""
    return f"MCP Tray ended it; it {how}."


def failed(error: str) -> str:
    """Why a run failed when the exit does not tell: "Did not answer … within 120s."."""
    return _sentence(error)


def cannot_start(reason: str) -> str:
    return f"Cannot start: {_end(reason)}"


def restarting_in(seconds: float, *, remote: bool = False) -> str:
    """``remote``: a server reached over the network, connected to again."""
    return f"{'Connecting again' if remote else 'Restarting'} in {in_words(seconds)}."


def paused(failures: int, retry_in_s: float, *, cannot_start: bool) -> str:
    """Parked in crash-loop: why, and when the slow re-probe will try again."""
    when = f"trying again in {in_words(retry_in_s)}, or when you choose Try again"
    if cannot_start:
        return f"Paused until that is fixed; {when}."
    starts = "failed start" if failures == 1 else "failed starts"
    return f"Paused after {failures} {starts}; {when}."


def waiting_for_secrets(names: Sequence[str]) -> str:
    plural = "s" if len(names) > 1 else ""
    return f"Waiting for the secret{plural} {', '.join(names)}; it starts once set."


def needs_sign_in(why: str) -> str:
    """``why``: "needs you to sign in", "needs you to sign in again: its sign-in has expired"."""
    return f"It {why}; it connects once you have (Sign in… in the menu)."


def restarting(why: str) -> str:
    """A planned restart of a running server; ``why`` e.g. "as you asked"."""
    return f"Restarting {why}."


def trying_again_now(why: str) -> str:
    """A resting server (backoff, paused, waiting for a secret) tries again before its time."""
    return f"Trying again now {why}."


def stopped(*, by_user: bool) -> str:
    return "Stopped by you." if by_user else "Stopped by MCP Tray."


def in_words(seconds: float) -> str:
    """A wait as a person reads it: "0.3 s", "2 s", "45 s", "5 min", "1 h 30 min"."""
    if seconds < 10:
        tenths = round(seconds, 1)
        return f"{tenths:g} s" if tenths >= 0.1 else "a moment"
    if seconds < 90:
        return f"{round(seconds)} s"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def _sentence(text: str) -> str:
    return _end(text[:1].upper() + text[1:])


def _end(text: str) -> str:
    return text if text.endswith((".", "!", "?")) else f"{text}."
