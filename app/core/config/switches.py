"""Settings the tray and the command line change in the user's config file.

Edits go member by member (app.core.jsontext.jsonc), so the rest of the file keeps
its formatting, and through the usual atomic write with a backup. What is
written must load: an edit never leaves an invalid config behind.
"""

from __future__ import annotations

from pathlib import Path

from app.core.config.load import parse_config
from app.core.config.write import write_config_text
from app.core.jsontext.jsonc import Document


def set_http_enabled(path: Path, enabled: bool) -> bool:
    """Turn the HTTP endpoint on or off; False when it already was (nothing written).

    Raises ConfigError when the config has errors (the user's to fix first).
    """
    text = path.read_text(encoding="utf-8")
    config = parse_config(text, path=path)
    if config.http.enabled == enabled:
        return False
    document = Document.parse(text)
    http = document.data.get("http") if isinstance(document.data, dict) else None
    if isinstance(http, dict) and "enabled" in http:
        text = document.replace(("http", "enabled"), enabled)
    elif isinstance(http, dict):
        text = document.insert(("http",), "enabled", enabled)
    else:
        text = document.insert((), "http", {"enabled": enabled})
    parse_config(text, path=path)
    write_config_text(path, text)
    return True
