"""Shared fixtures: a private MCP_TRAY_HOME per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.core.paths import HOME_ENV
from tests.keyrings import secret_service  # noqa: F401 - a fixture for every test module


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # the hub runs on asyncio (qasync in the tray)


@pytest.fixture
def tray_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """MCP_TRAY_HOME for this test: nothing touches the real user's files."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv(HOME_ENV, str(home))
    yield home


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The user's home folder, where the apps keep their files."""
    home = tmp_path / "user"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    return home
