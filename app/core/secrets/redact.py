"""Keeping secret values out of everything MCP Tray writes or shows.

One :class:`Redactor` per hub learns every secret value the hub hands to a
server, and every plaintext value in the config whose name looks secret, and
replaces them with ``***`` in captured stderr (before it is stored), in the
hub's own log records, and in error messages.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

MASK = "***"
# Shorter values would turn ordinary words of every log line into "***"; the
# CLI warns when such a secret is set.
MIN_REDACTED_LENGTH = 4


class Redactor:
    def __init__(self) -> None:
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None

    def learn(self, values: Iterable[str]) -> None:
        fresh = {v for v in values if len(v) >= MIN_REDACTED_LENGTH} - self._values
        if fresh:
            self._values |= fresh
            # Longest first, so that a value containing another is masked whole.
            ordered = sorted(self._values, key=len, reverse=True)
            self._pattern = re.compile("|".join(map(re.escape, ordered)))

    def __call__(self, text: str) -> str:
        if self._pattern is None:
            return text
        return self._pattern.sub(MASK, text)


class RedactingFilter(logging.Filter):
    """A logging filter that masks secret values in each record's final message."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self._redact = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = self._redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and record.exc_text is None and record.exc_info[1] is not None:
            # Tracebacks quote exception messages, which may carry a value too.
            record.exc_text = self._redact(logging.Formatter().formatException(record.exc_info))
        return True
