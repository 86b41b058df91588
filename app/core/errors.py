"""Errors that carry a sentence for the user, and the exit codes of the command line.

The ``str()`` of a :class:`UserError` is a sentence a person can act on: the
command line prints it after ``mcp-tray:``, the tray shows it in a dialog or
a notice, the control API sends it as a refusal's ``error``. The tree::

    Exception
     └── UserError          a failure told in one sentence
          ├── CommandError  a command failed: ``mcp-tray: SENTENCE`` on stderr, exit code 1
          ├── ControlError  the hub cannot carry out a request (control API, tray); ``code``
          │                 is the JSON-RPC error code an attached editor sees, if any
          ├── HubNotTold    a secret was stored or removed, but the running hub was not told
          └── NotKept       the keyring took a secret but does not give it back

Other errors whose message is written for the user live beside the code that
raises them: ConfigError (app.core.config), KeyringUnavailable and
UnsafeSecret (app.core.secrets), HostError (app.hosts.host), HubNotRunning
and HubRefused (app.core.endpoint.client), AlreadyRunning
(app.core.endpoint.instance). The command line prints each as a sentence
too, most of them as a CommandError.

This module imports nothing: ``mcp-tray attach`` loads it on every start.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FIXABLE = 1  # a failure the user can fix; stderr says how
EXIT_USAGE = 2  # a command line that cannot be parsed (argparse exits with it itself)
EXIT_INTERRUPTED = 130  # Ctrl-C: 128 + SIGINT, as shells report it


class UserError(Exception):
    """A failure whose message is one sentence for the user."""


class CommandError(UserError):
    """A command that failed; the command line prints the sentence and exits with 1."""


class ControlError(UserError):
    """A request the hub understood but cannot carry out; the message tells the user why.

    ``code`` is the JSON-RPC error code an attached editor should see, when
    the refusal reaches one (app.core.rpc.errors).
    """

    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class HubNotTold(UserError):
    """The keyring changed, but the running hub could not be told; ``cause`` says why.

    Among the causes is app.core.endpoint.client.HubNotRunning: no hub to tell.
    """

    def __init__(self, cause: Exception) -> None:
        super().__init__(str(cause))
        self.cause = cause


class NotKept(UserError):
    """The keyring accepted a secret, but reading it back gave something else, or nothing."""

    def __init__(self, server: str, name: str) -> None:
        super().__init__(f"the keyring did not keep {name} of {server}")
        self.server = server
        self.name = name
