"""The small windows: the secret dialog, the welcome window, and where the config is.

None of them blocks: each opens with ``open()``/``show()``, never ``exec()``,
and reports through signals; the tray does the work on the event loop.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QGuiApplication, QIcon, QKeyEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.core.secrets import refusal
from app.gui.widgets import heading


class SecretDialog(QDialog):
    """Asks for one secret of one server, masked; ``submitted(server, name, value)`` on Save.

    When the secret's name is known it is shown read-only and the typing goes
    to the masked Value field, so a secret can never land in a visible field.
    Save stays off, and the status line says why, while the name or value is
    missing or the value cannot be kept as a secret (too short or too common
    to be hidden in logs). A name in ``stored`` already has a value in the
    keychain, and the status line says that saving replaces it. After Save the
    dialog stays to tell how it went (:meth:`report`).
    """

    submitted = Signal(str, str, str)

    def __init__(
        self,
        server: str,
        names: Sequence[str],
        parent: QWidget | None = None,
        *,
        stored: Collection[str] = (),
    ) -> None:
        super().__init__(parent)
        self.stored = frozenset(stored)
        self.setWindowTitle(f"Set a secret for {server}")
        self.setMinimumWidth(460)
        self.server = server
        self.name = _name_field(names)
        if isinstance(self.name, QComboBox):
            self.name.currentTextChanged.connect(self._check)
        self.value = QLineEdit()
        self.value.setEchoMode(QLineEdit.EchoMode.Password)
        self.value.setPlaceholderText("Paste the secret here")
        intro = QLabel(
            f"{server} needs this to start. MCP Tray keeps it in your system's keychain; "
            "it is never shown or written to a file."
        )
        intro.setWordWrap(True)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        self.save = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        self.buttons.accepted.connect(self._save)
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow(intro)
        form.addRow("Name", self.name)
        form.addRow("Value", self.value)
        form.addRow(self.status)
        form.addRow(self.buttons)
        self.value.textChanged.connect(self._check)
        if isinstance(self.name, QLineEdit) and not self.name.isReadOnly():
            self.name.textChanged.connect(self._check)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self._check()
        (self.value if names else self.name).setFocus()

    def secret_name(self) -> str:
        field = self.name
        return (field.currentText() if isinstance(field, QComboBox) else field.text()).strip()

    def report(self, text: str, *, finished: bool = False) -> None:
        """How the save went ("Saved. weather is starting…"); ``finished``: nothing more comes."""
        self._say(text)
        if finished:
            self.buttons.setStandardButtons(QDialogButtonBox.StandardButton.Close)
            self.buttons.button(QDialogButtonBox.StandardButton.Close).setFocus()

    def _check(self) -> None:
        missing = "name" if not self.secret_name() else "value" if not self.value.text() else ""
        reason = f"Type the secret's {missing} to save it." if missing else None
        reason = reason or refusal(self.value.text())
        self.save.setEnabled(reason is None)
        replaces = " One is saved already; saving replaces it." if self._stored() else ""
        self._say((reason or "") + replaces if reason else replaces.strip())

    def _stored(self) -> bool:
        return self.secret_name() in self.stored

    def _say(self, text: str) -> None:
        """The line under the fields; the dialog grows to show it whole (a refusal's reason
        takes several lines, and would otherwise run under the buttons)."""
        self.status.setText(text)
        self.adjustSize()

    def _save(self) -> None:
        name, value = self.secret_name(), self.value.text()
        if not name or refusal(value) is not None:
            return
        self.value.clear()  # the value does not linger in the widget
        self.value.setPlaceholderText("Saved in your keychain")
        for field in (self.name, self.value):
            field.setEnabled(False)
        self.save.setEnabled(False)
        self.report(f"Saving it for {self.server}…")
        self.submitted.emit(self.server, name, value)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        # Return with Save disabled would otherwise close nothing and say nothing:
        # the status line already says what is missing, so just keep the dialog.
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not self.save.isEnabled():
            self.status.setText(self.status.text() or "Type the secret to save it.")
            return
        super().keyPressEvent(event)


def _name_field(names: Sequence[str]) -> QLineEdit | QComboBox:
    if len(names) > 1:
        choice = QComboBox()
        choice.addItems(list(names))
        return choice
    field = QLineEdit(names[0] if names else "")
    field.setReadOnly(bool(names))
    field.setFrame(not names)  # a known name reads as text, not as a field to type in
    if not names:
        field.setPlaceholderText("The name the config uses, e.g. API_TOKEN")
    return field


class WelcomeWindow(QDialog):
    """Shown once, on the first run: what MCP Tray does, and what to do next.

    ``chosen(verb)`` when the user picks a next step (the verbs of app.core.traymenu).
    """

    chosen = Signal(str)

    def __init__(
        self,
        logo: QIcon,
        *,
        demo_running: bool,
        in_tray: bool,
        steps: Sequence[tuple[str, str]],
    ) -> None:
        super().__init__()
        self.setWindowTitle("Welcome to MCP Tray")
        self.setWindowIcon(logo)
        self.setMinimumWidth(520)
        paragraphs = [
            "MCP Tray runs your MCP servers in the background, so that apps such as "
            "Claude, Cursor and VS Code can use their tools. When a server crashes or you "
            "change it, MCP Tray restarts it, and your apps keep their tools.",
            "It lives in your system tray. Click its icon to see your servers; it tells you "
            "when one needs you."
            if in_tray
            else "Your desktop has no system tray right now, so MCP Tray shows your servers in "
            "its own window; it tells you when one needs you.",
        ]
        if demo_running:
            paragraphs.append(
                "A demo server is already running, with a clock and a notebook your apps can "
                "try. Connect an app to use it."
            )
        layout = QVBoxLayout(self)
        layout.addLayout(heading(logo, "Welcome to MCP Tray", size=48))
        for text in paragraphs:
            paragraph = QLabel(text)
            paragraph.setWordWrap(True)
            layout.addWidget(paragraph)
        buttons = QHBoxLayout()
        for verb, label in steps:
            button = QPushButton(label)
            button.clicked.connect(lambda checked=False, v=verb: self._choose(v))
            buttons.addWidget(button)
        buttons.addStretch(1)
        close = QPushButton("Close")
        close.setDefault(True)
        close.clicked.connect(self.close)
        buttons.addWidget(close)
        layout.addLayout(buttons)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

    def _choose(self, verb: str) -> None:
        self.chosen.emit(verb)
        self.close()


class ConfigLocationDialog(QDialog):
    """No program on this computer opens the config file: where it is, to copy or browse."""

    def __init__(self, path: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Where the config file is")
        self.setMinimumWidth(520)
        intro = QLabel(
            "MCP Tray could not find a program to open its config file with. "
            "Open this file in a text editor:"
        )
        intro.setWordWrap(True)
        self.path = QLineEdit(str(path))
        self.path.setReadOnly(True)
        copy = QPushButton("Copy")
        copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(str(path)))
        folder = QPushButton("Show the folder")
        folder.clicked.connect(
            lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(path.parent)))
        )
        row = QHBoxLayout()
        row.addWidget(self.path, stretch=1)
        row.addWidget(copy)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(row)
        layout.addWidget(folder, alignment=Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(close)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
