"""Remove…: asks with the server's name, then stops it and takes it out of the config.

The apps connected to it (Connect an app…) are named before asking: removing
takes the server out of their settings too, where it would only fail now.
Deleting its saved secrets is a checkbox, on by default as ``mcp-tray remove``
does (a server's secrets are its own, and no other server reads them); a
person who means to add it back later unticks it. The dialog stays to say
what changed, or why not (app.hosts.servers.remove, on a worker thread: it
writes the config, uses the keychain and tells the hub).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtGui import QCloseEvent, QIcon
from PySide6.QtWidgets import QCheckBox, QDialog, QDialogButtonBox, QLabel, QVBoxLayout

from app.core.endpoint.hubapi import HubAPI
from app.core.errors import UserError
from app.core.problems import plain
from app.core.secrets import secret_names
from app.gui.tasks import Run, WindowTasks
from app.hosts import linking, servers
from app.hosts.servers import Removed

logger = logging.getLogger(__name__)


class RemoveServerDialog(QDialog):
    def __init__(self, hub: HubAPI, run: Run, name: str, *, logo: QIcon) -> None:
        super().__init__()
        self.hub = hub
        self.server = name
        self.tasks = WindowTasks(run)
        self._run = self.tasks.run
        self.setWindowTitle(f"Remove {name}?")
        self.setWindowIcon(logo)
        self.setMinimumWidth(440)
        config = hub.config.servers.get(name)
        names = secret_names(config) if config is not None else []
        # A remote server runs elsewhere: MCP Tray only lets go of it.
        ends = "disconnects from" if config is not None and config.remote else "stops"
        self.question = QLabel(
            f"MCP Tray {ends} {name} and takes it out of its list of servers. "
            "Apps that use it lose its tools."
        )
        self.question.setWordWrap(True)
        self.delete_secrets = QCheckBox(_checkbox_words(names))
        self.delete_secrets.setChecked(True)
        self.delete_secrets.setVisible(bool(names))
        self.buttons = QDialogButtonBox()
        self.remove = self.buttons.addButton("&Remove", QDialogButtonBox.ButtonRole.AcceptRole)
        # Enter keeps the server: removing is chosen with a click (or Alt+R), never by
        # an Enter meant for something else. A focused auto-default button would take Enter.
        self.remove.setAutoDefault(False)
        cancel = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        cancel.setDefault(True)
        cancel.setFocus()
        self.buttons.accepted.connect(lambda: self._run(self.confirmed()))
        self.buttons.rejected.connect(self.close)
        heading = QLabel(f"<b>Remove {name}?</b>")
        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addWidget(self.question)
        layout.addWidget(self.delete_secrets)
        layout.addWidget(self.buttons)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.apps_named = asyncio.Event()  # set once the question names the apps, if any
        self._run(self._name_the_apps())

    async def _name_the_apps(self) -> None:
        """Say which connected apps reach the server: removing it edits their files too."""
        found = await asyncio.to_thread(linking.apps_reaching, self.hub.paths, self.server)
        if found and self.remove.isEnabled():
            words = apps_words(sorted({host.title for host, _ in found}))
            self.question.setText(f"{self.question.text()} {words}")
            self.adjustSize()
        self.apps_named.set()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        self.tasks.cancel()
        super().closeEvent(event)

    async def confirmed(self) -> None:
        self.remove.setEnabled(False)
        self.delete_secrets.setEnabled(False)
        self.question.setText(f"Removing {self.server}…")
        try:
            removed = await asyncio.to_thread(
                servers.remove,
                self.hub.paths,
                self.server,
                self.hub.store,
                delete_secrets=self.delete_secrets.isChecked(),
            )
        except (UserError, OSError) as error:
            self._finish(f"{self.server} was not removed: {plain(str(error))}")
            return
        logger.info("%s removed from the tray", self.server)
        self._finish(removed_words(removed))

    def _finish(self, text: str) -> None:
        self.question.setText(text)
        self.delete_secrets.hide()
        self.buttons.setStandardButtons(QDialogButtonBox.StandardButton.Close)
        self.buttons.button(QDialogButtonBox.StandardButton.Close).setFocus()
        self.adjustSize()


def _checkbox_words(names: Sequence[str]) -> str:
    listed = ", ".join(names)
    return f"Also delete its saved secrets ({listed}) from your system's keychain"


def apps_words(titles: Sequence[str]) -> str:
    """ "Cursor and Claude Desktop use it; MCP Tray takes it out of their settings too." """
    one = len(titles) == 1
    names = titles[0] if one else f"{', '.join(titles[:-1])} and {titles[-1]}"
    return (
        f"{names} {'uses' if one else 'use'} it; MCP Tray takes it out of "
        f"{'its' if one else 'their'} settings too."
    )


def removed_words(removed: Removed) -> str:
    """What Remove changed, as the dialog says it at the end."""
    words = [f"{removed.name} was removed."]
    if removed.hub.problem:
        words.append(f"MCP Tray could not stop it yet: {plain(removed.hub.problem)}")
    if removed.apps:
        titles = sorted({title for title, _ in removed.apps})
        them = "it" if len(titles) == 1 else "them"
        words.append(
            f"Took it out of {' and '.join(titles)}'s settings; restart {them} to see the change."
        )
    if removed.apps_trouble:
        words.append(f"Some apps still list it: {plain('; '.join(removed.apps_trouble))}")
    if removed.bundle_deleted:
        words.append("Deleted the files of its bundle.")
    if removed.secrets_deleted:
        words.append(f"Its secrets ({', '.join(removed.secrets_deleted)}) were deleted.")
    if removed.secrets_problem:
        words.append(f"Its secrets were kept: {plain(removed.secrets_problem)}")
    elif removed.secrets_kept:
        words.append(
            f"Its secrets ({', '.join(removed.secrets_kept)}) stay in your system's keychain, "
            "for when you add it again."
        )
    return " ".join(words)
