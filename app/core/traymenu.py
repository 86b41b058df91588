"""What the tray menu holds, decided without Qt: entries with stable keys.

The menu opens with who the app is and one status line; then whatever needs
the user (a config mistake, a server that needs a secret or keeps crashing),
each with its fix first; then one submenu per server, in config order; then
the app's own actions, and Quit last. ``app.gui`` draws these entries and
updates an open menu in place by key, so nothing closes or jumps under the
pointer when a state changes.

A server offers only the actions its state allows, the fix first: "Set
secret…" for one that needs a secret, "Try again" for one that was paused,
"Start" (not "Stop") for one at rest. Changing a server (Edit…, Remove…) comes
after what its state allows, apart from it: any state allows it.

The window shows the same actions as a row of buttons that never move
(:func:`server_buttons`): each in its own place whatever the state, greyed
with the reason when the state does not allow it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from app.core.overview import Look, headline, look, needs_you, summary
from app.core.problems import config_mistake, listed, new_or_changed, problem
from app.core.supervise.states import State
from app.core.supervise.status import ServerStatus

# Verbs: what an entry (or a window button, or a notice's button) asks the tray to do.
START, STOP, RESTART, LOGS, SECRET = "start", "stop", "restart", "logs", "secret"
OPEN_CONFIG, CONNECT, WINDOW, HTTP, HTTP_ADDRESSES, NEW_KEY = (
    "open-config",
    "connect",
    "window",
    "http",
    "http-addresses",
    "new-key",
)
LOGIN, MUTE, QUIT = "login", "mute", "quit"
SIGN_IN, SIGN_OUT = "sign-in", "sign-out"
TOOL = "tool"  # switch one tool (the entry's ``tool``) on or off for the apps
REVIEW = "review-tools"  # the tools a server changed, held until the user looks
ADD, EDIT, REMOVE = "add", "edit", "remove"

_NEEDS = {
    State.NEEDS_SECRET: "needs a secret",
    State.NEEDS_PROGRAM: "needs a program",
    State.NEEDS_SIGN_IN: "needs you to sign in",
    State.CRASH_LOOP: "keeps crashing",
}
PROBLEM_LINE_CHARS = 60  # a menu line does not wrap; longer problems take several lines
PROBLEM_LINES = 4


@dataclass(frozen=True, kw_only=True)
class Entry:
    """One line of the menu: an action (``verb``), a line to read, or a submenu."""

    key: str  # stable across refreshes: the menu is updated in place by key
    text: str = ""
    verb: str = ""  # empty: a line to read, shown greyed
    server: str = ""
    checked: bool | None = None  # None: not a switch
    look: Look | None = None  # a server's state, drawn as the entry's icon
    children: tuple[Entry, ...] | None = None  # a submenu
    separator: bool = False
    bold: bool = False
    tool: str = ""  # a TOOL entry's tool


@dataclass(frozen=True, kw_only=True)
class Settings:
    """The app's own switches, as they stand."""

    http_enabled: bool = False
    http_port: int = 0
    start_at_login: bool = False
    mute_restarts: bool = False
    remote: bool = False  # the hub runs in another process (Quit leaves it running)


def server_actions(row: ServerStatus, *, uses_secrets: bool) -> list[tuple[str, str]]:
    """(verb, label) for what ``row``'s state allows, the fix first."""
    state = row.state
    if state is State.NEEDS_SECRET:
        actions = [(SECRET, "Set secret…"), (STOP, "Stop")]
    elif state is State.NEEDS_PROGRAM:
        actions = [(RESTART, "Retry"), (STOP, "Stop")]
    elif state is State.NEEDS_SIGN_IN:
        actions = [(SIGN_IN, "Sign in…"), (STOP, "Stop")]
    elif state is State.CRASH_LOOP:
        actions = [(RESTART, "Try again"), (STOP, "Stop")]
    elif state is State.BACKOFF:
        actions = [(RESTART, "Restart now"), (STOP, "Stop")]
    elif state is State.STARTING:
        actions = [(STOP, "Stop")]
    elif state is State.RUNNING:
        actions = [(RESTART, "Restart"), (STOP, "Stop")]
    elif state is State.STOPPED:
        actions = [(START, "Start")]
    else:  # stopping, or turned off in the config: nothing to press but its log
        actions = []
    actions.append((LOGS, "Show logs"))
    if uses_secrets and state is not State.NEEDS_SECRET:
        actions.append((SECRET, "Set secret…"))
    if row.signed_in and state is not State.NEEDS_SIGN_IN:
        actions.append((SIGN_OUT, "Sign out"))
    return actions


def remote_edit_note(server: str) -> str:
    """What Edit… says of a remote server, whose address and headers it cannot show yet."""
    return (
        f"{server} is a server MCP Tray reaches over the network. Its address and headers "
        "can be changed in MCP Tray's config file for now; MCP Tray applies the change "
        "when you save it."
    )


def change_actions() -> list[tuple[str, str]]:
    """(verb, label) for changing a server itself, whatever its state."""
    return [(EDIT, "Edit…"), (REMOVE, "Remove…")]


# The window's buttons, left to right: the fixes of a server that needs you come first
# (Set secret…, then the place that reads Start, Try again or Retry), "Edit…" and
# "Remove…" last, apart. Each place's label when greyed.
PLACES = {
    SECRET: "Set secret…",
    START: "Start",
    RESTART: "Restart",
    STOP: "Stop",
    LOGS: "Show logs",
    EDIT: "Edit…",
    REMOVE: "Remove…",
}
NO_SECRETS = "{name} uses no secrets."
NOTHING_SELECTED = "Select a server in the list first."
_WHY_NOT = {  # why a state greys its run buttons; "{name}": the server
    State.RUNNING: "{name} is running already.",
    State.STARTING: "{name} is starting.",
    State.BACKOFF: "{name} restarts by itself in a moment; Restart now does it at once.",
    State.STOPPING: "{name} is stopping.",
    State.STOPPED: "{name} is not running; Start starts it.",
    State.DISABLED: "{name} is turned off in the config.",
    State.CRASH_LOOP: "{name} is paused after crashing; Try again starts it.",
    State.NEEDS_PROGRAM: "{name} needs a program; install it, then press Retry.",
    State.NEEDS_SECRET: "{name} cannot start without its secret; Set secret… gives it.",
    State.NEEDS_SIGN_IN: "{name} waits for you to sign in; Sign in… opens its sign-in page.",
}


# The same for a remote server, where it differs: it connects rather than starts.
_WHY_NOT_REMOTE = {
    State.STARTING: "{name} is connecting.",
    State.BACKOFF: "{name} tries to connect again in a moment; Restart now does it at once.",
    State.CRASH_LOOP: "{name} is paused after failing to connect; Try again tries now.",
}


def _why_not(row: ServerStatus) -> str:
    remote = _WHY_NOT_REMOTE.get(row.state) if row.remote else None
    return remote or _WHY_NOT[row.state]


@dataclass(frozen=True, kw_only=True)
class Button:
    """One of the window's buttons for the selected server, in a place of its own."""

    place: str  # one of PLACES: where the button sits, the same in every state
    text: str
    verb: str = ""  # what pressing it asks the tray; empty: greyed out
    why: str = ""  # greyed out: the reason, as its tooltip


def server_buttons(row: ServerStatus | None, *, uses_secrets: bool) -> list[Button]:
    """A button for each of PLACES, for ``row`` (None: nothing selected). Those
    :func:`server_actions` allows are enabled, with its labels; the rest say why not."""
    if row is None:
        return [Button(place=p, text=t, why=NOTHING_SELECTED) for p, t in PLACES.items()]
    allowed = {
        _place(row, verb): (verb, label)
        for verb, label in server_actions(row, uses_secrets=uses_secrets) + change_actions()
    }
    buttons = []
    for place, text in PLACES.items():
        verb, label = allowed.get(place, ("", text))
        why = "" if verb else NO_SECRETS if place == SECRET else _why_not(row)
        buttons.append(Button(place=place, text=label, verb=verb, why=why.format(name=row.name)))
    return buttons


def _place(row: ServerStatus, verb: str) -> str:
    # Restarting a server that is paused for you (Try again, Retry) starts it, and so
    # does signing in: Start's place. Signing out takes the place of its key, Set secret….
    if verb == SIGN_IN or (verb == RESTART and needs_you(row)):
        return START
    return SECRET if verb == SIGN_OUT else verb


def labels_by_place() -> dict[str, set[str]]:
    """Every label each place can show, so that the window can make it wide enough for
    the widest and its neighbours never move."""
    labels = {place: {text} for place, text in PLACES.items()}
    for state in State:
        for signed_in in (False, True):
            row = ServerStatus(name="", state=state, signed_in=signed_in)
            for button in server_buttons(row, uses_secrets=not signed_in):
                labels[button.place].add(button.text)
    return labels


def tray_menu(
    rows: Sequence[ServerStatus],
    *,
    secrets: Mapping[str, Sequence[str]],
    settings: Settings,
    config_error: str = "",
    tools: Mapping[str, Sequence[tuple[str, bool]]] | None = None,
) -> list[Entry]:
    """The whole menu. ``secrets``: each server's secret names; ``config_error``: the
    first problem with the config file, as the hub reported it, or empty; ``tools``:
    each server's tools as it last listed them, and whether the apps see each."""
    tools = tools or {}
    entries = [
        Entry(key="title", text="MCP Tray", verb=WINDOW, bold=True),
        Entry(key="headline", text=headline(rows, config_problem=bool(config_error))),
    ]
    entries += _needs_you(rows, config_error)
    entries.append(Entry(key="sep-servers", separator=True))
    entries += [
        _server_menu(row, secrets.get(row.name, ()), tools.get(row.name, ())) for row in rows
    ]
    if not rows:
        entries.append(Entry(key="no-servers", text="No servers in the config yet"))
    entries.append(Entry(key="add", text="Add a server…", verb=ADD))
    entries += _app_actions(settings)
    return entries


def _needs_you(rows: Sequence[ServerStatus], config_error: str) -> list[Entry]:
    entries = []
    if config_error:
        where, what = config_mistake(config_error)
        lines = [f"The config file has a mistake{f' in {where}' if where else ''}:"]
        lines += wrap(what, PROBLEM_LINE_CHARS)
        entries += [Entry(key=f"config-error{i}", text=line) for i, line in enumerate(lines)]
        entries.append(Entry(key="config-fix", text="Open config to fix it", verb=OPEN_CONFIG))
    for row in rows:
        if needs_you(row):
            verb, label = server_actions(row, uses_secrets=True)[0]
            text = f"{row.name} {_needs(row)} — {label}"
            entries.append(Entry(key=f"fix:{row.name}", text=text, verb=verb, server=row.name))
        if row.held_tools:
            text = f"{row.name} has {new_or_changed(len(row.held_tools))} — Review…"
            entries.append(Entry(key=f"review:{row.name}", text=text, verb=REVIEW, server=row.name))
    return entries


def _needs(row: ServerStatus) -> str:
    """What the server needs, in the words its row in the window uses: "needs Node.js"."""
    if row.state is State.NEEDS_PROGRAM:
        words = look(row).words  # "Needs Node.js", or "Needs a program" for one unknown
        return words[0].lower() + words[1:]
    if row.remote and row.state is State.CRASH_LOOP:
        return "can't connect"
    return _NEEDS[row.state]


def _server_menu(
    row: ServerStatus, secrets: Sequence[str], tools: Sequence[tuple[str, bool]]
) -> Entry:
    lines = [Entry(key="summary", text=summary(row))]
    found = problem(row, secrets=secrets)
    if found is not None:
        wrapped = wrap(found.sentences(), PROBLEM_LINE_CHARS)
        lines += [Entry(key=f"problem{i}", text=text) for i, text in enumerate(wrapped)]
    lines.append(Entry(key="sep", separator=True))
    lines += [
        Entry(key=f"do:{verb}", text=label, verb=verb, server=row.name)
        for verb, label in server_actions(row, uses_secrets=bool(secrets))
    ]
    if tools:
        lines.append(_tools_menu(row.name, tools, row.held_tools))
    lines.append(Entry(key="sep-change", separator=True))
    lines += [
        Entry(key=f"do:{verb}", text=label, verb=verb, server=row.name)
        for verb, label in change_actions()
    ]
    return Entry(
        key=f"server:{row.name}",
        text=f"{row.name} — {look(row).words}",
        look=look(row),
        children=tuple(lines),
    )


def _tools_menu(server: str, tools: Sequence[tuple[str, bool]], held: Sequence[str]) -> Entry:
    """A check per tool: ticked, the apps see it; a click switches it. A tool held for
    review is no switch: it leads to the review."""
    on = sum(shown for _, shown in tools)
    switches = tuple(
        Entry(
            key=f"tool:{tool}", text=f"{tool} — waiting for your review", verb=REVIEW, server=server
        )
        if tool in held
        else Entry(
            key=f"tool:{tool}", text=tool, verb=TOOL, server=server, tool=tool, checked=shown
        )
        for tool, shown in tools
    )
    waiting = sum(tool in held for tool, _ in tools)
    count = f"{on} of {len(tools)} on" + (f", {waiting} to review" if waiting else "")
    return Entry(key="tools", text=f"Tools ({count})", children=switches)


def _app_actions(settings: Settings) -> list[Entry]:
    entries = [
        Entry(key="sep-app", separator=True),
        Entry(key="window", text="Servers and logs…", verb=WINDOW),
        Entry(key="connect", text="Connect an app…", verb=CONNECT),
        Entry(key="open-config", text="Open config", verb=OPEN_CONFIG),
        Entry(key="sep-settings", separator=True),
        Entry(
            key="http",
            text="Serve over HTTP",
            verb=HTTP,
            checked=settings.http_enabled,
        ),
    ]
    if settings.http_enabled:
        text = f"HTTP addresses (port {settings.http_port})…"
        entries.append(Entry(key="http-addresses", text=text, verb=HTTP_ADDRESSES))
        entries.append(Entry(key="new-key", text="Make a new access key…", verb=NEW_KEY))
    entries += [
        Entry(key="login", text="Start at login", verb=LOGIN, checked=settings.start_at_login),
        Entry(key="mute", text="Mute crash notices", verb=MUTE, checked=settings.mute_restarts),
        Entry(key="sep-quit", separator=True),
        Entry(
            key="quit",
            text="Quit (servers keep running)" if settings.remote else "Quit",
            verb=QUIT,
        ),
    ]
    return entries


def new_key_question(apps: Sequence[str]) -> str:
    """What "Make a new access key…" asks first. ``apps``: those MCP Tray gave the key to."""
    given = (
        f"MCP Tray gives the new key to {listed(apps)} for you. Any other app"
        if apps
        else "MCP Tray has not given the key to any app itself, so any app"
    )
    return (
        "Apps that reach your servers over HTTP need MCP Tray's access key. A new key "
        "stops the old one from working at once: make one if someone else may have seen it. "
        f"{given} you gave the key to must be given the new one."
    )


def new_key_outcome(updated: Sequence[str], trouble: Sequence[str]) -> tuple[str, str]:
    """The notice after a new access key was made: (title, body). ``updated``: the apps
    given the new key; ``trouble``: a sentence for each app file that could not be."""
    words = ["The old key no longer works."]
    if updated:
        they = "they use" if len(set(updated)) > 1 else "it uses"
        words.append(f"Quit and reopen {listed(updated)} so that {they} the new one.")
    words += [f"Not updated: {line.rstrip('.')}." for line in trouble]
    words.append("Any other app you gave the key to needs the new one.")
    return "Made a new access key", " ".join(words)


def wrap(text: str, width: int, *, most: int = PROBLEM_LINES) -> list[str]:
    """Menu lines of at most ``width`` characters, ``most`` of them, "…" when cut."""
    lines: list[str] = []
    for paragraph in text.splitlines():
        line = ""
        for word in paragraph.split():
            if line and len(line) + 1 + len(word) > width:
                lines.append(line)
                line = word
            else:
                line = f"{line} {word}" if line else word
        if line:
            lines.append(line)
    if len(lines) > most:
        lines = [*lines[: most - 1], lines[most - 1][: width - 1] + "…"]
    return [line if len(line) <= width else line[: width - 1] + "…" for line in lines]
