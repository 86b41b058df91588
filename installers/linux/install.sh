#!/bin/sh
# Installs MCP Tray for the current user; no root, no Python needed.
#
#   ~/.local/lib/mcp-tray/                        the program
#   ~/.local/bin/mcp-tray                         a link to it, for the command line
#   ~/.local/share/applications/mcp-tray.desktop  the menu entry
#   ~/.local/share/icons/hicolor/scalable/apps/mcp-tray.svg
#   ~/.local/share/mime/packages/mcp-tray.xml     .mcpb bundles open with MCP Tray
#
# Options:
#   --autostart   start the tray at login (the tray's "Start at login" switch)
#   --service     run the headless hub (`mcp-tray serve`) as a systemd user
#                 service instead, for machines without a tray
# PREFIX=DIR installs under DIR instead of ~/.local. Running it again upgrades
# in place: a running MCP Tray is stopped first, your config and secrets stay.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
prefix=${PREFIX:-$HOME/.local}
config_home=${XDG_CONFIG_HOME:-$HOME/.config}
autostart=no
service=no
for option in "$@"; do
    case $option in
    --autostart) autostart=yes ;;
    --service) service=yes ;;
    *)
        echo "install.sh: unknown option $option (known: --autostart, --service)" >&2
        exit 2
        ;;
    esac
done

program="$prefix/lib/mcp-tray/mcp-tray"
if [ -x "$program" ]; then
    "$program" quit || true # an upgrade: stop the running one before replacing it
fi
mkdir -p "$prefix/lib" "$prefix/bin" "$prefix/share/applications" \
    "$prefix/share/icons/hicolor/scalable/apps" "$prefix/share/mime/packages"
rm -rf "$prefix/lib/mcp-tray.new"
cp -R "$here/mcp-tray" "$prefix/lib/mcp-tray.new"
rm -rf "$prefix/lib/mcp-tray"
mv "$prefix/lib/mcp-tray.new" "$prefix/lib/mcp-tray"
ln -sfn "$program" "$prefix/bin/mcp-tray"

resources="$prefix/lib/mcp-tray/_internal/resources"
cp "$resources/icons/mcp-tray.svg" "$prefix/share/icons/hicolor/scalable/apps/mcp-tray.svg"
# Exec= holds the program's absolute path, quoted as the Desktop Entry spec asks.
exec_line="\"$(printf '%s' "$program" | sed 's/[\\"`$]/\\\\&/g')\""
entry=$(sed "s|@EXEC@|$(printf '%s' "$exec_line" | sed 's/[|&\\]/\\&/g')|" "$resources/mcp-tray.desktop")
# The menu entry also opens .mcpb bundles: a desktop runs `mcp-tray FILE` (%f),
# which adds the bundle. The file type is installed beside it; the caches are
# refreshed where the tools exist, and desktops without them read the files.
printf '%s\n' "$entry" | sed 's/^Exec=.*/& %f/' >"$prefix/share/applications/mcp-tray.desktop"
echo "MimeType=application/x-mcpb;" >>"$prefix/share/applications/mcp-tray.desktop"
cp "$here/mcp-tray-mime.xml" "$prefix/share/mime/packages/mcp-tray.xml"
if command -v update-mime-database >/dev/null 2>&1; then
    update-mime-database "$prefix/share/mime" >/dev/null 2>&1 || true
fi
if command -v update-desktop-database >/dev/null 2>&1; then
    update-desktop-database "$prefix/share/applications" >/dev/null 2>&1 || true
fi

if [ $autostart = yes ]; then
    mkdir -p "$config_home/autostart"
    printf '%s\nX-GNOME-Autostart-enabled=true\n' "$entry" >"$config_home/autostart/mcp-tray.desktop"
fi
if [ $service = yes ]; then
    mkdir -p "$config_home/systemd/user"
    sed "s|@EXEC@|$program|" "$here/mcp-tray.service" >"$config_home/systemd/user/mcp-tray.service"
    if command -v systemctl >/dev/null 2>&1 && systemctl --user daemon-reload 2>/dev/null; then
        systemctl --user enable --now mcp-tray.service
    else
        echo "No systemd user session here; start it later with: systemctl --user enable --now mcp-tray"
    fi
fi

echo "MCP Tray $("$program" --version | cut -d' ' -f2) is installed in $prefix/lib/mcp-tray."
case ":$PATH:" in
*":$prefix/bin:"*) ;;
*) echo "Add $prefix/bin to your PATH to type mcp-tray in a terminal." ;;
esac
echo "Start it from your applications menu, or run: mcp-tray"
