"""The hosts' command-line names, importable without the rest (``attach`` starts fast)."""

HOST_NAMES = ("claude-desktop", "claude-code", "cursor", "vscode", "windsurf", "zed", "gemini")
