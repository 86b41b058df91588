"""How a server's last run failed, as a value that words its own sentences.

The supervisor says what went wrong as a phrase about the server ("exited
with status 1", "needs the secret TOKEN: set it …", "stopped answering (…)").
A :class:`Failure` keeps that phrase beside the facts it came with (the exit
status, the server's last lines of output), and renders it for whoever
reads it: a sentence with the server's name for a refusal or a log line,
the bare text for ``mcp-tray status``. The tray words the same facts again
for a person (app.core.problems).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

LAST_OUTPUT = ". Last output: "  # between the phrase and the server's last line, in text()
_WITH_AN_EXIT_STATUS = ("exited with status", "was killed by")


@dataclass(frozen=True, kw_only=True)
class Failure:
    phrase: str  # what the server did or needs, after its name: "exited with status 1"
    exit_status: int | None = None  # when it ended: its status; negative: killed by that signal
    last_output: tuple[str, ...] = ()  # the last lines it wrote to stderr, oldest first
    missing_program: str | None = None  # the command it is started with, not on this computer

    @property
    def last_words(self) -> str:
        """The last line the server wrote, or ""."""
        return self.last_output[-1].strip() if self.last_output else ""

    def text(self) -> str:
        """The phrase, then the server's last line: "exited with status 1. Last output: boom".

        What ``mcp-tray status`` shows under LAST ERROR, and what the control
        socket's rows carry as ``last_error``.
        """
        said = self.last_words
        return f"{self.phrase}{LAST_OUTPUT}{said}" if said else self.phrase

    def sentence(self, server: str) -> str:
        """ "files exited with status 1." and, when it wrote any, " Last output: boom"."""
        said = self.last_words
        return f"{server} {self.phrase}." + (f" Last output: {said}" if said else "")

    def redacted(self, redact: Callable[[str], str]) -> Failure:
        """The same failure with secret values masked in its phrase and output."""
        return dataclasses.replace(
            self, phrase=redact(self.phrase), last_output=tuple(map(redact, self.last_output))
        )

    @classmethod
    def from_text(
        cls, text: str, *, last_exit: int | None = None, missing_program: str | None = None
    ) -> Failure:
        """The failure :meth:`text` wrote, as the control socket carries it.

        Only the last line of output travels; ``last_exit`` (the row's) is its
        exit status when the phrase tells of an exit; ``missing_program`` travels
        beside it (the row's field of that name).
        """
        phrase, _, said = text.partition(LAST_OUTPUT)
        exited = phrase.startswith(_WITH_AN_EXIT_STATUS)
        return cls(
            phrase=phrase,
            exit_status=last_exit if exited else None,
            last_output=(said,) if said else (),
            missing_program=missing_program,
        )
