"""The hub's handling of secrets, with real servers and an in-memory keyring backend.

tests/test_keyring.py covers the same ground through real processes and a
real Secret Service; these tests look at what only the hub's events show:
no retries while a secret is missing, one notification-worthy event, the
state a broken keyring leads to.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from app.core.endpoint.remote import RemoteHub
from app.core.errors import ControlError
from app.core.events import SecretsMissing, ServerLogLine, ServerStateChanged
from app.core.secrets import Secrets, SecretStore
from app.core.supervise.states import State
from tests.helpers import PYTHON, SERVERS
from tests.keyrings import BrokenKeyring, MemoryKeyring
from tests.relaykit import Tray, start_tray

pytestmark = pytest.mark.anyio

SECRETIVE = SERVERS / "secretive.py"
ENTRY = {
    "command": PYTHON,
    "args": [str(SECRETIVE)],
    "env": {"API_TOKEN": "${secret:API_TOKEN}"},
    "restart": {"initialDelayMs": 10, "maxDelayMs": 50},
}


def secrets_on(backend: MemoryKeyring, home: Path) -> Secrets:
    return Secrets(SecretStore(home / "secret-names.json", backend=backend))


async def configure(tray: Tray, servers: dict[str, object]) -> int:
    """Write the config the running hub picks up; the event index before it."""
    mark = len(tray.events.events)
    (tray.home / "config.json").write_text(json.dumps({"mcpServers": servers}))
    return mark


async def tray_on_memory_keyring(home: Path) -> tuple[MemoryKeyring, SecretStore, Tray]:
    """A hub in this process on an in-memory keyring, and the store a RemoteHub shares it by."""
    backend = MemoryKeyring()
    store = SecretStore(home / "secret-names.json", backend=backend)
    return backend, store, await start_tray(home, {}, secrets=Secrets(store))


async def test_a_missing_secret_parks_the_server_once_and_setting_it_starts_it(
    tray_home: Path,
) -> None:
    tray = await start_tray(tray_home, {}, secrets=secrets_on(MemoryKeyring(), tray_home))
    try:
        mark = await configure(tray, {"api": ENTRY})
        waiting = await tray.events.wait_for_state("needs-secret", after=mark)
        missing = await tray.events.wait_for(lambda e: isinstance(e, SecretsMissing), after=mark)

        started = await tray.hub.set_secret("api", "API_TOKEN", "the-token-value")
        await tray.events.wait_for_state("running", after=mark)
        client = await tray.attach("api")
        answer = await client.call("token")
    finally:
        await tray.close()

    assert "needs the secret API_TOKEN" in waiting.failure.text()
    assert isinstance(missing, SecretsMissing) and missing.names == ("API_TOKEN",)
    assert started == ["api"]
    assert answer == "the-token-value"
    events = tray.events.events[mark:]
    starts = [e for e in events if isinstance(e, ServerStateChanged) and e.state == "starting"]
    assert len(starts) == 2  # the one that found no secret, and the one after it was set
    assert len([e for e in events if isinstance(e, SecretsMissing)]) == 1
    lines = [e.line for e in events if isinstance(e, ServerLogLine)]
    assert "using token ***" in lines
    assert not any("the-token-value" in line for line in lines)


async def test_a_locked_keyring_parks_the_server_with_the_reason_not_as_needing_a_secret(
    tray_home: Path,
) -> None:
    tray = await start_tray(tray_home, {}, secrets=secrets_on(BrokenKeyring(), tray_home))
    try:
        mark = await configure(tray, {"api": ENTRY})
        parked = await tray.events.wait_for_state("crash-loop", after=mark)
    finally:
        await tray.close()

    assert parked.failure.text() == (
        "cannot read its secrets: the keyring is locked; unlock it (log in to your desktop "
        "session, or open your system's Passwords and Keys app) and try again"
    )


async def test_a_secret_in_args_works_and_the_hub_warns_that_ps_shows_it(
    tray_home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    backend = MemoryKeyring()
    secrets = secrets_on(backend, tray_home)
    secrets.store.set("api", "API_TOKEN", "token-in-argv")
    entry = {**ENTRY, "args": [str(SECRETIVE), "--", "${secret:API_TOKEN}"], "env": {}}

    with caplog.at_level(logging.WARNING, logger="app.core.hub"):
        tray = await start_tray(tray_home, {"api": entry}, secrets=secrets)
        await tray.close()

    (warning,) = [r.getMessage() for r in caplog.records if "process list" in r.getMessage()]
    assert warning.startswith("api: a ${secret:…} in args is visible to every user")


TWO_SECRETS = {
    **ENTRY,
    "env": {"API_TOKEN": "${secret:API_TOKEN}", "OTHER_KEY": "${secret:OTHER_KEY}"},
}


async def test_setting_one_of_two_secrets_leaves_the_server_waiting_for_the_other(
    tray_home: Path,
) -> None:
    tray = await start_tray(tray_home, {}, secrets=secrets_on(MemoryKeyring(), tray_home))
    try:
        mark = await configure(tray, {"api": TWO_SECRETS})
        await tray.events.wait_for_state("needs-secret", after=mark)

        started = await tray.hub.set_secret("api", "API_TOKEN", "the-token-value")
        (row,) = tray.hub.status_rows()
        then_started = await tray.hub.set_secret("api", "OTHER_KEY", "the-other-value")
        await tray.events.wait_for_state("running", after=mark)
    finally:
        await tray.close()

    assert started == []  # not told "(re)started": it still waits
    assert row.state is State.NEEDS_SECRET
    assert row.failure is not None
    assert row.failure.text().startswith("needs the secret OTHER_KEY: set it")
    assert "API_TOKEN" not in row.failure.text()
    assert then_started == ["api"]


async def test_a_secret_too_short_to_mask_is_refused_by_the_hub_and_never_stored(
    tray_home: Path,
) -> None:
    backend = MemoryKeyring()
    tray = await start_tray(tray_home, {}, secrets=secrets_on(backend, tray_home))
    try:
        mark = await configure(tray, {"api": ENTRY})
        await tray.events.wait_for_state("needs-secret", after=mark)
        with pytest.raises(ControlError) as refused:
            await tray.hub.set_secret("api", "API_TOKEN", "abc")
        (row,) = tray.hub.status_rows()
    finally:
        await tray.close()

    assert str(refused.value).startswith("It is too short: a secret needs at least 8 characters.")
    assert backend.entries == {}
    assert row.state is State.NEEDS_SECRET


async def test_a_stored_secret_too_common_to_mask_keeps_the_server_waiting_and_says_why(
    tray_home: Path,
) -> None:
    backend = MemoryKeyring()
    backend.set_password("mcp-tray/api", "API_TOKEN", "running")  # put there by another program
    tray = await start_tray(tray_home, {}, secrets=secrets_on(backend, tray_home))
    try:
        mark = await configure(tray, {"api": ENTRY})
        waiting = await tray.events.wait_for_state("needs-secret", after=mark)
        missing = await tray.events.wait_for(lambda e: isinstance(e, SecretsMissing), after=mark)
    finally:
        await tray.close()

    reason = waiting.failure.text()
    assert reason.startswith("cannot use its stored secret API_TOKEN: too short")
    assert isinstance(missing, SecretsMissing) and missing.names == ("API_TOKEN",)
    lines = [e.line for e in tray.events.events[mark:] if isinstance(e, ServerLogLine)]
    assert not [line for line in lines if line.startswith("Started")]  # never handed over


async def test_a_secret_too_short_to_mask_is_refused_in_words_through_a_hub_in_another_process(
    tray_home: Path,
) -> None:
    backend, store, tray = await tray_on_memory_keyring(tray_home)
    try:
        remote = RemoteHub(tray.paths, store=store)
        with pytest.raises(ControlError) as refused:
            await remote.set_secret("api", "API_TOKEN", "abc")
    finally:
        await tray.close()

    assert str(refused.value).startswith("It is too short: a secret needs at least 8 characters.")
    assert backend.entries == {}


async def test_a_secret_set_through_a_hub_in_another_process_starts_the_waiting_server(
    tray_home: Path,
) -> None:
    backend, store, tray = await tray_on_memory_keyring(tray_home)
    try:
        mark = await configure(tray, {"api": ENTRY})
        await tray.events.wait_for_state("needs-secret", after=mark)
        remote = RemoteHub(tray.paths, store=store)
        started = await remote.set_secret("api", "API_TOKEN", "the-token-value")
        await tray.events.wait_for_state("running", after=mark)
    finally:
        await tray.close()

    assert started == ["api"]
    assert backend.entries == {("mcp-tray/api", "API_TOKEN"): "the-token-value"}


async def test_a_secret_set_for_a_hub_that_has_stopped_is_kept_and_the_tray_says_so(
    tray_home: Path,
) -> None:
    backend, store, tray = await tray_on_memory_keyring(tray_home)
    await tray.close()
    remote = RemoteHub(tray.paths, store=store)

    with pytest.raises(ControlError) as refused:
        await remote.set_secret("api", "API_TOKEN", "the-token-value")

    assert str(refused.value).startswith(
        "MCP Tray's hub cannot be reached: MCP Tray is not running"
    )
    assert backend.entries == {("mcp-tray/api", "API_TOKEN"): "the-token-value"}
