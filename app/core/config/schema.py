"""The shape of ``config.json``, as pydantic models.

The file is a superset of the ``mcpServers`` object every MCP host uses, so a
snippet pasted from a server's README validates unchanged. JSON keys are
camelCase (``debounceMs``), Python attributes snake_case (``debounce_ms``).

Models are strict (no ``"5"`` for 5, no ``"yes"`` for true: a config file
should say what it means), forbid unknown keys (a typo must not silently
become a default), and are frozen so that two configs compare by value, which
is what reloading by diff needs. Every field carries a description so the same
schema can later drive a settings UI.
"""

from __future__ import annotations

import fnmatch
import re
import types
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, Self, Union, get_args, get_origin

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from app.core.config.placeholders import PlaceholderError, placeholders_in

# Server names become file names (logs, pid records) and CLI arguments; 100
# characters leave room for ".json" within any file system's 255 and a
# Windows path's 260 characters.
SERVER_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
SERVER_NAME_RULE = (
    'letters, digits, "_", "." and "-", starting with a letter or digit, '
    "at most 100 characters (the name becomes a file name)"
)

# What VS Code, Claude Code and Cursor write for servers reached over the network:
# "sse" is the old HTTP+SSE transport, the others Streamable HTTP.
_REMOTE_TYPES = frozenset({"http", "sse", "streamable-http", "streamableHttp"})
# Keys that only mean something for a program MCP Tray runs.
_LOCAL_ONLY = ("args", "env", "cwd", "watch")


class _Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        strict=True,
    )


class RestartPolicy(_Model):
    """When to restart a server, how fast, and when to give up (milliseconds)."""

    max_failures: int = Field(
        default=5,
        ge=1,
        description="Consecutive failed starts, without reaching healthy, before crash-loop.",
    )
    initial_delay_ms: int = Field(
        default=250,
        ge=0,
        description="First backoff delay; near zero because the user is mid conversation.",
    )
    max_delay_ms: int = Field(default=60_000, ge=0, description="Cap of the exponential backoff.")
    healthy_after_ms: int = Field(
        default=30_000,
        ge=0,
        description="Uptime after which the failure count and the backoff reset.",
    )
    reprobe_ms: int = Field(
        default=300_000,
        ge=100,
        description="Interval of the slow re-probe while parked in crash-loop.",
    )
    start_timeout_ms: int = Field(
        default=120_000,
        ge=100,
        description="Time allowed for the MCP handshake; generous because a first "
        "npx/uvx run downloads the server.",
    )
    ping_interval_ms: int = Field(
        default=30_000, ge=50, description="How often an idle server is pinged."
    )
    ping_timeout_ms: int = Field(
        default=10_000, ge=50, description="How long one ping may take before it counts as failed."
    )
    ping_failures: int = Field(
        default=3,
        ge=1,
        description="Consecutive failed pings, while no work is in flight, before a restart.",
    )
    stall_timeout_ms: int = Field(
        default=120_000,
        ge=100,
        description="While requests wait on it, how long a server may say nothing at all "
        "(no answer, no progress, no answer to a ping) before it counts as hung and is "
        "restarted.",
    )

    @model_validator(mode="after")
    def _cap_not_below_first_delay(self) -> Self:
        if self.max_delay_ms < self.initial_delay_ms:
            raise PydanticCustomError(
                "delay_order",
                "maxDelayMs ({max}) must be at least initialDelayMs ({initial})",
                {"max": self.max_delay_ms, "initial": self.initial_delay_ms},
            )
        return self


class ToolSwitches(_Model):
    """Which of a server's tools the apps see: only those ``enabled``, or all but those
    ``disabled`` (names or globs such as ``push_*``), never both."""

    enabled: list[str] | None = Field(
        default=None, description="Only these tools (names or globs) reach the apps."
    )
    disabled: list[str] = Field(
        default=[], description="These tools (names or globs) are kept from the apps."
    )

    @model_validator(mode="after")
    def _one_way(self) -> Self:
        if self.enabled is not None and self.disabled:
            raise PydanticCustomError(
                "enabled_and_disabled",
                'has both "enabled" and "disabled": keep one (the tools to offer, or the '
                "tools to keep away)",
            )
        return self

    def allows(self, tool: str) -> bool:
        """Whether ``tool`` is switched on."""
        if self.enabled is not None:
            return any(fnmatch.fnmatchcase(tool, pattern) for pattern in self.enabled)
        return not any(fnmatch.fnmatchcase(tool, pattern) for pattern in self.disabled)


class WatchConfig(_Model):
    """Explicit source watching: which files restart the server when they change."""

    paths: list[str] = Field(
        default=[], description="Directories or files to watch; empty means infer the project."
    )
    include: list[str] = Field(default=[], description="Globs a changed file must match.")
    exclude: list[str] = Field(default=[], description="Globs ignored on top of the defaults.")
    debounce_ms: int = Field(
        default=300, ge=0, description="Quiet time after the last change before restarting."
    )


def _watch_kind(value: Any) -> str | None:
    """Pick the one union member to validate, so errors name only that shape."""
    if isinstance(value, bool):
        return "flag"
    if isinstance(value, list):
        return "globs"
    if isinstance(value, dict | WatchConfig):
        return "options"
    return None


Watch = Annotated[
    Annotated[bool, Tag("flag")]
    | Annotated[list[str], Tag("globs")]
    | Annotated[WatchConfig, Tag("options")],
    Discriminator(
        _watch_kind,
        custom_error_type="wrong_type",
        custom_error_message="expected {expected}",
        custom_error_context={
            "expected": "true, false, a list of globs, or an object "
            "with paths, include, exclude and debounceMs"
        },
    ),
]


def _check_placeholders(value: str) -> str:
    try:
        placeholders_in(value)
    except PlaceholderError as error:
        raise PydanticCustomError("placeholder", str(error)) from None
    return value


# A string that may hold ${secret:NAME} and ${env:NAME}, checked where it is,
# so an error points at the very argument or variable.
WithPlaceholders = Annotated[str, AfterValidator(_check_placeholders)]


class ServerConfig(_Model):
    """One MCP server: a program MCP Tray runs (``command``), or a remote one (``url``)."""

    command: str = Field(
        default="", description="The program to run, e.g. npx, uvx or a path (or give url)."
    )
    url: str | None = Field(
        default=None,
        description="A remote server's address, http:// or https:// (instead of command).",
    )
    headers: dict[str, WithPlaceholders] = Field(
        default={},
        description="HTTP headers sent to a remote server; values may use ${secret:NAME} "
        "and ${env:NAME}.",
    )
    args: list[WithPlaceholders] = Field(
        default=[], description="Arguments passed to the command; may use ${secret:NAME}."
    )
    env: dict[str, WithPlaceholders] = Field(
        default={},
        description="Extra environment variables; values may use ${secret:NAME} and ${env:NAME}.",
    )
    cwd: str | None = Field(default=None, description="Working directory; ~ is expanded.")
    type: Literal["stdio", "http", "sse", "streamable-http", "streamableHttp"] | None = Field(
        default=None,
        description='How it is reached: "stdio" for a command; for a url, "sse" is the old '
        "HTTP+SSE transport, anything else (or nothing) Streamable HTTP.",
    )
    disabled: bool = Field(default=False, description="Keep the server configured but stopped.")
    watch: Watch = Field(
        default=False,
        description="Restart when sources change: true infers the project, "
        "a list gives globs, an object gives full control.",
    )
    restart: RestartPolicy = Field(
        default_factory=RestartPolicy, description="Restart and health-check policy."
    )
    shared: bool = Field(
        default=True,
        description="One process shared by every attached client; false starts one per client.",
    )
    tools: ToolSwitches = Field(
        default_factory=ToolSwitches,
        description='Which tools apps see: {"disabled": [...]} or {"enabled": [...]}, '
        "names or globs; changing it restarts nothing.",
    )
    trust_changes: bool | None = Field(
        default=None,
        description="Offer a tool whose definition changed, or a new one, without asking "
        "first. Left out: true for a server with watch set (you are editing it), else false.",
    )
    protocol_version: Literal["2026-07-28"] | None = Field(
        default=None,
        description='"2026-07-28": speak that revision to a server that speaks both eras '
        "(one whose tools answer input_required themselves). Left out: the handshake era, "
        "or 2026-07-28 when the server refuses the handshake.",
    )

    @model_validator(mode="before")
    @classmethod
    def _command_or_url(cls, data: Any) -> Any:
        # Checked before the fields so that a mixed entry yields one clear sentence.
        if not isinstance(data, dict):
            return data
        if "url" in data and "command" in data:
            raise PydanticCustomError(
                "command_and_url",
                "has both a command (a program run on this computer) and a url (a remote "
                "server): keep the one you mean",
            )
        if "url" not in data:
            if data.get("type") in _REMOTE_TYPES:
                raise PydanticCustomError(
                    "remote_without_url",
                    'a "type": "{kind}" server needs a url',
                    {"kind": data["type"]},
                )
            return data
        if data.get("type") == "stdio":
            raise PydanticCustomError(
                "stdio_url", 'a "type": "stdio" server runs a command; a url needs "http" or "sse"'
            )
        local = [key for key in _LOCAL_ONLY if key in data]
        if local:
            raise PydanticCustomError(
                "local_keys_on_remote",
                "{keys}: only for a command MCP Tray runs, not for a remote server",
                {"keys": ", ".join(local)},
            )
        if data.get("shared") is False:
            raise PydanticCustomError(
                "unshared_remote",
                '"shared": false is only for a command MCP Tray runs: a remote server is one '
                "for every app",
            )
        return data

    @model_validator(mode="after")
    def _runs_something(self) -> Self:
        # After the fields: a typo such as "comand" is told as such first.
        if self.url is None and not self.command:
            raise PydanticCustomError(
                "no_command_or_url", "needs a command to run, or the url of a remote server"
            )
        return self

    @field_validator("command")
    @classmethod
    def _command_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise PydanticCustomError("blank_command", "must not be empty")
        return value

    @field_validator("url")
    @classmethod
    def _url_is_web_address(cls, value: str | None) -> str | None:
        return None if value is None else _check_web_address(value)

    @property
    def remote(self) -> bool:
        """Whether it is a remote server, reached over the network."""
        return self.url is not None

    @property
    def trusts_changes(self) -> bool:
        """Whether its changed and new tools are offered without the user's review."""
        return self.trust_changes if self.trust_changes is not None else bool(self.watch)

    def same_but_tools(self, other: ServerConfig) -> bool:
        """Whether ``other`` differs from it in its tool settings at most (those apply
        without a restart)."""
        tuned = self.model_copy(update={"tools": other.tools, "trust_changes": other.trust_changes})
        return tuned == other

    @property
    def old_sse_transport(self) -> bool:
        """Whether a remote server speaks the old HTTP+SSE transport."""
        return self.type == "sse"

    def resolved_cwd(self) -> Path | None:
        """The working directory with ``~`` expanded; relative paths are left as written."""
        return Path(self.cwd).expanduser() if self.cwd else None


def shown_name(name: str) -> str:
    """A server name from a file, safe to print: as it is when it follows the rule; else
    in quotes, control characters escaped, and cut to 40 characters."""
    if SERVER_NAME_PATTERN.fullmatch(name):
        return name
    escaped = "".join(_escaped(c) for c in name[:40])
    return f'"{escaped}…"' if len(name) > 40 else f'"{escaped}"'


def _escaped(char: str) -> str:
    if char in '"\\':
        return "\\" + char
    return char if char.isprintable() else repr(char)[1:-1]


def _check_server_name(name: str) -> str:
    if not SERVER_NAME_PATTERN.fullmatch(name):
        raise PydanticCustomError(
            "server_name",
            "invalid server name {name}: use " + SERVER_NAME_RULE,
            {"name": shown_name(name)},
        )
    return name


ServerName = Annotated[str, AfterValidator(_check_server_name)]


DEFAULT_HTTP_PORT = 47821


class HttpConfig(_Model):
    """The Streamable HTTP endpoint: each server at http://127.0.0.1:PORT/servers/NAME/mcp."""

    enabled: bool = Field(default=False, description="Serve the HTTP endpoint (off by default).")
    port: int = Field(default=DEFAULT_HTTP_PORT, ge=1, le=65535, description="Loopback TCP port.")
    max_body_bytes: int = Field(
        default=4 << 20, ge=1024, description="Largest request body accepted (413 beyond)."
    )


DEFAULT_REGISTRY_URL = "https://registry.modelcontextprotocol.io"


def _check_web_address(url: str) -> str:
    if not url.startswith(("https://", "http://")):
        raise PydanticCustomError("web_address", "must start with https:// (or http://)")
    return url


class CatalogConfig(_Model):
    """The catalog of well-known servers in the Add dialog (app.core.catalog)."""

    online: bool = Field(
        default=False,
        description="Also search an online MCP Registry; off by default, so what the user "
        "types stays on this computer unless they ask.",
    )
    url: Annotated[str, AfterValidator(_check_web_address)] = Field(
        default=DEFAULT_REGISTRY_URL,
        description="The registry's address: the official one, or any that answers its API.",
    )


class Config(_Model):
    """The whole file."""

    servers: dict[ServerName, ServerConfig] = Field(
        default={}, alias="mcpServers", description="The servers to run, by name."
    )
    http: HttpConfig = Field(
        default=HttpConfig(), description="Each server over Streamable HTTP as well."
    )
    catalog: CatalogConfig = Field(
        default=CatalogConfig(), description="Where the Add dialog finds well-known servers."
    )
    schema_url: str | None = Field(
        default=None, alias="$schema", description="Ignored; lets editors offer completion."
    )


def json_keys_at(key_path: Sequence[str | int]) -> list[str]:
    """The JSON keys allowed in the object at ``key_path`` (for "did you mean")."""
    annotation: Any = Config
    for part in key_path:
        annotation = _child_annotation(annotation, part)
    model = _model_in(annotation)
    return [field.alias or name for name, field in model.model_fields.items()] if model else []


def _child_annotation(annotation: Any, part: str | int) -> Any:
    if get_origin(annotation) is dict:
        return get_args(annotation)[1]
    if get_origin(annotation) is list:
        return get_args(annotation)[0]
    model = _model_in(annotation)
    fields = model.model_fields.items() if model else ()
    return next((field.annotation for name, field in fields if part in (name, field.alias)), None)


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model an annotation stands for, looking through Annotated and unions."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = get_origin(annotation)
    if origin is Annotated:
        return _model_in(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return next((model for arg in get_args(annotation) if (model := _model_in(arg))), None)
    return None
