"""What a user installs: the wheel (through pipx) and the Linux bundle (through its
tarball's install.sh), each smoke-tested from a folder without the source tree, with
a fresh MCP_TRAY_HOME: ``--version``, ``serve`` on the default config, and ``attach``
for the demo server with a real MCP client listing its tools. ``connect`` must write
the installed program's path, never one into the build.

Slow (a minute or two): they build for real. CI runs them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters

from app import __version__
from tests.hubprocess import HubProcess, mcp_tray

ROOT = Path(__file__).resolve().parents[1]
BUILD_TIMEOUT_S = 900  # a cold pip cache downloads PySide6
WAIT_S = 60.0
DEMO_TOOLS = {"add_note", "list_notes", "delete_note", "current_time"}

pytestmark = [pytest.mark.slow, pytest.mark.timeout(BUILD_TIMEOUT_S)]


def clean_environment() -> dict[str, str]:
    """This test run's environment minus whatever points into the checkout or its venv."""
    dropped = {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"}
    environment = {k: v for k, v in os.environ.items() if k not in dropped}
    venv_bin = str(Path(sys.executable).parent)
    path = [p for p in environment.get("PATH", "").split(os.pathsep) if p != venv_bin]
    environment["PATH"] = os.pathsep.join(path)
    return environment


def run(*command: str | Path, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    result = subprocess.run(
        [str(part) for part in command],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def smoke_test(program: Path, tmp_path: Path, environment: dict[str, str]) -> str:
    """--version, serve, attach demo, then connect; returns the command connect wrote."""
    home = tmp_path / "tray-home"  # fresh: the first serve writes the default config
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    installed = (str(program),)

    version = mcp_tray(home, "--version", program=installed, env=environment, cwd=elsewhere)
    assert version.stdout.strip() == f"mcp-tray {__version__}", version.stderr

    hub = HubProcess(home, program=installed, env=environment, cwd=elsewhere)
    try:
        hub.wait_for_line(r"demo is running")
        tools = anyio.run(list_tools_through_attach, program, home, environment, elsewhere)
        app_config = tmp_path / "cursor-mcp.json"
        demo = json.loads((home / "config.json").read_text())["mcpServers"]["demo"]
        app_config.write_text(json.dumps({"mcpServers": {"demo": demo}}, indent=2))
        connected = mcp_tray(
            home, "connect", "cursor", "--path", str(app_config),
            program=installed, env=environment, cwd=elsewhere,
        )  # fmt: skip
        assert connected.returncode == 0, connected.stderr
    finally:
        quit_ = mcp_tray(home, "quit", program=installed, env=environment, cwd=elsewhere)
        hub.stop()
    assert quit_.returncode == 0, quit_.stderr
    assert set(tools) >= DEMO_TOOLS
    entry = json.loads(app_config.read_text())["mcpServers"]["demo"]
    assert entry["args"][-2:] == ["attach", "demo"]
    command: str = entry["command"]
    return command


async def list_tools_through_attach(
    program: Path, home: Path, environment: dict[str, str], cwd: Path
) -> list[str]:
    server = StdioServerParameters(
        command=str(program),
        args=["attach", "demo"],
        env={**environment, "MCP_TRAY_HOME": str(home)},
        cwd=cwd,
    )
    with anyio.fail_after(WAIT_S):
        async with Client(server, mode="legacy", read_timeout_seconds=WAIT_S) as client:
            return [tool.name for tool in (await client.list_tools()).tools]


def test_the_wheel_installed_with_pipx_runs_from_anywhere(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    run(sys.executable, "-m", "build", "--outdir", dist, ROOT)
    (wheel,) = dist.glob("mcp_tray-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"app/_resources/icons/mcp-tray.svg", "app/_resources/mcp-tray.desktop"} <= names
    environment = clean_environment() | {
        "PIPX_HOME": str(tmp_path / "pipx"),
        "PIPX_BIN_DIR": str(tmp_path / "bin"),
        "PIPX_MAN_DIR": str(tmp_path / "man"),
    }

    run(sys.executable, "-m", "pipx", "install", wheel, env=environment, cwd=tmp_path)
    program = tmp_path / "bin" / "mcp-tray"
    written = smoke_test(program, tmp_path, environment)

    venv = tmp_path / "pipx" / "venvs" / "mcp-tray"
    assert Path(written).is_relative_to(venv) and Path(written).exists()
    probe = "from app.resources import resource_path; print(resource_path('icons'))"
    icons = run(venv / "bin" / "python", "-c", probe, env=environment, cwd=tmp_path).strip()
    assert Path(icons, "tray-running.svg").is_file() and Path(icons).is_relative_to(venv)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the Linux bundle")
def test_the_linux_bundle_installed_from_its_tarball_runs_from_anywhere(tmp_path: Path) -> None:
    out = tmp_path / "out"
    tarball = Path(run(ROOT / "installers" / "linux" / "build.sh", out).strip().splitlines()[-1])
    assert tarball.name == f"mcp-tray-{__version__}-linux-{os.uname().machine}.tar.gz"
    with tarfile.open(tarball) as archive:
        archive.extractall(tmp_path / "unpacked", filter="tar")
    (unpacked,) = (tmp_path / "unpacked").iterdir()
    user = tmp_path / "user"
    environment = clean_environment() | {
        "HOME": str(user),
        "XDG_CONFIG_HOME": str(user / ".config"),
        "XDG_DATA_HOME": str(user / ".local" / "share"),
    }
    shutil.rmtree(out)  # nothing may point into the build any more

    installed = run(unpacked / "install.sh", "--autostart", env=environment, cwd=tmp_path)
    program = user / ".local" / "bin" / "mcp-tray"
    written = smoke_test(program, tmp_path, environment)

    assert f"MCP Tray {__version__} is installed" in installed
    assert written == str(user / ".local" / "lib" / "mcp-tray" / "mcp-tray")
    menu_entry = (user / ".local" / "share" / "applications" / "mcp-tray.desktop").read_text()
    assert f'Exec="{written}"' in menu_entry
    autostart = (user / ".config" / "autostart" / "mcp-tray.desktop").read_text()
    assert autostart.endswith("X-GNOME-Autostart-enabled=true\n")
    icon = user / ".local" / "share" / "icons" / "hicolor" / "scalable" / "apps" / "mcp-tray.svg"
    assert icon.is_file()

    removed = run(unpacked / "uninstall.sh", env=environment, cwd=tmp_path)
    assert "MCP Tray is uninstalled." in removed
    assert not program.exists() and not (user / ".local" / "lib" / "mcp-tray").exists()
    assert not (user / ".config" / "autostart" / "mcp-tray.desktop").exists()
