"""The form of the Add and Edit dialogs: one server's settings, as a person fills them in.

It draws a ServerDraft (app.core.config.draft) and gives one back; what may
be saved is decided elsewhere (app.hosts.servers.check). Arguments are one
line, quoted as a terminal would quote them, because that is how READMEs
print them. A setting marked secret is typed into a masked field and goes to
the keychain; a value that looks like a password or key is marked secret as
soon as it is typed (``secret migrate``'s rule), unless the user unmarked it.

A bundle (app.hosts.mcpb) may need values it uses in its arguments, such as
a folder to work in: the form asks for each at its top, in the bundle's own
words, and puts them in place in the draft it gives back.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.core.config.draft import ServerDraft, Variable
from app.core.secrets.migrate import looks_secret
from app.gui.widgets import button, empty
from app.hosts import mcpb

KEPT = "Kept in your keychain; type a new one to replace it"
NAME_MIN_PX, NAME_MAX_PX, NAME_PADDING_PX = 150, 300, 16


class VariableRow:
    """One setting: its name, its value (masked when secret), the secret switch, and ✕."""

    def __init__(self, variable: Variable, *, stored: bool) -> None:
        self.required = variable.required
        self.name = QLineEdit(variable.name)
        self.name.setPlaceholderText("NAME")
        # Wide enough for names like GITHUB_PERSONAL_ACCESS_TOKEN, and a longer one shows
        # its start (a line edit scrolls to its end when given text).
        wide = self.name.fontMetrics().horizontalAdvance(variable.name) + NAME_PADDING_PX
        self.name.setMinimumWidth(min(max(NAME_MIN_PX, wide), NAME_MAX_PX))
        self.name.setCursorPosition(0)
        self.name.setReadOnly(variable.required)  # the server looks for exactly this name
        self.value = QLineEdit(variable.value)
        self.secret = QCheckBox("Secret")
        self.secret.setToolTip("Kept in your system's keychain, never written to a file")
        self.secret.setChecked(variable.secret)
        self.remove = QPushButton("✕")
        self.remove.setToolTip("Remove this setting")
        self.remove.setFixedWidth(32)
        self.remove.setEnabled(not variable.required)
        self.description = variable.description
        self.stored = stored  # a secret already in the keychain, left empty to keep it
        self._user_chose = False  # the switch was clicked: typing no longer flips it
        self.secret.clicked.connect(self._chosen)
        self.secret.toggled.connect(lambda on: self._mask())
        self.value.textEdited.connect(self._typed)
        self._mask()
        tip = variable.description or ""
        for widget in (self.name, self.value):
            widget.setToolTip(tip)

    def widgets(self) -> tuple[QWidget, ...]:
        return (self.name, self.value, self.secret, self.remove)

    def variable(self) -> Variable:
        return Variable(
            self.name.text().strip(),
            self.value.text(),
            secret=self.secret.isChecked(),
            required=self.required and not self.stored,
            description=self.description,
        )

    def _chosen(self) -> None:
        self._user_chose = True

    def _typed(self, text: str) -> None:
        if not self._user_chose and not self.secret.isChecked():
            self.secret.setChecked(looks_secret(self.name.text(), text))

    def _mask(self) -> None:
        secret = self.secret.isChecked()
        mode = QLineEdit.EchoMode.Password if secret else QLineEdit.EchoMode.Normal
        self.value.setEchoMode(mode)
        if secret and self.stored:
            self.value.setPlaceholderText(KEPT)
        elif secret:
            self.value.setPlaceholderText("Paste it here" if self.required else "Value")
        else:
            self.value.setPlaceholderText("Value")


class ServerForm(QWidget):
    """The fields of one server. ``changed`` on every edit, for the dialog to check it."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name = QLineEdit()
        self.name.setPlaceholderText("A short name, such as memory")
        self.program = QLineEdit()
        self.program.setPlaceholderText("The program that starts it, such as npx or python3")
        self.arguments = QLineEdit()
        self.arguments.setPlaceholderText("What the program is given, such as -y some-package")
        self.folder = QLineEdit()
        self.folder.setPlaceholderText("Optional: the folder it runs in")
        self.watch = QCheckBox("Restart when its files change")
        self.watch.setToolTip("For a server you are writing: each saved change restarts it")
        self.shared = QCheckBox("Shared by every app")
        self.shared.setToolTip(
            "On: one copy of the server serves every app. Off: each app that connects "
            "gets a copy of its own."
        )
        self.notes = QLabel()
        self.notes.setWordWrap(True)
        self.notes.setStyleSheet("color: palette(placeholder-text);")
        self.asked_box = QWidget()
        self.asked_rows = QVBoxLayout(self.asked_box)
        self.asked_rows.setContentsMargins(0, 0, 0, 8)
        self.asked: dict[str, tuple[str, QLineEdit]] = {}  # a bundle's value: its words, its field
        self.variables = QGridLayout()
        self.variables.setColumnStretch(0, 2)
        self.variables.setColumnStretch(1, 3)
        self.rows: list[VariableRow] = []
        self.description = ""
        self.remote_url = ""
        self._lay_out()
        for field in (self.name, self.program, self.arguments, self.folder):
            field.textChanged.connect(self.changed)
        for box in (self.watch, self.shared):
            box.toggled.connect(self.changed)
        self.set_draft(ServerDraft())

    def _lay_out(self) -> None:
        form = QFormLayout()
        form.addRow("Name", self.name)
        form.addRow("Program", _with_browse(self.program, self._browse_program))
        form.addRow("Arguments", self.arguments)
        form.addRow("Folder", _with_browse(self.folder, self._browse_folder))
        settings = QVBoxLayout()
        settings.addLayout(self.variables)
        settings.addWidget(
            button("Add a setting", self.add_empty_variable), alignment=Qt.AlignmentFlag.AlignLeft
        )
        form.addRow("Settings", settings)
        form.addRow(self.watch)
        form.addRow(self.shared)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.asked_box)
        layout.addLayout(form)
        layout.addWidget(self.notes)

    # ----- the draft in, the draft out

    def set_draft(self, draft: ServerDraft, *, stored: frozenset[str] = frozenset()) -> None:
        """Show ``draft``; ``stored``: the secrets already in the keychain (an edited server)."""
        widgets = (self.name, self.program, self.arguments, self.folder, self.watch, self.shared)
        for widget in widgets:
            widget.blockSignals(True)
        self.name.setText(draft.name)
        self.program.setText(draft.command)
        self.arguments.setText(shlex.join(draft.args))
        self.folder.setText(draft.cwd)
        for field in (self.program, self.arguments, self.folder):
            field.setCursorPosition(0)  # a long path shows its start, not its end
        self.watch.setChecked(draft.watch)
        self.shared.setChecked(draft.shared)
        for widget in widgets:
            widget.blockSignals(False)
        self.description, self.remote_url = draft.description, draft.remote_url
        self.notes.setText("\n".join(draft.notes))
        self.notes.setVisible(bool(draft.notes))
        empty(self.variables)
        self.rows = []
        for variable in draft.variables:
            self._add_row(variable, stored=variable.secret and variable.name in stored)
        self.ask({})
        self.changed.emit()

    def ask(self, questions: dict[str, str]) -> None:
        """Ask at the top for the values a bundle needs (:func:`app.hosts.mcpb.questions`)."""
        empty(self.asked_rows)
        self.asked = {}
        if questions:
            heading = QLabel("<b>This server needs from you:</b>")
            self.asked_rows.addWidget(heading)
        for key, words in questions.items():
            label = QLabel(words)
            label.setWordWrap(True)
            field = QLineEdit()
            field.setPlaceholderText("Type it here")
            field.textChanged.connect(self.changed)
            label.setBuddy(field)
            self.asked_rows.addWidget(label)
            self.asked_rows.addWidget(field)
            self.asked[key] = (words, field)
        self.asked_box.setVisible(bool(questions))
        self.changed.emit()

    def unanswered(self) -> list[str]:
        """The words of each value a bundle needs that is not typed in yet."""
        return [words for words, field in self.asked.values() if not field.text().strip()]

    def first_question(self) -> QLineEdit | None:
        return next((f for _, f in self.asked.values() if not f.text().strip()), None)

    def draft(self) -> ServerDraft:
        """What the fields say now. Arguments that cannot be split (an open quote) are
        kept as one, and :meth:`argument_problem` says why."""
        try:
            args = shlex.split(self.arguments.text())
        except ValueError:
            args = [self.arguments.text()]
        draft = ServerDraft(
            name=self.name.text().strip(),
            command=self.program.text().strip(),
            args=args,
            cwd=self.folder.text().strip(),
            variables=[row.variable() for row in self.rows if row.name.text().strip()],
            watch=self.watch.isChecked(),
            shared=self.shared.isChecked(),
            description=self.description,
            remote_url=self.remote_url,
        )
        for key, (_, field) in self.asked.items():
            if field.text().strip():
                mcpb.fill(draft, key, field.text().strip())
        return draft

    def argument_problem(self) -> str | None:
        try:
            shlex.split(self.arguments.text())
        except ValueError:
            return "The arguments have a quote that is never closed."
        return None

    def secret_fields(self) -> list[QLineEdit]:
        return [row.value for row in self.rows if row.secret.isChecked()]

    def first_empty_secret(self) -> QLineEdit | None:
        """Where to type next: the first required setting still without a value."""
        return next((r.value for r in self.rows if r.required and not r.value.text()), None)

    # ----- settings

    def add_empty_variable(self) -> None:
        row = self._add_row(Variable(""), stored=False)
        row.name.setFocus()
        self.changed.emit()

    def _add_row(self, variable: Variable, *, stored: bool) -> VariableRow:
        row = VariableRow(variable, stored=stored)
        line = len(self.rows)
        for column, widget in enumerate(row.widgets()):
            self.variables.addWidget(widget, line, column)
        row.name.textChanged.connect(self.changed)
        row.value.textChanged.connect(self.changed)
        row.secret.toggled.connect(self.changed)
        row.remove.clicked.connect(lambda: self._remove_row(row))
        self.rows.append(row)
        return row

    def _remove_row(self, row: VariableRow) -> None:
        kept = [r for r in self.rows if r is not row]
        variables = [(r.variable(), r.stored) for r in kept]
        empty(self.variables)
        self.rows = []
        for variable, stored in variables:
            self._add_row(variable, stored=stored)
        self.changed.emit()

    # ----- browsing

    def _browse_program(self) -> None:
        start = str(Path(self.program.text()).expanduser().parent) if self.program.text() else ""
        _choose(self, "Choose the program", start, self.program, folder=False)

    def _browse_folder(self) -> None:
        _choose(self, "Choose its folder", self.folder.text(), self.folder, folder=True)


def _choose(parent: QWidget, title: str, start: str, field: QLineEdit, *, folder: bool) -> None:
    """A file chooser that fills ``field``; opened with open(), not exec(), so the loop
    (and the servers' traffic through it) keeps running while it is up."""
    chooser = QFileDialog(parent, title, start)
    chooser.setFileMode(
        QFileDialog.FileMode.Directory if folder else QFileDialog.FileMode.ExistingFile
    )
    chooser.fileSelected.connect(field.setText)
    chooser.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    chooser.open()


def _with_browse(field: QLineEdit, browse: Callable[[], object]) -> QHBoxLayout:
    row = QHBoxLayout()
    row.addWidget(field, stretch=1)
    browse_button = button("Browse…", browse)
    browse_button.setAutoDefault(False)  # Return in the form saves, never browses
    row.addWidget(browse_button)
    return row
