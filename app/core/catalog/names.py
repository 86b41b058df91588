"""Server names made from what a server is called elsewhere: a registry name's last
part, a package, an image or a script (``mcp-server-git`` → ``git``)."""

from __future__ import annotations

import re

# Prefixes and suffixes that say "MCP server" in a name and nothing about the server.
_NAME_PREFIXES = ("mcp-server-", "server-", "mcp-")
_NAME_SUFFIXES = ("-mcp-server", "-server-mcp", "-mcp", "-server")


def tidy_name(word: str) -> str:
    """``word`` as a server name: lower case, ``-`` for ``_`` and other punctuation, no
    ``mcp-server-`` or ``-mcp`` around it; empty when nothing telling is left
    (``mcp``, ``server``)."""
    name = re.sub(r"[^a-z0-9.-]+", "-", word.lower().replace("_", "-")).strip("-.")
    for prefix in _NAME_PREFIXES:
        name = name.removeprefix(prefix)
    for suffix in _NAME_SUFFIXES:
        name = name.removesuffix(suffix)
    return name[:100] if name not in ("mcp", "server") else ""
