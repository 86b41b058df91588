"""app.core.supervise.remote's pieces that need no server: which faults are the
network's, and what the SDK's client may log of them (the whole path, with real
servers: tests/test_remote_servers.py)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx2
import pytest

from app.core.config import ServerConfig
from app.core.config.schema import RestartPolicy
from app.core.supervise import remote  # installs the filter on the SDK's logger
from app.core.supervise.remote import HttpLink, signs_in

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


@pytest.mark.anyio
async def test_only_a_posts_404_in_the_session_says_the_server_forgot_it() -> None:
    # A server may have no GET stream (404), and a forgotten session is a POST's 404.
    link = HttpLink("web")
    session = {"mcp-session-id": "abc"}
    for method in ("GET", "DELETE"):
        request = httpx2.Request(method, "https://mcp.example.com/mcp", headers=session)
        await link.saw(httpx2.Response(404, request=request))
    assert not link.session_forgotten

    request = httpx2.Request("POST", "https://mcp.example.com/mcp", headers=session)
    await link.saw(httpx2.Response(404, request=request))
    assert link.session_forgotten


def test_a_request_httpx_cannot_make_is_a_mistake_and_its_words_are_not_repeated() -> None:
    bad_header = httpx2.LocalProtocolError("Illegal header value b'Bearer sk-live-1234567890 '")

    assert not remote._is_network_fault(bad_header)
    assert remote._is_network_fault(ExceptionGroup("tasks", [httpx2.ConnectError("refused")]))
    assert "sk-live" not in remote._reason(bad_header)


@pytest.mark.anyio
async def test_an_offline_server_s_attempts_leave_no_task_behind(supervise: Any) -> None:
    # The SDK's task group cancels the run's wait when a request fails on the network;
    # what it raced (the stop it waits for, the handshake) must end with it.
    quick = RestartPolicy(max_failures=1, initial_delay_ms=1, max_delay_ms=1)
    nowhere = ServerConfig(url="http://127.0.0.1:1/mcp", restart=quick)
    _, events = supervise(nowhere, name="gone")

    counts = []
    for attempt in (3, 8):
        await events.wait_for(lambda e, n=attempt: backoffs(events) >= n)
        counts.append(len(asyncio.all_tasks()))

    assert counts[1] <= counts[0]


def backoffs(events: Any) -> int:
    return events.states().count("backoff")


def test_a_server_with_a_key_in_any_header_is_not_signed_in_to() -> None:
    def entry(**headers: str) -> ServerConfig:
        return ServerConfig.model_validate(
            {"url": "https://mcp.example.com/mcp", "headers": headers}
        )

    assert signs_in(entry())
    assert signs_in(entry(**{"X-Client": "mcp-tray"}))
    assert not signs_in(entry(Authorization="Bearer ${secret:TOKEN}"))
    assert not signs_in(entry(**{"X-API-Key": "${secret:KEY}"}))
    assert not signs_in(ServerConfig(command="npx"))
