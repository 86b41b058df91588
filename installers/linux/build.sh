#!/usr/bin/env bash
# Builds the Linux bundle and wraps it for installing:
#
#   OUT/mcp-tray-VERSION-linux-ARCH.tar.gz
#     mcp-tray/             the one-folder PyInstaller bundle (no Python needed)
#     install.sh            installs it for the current user (see install.sh)
#     uninstall.sh
#     mcp-tray.service      the systemd user unit for the headless hub
#     mcp-tray-mime.xml     the .mcpb file type, for opening bundles with MCP Tray
#
# Usage: installers/linux/build.sh [OUT]    (OUT defaults to dist/)
# Needs the checkout's environment with the test extras (scripts/setup --test),
# or PYTHON=/path/to/python with MCP Tray's dependencies and PyInstaller.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$(mkdir -p "${1:-$root/dist}" && cd "${1:-$root/dist}" && pwd)
python=${PYTHON:-$root/.venv/bin/python}

if ! "$python" -c 'import PyInstaller' 2>/dev/null; then
    echo "PyInstaller is missing: run scripts/setup --test, or pip install pyinstaller." >&2
    exit 1
fi
version=$(cd "$root" && "$python" -c 'import app; print(app.__version__)')
name="mcp-tray-$version-linux-$(uname -m)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$python" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath "$work/dist" --workpath "$work/build" "$root/installers/linux/mcp-tray.spec"
mkdir "$work/$name"
mv "$work/dist/mcp-tray" "$work/$name/mcp-tray"
cp "$root/installers/linux/install.sh" "$root/installers/linux/uninstall.sh" \
    "$root/installers/linux/mcp-tray.service" "$root/installers/linux/mcp-tray-mime.xml" \
    "$work/$name/"
tar -C "$work" -czf "$out/$name.tar.gz" "$name"
echo "$out/$name.tar.gz"
