"""Which keyring backends the store accepts when keyring picks one from the environment.

Real keyring objects throughout: ``keyring.get_keyring`` is replaced by the
backend the environment would yield, and a real ``ChainerBackend`` collects its
members from ``keyring.backend.get_all_keyring``, replaced at that edge.
"""

from __future__ import annotations

import base64
from pathlib import Path

import keyring
import keyring.backend
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import SecretService
from keyring.backends.chainer import ChainerBackend

from app.core.secrets import KeyringUnavailable, SecretStore
from tests.keyrings import InMemory


class FileKeyring(KeyringBackend):
    """Values base64-encoded in a file, as keyrings.alt's PlaintextKeyring keeps them."""

    priority = 0.5  # keyrings.alt's; a plain number is what keyring reads
    viable = False  # never picked by keyring itself outside these tests
    path = Path("unset")

    def get_password(self, service: str, username: str) -> str | None:
        lines = self.path.read_text().splitlines() if self.path.exists() else []
        for line in lines:
            key, _, value = line.partition("=")
            if key == f"{service}/{username}":
                return base64.b64decode(value).decode()
        return None

    def set_password(self, service: str, username: str, password: str) -> None:
        with self.path.open("a") as file:
            file.write(f"{service}/{username}={base64.b64encode(password.encode()).decode()}\n")

    def delete_password(self, service: str, username: str) -> None:
        raise NotImplementedError


class SecretServiceInMemory(InMemory, SecretService.Keyring):
    """The Secret Service backend class, its D-Bus calls answered from a dict."""

    priority = 0.1  # below FileKeyring, so a chain would write there
    viable = False  # never picked by keyring itself outside these tests


def plaintext_file(tmp_path: Path) -> FileKeyring:
    backend = FileKeyring()
    backend.path = tmp_path / "keyring_pass.cfg"
    return backend


def environment_yields(
    monkeypatch: pytest.MonkeyPatch, backend: KeyringBackend, *, usable: list[KeyringBackend]
) -> None:
    monkeypatch.setattr(keyring.backend, "get_all_keyring", lambda: usable)
    monkeypatch.setattr(keyring, "get_keyring", lambda: backend)


def test_a_chain_of_plaintext_backends_is_refused_and_nothing_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plaintext = plaintext_file(tmp_path)
    environment_yields(monkeypatch, ChainerBackend(), usable=[plaintext, plaintext_file(tmp_path)])
    store = SecretStore(tmp_path / "names.json")

    with pytest.raises(KeyringUnavailable) as refused:
        store.set("github", "TOKEN", "ghp-value")

    assert "keeps secrets only in a keyring that encrypts them" in str(refused.value)
    assert "FileKeyring from tests.core.test_secret_backends" in str(refused.value)
    assert "Install and unlock your desktop's keyring" in str(refused.value)
    assert not plaintext.path.exists()
    assert not (tmp_path / "names.json").exists()


def test_a_plaintext_backend_on_its_own_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plaintext = plaintext_file(tmp_path)
    environment_yields(monkeypatch, plaintext, usable=[plaintext])

    with pytest.raises(KeyringUnavailable, match="is not one of them"):
        SecretStore(tmp_path / "names.json").set("github", "TOKEN", "ghp-value")
    assert not plaintext.path.exists()


def test_a_chain_writes_only_to_its_encrypted_member(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plaintext, encrypted = plaintext_file(tmp_path), SecretServiceInMemory()
    plaintext.set_password("mcp-tray/github", "TOKEN", "stale-plaintext")
    environment_yields(monkeypatch, ChainerBackend(), usable=[encrypted, plaintext])
    store = SecretStore(tmp_path / "names.json")

    assert store.get("github", "TOKEN") is None  # the plaintext copy is not read either
    store.set("github", "TOKEN", "ghp-value")

    assert encrypted.entries == {("mcp-tray/github", "TOKEN"): "ghp-value"}
    assert b"ghp-value" not in plaintext.path.read_bytes()
    assert store.get("github", "TOKEN") == "ghp-value"


def test_the_secret_service_backend_is_accepted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    encrypted = SecretServiceInMemory()
    environment_yields(monkeypatch, encrypted, usable=[encrypted])

    SecretStore(tmp_path / "names.json").set("github", "TOKEN", "ghp-value")

    assert encrypted.entries == {("mcp-tray/github", "TOKEN"): "ghp-value"}
