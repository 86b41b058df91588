"""Fixtures shared by the core tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from app.core.config import ServerConfig
from app.core.events import EventBus
from app.core.supervise.stderr import ServerLog
from app.core.supervise.supervisor import Supervisor
from tests.helpers import EventRecorder

Start = Callable[..., tuple[Supervisor, EventRecorder]]


@pytest.fixture
async def supervise(tmp_path: Path) -> AsyncIterator[Start]:
    """``start(config, name="flaky", **options) -> (supervisor, recorder)``: one Supervisor
    on the test's loop, its log in ``tmp_path/NAME.log``; stops everything afterwards."""
    started: list[Supervisor] = []

    def start(
        config: ServerConfig, name: str = "flaky", **options: Any
    ) -> tuple[Supervisor, EventRecorder]:
        bus = EventBus()
        recorder = EventRecorder(bus)
        log = ServerLog(tmp_path / f"{name}.log")
        supervisor = Supervisor(name, config, bus=bus, log=log, **options)
        started.append(supervisor)
        supervisor.start()
        return supervisor, recorder

    yield start
    for supervisor in started:
        await supervisor.stop()
        supervisor.log.close()
