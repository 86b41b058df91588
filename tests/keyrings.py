"""Keyrings for tests: an in-memory one for unit tests, and a real Secret Service.

``secret_service`` starts ``dbus-run-session`` with ``gnome-keyring-daemon``
inside it (its login collection created and unlocked with a throwaway
password, its files in a temporary folder), once per test session, and
yields the environment that reaches it. Nothing touches the user's own
keyring: tests pass that environment to the processes they start.
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import tempfile
from collections.abc import Iterator

import pytest
from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError

START_TIMEOUT_S = 30.0  # dbus-daemon and gnome-keyring-daemon start in well under a second

# Runs inside dbus-run-session: unlock (and so create) the login collection,
# say where the bus is, then live until the test session closes our stdin.
_INSIDE = (
    'printf %s "$MCP_TRAY_TEST_KEYRING_PASSWORD" '
    "| gnome-keyring-daemon --unlock --components=secrets >/dev/null "
    '&& echo "$DBUS_SESSION_BUS_ADDRESS" && exec cat >/dev/null'
)


class InMemory:
    """Entries kept in a dict, for a keyring backend class mixed in after this one."""

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password


class MemoryKeyring(InMemory, KeyringBackend):
    """A keyring backend in a dict: for unit tests only."""

    priority = 1  # type: ignore[assignment]  # a plain number is what keyring reads

    def delete_password(self, service: str, username: str) -> None:
        if self.entries.pop((service, username), None) is None:
            raise PasswordDeleteError("no such password")


class ForgetfulKeyring(MemoryKeyring):
    """A backend that takes every value and keeps none, as a misconfigured keyring may."""

    def set_password(self, service: str, username: str, password: str) -> None:
        pass


class BrokenKeyring(MemoryKeyring):
    """A backend whose every call fails the way a locked Secret Service collection does."""

    def get_password(self, service: str, username: str) -> str | None:
        raise _Locked("Collection is locked!")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise _Locked("Collection is locked!")


class _Locked(Exception):
    pass


_Locked.__name__ = "LockedException"  # what secretstorage calls it


@pytest.fixture(scope="session")
def secret_service() -> Iterator[dict[str, str]]:
    """The environment of a private, unlocked Secret Service (gnome-keyring)."""
    missing = [
        tool for tool in ("dbus-run-session", "gnome-keyring-daemon") if not shutil.which(tool)
    ]
    if missing:
        pytest.skip(f"{' and '.join(missing)} not installed (scripts/test installs them)")
    data_home = tempfile.mkdtemp(prefix="mcp-tray-test-keyring-")
    environment = {
        **os.environ,
        "XDG_DATA_HOME": data_home,  # the keyring files
        "MCP_TRAY_TEST_KEYRING_PASSWORD": "mcp-tray-tests",
    }
    environment.pop("PYTHON_KEYRING_BACKEND", None)
    session = subprocess.Popen(
        ["dbus-run-session", "--", "sh", "-c", _INSIDE],
        env=environment,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert session.stdout is not None
        ready, _, _ = select.select([session.stdout], [], [], START_TIMEOUT_S)
        address = session.stdout.readline().strip() if ready else ""
        if not address:
            pytest.fail("dbus-run-session with gnome-keyring-daemon did not start")
        reach = {k: v for k, v in os.environ.items() if k != "PYTHON_KEYRING_BACKEND"}
        yield {**reach, "DBUS_SESSION_BUS_ADDRESS": address}
    finally:
        assert session.stdin is not None and session.stdout is not None
        session.stdin.close()
        session.stdout.close()
        try:
            session.wait(START_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            session.kill()
            session.wait()
        shutil.rmtree(data_home, ignore_errors=True)
