"""Secrets in the operating system's keyring, one scope per server.

Each secret is a keyring entry with service ``mcp-tray/SERVER`` and user name
NAME, so two servers may each have a ``GITHUB_TOKEN`` of their own and one
server's secret never reaches another. Keyrings cannot list their entries
portably, so the names (never the values) are also kept in a small index
file beside the hub's state.

There is no plaintext fallback: only keyrings known to encrypt at rest are
used (:data:`ENCRYPTED_BACKENDS`, checked inside keyring's chainer too); when
none can be reached, every call raises :class:`KeyringUnavailable` with the
cause and the fix. Calls may block (D-Bus, an unlock prompt), so the hub
runs them on worker threads.
"""

from __future__ import annotations

import json
import logging
import os
import platform
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import keyring
import keyring.errors
from keyring.backend import KeyringBackend
from keyring.backends import fail, null
from keyring.backends.chainer import ChainerBackend

from app.core.atomic import write_atomically
from app.core.errors import UserError
from app.core.secrets.redact import check

logger = logging.getLogger(__name__)

SERVICE_PREFIX = "mcp-tray/"
T = TypeVar("T")


class KeyringUnavailable(UserError):
    """No secure keyring can be used; the message names the cause and the fix."""


def service_for(server: str) -> str:
    return SERVICE_PREFIX + server


class SecretStore:
    def __init__(self, index_file: Path, *, backend: KeyringBackend | None = None) -> None:
        self._index_file = index_file
        self._backend = backend

    def get(self, server: str, name: str) -> str | None:
        return self.get_own(server, name)

    def set(self, server: str, name: str, value: str) -> None:
        """Keep ``value``; raises UnsafeSecret, before the keyring is touched, for a value
        too short or too common to be masked in logs."""
        check(value)
        self._call(lambda backend: backend.set_password(service_for(server), name, value))
        self._remember(server, name, keep=True)

    def delete(self, server: str, name: str) -> bool:
        """Remove a secret; False when there was none."""
        deleted = self.delete_own(server, name)
        self._remember(server, name, keep=False)
        return deleted

    # ----- what MCP Tray keeps for a server itself (its sign-in), not the user's secrets:
    # not in the names index, so `secret list` and the Set secret dialog never show them.
    # Their keys hold a space, which no secret's name can (SECRET_NAME_PATTERN).

    def get_own(self, server: str, key: str) -> str | None:
        return self._call(lambda backend: backend.get_password(service_for(server), key))

    def set_own(self, server: str, key: str, value: str) -> None:
        self._call(lambda backend: backend.set_password(service_for(server), key, value))

    def delete_own(self, server: str, key: str) -> bool:
        """Remove one; False when there was none."""

        def delete(backend: KeyringBackend) -> bool:
            try:
                backend.delete_password(service_for(server), key)
            except keyring.errors.PasswordDeleteError:
                return False
            return True

        return self._call(delete)

    def names(self, server: str) -> list[str]:
        """The names stored for ``server`` through MCP Tray (values stay in the keyring)."""
        return sorted(self._index().get(server, []))

    def servers(self) -> list[str]:
        """Every server with secrets stored through MCP Tray, configured or not (any more)."""
        return sorted(self._index())

    # ----- the keyring

    def _call(self, action: Callable[[KeyringBackend], T]) -> T:
        backend = self._backend or _usable_backend()
        try:
            return action(backend)
        except KeyringUnavailable:
            raise
        except Exception as error:  # each backend raises its own kinds; all mean "cannot"
            raise KeyringUnavailable(_explain(error)) from error

    # ----- the names index

    def _index(self) -> dict[str, list[str]]:
        try:
            data = json.loads(self._index_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as error:
            logger.warning("ignoring the unreadable secret index %s: %s", self._index_file, error)
            return {}
        return {str(k): [str(n) for n in v] for k, v in data.items() if isinstance(v, list)}

    def _remember(self, server: str, name: str, *, keep: bool) -> None:
        index = self._index()
        names = set(index.get(server, []))
        names = names | {name} if keep else names - {name}
        if names:
            index[server] = sorted(names)
        else:
            index.pop(server, None)
        text = json.dumps(index, indent=2, sort_keys=True) + "\n"
        write_atomically(self._index_file, text.encode())


# Backends known to encrypt what they keep, by where keyring defines them (a
# subclass counts). Anything else, keyrings.alt's files included, is refused.
ENCRYPTED_BACKENDS = frozenset(
    {
        "keyring.backends.SecretService.Keyring",  # GNOME Keyring, KWallet 5.97+, KeePassXC
        "keyring.backends.libsecret.Keyring",  # the same Secret Service, through libsecret
        "keyring.backends.kwallet.DBusKeyring",  # KWallet (and its KWallet4 subclass)
        "keyring.backends.macOS.Keyring",  # Keychain
        "keyring.backends.Windows.WinVaultKeyring",  # Credential Manager
    }
)


def _usable_backend() -> KeyringBackend:
    """The keyring picked from the environment, if it encrypts; a backend given to
    SecretStore (the tests' in-memory one) is used as it is and never comes here."""
    backend = keyring.get_keyring()
    # A chain reads from all its members and writes to the first one: using only
    # its highest-priority encrypted member keeps both reads and writes encrypted,
    # and keyrings.alt installed beside a working desktop keyring is no reason to refuse.
    candidates = list(backend.backends) if isinstance(backend, ChainerBackend) else [backend]
    encrypted = [member for member in candidates if _encrypts(member)]
    if encrypted:
        return encrypted[0]
    found = [member for member in candidates if not isinstance(member, fail.Keyring | null.Keyring)]
    if not found:
        raise KeyringUnavailable(_no_keyring())
    raise KeyringUnavailable(_not_encrypted(found))


def _encrypts(backend: KeyringBackend) -> bool:
    return any(
        f"{c.__module__}.{c.__qualname__}" in ENCRYPTED_BACKENDS for c in type(backend).__mro__
    )


def _not_encrypted(found: list[KeyringBackend]) -> str:
    names = ", ".join(f"{type(b).__name__} from {type(b).__module__}" for b in found)
    return (
        "MCP Tray keeps secrets only in a keyring that encrypts them (the Secret Service "
        "on Linux: GNOME Keyring or KWallet; Keychain on macOS; Credential Manager on "
        f"Windows). The keyring found here ({names}) is not one of them and may keep "
        "secrets unencrypted in a file, so MCP Tray does not use it. Install and unlock "
        "your desktop's keyring (Debian/Ubuntu: gnome-keyring), or remove the setting "
        "that chose this one (PYTHON_KEYRING_BACKEND or keyringrc.cfg), then try again"
    )


def _no_keyring() -> str:
    if platform.system() == "Linux":  # not sys.platform: mypy would drop the other branch
        bus = os.environ.get("DBUS_SESSION_BUS_ADDRESS")
        if not bus:
            return (
                "no keyring can be reached: there is no D-Bus session (DBUS_SESSION_BUS_ADDRESS "
                "is not set), so the Secret Service cannot be asked. Run MCP Tray from your "
                "desktop session, or start one with `dbus-run-session` and gnome-keyring-daemon"
            )
        return (
            f"no Secret Service answers on the D-Bus session ({bus}); start gnome-keyring "
            "or KWallet in your session (Debian/Ubuntu: install gnome-keyring)"
        )
    return (
        "no keyring is available to keep secrets in; MCP Tray uses the system keyring "
        "(Keychain on macOS, Credential Manager on Windows): check that it is not disabled "
        "by a keyring setting (PYTHON_KEYRING_BACKEND or keyringrc.cfg)"
    )


def _explain(error: Exception) -> str:
    """The cause of a keyring failure, in words, with the fix."""
    kind = type(error).__name__
    text = str(error)
    if isinstance(error, keyring.errors.NoKeyringError):
        return _no_keyring()
    if "Locked" in kind or "locked" in text.lower():
        return (
            "the keyring is locked; unlock it (log in to your desktop session, or open your "
            "system's Passwords and Keys app) and try again"
        )
    if "PromptDismissed" in kind or "dismissed" in text.lower():
        return "the keyring asked to be unlocked and the prompt was dismissed; try again"
    if "NotAvailable" in kind or isinstance(error, ConnectionError | FileNotFoundError):
        return (
            "the Secret Service (the desktop's keyring) cannot be reached over D-Bus "
            f"({text or kind}); make sure gnome-keyring or KWallet runs in your session"
        )
    return (
        f"the keyring could not do it ({text or kind}); make sure it runs and is unlocked, "
        "then try again"
    )
