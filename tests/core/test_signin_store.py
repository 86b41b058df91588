"""A remote server's sign-in in the keyring (app.core.signin.tokens), on an in-memory
keyring: what is kept, for which address, and what signing out leaves."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken

from app.core.secrets import SecretStore
from app.core.signin.tokens import SignInStore
from tests.keyrings import MemoryKeyring

pytestmark = pytest.mark.anyio

URL = "https://mcp.example.com/mcp"
TOKENS = OAuthToken(access_token="at-7c1f0e9a2b", refresh_token="rt-4d8e6b1c3a", expires_in=3600)


@pytest.fixture
def store(tmp_path: Path) -> SecretStore:
    return SecretStore(tmp_path / "names.json", backend=MemoryKeyring())


async def test_tokens_come_back_with_the_seconds_they_have_left_and_are_taught_to_the_redactor(
    store: SecretStore,
) -> None:
    learned: list[str] = []
    await SignInStore(store, "linear", URL).set_tokens(TOKENS)
    kept = await SignInStore(store, "linear", URL, learn=learned.extend).get_tokens()

    assert kept is not None and kept.access_token == TOKENS.access_token
    assert kept.expires_in is not None and 3590 <= kept.expires_in <= 3600
    assert sorted(learned) == ["at-7c1f0e9a2b", "rt-4d8e6b1c3a"]
    assert store.names("linear") == []  # not one of the user's secrets


async def test_tokens_are_not_given_to_another_address(store: SecretStore) -> None:
    await SignInStore(store, "linear", URL).set_tokens(TOKENS)

    assert await SignInStore(store, "linear", "https://elsewhere.example/mcp").get_tokens() is None
    assert await SignInStore(store, "linear", URL).get_tokens() is not None


async def test_a_token_past_its_expiry_comes_back_expired(store: SecretStore) -> None:
    sign_in = SignInStore(store, "linear", URL)
    # The moment it expires is kept, not its lifetime: one that expired a minute ago
    # (the hub was stopped meanwhile) comes back expired, and is refreshed before use.
    await sign_in.set_tokens(OAuthToken(access_token="at-0b9e8d7c6f", expires_in=-60))

    kept = await sign_in.get_tokens()
    assert kept is not None and kept.expires_in is not None and -61 <= kept.expires_in <= -59


async def test_signing_out_forgets_the_tokens_the_registration_and_the_service(
    store: SecretStore,
) -> None:
    sign_in = SignInStore(store, "linear", URL)
    await sign_in.set_tokens(TOKENS)
    await sign_in.set_client_info(
        OAuthClientInformationFull(client_id="mcp-tray-1", redirect_uris=["http://127.0.0.1:1/"])
    )
    await sign_in.set_service(None, None)

    assert await sign_in.forget() is True
    assert await sign_in.get_tokens() is None
    assert await sign_in.get_client_info() is None
    assert await sign_in.get_service() == (None, None)
    assert await sign_in.forget() is False
