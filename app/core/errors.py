"""Errors that carry a sentence for the user, and the exit codes of the command line.

The ``str()`` of a :class:`UserError` is a sentence a person can act on: the
command line prints it after ``mcp-tray:`` and exits with :data:`EXIT_FIXABLE`
(app.cli.main, the one place that catches it), the tray shows it in a dialog
or a notice, the control API sends it as a refusal's ``error``. The tree::

    Exception
     └── UserError               a failure told in one sentence
          ├── CommandError       a command failed; it says what it did not do
          ├── ControlError       the hub cannot carry out a request (control API, tray);
          │                      ``code`` is the JSON-RPC error code an attached editor
          │                      sees, if any
          ├── HubNotTold         a secret was stored or removed, but the running hub was
          │                      not told
          ├── NotKept            the keyring took a secret but does not give it back
          ├── ConfigError        app.core.config: config.json cannot be used; one line per
          │                      problem, "file:line:column: key: what is wrong"
          ├── UnsafeSecret       app.core.secrets: a value too short or too common to be
          │                      kept (and masked in logs) as a secret
          ├── KeyringUnavailable app.core.secrets: no keyring that encrypts can be used;
          │                      the cause and the fix
          ├── HubNotRunning      app.core.endpoint.client: no MCP Tray to ask, and how to
          │                      start one
          ├── HubRefused         app.core.endpoint.client: the running MCP Tray said no,
          │                      in its own words (a ControlError's, on its side)
          ├── AlreadyRunning     app.core.endpoint.instance: another MCP Tray holds the
          │                      single-instance lock
          ├── UnknownEntry       app.core.catalog: no catalog entry of that id; names
          │                      close ones
          ├── CatalogUnavailable app.core.catalog: the online catalog cannot be reached
          │                      and nothing was kept from it
          ├── NothingToAdd       app.hosts.paste: the pasted text holds no server, and
          │                      what it should hold
          ├── BundleError        app.hosts.bundlezip: a .mcpb bundle cannot be added,
          │    │                 and why; nothing was unpacked
          │    └── MissingRuntime app.hosts.mcpb: the program its server runs with is
          │                      not installed, and where to get it
          ├── ServerNotSaved     app.hosts.servers: a server was not added, changed or
          │                      removed, and why; nothing was changed
          ├── SignInFailed       app.core.signin: a sign-in to a remote server did not
          │                      succeed, and why
          ├── NotSwitched        app.hosts.tools: a server's tools were not switched on
          │                      or off, and why; the config was not changed
          └── HostError          app.hosts.host: an app's config cannot be read or changed;
               │                 nothing was changed
               ├── Unreadable    app.hosts.survey: the app's file cannot be read, and
               │                 what to do
               └── UnknownHost   app.hosts.registry: no app of that name, and the names
                                 MCP Tray knows

The first four live here; the others beside the code that raises them, which
defines what they carry (ConfigError's ConfigIssue list, the keyring's causes
and fixes) and from where the hub, the tray and the command line import them.
The layer contracts (pyproject ``[tool.importlinter]``) allow that: this
module sits outside the layers, below them all, so even app.core.config may
import it. It imports nothing itself: ``mcp-tray attach`` loads it on every
start.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FIXABLE = 1  # a failure the user can fix; stderr says how
EXIT_USAGE = 2  # a command line that cannot be parsed (argparse exits with it itself)
EXIT_INTERRUPTED = 130  # Ctrl-C: 128 + SIGINT, as shells report it


class UserError(Exception):
    """A failure whose message is one sentence for the user."""


class CommandError(UserError):
    """A command that failed; the sentence says what it did not do, and why."""


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
