"""The Add dialog's second page: what became of the server just saved.

:func:`outcome_of` turns the saved server's status row into an
:class:`Outcome` (a title, a sentence or two, and what the user may do next),
the way app.core.problems words failures everywhere else in the tray;
:class:`OutcomeView` draws it. Its buttons never change while an outcome is
final, so nothing moves under the pointer once the story is told.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from PySide6.QtCore import Signal
from PySide6.QtGui import QFont, QFontDatabase
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, QVBoxLayout, QWidget

from app.core.problems import problem
from app.core.supervise.lifecycle import starts_a_run
from app.core.supervise.states import State
from app.core.supervise.status import ServerStatus
from app.core.supervise.stderr import parse_log_line

CONNECT_HINT = "Connect an app… gives it to your apps."


def apps_have_it(apps: Sequence[str]) -> str:
    """Which connected apps were given the new server (app.hosts.linking.give_to_connected)."""
    if not apps:
        return CONNECT_HINT
    names = apps[0] if len(apps) == 1 else f"{', '.join(apps[:-1])} and {apps[-1]}"
    has = "has" if len(apps) == 1 else "have"
    return f"{names} {has} it now; an app may need a restart to show it."


@dataclass(frozen=True)
class Outcome:
    name: str
    title: str
    body: str = ""
    running: bool = False
    failed: bool = False
    final: bool = True  # nothing more will be said
    busy: bool = False  # saving or removing: nothing to press until it is done
    needs_form: bool = False  # the fix is in the form (a secret, a program)
    output: tuple[str, ...] = ()  # the server's last lines, for a failure

    @classmethod
    def saving(cls, name: str) -> Outcome:
        return cls(name, f"Saving {name}…", final=False, busy=True)

    @classmethod
    def removing(cls, name: str) -> Outcome:
        return cls(name, f"Removing {name}…", final=False, busy=True)

    @classmethod
    def not_removed(cls, name: str, why: str) -> Outcome:
        return cls(name, f"{name} was not removed", why, failed=True)

    @classmethod
    def later(cls, name: str) -> Outcome:
        return cls(name, f"{name} is saved", "MCP Tray is not running; it starts with it.")

    @classmethod
    def not_told(cls, name: str, why: str) -> Outcome:
        body = f"MCP Tray could not start it now: {why}"
        return cls(name, f"{name} is saved", body, failed=True)

    def with_tools(self, tools: int | None, apps: Sequence[str] = ()) -> Outcome:
        """``apps``: the connected apps it was given to."""
        reach = apps_have_it(apps)
        if tools is None:
            body = reach
        elif tools == 0:
            body = f"It offers no tools, though it may offer your apps other things. {reach}"
        else:
            body = f"It offers {tools} tool{'s' if tools != 1 else ''}. {reach}"
        return replace(self, body=body)

    def with_output(self, lines: Sequence[str]) -> Outcome:
        """The server's own lines of its last run in ``lines`` (its log's tail, which may go
        back to runs before the one just saved)."""
        entries = [parse_log_line(line) for line in lines]
        starts = [i for i, e in enumerate(entries) if e.lifecycle and starts_a_run(e.text)]
        this_run = entries[starts[-1] :] if starts else entries
        own = [entry.text for entry in this_run if not entry.lifecycle]
        return replace(self, output=tuple(own))


def outcome_of(
    row: ServerStatus | None, name: str, *, shared: bool, downloads: bool = False
) -> Outcome | None:
    """How ``name`` fares, by its status row; None while the hub has not taken it in.
    ``downloads``: its program fetches the server first (npx …), which takes a while."""
    if row is None:
        return None
    if row.state is State.RUNNING:
        return Outcome(name, f"{name} is running", running=True)
    resting = _at_rest(row, name, shared=shared)
    if resting is not None:
        return resting
    if row.failure is not None and row.state is not State.STARTING:
        found = problem(row)
        body = f"{found.what} {_fix(found.what)}" if found else ""
        return Outcome(name, f"{name} did not start", body, failed=True, needs_form=True)
    waiting = "The first start can take a minute while its program is downloaded."
    return Outcome(name, f"Starting {name}…", waiting if downloads else "", final=False)


def _at_rest(row: ServerStatus, name: str, *, shared: bool) -> Outcome | None:
    """A server that waits for something other than time: a secret, the user, an app."""
    if row.state is State.NEEDS_SECRET:
        found = problem(row)
        body = found.what if found else ""
        return Outcome(name, f"{name} needs a secret", body, needs_form=True)
    if row.state is State.DISABLED:
        return Outcome(name, f"{name} is saved", "It is turned off in the config file.")
    # Stopped, not by the user: a save's restart passes through it on its way up.
    if row.state is State.STOPPED and row.failure is None and (row.stopped_by_user or not shared):
        words = (
            "It starts for each app that connects to it."
            if not shared
            else "It stays stopped, as you left it: choose Start to run it."
        )
        return Outcome(name, f"{name} is saved", words)
    return None


def _fix(what: str) -> str:
    if "not installed" in what:
        return "Install it, or give its full path in the form."
    return "Its last output below may say why; change the form and save again to retry."


class OutcomeView(QWidget):
    """The outcome's words, the server's last lines, and the buttons it allows."""

    back = Signal()
    keep = Signal()
    discard = Signal()
    next = Signal()
    close_clicked = Signal()
    told = Signal(object)  # the Outcome now shown

    def __init__(self) -> None:
        super().__init__()
        self.final = False
        self.failed_shown = False
        self.title = QLabel()
        font = QFont(self.title.font())
        font.setPointSizeF(font.pointSizeF() * 1.4)
        font.setBold(True)
        self.title.setFont(font)
        self.body = QLabel()
        self.body.setWordWrap(True)
        self.output_label = QLabel("What it wrote last:")
        self.output = QPlainTextEdit()
        self.output.setReadOnly(True)
        self.output.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.buttons = {
            "back": QPushButton("Back to the form"),
            "discard": QPushButton("Remove it"),
            "keep": QPushButton("Keep it"),
            "next": QPushButton("Add the next one"),
            "close": QPushButton("Close"),
        }
        row = QHBoxLayout()
        row.addWidget(self.buttons["back"])
        row.addStretch(1)
        for key in ("discard", "keep", "next", "close"):
            row.addWidget(self.buttons[key])
        for key, signal in (
            ("back", self.back),
            ("discard", self.discard),
            ("keep", self.keep),
            ("next", self.next),
            ("close", self.close_clicked),
        ):
            self.buttons[key].clicked.connect(signal)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.body)
        layout.addWidget(self.output_label)
        layout.addWidget(self.output, stretch=1)
        layout.addStretch(0)
        layout.addLayout(row)

    def show_outcome(self, told: Outcome, *, new: bool, next_name: str) -> None:
        """``new``: the server was added by this dialog (Remove it undoes that);
        ``next_name``: another server from the same paste, waiting to be added."""
        self.final = told.final
        self.failed_shown = told.failed
        self.title.setText(told.title)
        self.body.setText(told.body)
        self.body.setVisible(bool(told.body))
        self.output.setPlainText("\n".join(told.output))
        self.output_label.setVisible(bool(told.output))
        self.output.setVisible(bool(told.output))
        shown = _buttons(told, new=new, waiting=bool(next_name))
        for key, pushed in self.buttons.items():
            pushed.setVisible(key in shown)
        self.buttons["next"].setText(f"Add the next one: {next_name}")
        self.buttons["keep"].setText(f"Keep it and add {next_name}" if next_name else "Keep it")
        default = self.buttons[shown[-1]] if shown else None
        if default is not None:
            default.setDefault(True)
            default.setFocus()
        self.told.emit(told)


def _buttons(told: Outcome, *, new: bool, waiting: bool) -> list[str]:
    """Which buttons, left to right; the last is the default."""
    if told.busy:
        return []
    if not told.final:
        return ["close"]  # it goes on starting after the dialog closes
    shown = ["back"] if told.needs_form else []
    if told.failed and new:
        return [*shown, "discard", "keep"]
    return [*shown, "next" if waiting and not told.failed else "close"]
