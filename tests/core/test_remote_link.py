"""app.core.supervise.remote's pieces that need no server: which faults are the
network's, and what the SDK's client may log of them (the whole path, with real
servers: tests/test_remote_servers.py)."""

from __future__ import annotations

import logging

import httpx2
import pytest

import app.core.supervise.remote  # noqa: F401 - installs the filter on the SDK's logger

SDK_LOGGER = logging.getLogger("mcp.client.streamable_http")


def sdk_logs_a_failed_request(failure: BaseException) -> None:
    try:
        raise failure
    except BaseException:
        SDK_LOGGER.exception("Error in post_writer")


def test_the_sdk_s_traceback_of_a_request_the_network_broke_stays_out_of_hub_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.DEBUG, logger=SDK_LOGGER.name):
        sdk_logs_a_failed_request(ExceptionGroup("tasks", [httpx2.ReadError("reset")]))
        sdk_logs_a_failed_request(httpx2.ConnectError("refused"))
        sdk_logs_a_failed_request(ValueError("a bug of its own"))

    kept = [str(record.exc_info[1]) for record in caplog.records if record.exc_info]
    assert kept == ["a bug of its own"]
