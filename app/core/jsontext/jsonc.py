"""JSON with comments (VS Code, Zed), read and edited in place.

Reading: comments and trailing commas are blanked out with spaces, so the
text keeps its length and every offset in the blanked text is the offset
in the original. ``json`` then parses it, and :func:`value_spans` finds
where each value lies.

Editing replaces or inserts exactly the characters of one member,
so comments, key order and the formatting of everything else stay as the
user wrote them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from app.core.jsontext.locate import KeyPath, string_end, value_offsets

_DECODER = json.JSONDecoder()
# Far deeper than any config, far shallower than Python's recursion limit: whatever
# reads or writes the document later (json, pydantic, the key locator) has room.
MAX_DEPTH = 100


class JsoncError(ValueError):
    """The text is not JSON (with comments), or not JSON MCP Tray can read; the message
    starts with where ("line 3, column 7: …") when it is at one place (``at``)."""

    def __init__(self, message: str, *, at: str = "") -> None:
        super().__init__(f"{at}: {message}" if at else message)
        self.at = at


@dataclass(frozen=True)
class Document:
    text: str
    blank: str  # the same text with comments and trailing commas as spaces
    data: Any

    @classmethod
    def parse(cls, text: str) -> Document:
        blank = _blank_out(text)
        try:
            data = json.loads(blank) if blank.strip() else {}
        except json.JSONDecodeError as error:
            at = f"line {error.lineno}, column {error.colno}"
            raise JsoncError(error.msg, at=at) from None
        except ValueError:  # Python refuses integers of more than 4300 digits
            raise JsoncError("a number in it has too many digits") from None
        return cls(text, blank, data)

    def span(self, path: KeyPath) -> tuple[int, int]:
        """Start and end offsets of the value at ``path``."""
        start = value_offsets(self.blank)[path]
        _, end = _DECODER.raw_decode(self.blank, start)
        return start, end

    def replace(self, path: KeyPath, value: Any) -> str:
        """The text with the value at ``path`` replaced."""
        start, end = self.span(path)
        indent = _indent_at(self.text, start)
        return self.text[:start] + _dump(value, indent) + self.text[end:]

    def insert(self, path: KeyPath, key: str, value: Any) -> str:
        """The text with ``key: value`` added as the last member of the object at ``path``."""
        start, end = self.span(path)
        closing = end - 1  # the "}"
        inner = self.blank[start + 1 : closing]
        member_indent = _member_indent(self.text, start, inner)
        dumped = _dump(value, member_indent)
        member = f"{json.dumps(key)}: {dumped}"
        if not inner.strip():  # an empty object
            close_indent = _indent_at(self.text, start)
            return (
                f"{self.text[: start + 1]}\n{member_indent}{member}\n{close_indent}"
                f"{self.text[closing:]}"
            )
        last = start + 1 + len(inner.rstrip())  # just after the last member's value
        comma = "" if self.blank[last - 1] == "," else ","
        return f"{self.text[:last]}{comma}\n{member_indent}{member}{self.text[last:]}"


def _blank_out(text: str) -> str:
    """Comments and trailing commas become spaces (newlines kept, so lines still count)."""
    out = list(text)
    index, length = 0, len(text)
    last_significant = -1  # the offset of the last character that is not blank
    depth = 0
    while index < length:
        char = text[index]
        if char == '"':
            end = _string_end(text, index)
            last_significant = end - 1
            index = end
        elif text.startswith("//", index):
            end = text.find("\n", index)
            end = length if end < 0 else end
            _blank(out, index, end)
            index = end
        elif text.startswith("/*", index):
            end = text.find("*/", index + 2)
            if end < 0:
                raise JsoncError("a /* comment is not closed", at=_where(text, index))
            _blank(out, index, end + 2)
            index = end + 2
        elif char in "}]":
            if last_significant >= 0 and out[last_significant] == ",":
                out[last_significant] = " "  # a trailing comma
            last_significant = index
            depth -= 1
            index += 1
        elif char in "{[":
            depth += 1
            if depth > MAX_DEPTH:
                raise JsoncError(f"it is nested more than {MAX_DEPTH} levels deep")
            last_significant = index
            index += 1
        else:
            if not char.isspace():
                last_significant = index
            index += 1
    return "".join(out)


def _blank(out: list[str], start: int, end: int) -> None:
    for position in range(start, end):
        if out[position] != "\n":
            out[position] = " "


def _string_end(text: str, start: int) -> int:
    try:
        return string_end(text, start)
    except json.JSONDecodeError as error:
        if error.msg.startswith("Unterminated string"):
            raise JsoncError("a string is not closed", at=_where(text, start)) from None
        raise JsoncError(error.msg, at=_where(text, error.pos)) from None


def _where(text: str, offset: int) -> str:
    line = text.count("\n", 0, offset) + 1
    column = offset - text.rfind("\n", 0, offset)  # rfind gives -1 on the first line
    return f"line {line}, column {column}"


def _indent_at(text: str, offset: int) -> str:
    line_start = text.rfind("\n", 0, offset) + 1
    line = text[line_start:offset]
    return line[: len(line) - len(line.lstrip())]


def _member_indent(text: str, start: int, inner: str) -> str:
    """The indentation of the object's members: its first member's, or one step deeper."""
    match = re.search(r"\n([ \t]*)\S", inner)
    if match:
        return match.group(1)
    return _indent_at(text, start) + "  "


def _dump(value: Any, indent: str) -> str:
    """``value`` as JSON, laid out to sit at ``indent``."""
    text = json.dumps(value, indent=2, ensure_ascii=False)
    return text.replace("\n", "\n" + indent)
