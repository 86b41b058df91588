"""The apps people already use (hosts): find their MCP config, import its servers, connect them.

One module per host (``claude_desktop``, ``claude_code``, ``cursor``,
``vscode``, ``windsurf``, ``zed``, ``gemini``) says where that host keeps
its config on each system and how its entries look (``host.Host``);
``registry`` lists them. ``importing`` turns a host's servers (commands
and remote ones) into MCP Tray's, ``linking`` rewrites the host's entries
to attach through MCP Tray and back, and ``survey`` is what the tray's
"Connect an app…" shows. No Qt here: the command line and the tray share
all of it.
"""
