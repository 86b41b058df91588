"""Open config on a desktop whose xdg-open finds no program for ``.json``.

Qt reports such an open as done as soon as xdg-open starts; the tray watches
xdg-open itself (app.gui.opener) and goes on to a text editor. The desktop's
programs are the OS edge: an ``xdg-open`` that fails as a fresh desktop's
does, and a text editor that reports what it was asked to open over a
socket the test listens on.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.gui.conftest import RunningTray, TrayLoop

WAIT_S = 20.0


def program(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text(f"#!{sys.executable}\nimport socket, sys\n{body}\n")
    path.chmod(0o755)


def test_open_config_goes_on_to_a_text_editor_when_xdg_open_finds_no_program(
    start_tray: Any,
    tray_loop: TrayLoop,
    tray_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    programs = tmp_path / "bin"
    programs.mkdir()
    told = tmp_path / "editor.sock"
    program(
        programs,
        "xdg-open",
        'sys.stderr.write(f"xdg-open: no method available for opening {sys.argv[1]!r}\\n")\n'
        "sys.exit(3)",
    )
    program(
        programs,
        "gnome-text-editor",
        f"with socket.socket(socket.AF_UNIX) as s:\n"
        f"    s.connect({str(told)!r})\n"
        f"    s.sendall(__import__('json').dumps(sys.argv[1:]).encode())",
    )
    monkeypatch.setenv("PATH", f"{programs}:/usr/bin:/bin")
    running: RunningTray = start_tray({}, desktop_opens=True)

    async def open_config() -> list[str]:
        asked: asyncio.Future[list[str]] = asyncio.get_running_loop().create_future()

        async def editor_started(
            reader: asyncio.StreamReader, writer: asyncio.StreamWriter
        ) -> None:
            asked.set_result(json.loads(await reader.read()))
            writer.close()

        server = await asyncio.start_unix_server(editor_started, path=str(told))
        async with server:
            running.menu_action("Open config").trigger()
            async with asyncio.timeout(WAIT_S):
                return await asked

    assert tray_loop.run(open_config) == [str(tray_home / "config.json")]
