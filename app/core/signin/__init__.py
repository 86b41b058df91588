"""Signing in to remote servers (OAuth), through the ``mcp`` SDK's client.

- :mod:`app.core.signin.tokens`: a server's tokens and MCP Tray's registration,
  in the keyring (:class:`SignInStore`).
- :mod:`app.core.signin.auth`: the token on each of the hub's requests,
  refreshed without asking; :class:`SignInNeeded` when only the user can help.
- :mod:`app.core.signin.flow`: the sign-in the user asks for, in their browser,
  one at a time per server (:class:`SignIns`, :func:`sign_in`).
"""

from app.core.signin.auth import ConnectionAuth, SignInNeeded, SignInServiceDown
from app.core.signin.flow import SignIn, SignInFailed, SignIns, sign_in
from app.core.signin.tokens import SignInStore

__all__ = [
    "ConnectionAuth",
    "SignIn",
    "SignInFailed",
    "SignInNeeded",
    "SignInServiceDown",
    "SignInStore",
    "SignIns",
    "sign_in",
]
