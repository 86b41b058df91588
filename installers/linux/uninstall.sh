#!/bin/sh
# Removes what install.sh installed, after stopping MCP Tray and its servers.
# Your config, logs and secrets stay; the last lines say where, to remove them too.
set -eu

prefix=${PREFIX:-$HOME/.local}
config_home=${XDG_CONFIG_HOME:-$HOME/.config}
program="$prefix/lib/mcp-tray/mcp-tray"

if [ -f "$config_home/systemd/user/mcp-tray.service" ]; then
    if command -v systemctl >/dev/null 2>&1; then
        systemctl --user disable --now mcp-tray.service 2>/dev/null || true
    fi
    rm -f "$config_home/systemd/user/mcp-tray.service"
fi
if [ -x "$program" ]; then
    config=$("$program" config path 2>/dev/null || true)
    "$program" quit || true
fi
rm -rf "$prefix/lib/mcp-tray"
rm -f "$prefix/bin/mcp-tray" "$prefix/share/applications/mcp-tray.desktop" \
    "$prefix/share/icons/hicolor/scalable/apps/mcp-tray.svg" "$config_home/autostart/mcp-tray.desktop" \
    "$prefix/share/mime/packages/mcp-tray.xml"
if command -v update-mime-database >/dev/null 2>&1 && [ -d "$prefix/share/mime/packages" ]; then
    update-mime-database "$prefix/share/mime" >/dev/null 2>&1 || true
fi
echo "MCP Tray is uninstalled."
if [ -n "${config:-}" ]; then
    echo "Your config stays in $config; apps you connected still point at MCP Tray:"
    echo "reinstall and run 'mcp-tray disconnect APP' first, or edit their configs."
fi
