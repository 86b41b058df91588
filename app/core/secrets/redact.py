"""Keeping secret values out of everything MCP Tray writes or shows.

One :class:`Redactor` per hub learns every secret value the hub hands to a
server, and every plaintext value in the config whose name looks secret, and
replaces them with ``***`` in captured stderr (before it is stored), in the
hub's own log records, and in error messages.

Servers print secrets in more ways than one, so each value is masked in the
forms a program plausibly writes it (:func:`forms_of`):

- as it is, and each line of a value of several lines (a PEM key printed to
  stderr reaches the log one line at a time);
- JSON-escaped (``json.dumps``, ``JSON.stringify``; also with ``\\/``, which
  some encoders write for ``/``);
- Python ``repr``/``ascii``-escaped, with either quote escaped (which also
  covers JavaScript's ``console.log`` of an object);
- URL-encoded (a token in a query string or a form body).

Not covered: base64 and other re-encodings of a value together with other
text (an HTTP Basic header), whose output depends on what precedes the value.

Masking only works for values that cannot turn up by chance: hiding a short
value or a common word would garble ordinary text and, worse, give the value
away ("is ***" where every other log says "is running"). Such values are
refused as secrets (:func:`refusal`, :class:`UnsafeSecret`) and never learned.
"""

from __future__ import annotations

import json
import logging
import re
import urllib.parse
from collections.abc import Iterable

from app.core.errors import UserError

MASK = "***"
# Below this a value turns up in ordinary text by chance (words, process ids,
# times); GitLab asks the same minimum of the CI variables it masks.
MIN_SECRET_LENGTH = 8

# Words MCP Tray itself writes in hub.log and in a server's log (its log
# formats, lifecycle lines and state names; tests/core/test_secrets.py keeps
# this complete), and words most programs print, of MIN_SECRET_LENGTH letters
# or more (shorter ones are refused anyway). Masking any of them, or a piece
# of one, would show where the secret is.
LOG_WORDS = frozenset(
    {
        "accepted",
        "answered",
        "applying",
        "available",
        "background",
        "cancelled",
        "complete",
        "completed",
        "computer",
        "connected",
        "connecting",
        "connects",
        "connection",
        "disabled",
        "disconnected",
        "disconnecting",
        "endpoint",
        "everything",
        "exception",
        "exchange",
        "finished",
        "function",
        "happened",
        "ignoring",
        "initialize",
        "initialized",
        "leftover",
        "listening",
        "localhost",
        "messages",
        "notification",
        "notifications",
        "possible",
        "presented",
        "presenting",
        "processing",
        "progress",
        "protocol",
        "quitting",
        "received",
        "receiving",
        "reconnect",
        "reconnecting",
        "registration",
        "registry",
        "replaying",
        "requests",
        "resources",
        "response",
        "restarted",
        "restarting",
        "restarts",
        "sentence",
        "serverexited",
        "shutdown",
        "skipping",
        "something",
        "starting",
        "stopping",
        "streamable",
        "subscribe",
        "subscribing",
        "subscription",
        "successful",
        "successfully",
        "supervise",
        "supervising",
        "supervisor",
        "traceback",
        "translate",
        "transport",
        "unchecked",
        "undefined",
        "unreadable",
        "verbatim",
        "watching",
        "withdraw",
    }
)
# Values people type when they have no real secret at hand.
PLACEHOLDERS = frozenset(
    {
        "password",
        "passw0rd",
        "changeme",
        "changeit",
        "letmein1",
        "iloveyou",
        "sunshine",
        "football",
        "baseball",
        "welcome1",
        "trustno1",
        "qwertyui",
        "qwerty123",
        "abcdefgh",
        "abcd1234",
        "12345678",
        "123456789",
        "1234567890",
        "87654321",
        "password1",
        "password123",
        "placeholder",
        "secretkey",
        "yoursecret",
        "your-secret",
        "your_secret",
        "yourtoken",
        "your-token",
        "your_token",
        "your-api-key",
        "your_api_key",
        "yourapikey",
        "api-key-here",
        "apikeyhere",
        "token-here",
        "tokenhere",
        "replaceme",
        "replace-me",
        "replace_me",
        "notasecret",
    }
)
_PEM_ARMOUR = re.compile(r"-----(BEGIN|END) [A-Z0-9 ]+-----")


class UnsafeSecret(UserError):
    """A value that cannot be kept as a secret; the message says why, in words."""


def refusal(value: str) -> str | None:
    """Why ``value`` cannot be kept as a secret, as sentences for the user; None if it can."""
    how = (
        "MCP Tray hides a secret in its logs by replacing it with *** wherever it appears, "
        "so a value that also turns up in ordinary text would garble the logs and give "
        "itself away."
    )
    if len(value) < MIN_SECRET_LENGTH:
        return (
            f"It is too short: a secret needs at least {MIN_SECRET_LENGTH} characters. {how} "
            "Use the whole key or token the service gave you."
        )
    if _too_common(value):
        return (
            "It is a common word or a stand-in value, not a real secret. "
            f"{how} Use the key or token the service gave you."
        )
    return None


def check(value: str) -> None:
    """Raise :class:`UnsafeSecret` when ``value`` cannot be kept as a secret."""
    reason = refusal(value)
    if reason is not None:
        raise UnsafeSecret(reason)


def _too_common(value: str) -> bool:
    lowered = value.lower()
    if lowered in PLACEHOLDERS or lowered in LOG_WORDS:
        return True
    if len(set(lowered)) <= 2:  # "xxxxxxxx", "********", "12121212"
        return True
    # A piece of a word MCP Tray writes ("supervis") would hit that word too.
    return lowered.isalpha() and any(lowered in word for word in LOG_WORDS)


def forms_of(value: str) -> set[str]:
    """The texts that would give ``value`` away in a log: see the module's docstring."""
    pieces = {value}
    lines = [line.strip() for line in value.splitlines()]
    # PEM armour is the same in every key: it gives nothing away, and left
    # readable it shows what was hidden between the lines.
    pieces |= {line for line in lines if refusal(line) is None and not _PEM_ARMOUR.fullmatch(line)}
    found = set()
    for piece in pieces:
        found |= _escaped(piece)
    return {form for form in found if form}


def _escaped(text: str) -> set[str]:
    as_json = json.dumps(text)[1:-1]
    # repr('"' + text) quotes with ' and escapes each ' in text; Python quotes
    # with " (and escapes no ') when text holds a ' but no ".
    single_quoted = repr('"' + text)[2:-1]
    ascii_quoted = ascii('"' + text)[2:-1]
    return {
        text,
        as_json,
        as_json.replace("/", "\\/"),
        json.dumps(text, ensure_ascii=False)[1:-1],
        single_quoted,
        single_quoted.replace("\\'", "'"),
        ascii_quoted,
        ascii_quoted.replace("\\'", "'"),
        urllib.parse.quote(text, safe=""),
        urllib.parse.quote(text),  # "/" kept, as in a path
        urllib.parse.quote_plus(text),
    }


class Redactor:
    def __init__(self) -> None:
        self._values: set[str] = set()
        self._forms: set[str] = set()
        self._pattern: re.Pattern[str] | None = None

    def learn(self, values: Iterable[str]) -> None:
        """Mask ``values`` from now on; a value :func:`refusal` refuses is left alone,
        because masking it would give it away."""
        fresh = {v for v in values if refusal(v) is None} - self._values
        if not fresh:
            return
        self._values |= fresh
        for value in fresh:
            self._forms |= forms_of(value)
        # Longest first, so that a value containing another is masked whole.
        ordered = sorted(self._forms, key=len, reverse=True)
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
