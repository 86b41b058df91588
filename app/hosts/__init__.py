"""The apps people already use (hosts): find their MCP config, import its servers, connect them.

One table (``registry.HOSTS``) says where each host keeps its config on each
system and how its entries look; ``importing`` turns a host's stdio servers
into MCP Tray's, and ``linking`` rewrites the host's entries to attach
through MCP Tray, and back.
"""
