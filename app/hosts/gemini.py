"""Gemini CLI: ``~/.gemini/settings.json``, servers under ``mcpServers`` next to its settings.

Gemini expands ``$VAR`` as well as ``${VAR}`` in an entry. Remote entries
say ``httpUrl`` (Streamable HTTP) or ``url`` (the old HTTP+SSE transport,
unless ``"type": "http"`` says otherwise). Gemini's own keys on an entry
(``timeout``, ``trust``, ``includeTools`` …) are kept by connect.
"""

from typing import Any, ClassVar

from app.hosts.host import Host, Remote


class Gemini(Host):
    bare_variables: ClassVar[bool] = True

    def remote_entry(self, url: str, headers: dict[str, str]) -> dict[str, Any]:
        return {"httpUrl": url, "headers": headers}

    def is_remote(self, raw: dict[str, Any]) -> bool:
        return "httpUrl" in raw or super().is_remote(raw)

    def remote(self, raw: dict[str, Any]) -> Remote:
        if "httpUrl" in raw:
            return Remote.of(raw["httpUrl"], raw.get("headers"), old_sse=False)
        return Remote.of(
            raw.get("url"), raw.get("headers"), old_sse=raw.get("type", "sse") == "sse"
        )


HOST = Gemini(
    "gemini",
    "Gemini CLI",
    "mcpServers",
    linux="~/.gemini/settings.json",
    macos="~/.gemini/settings.json",
    windows="~/.gemini/settings.json",
    restart="Start Gemini CLI again to load the change.",
)
