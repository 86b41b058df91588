"""``mcp-tray add --bundle`` end to end: a bundle built here, a real hub, the real Secret Service.

The bundle is a python one whose server reports the key it was given; the
key goes in on standard input, as a script would pipe it, and the server is
reached the way an editor reaches it, through ``mcp-tray attach``.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hosts.test_mcpb import bundle, manifest
from tests.hubprocess import HubProcess, mcp_tray
from tests.test_add_remove import CONFIG, TOKEN, answer_of
from tests.test_keyring import files_containing, keyring_value

NAME = "secretive-notes"  # from the manifest's name, "Secretive Notes"


@pytest.fixture
def env(secret_service: dict[str, str]) -> dict[str, str]:
    """The private keyring's environment, with this test's Python first on the PATH: the
    bundle's ``python3`` is one that has the MCP SDK, as a bundle's own libraries would."""
    here = os.path.dirname(sys.executable)
    return {**secret_service, "PATH": here + os.pathsep + secret_service.get("PATH", "")}


@pytest.fixture
def hub(tray_home: Path, env: dict[str, str]) -> Iterator[HubProcess]:
    (tray_home / "config.json").write_text(CONFIG)
    process = HubProcess(tray_home, env=env)
    process.wait_for_line(r"kept is running")
    yield process
    process.stop()


def test_a_bundle_is_added_with_its_secret_started_and_answers_through_attach(
    hub: HubProcess, tmp_path: Path
) -> None:
    path = bundle(tmp_path / "notes.mcpb", manifest())

    added = mcp_tray(hub.home, "add", "--bundle", str(path), input=TOKEN + "\n", env=hub.env)
    answer = answer_of(hub.home, NAME, "token")
    entry = json.loads((hub.home / "config.json").read_text())["mcpServers"][NAME]

    folder = hub.home / "data" / "bundles" / "Secretive-Notes-1.2.0"
    assert added.returncode == 0, added.stderr
    assert f"Stored API_KEY for {NAME} in the keyring." in added.stdout
    assert f"{NAME} is running (pid " in added.stdout
    assert answer == TOKEN  # the server got it from the keyring
    assert keyring_value(hub.env or {}, NAME, "API_KEY") == TOKEN
    assert files_containing(hub.home, TOKEN) == []
    assert entry == {
        "command": "python3",
        "args": [f"{folder}/server.py", "API_KEY"],
        "env": {"API_KEY": "${secret:API_KEY}"},
        "cwd": str(folder),
    }


def test_without_a_display_opening_a_bundle_file_adds_it_as_add_bundle_does(
    tray_home: Path, env: dict[str, str], tmp_path: Path
) -> None:
    (tray_home / "config.json").write_text(CONFIG)
    path = bundle(tmp_path / "notes.mcpb", manifest())
    # With a display it opens the tray's Add dialog instead (tests/gui/test_add_server.py).
    shown = ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")
    headless = {key: value for key, value in env.items() if key not in shown}

    opened = mcp_tray(tray_home, str(path), input=TOKEN, env=headless)  # Exec=mcp-tray %f

    assert opened.returncode == 0, opened.stderr
    assert f"Added {NAME} to " in opened.stdout
    assert f"MCP Tray is not running; {NAME} starts with it." in opened.stdout
    assert NAME in json.loads((tray_home / "config.json").read_text())["mcpServers"]


def test_a_bundle_without_its_secret_is_not_added_and_leaves_no_files(
    tray_home: Path, env: dict[str, str], tmp_path: Path
) -> None:
    (tray_home / "config.json").write_text(CONFIG)
    path = bundle(tmp_path / "notes.mcpb", manifest())

    done = mcp_tray(tray_home, "add", "--bundle", str(path), input="", env=env)

    assert done.returncode == 1
    assert done.stderr == "mcp-tray: API_KEY is empty on standard input; nothing was added\n"
    assert (tray_home / "config.json").read_text() == CONFIG
    assert list((tray_home / "data" / "bundles").iterdir()) == []


def test_a_bundle_for_a_missing_runtime_says_where_to_get_it(
    tray_home: Path, tmp_path: Path
) -> None:
    (tray_home / "config.json").write_text(CONFIG)
    data = manifest()
    data["server"]["type"] = "node"
    data["server"]["mcp_config"] = {"command": "node", "env": {"PATH": str(tmp_path)}}
    path = bundle(tmp_path / "notes.mcpb", data)

    done = mcp_tray(tray_home, "add", "--bundle", str(path), input="")

    assert done.returncode == 1
    assert done.stderr == (
        "mcp-tray: This bundle needs Node.js (node), which is not installed. "
        "Get it from nodejs.org, then open the bundle again.\n"
    )
    assert (tray_home / "config.json").read_text() == CONFIG
    assert not (tray_home / "data" / "bundles").exists() or not any(
        (tray_home / "data" / "bundles").iterdir()
    )
