"""A secret stored in the keyring, then the running hub told: for callers outside the hub.

The command line (``mcp-tray secret set|rm``) and the tray of a hub that runs
in another process (app.core.endpoint.remote) change the keyring themselves,
then ask the hub (control op ``secrets_changed``) to start a server that
waited for the secret and to restart one that runs with an old value. The
value never crosses the socket: the hub reads it from the keyring.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from app.core.endpoint import client
from app.core.errors import HubNotTold

if TYPE_CHECKING:
    from app.core.secrets.store import SecretStore

# The hub answers once what it (re)started is up (a first npx download, a
# long start timeout in the config), or once it gave up on it and says why.
TELL_HUB_S = 3600.0


def store_secret(
    store: SecretStore,
    socket_path: Path,
    server: str,
    name: str,
    value: str,
    *,
    stored: Callable[[], None] | None = None,
) -> list[str]:
    """Keep ``value`` as ``server``'s secret ``name``, then tell the hub; what it (re)started.

    ``stored`` is called in between, so that a caller can say the value is safe
    before a start that may take minutes. Blocks (the keyring may wait on an
    unlock prompt). Raises UnsafeSecret or KeyringUnavailable when nothing was
    stored, and HubNotTold when the value is stored but the hub was not told.
    """
    store.set(server, name, value)
    if stored is not None:
        stored()
    return secrets_changed(socket_path, server, [name])


def secrets_changed(socket_path: Path, server: str, names: list[str]) -> list[str]:
    """Tell the hub that ``server``'s secrets ``names`` changed; the processes it (re)started.

    Raises HubNotTold when it cannot be told: its ``cause`` is HubNotRunning,
    HubRefused, or the OSError of a socket that failed.
    """
    try:
        acted: list[str] = client.call(
            socket_path, "secrets_changed", name=server, secrets=names, timeout=TELL_HUB_S
        )
    except (client.HubNotRunning, client.HubRefused, OSError) as error:
        raise HubNotTold(error) from error
    return acted
