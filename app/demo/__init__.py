"""The demo MCP server that a fresh MCP Tray install runs out of the box.

``python -m app.demo`` serves it on stdio. It shows the user (and their editor)
that the tray works before they add a server of their own: it tells the time in
any timezone and keeps short notes in MCP Tray's data folder. The tools live in
:mod:`app.demo.server`; this package imports nothing, so the hub can name it
without paying for the MCP SDK.
"""
