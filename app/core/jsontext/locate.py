"""Where each key and value sits in a JSON text, for error messages.

``json.loads`` forgets positions, so after it has accepted a text we walk the
text once more and record, for every key path such as
``("mcpServers", "github", "args", 2)``, the 1-based line and column of the
value and, for object members, of the key token. The walk trusts the text to
be valid JSON (the caller parsed it first) and costs one pass plus a binary
search per recorded position.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from json import decoder

KeyPath = tuple[str | int, ...]
Position = tuple[int, int]  # (line, column), both 1-based

# json's own (C-accelerated) string scanner: handles every escape, linear time.
# typeshed does not declare it.
_scanstring: Callable[[str, int, bool], tuple[str, int]] = decoder.scanstring  # type: ignore[attr-defined]

_WHITESPACE = re.compile(r"[ \t\n\r]*")
# Everything json.loads accepts outside strings and containers, NaN included.
_SCALAR = re.compile(r"-?Infinity|NaN|true|false|null|-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


@dataclass(frozen=True)
class SourceMap:
    values: dict[KeyPath, Position]
    keys: dict[KeyPath, Position]
    # Keys written twice in one object: json.loads silently keeps the last.
    duplicates: list[KeyPath] = field(default_factory=list)


def locate(text: str) -> SourceMap:
    """Positions of every value and key in ``text``, which must be valid JSON."""
    walker = _Walker(text)
    walker.value(())
    to_position = _LineIndex(text).position
    return SourceMap(
        values={path: to_position(offset) for path, offset in walker.values.items()},
        keys={path: to_position(offset) for path, offset in walker.keys.items()},
        duplicates=walker.duplicates,
    )


def value_offsets(text: str) -> dict[KeyPath, int]:
    """Character offsets of every value in ``text`` (valid JSON), for edits in place."""
    walker = _Walker(text)
    walker.value(())
    return walker.values


def string_end(text: str, start: int) -> int:
    """The offset just past the JSON string token that starts at ``start``: the one
    string scanner of the core. Raises json.JSONDecodeError when it is not closed or
    holds an escape JSON does not have."""
    return _scanstring(text, start + 1, False)[1]  # strict=False: json.loads judges the rest


class _LineIndex:
    def __init__(self, text: str) -> None:
        self._starts = [0] + [match.end() for match in re.finditer("\n", text)]

    def position(self, offset: int) -> Position:
        line = bisect.bisect_right(self._starts, offset)
        return line, offset - self._starts[line - 1] + 1


class _Walker:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.values: dict[KeyPath, int] = {}
        self.keys: dict[KeyPath, int] = {}
        self.duplicates: list[KeyPath] = []

    def value(self, path: KeyPath) -> None:
        self._skip_whitespace()
        self.values[path] = self.pos
        char = self.text[self.pos]
        if char == "{":
            self._object(path)
        elif char == "[":
            self._array(path)
        elif char == '"':
            self.pos = string_end(self.text, self.pos)
        else:
            match = _SCALAR.match(self.text, self.pos)
            assert match is not None, "locate() needs text that json.loads accepted"
            self.pos = match.end()

    def _object(self, path: KeyPath) -> None:
        self.pos += 1  # {
        if self._next_is("}"):
            return
        seen: set[str] = set()  # per object: the same key in a sibling object is fine
        while True:
            self._skip_whitespace()
            key_offset = self.pos
            key, self.pos = _scanstring(self.text, self.pos + 1, False)
            child = (*path, key)
            if key in seen:
                self.duplicates.append(child)
            seen.add(key)
            self.keys[child] = key_offset
            self._skip_whitespace()
            self.pos += 1  # :
            self.value(child)
            if self._next_is("}"):
                return
            self.pos += 1  # ,

    def _array(self, path: KeyPath) -> None:
        self.pos += 1  # [
        if self._next_is("]"):
            return
        index = 0
        while True:
            self.value((*path, index))
            index += 1
            if self._next_is("]"):
                return
            self.pos += 1  # ,

    def _next_is(self, closer: str) -> bool:
        """Skip whitespace; consume and report ``closer`` if it comes next."""
        self._skip_whitespace()
        if self.text.startswith(closer, self.pos):
            self.pos += 1
            return True
        return False

    def _skip_whitespace(self) -> None:
        match = _WHITESPACE.match(self.text, self.pos)
        assert match is not None  # the pattern matches the empty string
        self.pos = match.end()
