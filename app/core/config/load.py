"""Reading ``config.json`` into a :class:`Config`, or saying exactly what is wrong.

Errors: :class:`ConfigError` (a UserError, app.core.errors): the file cannot
be used; ``.issues`` lists every problem (a ConfigIssue each: file, line,
column, key path, message).

Every problem the user can fix is a :class:`ConfigError`, never a bare
``OSError``, ``JSONDecodeError`` or pydantic ``ValidationError``: the hub
shows these messages verbatim and keeps the last good config meanwhile.
Schema problems are reported all at once, sorted by position, each pointing
at the value (or, for an unknown key, at the key) in the text. A message never
quotes a string value, which may be a token: it says "a string" and points at it.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from app.core.config.schema import Config, json_keys_at
from app.core.errors import UserError
from app.core.jsontext.locate import KeyPath, SourceMap, locate

_MISSING_FILE_HINT = (
    "the file does not exist. Run `mcp-tray` once to write a default config here, "
    "or create it yourself; `mcp-tray config path` shows where MCP Tray looks"
)


@dataclass(frozen=True)
class ConfigIssue:
    """One problem, renderable as ``file:line:column: key.path: message``."""

    path: Path
    line: int | None
    column: int | None
    key_path: str
    message: str

    def __str__(self) -> str:
        where = str(self.path)
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        parts = [where, self.key_path, self.message]
        return ": ".join(part for part in parts if part)


class ConfigError(UserError):
    """The config file at ``path`` cannot be used, for the reasons in ``issues``: one line
    each, "file:line:column: key: what is wrong"."""

    def __init__(self, path: Path, issues: list[ConfigIssue]) -> None:
        super().__init__(path, issues)
        self.path = path
        self.issues = issues

    def __str__(self) -> str:
        return "\n".join(str(issue) for issue in self.issues)


def load_config(path: Path) -> Config:
    """Read and validate the config file at ``path``."""
    return parse_config(_read_text(path), path=path)


def parse_config(text: str, *, path: Path) -> Config:
    """Validate ``text``; ``path`` is only used to label issues."""
    data = _parse_json(text, path)
    try:
        source = locate(text)
    except RecursionError:
        raise _single(path, None, None, "the JSON is nested too deeply") from None
    except ValueError:  # Python refuses integers of more than 4300 digits
        raise _single(path, None, None, "a number in it has too many digits") from None
    if not isinstance(data, dict):
        line, column = source.values[()]
        message = f'expected an object like {{"mcpServers": {{...}}}}, found {_found(data)}'
        raise _single(path, line, column, message)
    issues = _duplicate_issues(path, source)
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        issues += [_schema_issue(path, error, data, source) for error in errors]
    if issues:
        issues.sort(key=lambda issue: (issue.line or 0, issue.column or 0))
        raise ConfigError(path, issues)
    return config


def _single(path: Path, line: int | None, column: int | None, message: str) -> ConfigError:
    return ConfigError(path, [ConfigIssue(path, line, column, "", message)])


# --- reading -----------------------------------------------------------------


def _read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise _single(path, None, None, _MISSING_FILE_HINT) from None
    except IsADirectoryError:
        raise _single(path, None, None, "this is a directory, not a config file") from None
    except OSError as exc:
        raise _single(path, None, None, f"cannot read the file: {exc.strerror}") from None
    try:
        # utf-8-sig: Windows Notepad starts UTF-8 files with a byte-order mark.
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line, column = _byte_position(raw, exc.start)
        message = f"the file is not UTF-8 text (byte 0x{raw[exc.start]:02x}); save it as UTF-8"
        raise _single(path, line, column, message) from None


def _byte_position(raw: bytes, offset: int) -> tuple[int, int]:
    line_start = raw.rfind(b"\n", 0, offset) + 1
    column = len(raw[line_start:offset].decode("utf-8", errors="replace")) + 1
    return raw.count(b"\n", 0, offset) + 1, column


# --- JSON syntax -------------------------------------------------------------

# json's messages, by prefix, in words for someone who edits JSON by hand.
_JSON_HINTS = {
    "Expecting value": "expected a value (a string, number, object, list, true, false or null)",
    "Expecting property name enclosed in double quotes": (
        "expected a key in double quotes; JSON allows no trailing comma and no comments"
    ),
    "Illegal trailing comma": "remove the trailing comma; JSON does not allow one",
    "Expecting ',' delimiter": "expected a comma between two items",
    "Expecting ':' delimiter": 'expected ":" after the key',
    "Unterminated string": 'this string is never closed with "',
    "Invalid control character": "a string contains a raw line break or tab; write \\n or \\t",
    "Invalid \\escape": "invalid backslash escape; write a backslash as \\\\ (Windows paths too)",
    "Invalid \\uXXXX escape": "invalid \\u escape; it needs four hex digits",
    "Extra data": "unexpected text after the end of the JSON object",
}


def _parse_json(text: str, path: Path) -> Any:
    if not text.strip():
        raise _single(path, 1, 1, 'the file is empty; expected {"mcpServers": {...}}')
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise _single(path, exc.lineno, exc.colno, f"invalid JSON: {_json_hint(exc.msg)}") from None
    except RecursionError:
        raise _single(path, None, None, "the JSON is nested too deeply") from None
    except ValueError:  # Python refuses integers of more than 4300 digits
        raise _single(path, None, None, "a number in it has too many digits") from None


def _json_hint(message: str) -> str:
    for prefix, hint in _JSON_HINTS.items():
        if message.startswith(prefix):
            return hint
    return message[:1].lower() + message[1:]


def _duplicate_issues(path: Path, source: SourceMap) -> list[ConfigIssue]:
    issues = []
    for key_path in source.duplicates:
        line, column = source.keys[key_path]
        message = f'duplicate key "{key_path[-1]}"; JSON would keep only the last one'
        issues.append(ConfigIssue(path, line, column, _dotted(key_path), message))
    return issues


# --- schema errors -----------------------------------------------------------


def _schema_issue(path: Path, error: ErrorDetails, data: Any, source: SourceMap) -> ConfigIssue:
    key_path, at_key = _document_path(error["loc"], data)
    kind = error["type"]
    if kind == "missing":
        parent = key_path[:-1]
        line, column = _value_position(source, parent)
        message = f'missing required key "{key_path[-1]}"'
        return ConfigIssue(path, line, column, _dotted(parent), message)
    if kind == "extra_forbidden" or at_key:
        line, column = source.keys.get(key_path) or _value_position(source, key_path)
    else:
        line, column = _value_position(source, key_path)
    return ConfigIssue(path, line, column, _dotted(key_path), _message(error, key_path))


def _document_path(loc: tuple[int | str, ...], data: Any) -> tuple[KeyPath, bool]:
    """Turn pydantic's error location into a path through the JSON document.

    Pydantic adds entries the document does not have: the union tag it chose
    (``watch.options.debounceMs``) and ``[key]`` when a dict key is invalid.
    Walking the data alongside tells them apart from real keys. Returns the
    path and whether the error concerns the key itself.
    """
    path: list[str | int] = []
    node = data
    for index, part in enumerate(loc):
        is_last = index == len(loc) - 1
        if part == "[key]" and is_last:
            return tuple(path), True
        if _contains(node, part):
            node = node[part]
        elif not is_last:
            continue  # a union tag
        path.append(part)
    return tuple(path), False


def _contains(node: Any, part: str | int) -> bool:
    if isinstance(node, dict):
        return part in node
    return isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)


def _value_position(source: SourceMap, key_path: KeyPath) -> tuple[int | None, int | None]:
    """Where the value at ``key_path`` starts, else its nearest written ancestor."""
    for end in range(len(key_path), -1, -1):
        position = source.values.get(key_path[:end])
        if position is not None:
            return position
    return None, None


# What each of pydantic's strict type errors expected, in JSON words.
_EXPECTED = {
    "string_type": "a string",
    "int_type": "a whole number",
    "bool_type": "true or false",
    "list_type": "a list",
    "dict_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
}


# A number or true/false written in quotes: what to write instead.
_UNQUOTE = {
    "int_type": "; write the number without quotes",
    "bool_type": "; write true or false without quotes",
}


def _message(error: ErrorDetails, key_path: KeyPath) -> str:
    kind, ctx, found = error["type"], error.get("ctx", {}), _found(error["input"])
    quoted = isinstance(error["input"], str)
    if kind == "extra_forbidden":
        return _unknown_key_message(key_path, error["input"])
    if kind in _EXPECTED:
        hint = _UNQUOTE.get(kind, "") if quoted else ""
        return f"expected {_EXPECTED[kind]}, found {found}{hint}"
    if kind == "wrong_type":
        return f"expected {ctx['expected']}, found {found}"
    if kind == "literal_error":
        found = "another string" if quoted else found
        return f"expected {_json_words(ctx['expected'])}, found {found}"
    if kind == "greater_than_equal":
        return f"must be at least {ctx['ge']}, found {found}"
    # Our own PydanticCustomError sentences, and anything not foreseen above.
    return error["msg"]


def _unknown_key_message(key_path: KeyPath, value: Any) -> str:
    key = str(key_path[-1])
    if len(key_path) == 1 and isinstance(value, dict) and "command" in value:
        # A server snippet pasted at the top level, without its wrapper.
        return f'unknown key "{key}"; servers go inside "mcpServers": {{...}}'
    close = difflib.get_close_matches(key, json_keys_at(key_path[:-1]), n=1)
    hint = f'; did you mean "{close[0]}"?' if close else ""
    return f'unknown key "{key}"{hint}'


def _json_words(expected: str) -> str:
    """pydantic's ``'stdio' or 'http'`` with JSON's double quotes."""
    return expected.replace("'", '"')


def _found(value: Any) -> str:
    """A short description of what the user wrote; a string is never quoted."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


def _dotted(key_path: Iterable[str | int]) -> str:
    """``mcpServers.github.args[2]``."""
    text = ""
    for part in key_path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text
