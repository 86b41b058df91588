"""Signing in to a remote server (OAuth), with real parts: a hub (``mcp-tray serve``)
with a real Secret Service, the OAuth-protected tests/servers/remote_echo.py, the
authorization server tests/servers/auth_server.py, ``mcp-tray signin`` as the user
runs it, and the user's browser played by an HTTP client that follows the redirects.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.shared.exceptions import MCPError

from app.core.secrets import SecretStore
from app.core.signin import SignInFailed, SignInStore
from app.core.signin import sign_in as sign_in_to
from tests.hubprocess import HubProcess, mcp_tray
from tests.keyrings import MemoryKeyring
from tests.oauthkit import AuthServer, auth_server, browse
from tests.test_conformance import free_port
from tests.test_remote_servers import attached, remote_server
from tests.test_revision_2026 import text

pytestmark = pytest.mark.anyio

SIGN_IN_S = 60.0  # discovery, registration, the browser's redirects and the token exchange


@dataclass
class Setup:
    auth: AuthServer
    hub: HubProcess
    url: str  # the remote server's
    keyring_env: dict[str, str]


@contextmanager
def signing_in(
    tmp_path: Path, keyring_env: dict[str, str], *auth_options: str, **more_servers: Any
) -> Iterator[Setup]:
    """An authorization server, the remote server it protects, and a hub that has the
    server as "linear" (and ``more_servers``), running and waiting for a sign-in."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    with (
        auth_server(tmp_path / "auth", *auth_options) as auth,
        remote_server(tmp_path / "remote", port, "--auth-server", auth.url),
    ):
        home = tmp_path / "home"
        home.mkdir()
        servers = {"linear": {"url": url}, **more_servers}
        (home / "config.json").write_text(json.dumps({"mcpServers": servers}))
        # The keyring is the test session's: an earlier test's sign-in is forgotten first
        # (by the command, with no hub running: from the keyring itself).
        forgotten = mcp_tray(home, "signout", "linear", env=keyring_env)
        assert forgotten.returncode == 0, forgotten.stderr
        hub = HubProcess(home, env=keyring_env)
        hub.expect_warnings(r"linear (needs you to sign in|is signed out)")
        try:
            hub.wait_for_line(r"linear needs you to sign in")
            yield Setup(auth, hub, url, keyring_env)
        finally:
            hub.stop()


def start_sign_in(setup: Setup, *options: str) -> tuple[subprocess.Popen[str], str, str]:
    """``mcp-tray signin linear --no-browser`` under way, the page it printed, and
    what it said with it."""
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "signin", "linear", "--no-browser", *options],
        env={**setup.keyring_env, "MCP_TRAY_HOME": str(setup.hub.home)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    said = process.stdout.readline() + process.stdout.readline()
    page = next((word for word in said.split() if word.startswith("http")), "")
    assert page, f"no sign-in page in {said!r} (stderr: {process.stderr and process.stderr.read()})"
    return process, page, said


def finish(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=SIGN_IN_S)
    return process.returncode, out, err


async def sign_in(setup: Setup) -> str:
    """The user signs in from the command line and allows MCP Tray in the browser;
    what the command printed."""
    process, page, _ = start_sign_in(setup)
    landed = await browse(page)
    code, out, err = await anyio.to_thread.run_sync(finish, process)
    assert code == 0, err
    assert landed.status_code == 200 and "MCP Tray has your sign-in" in landed.text
    setup.hub.wait_for_new_line(r"linear is running")
    return out


def keyring_entry(setup: Setup, key: str) -> str | None:
    """What the hub's keyring holds for linear under ``key``, read as another program would."""
    found = subprocess.run(
        [
            sys.executable,
            "-c",
            "import keyring, sys; print(keyring.get_password('mcp-tray/linear', sys.argv[1]))",
            key,
        ],
        env=setup.keyring_env,
        capture_output=True,
        text=True,
        check=True,
    )
    value = found.stdout.strip()
    return None if value == "None" else value


def row(hub: HubProcess, name: str = "linear") -> dict[str, Any]:
    return next(r for r in hub.status() if r["name"] == name)


async def test_a_server_that_signs_in_waits_for_the_user_then_connects_once_signed_in(
    tmp_path: Path, secret_service: dict[str, str]
) -> None:
    with signing_in(tmp_path, secret_service) as setup:
        waiting = row(setup.hub)
        out = await sign_in(setup)
        running = row(setup.hub)
        async with attached(setup.hub.home, "linear") as client:
            echoed = text(await client.call_tool("echo", {"text": "hello"}))
        stats = await setup.auth.stats()
        tokens = json.loads(keyring_entry(setup, "sign-in tokens") or "{}")
        registration = json.loads(keyring_entry(setup, "sign-in registration") or "{}")
        listed = mcp_tray(setup.hub.home, "secret", "list", "linear", env=secret_service)
        assert setup.hub.unexpected_warnings() == []

    assert waiting["state"] == "needs-sign-in"
    assert waiting["last_error"] == "needs you to sign in"
    assert waiting["signed_in"] is False
    assert "Signed in to linear." in out
    assert (running["state"], running["signed_in"]) == ("running", True)
    assert echoed == "hello"
    assert (stats.registrations, stats.authorizations, stats.code_grants) == (1, 1, 1)
    assert tokens["tokens"]["access_token"] == stats.access_tokens[-1]
    assert registration["client_name"] == "MCP Tray"
    # The sign-in is MCP Tray's, not one of the user's secrets.
    assert "sign-in" not in listed.stdout


async def test_tokens_are_kept_nowhere_but_the_keyring(
    tmp_path: Path, secret_service: dict[str, str]
) -> None:
    with signing_in(tmp_path, secret_service) as setup:
        await sign_in(setup)
        async with attached(setup.hub.home, "linear") as client:
            await client.call_tool("echo", {"text": "one"})
            await setup.auth.expire_access()  # a refresh: a second access token
            answered = await client.call_tool("echo", {"text": "two"})
        status = mcp_tray(setup.hub.home, "status", "--json").stdout
        stats = await setup.auth.stats()
        refresh = json.loads(keyring_entry(setup, "sign-in tokens") or "{}")["tokens"]
        stderr = "\n".join(setup.hub.lines)
        files = {
            path: path.read_bytes().decode(errors="replace")
            for path in setup.hub.home.rglob("*")
            if path.is_file()
        }

    secrets = [*stats.access_tokens, refresh["refresh_token"]]
    assert len(stats.access_tokens) == 2
    assert text(answered) == "two"
    for secret in secrets:
        assert secret not in status
        assert secret not in stderr
        assert secret not in answered.model_dump_json()
        assert [path for path, content in files.items() if secret in content] == []


async def test_an_expired_token_is_refreshed_without_asking_and_no_call_fails(
    tmp_path: Path, secret_service: dict[str, str]
) -> None:
    with signing_in(tmp_path, secret_service) as setup:
        await sign_in(setup)
        async with attached(setup.hub.home, "linear") as client:
            before = text(await client.call_tool("echo", {"text": "before"}))
            await setup.auth.expire_access()
            after = text(await client.call_tool("echo", {"text": "after"}))
        stats = await setup.auth.stats()
        state = row(setup.hub)["state"]
        assert setup.hub.unexpected_warnings() == []

    assert (before, after) == ("before", "after")
    assert stats.refreshes == 1
    assert stats.authorizations == 1  # the user was not asked again
    assert state == "running"


async def test_a_revoked_sign_in_asks_the_user_and_the_same_session_carries_on_after(
    tmp_path: Path, secret_service: dict[str, str]
) -> None:
    with signing_in(tmp_path, secret_service) as setup:
        await sign_in(setup)
        async with attached(setup.hub.home, "linear") as client:
            assert text(await client.call_tool("echo", {"text": "one"})) == "one"
            await setup.auth.revoke_refresh()
            await setup.auth.expire_access()
            setup.hub.expect_warnings(r"Token refresh failed: 400")  # the SDK's words
            with pytest.raises(MCPError) as refused:
                await client.call_tool("echo", {"text": "two"})
            waiting = row(setup.hub)
            await sign_in(setup)
            # The same session, the app none the wiser: its tools work again.
            again = text(await client.call_tool("echo", {"text": "three"}))
        stats = await setup.auth.stats()
        assert setup.hub.unexpected_warnings() == []

    assert "its sign-in has expired" in refused.value.error.message
    assert "mcp-tray signin linear" in refused.value.error.message
    assert (waiting["state"], waiting["signed_in"]) == ("needs-sign-in", False)
    assert again == "three"
    assert stats.refused_refreshes == 1
    assert stats.authorizations == 2


async def test_two_sign_ins_at_once_share_one_page(
    tmp_path: Path, secret_service: dict[str, str]
) -> None:
    with signing_in(tmp_path, secret_service) as setup:
        first, page, _ = start_sign_in(setup)
        second, same_page, said = start_sign_in(setup)
        await browse(page)
        outcomes = [await anyio.to_thread.run_sync(finish, p) for p in (first, second)]
        stats = await setup.auth.stats()

    assert same_page == page
    assert [code for code, _, _ in outcomes] == [0, 0]
    assert "A sign-in to linear is already open in your browser." in said
    assert stats.authorizations == 1


async def test_signing_out_forgets_the_tokens_and_the_server_waits_for_a_new_sign_in(
    tmp_path: Path, secret_service: dict[str, str]
) -> None:
    with signing_in(tmp_path, secret_service) as setup:
        await sign_in(setup)
        signed_out = mcp_tray(setup.hub.home, "signout", "linear", env=secret_service)
        setup.hub.wait_for_new_line(r"linear is signed out")
        waiting = row(setup.hub)
        tokens = keyring_entry(setup, "sign-in tokens")
        again = mcp_tray(setup.hub.home, "signout", "linear", env=secret_service)

    assert signed_out.returncode == 0, signed_out.stderr
    assert "Signed out of linear." in signed_out.stdout
    assert (waiting["state"], waiting["last_error"]) == (
        "needs-sign-in",
        "is signed out: sign in to use it",
    )
    assert tokens is None
    assert "linear had no sign-in to forget." in again.stdout


async def test_a_sign_in_service_that_refuses_registration_is_told_and_disturbs_nothing(
    tmp_path: Path, secret_service: dict[str, str]
) -> None:
    port = free_port()
    other = {"other": {"url": f"http://127.0.0.1:{port}/mcp"}}
    with (
        remote_server(tmp_path / "other", port),
        signing_in(tmp_path, secret_service, "--refuse-registration", **other) as setup,
    ):
        setup.hub.wait_for_line(r"other is running")
        refused = mcp_tray(setup.hub.home, "signin", "linear", "--no-browser", env=secret_service)
        rows = {r["name"]: r["state"] for r in setup.hub.status()}

    assert refused.returncode == 1
    assert (
        "Could not sign in to linear: its sign-in service would not register MCP Tray "
        "(registration is closed)" in refused.stderr
    )
    assert rows == {"linear": "needs-sign-in", "other": "running"}


def test_signing_in_to_a_server_that_runs_here_is_refused_readably(
    tmp_path: Path, secret_service: dict[str, str]
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    demo = {"command": sys.executable, "args": ["-m", "app", "demo"]}
    (home / "config.json").write_text(json.dumps({"mcpServers": {"demo": demo}}))
    hub = HubProcess(home, env=secret_service)
    try:
        hub.wait_for_line("demo is running")
        refused = mcp_tray(home, "signin", "demo", env=secret_service)
    finally:
        hub.stop()

    assert refused.returncode == 1
    assert "demo runs on this computer: there is nothing to sign in to" in refused.stderr


async def test_a_sign_in_not_finished_in_time_ends_and_says_so(tmp_path: Path) -> None:
    port = free_port()
    store = SecretStore(tmp_path / "names.json", backend=MemoryKeyring())
    pages: list[str] = []
    with (
        auth_server(tmp_path / "auth") as auth,
        remote_server(tmp_path / "remote", port, "--auth-server", auth.url),
    ):
        with pytest.raises(SignInFailed) as failed:
            # The user never comes back from the browser.
            await sign_in_to(
                "linear",
                f"http://127.0.0.1:{port}/mcp",
                SignInStore(store, "linear", f"http://127.0.0.1:{port}/mcp"),
                pages.append,
                time_limit_s=1.0,
            )
        stats = await auth.stats()

    assert str(failed.value) == (
        "The sign-in to linear was not finished within 1 s. Sign in again when you are ready."
    )
    assert len(pages) == 1 and pages[0].startswith(f"{auth.url}/authorize?")
    assert (stats.registrations, stats.code_grants) == (1, 0)
    assert store.get_own("linear", "sign-in tokens") is None


async def test_removing_a_server_deletes_its_sign_in(
    tmp_path: Path, secret_service: dict[str, str]
) -> None:
    with signing_in(tmp_path, secret_service) as setup:
        await sign_in(setup)
        signed_in = keyring_entry(setup, "sign-in tokens") is not None
        removed = mcp_tray(setup.hub.home, "remove", "linear", "--yes", env=secret_service)
        left = [keyring_entry(setup, key) for key in ("sign-in tokens", "sign-in registration")]

    assert signed_in
    assert removed.returncode == 0, removed.stderr
    assert left == [None, None]
