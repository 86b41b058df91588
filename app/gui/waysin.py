"""The Add dialog's ways in: paste what a README gives, choose from the catalog, or
open a bundle file.

Paste and catalog fill the form (app.gui.serverform) through
``chosen(draft)``; the bundle tab only picks the file, which the dialog reads
(it unpacks files, see app.gui.addserver). The form itself is the fourth way
(typing it in). The paste box parses as the
user pastes, with the importer's own translation (app.hosts.paste); the
catalog lists the bundled entries and, when the config turns it on, the
online registry's (app.core.catalog), read on a worker thread because they
read files and the network.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.core import catalog
from app.core.catalog import CatalogEntry
from app.core.config.draft import ServerDraft
from app.core.config.schema import CatalogConfig
from app.core.errors import UserError
from app.core.supervise.programs import MissingProgram
from app.gui.tasks import Run
from app.hosts.paste import HOW_TO_PASTE, drafts_from_text

logger = logging.getLogger(__name__)

PARSE_DELAY_MS = 250  # typing a command by hand: parse when the typing pauses
SEARCH_DELAY_MS = 400  # the online catalog is asked once the typing pauses
ONLINE_TIMEOUT_S = 8.0  # then the bundled entries are all the list shows
PASTE_HINT = (
    "Paste what the server's instructions say to add: the block in curly braces, or a "
    "line such as npx -y @modelcontextprotocol/server-memory. It fills in the form."
)

_FORMAT_NAME = re.compile(r"\bJSON\b")
PASTE_AGAIN = "Paste the whole block from the server's instructions, braces included."


class PasteTab(QWidget):
    """A text box; each change parses it. ``chosen(draft)`` with the server to show,
    ``several`` with every server the text holds, for the dialog to add in turn."""

    chosen = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        self.box = QPlainTextEdit()
        self.box.setPlaceholderText(PASTE_HINT)
        self.box.setTabChangesFocus(True)  # Tab leaves the box, as in any other field
        self.verdict = QLabel()
        self.verdict.setWordWrap(True)
        self.which = QComboBox()
        self.which.hide()
        self.drafts: list[ServerDraft] = []
        self._timer = QTimer(self, singleShot=True, interval=PARSE_DELAY_MS)
        self._timer.timeout.connect(self.parse)
        self.box.textChanged.connect(self._timer.start)
        self.which.activated.connect(lambda index: self.chosen.emit(self.drafts[index]))
        layout = QVBoxLayout(self)
        layout.addWidget(self.box, stretch=1)
        layout.addWidget(self.which)
        layout.addWidget(self.verdict)

    def parse(self) -> None:
        """Read the box now (a paste is read at once; typing waits for a pause)."""
        self._timer.stop()
        text = self.box.toPlainText()
        if not text.strip():
            self._found([], "")
            return
        try:
            drafts = drafts_from_text(text)
        except UserError as error:
            self._found([], _plain_paste_error(str(error)))
            return
        logger.info("the pasted text holds %d server(s)", len(drafts))
        self._found(drafts, _found_words(drafts))
        self.chosen.emit(drafts[0])

    def show_next(self, draft: ServerDraft) -> None:
        """The dialog moved on to ``draft`` (the next of several): the list shows it."""
        if draft in self.drafts:
            self.which.setCurrentIndex(self.drafts.index(draft))

    def _found(self, drafts: list[ServerDraft], words: str) -> None:
        self.drafts = drafts
        self.verdict.setText(words)
        self.which.clear()
        self.which.addItems([draft.name or "(no name)" for draft in drafts])
        self.which.setVisible(len(drafts) > 1)


def _found_words(drafts: Sequence[ServerDraft]) -> str:
    if len(drafts) == 1:
        return f"Found the server {drafts[0].name}. Check the form, then save it."
    return (
        f"Found {len(drafts)} servers. The form shows the one chosen above; after saving "
        "it you can add the next."
    )


def _plain_paste_error(sentence: str) -> str:
    """The reader's sentence without its hint for the command line (the box's own hint
    says it in the dialog's words) and without its file format's name."""
    sentence = sentence.replace(f" {HOW_TO_PASTE}.", "").replace("`", "")
    return f"{_FORMAT_NAME.sub('text', sentence)} {PASTE_AGAIN}"


BUNDLE_HINT = (
    "Some servers come as a single file ending in .mcpb (older ones: .dxt), called a "
    "bundle. Open one and MCP Tray fills in the form; if the server needs something "
    "from you, such as a key or a folder, the form asks for it."
)
BUNDLE_FILTER = "Server bundles (*.mcpb *.dxt);;All files (*)"


class BundleTab(QWidget):
    """A button that picks a bundle file (``picked(path)``) and a line saying how reading
    it went (:meth:`say`)."""

    picked = Signal(object)
    said = Signal(str)  # the verdict changed

    def __init__(self) -> None:
        super().__init__()
        hint = QLabel(BUNDLE_HINT)
        hint.setWordWrap(True)
        self.button = QPushButton("Open a bundle…")
        self.button.setAutoDefault(False)  # Return in the form saves, never opens
        self.button.clicked.connect(self._choose)
        self.verdict = QLabel()
        self.verdict.setWordWrap(True)
        self.verdict.setObjectName("bundle-verdict")
        layout = QVBoxLayout(self)
        layout.addWidget(hint)
        layout.addWidget(self.button, alignment=Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.verdict)
        layout.addStretch(1)

    def say(self, words: str, *, error: bool = False) -> None:
        self.verdict.setStyleSheet("color: #a40e26;" if error else "")
        self.verdict.setText(words)
        self.said.emit(words)

    def _choose(self) -> None:
        """Opened with open(), not exec(), so the loop keeps running while it is up."""
        chooser = QFileDialog(self, "Open a bundle", str(Path.home()), BUNDLE_FILTER)
        chooser.setFileMode(QFileDialog.FileMode.ExistingFile)
        chooser.fileSelected.connect(lambda file: self.picked.emit(Path(file)))
        chooser.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        chooser.open()


class CatalogTab(QWidget):
    """A search box over the catalog's entries; ``chosen(draft)`` when one is picked.
    An entry that runs only on the internet is listed, greyed, as not addable yet."""

    chosen = Signal(object)
    listed = Signal()  # the list shows the latest matches

    def __init__(self, run: Run, *, online: CatalogConfig, cache_dir: Path) -> None:
        super().__init__()
        self._run = run
        self._online = online
        self._cache_dir = cache_dir
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search, for example: files, github, database")
        self.search.setClearButtonEnabled(True)
        self.list = QListWidget()
        self.list.setWordWrap(True)
        self.list.setAlternatingRowColors(True)
        self.list.setSpacing(4)  # entries of three lines each read apart
        self.note = QLabel("Loading the catalog…")
        self.note.setWordWrap(True)
        self.bundled: list[CatalogEntry] = []
        self.found_online: list[CatalogEntry] = []
        self._asked = ""  # the online search whose answer is awaited
        self._timer = QTimer(self, singleShot=True, interval=SEARCH_DELAY_MS)
        self._timer.timeout.connect(self._search_online)
        self.search.textChanged.connect(self._typed)
        self.list.itemActivated.connect(self._picked)
        self.list.itemClicked.connect(self._picked)
        layout = QVBoxLayout(self)
        layout.addWidget(self.search)
        layout.addWidget(self.list, stretch=1)
        layout.addWidget(self.note)
        run(self._load())

    async def _load(self) -> None:
        self.bundled = await asyncio.to_thread(catalog.bundled)
        self.note.setText(
            "Also searching the online catalog as you type."
            if self._online.online
            else "Servers MCP Tray knows well. Choose one to fill in the form."
        )
        self.show_matches()

    def show_matches(self) -> None:
        text = self.search.text()
        known = {entry.name for entry in self.bundled}
        online = [entry for entry in self.found_online if entry.name not in known]
        self.list.clear()
        for entry in catalog.search(self.bundled, text) + online:
            self.list.addItem(_item(entry))
        self.listed.emit()

    def _typed(self) -> None:
        self.found_online = []
        self.show_matches()
        if self._online.online:
            self._timer.start()

    def _search_online(self) -> None:
        self._asked = self.search.text()
        self._run(self._ask_online(self._asked))

    async def _ask_online(self, text: str) -> None:
        try:
            found = await asyncio.to_thread(
                catalog.from_registry,
                self._online.url,
                text,
                cache_dir=self._cache_dir,
                timeout=ONLINE_TIMEOUT_S,
            )
        except UserError as error:  # CatalogUnavailable: its sentence says what is shown
            logger.info("online catalog: %s", getattr(error, "cause", error))
            self.note.setText(str(error))
            return
        if text == self._asked:  # an answer to what the box still says
            self.found_online = found
            self.note.setText("Also searching the online catalog as you type.")
            self.show_matches()

    def _picked(self, item: QListWidgetItem) -> None:
        entry = item.data(Qt.ItemDataRole.UserRole)
        if isinstance(entry, CatalogEntry) and not entry.remote_only:
            self.chosen.emit(entry.draft())


def _item(entry: CatalogEntry) -> QListWidgetItem:
    item = QListWidgetItem("\n".join([entry.title, entry.description, needs(entry)]))
    item.setData(Qt.ItemDataRole.UserRole, entry)
    item.setToolTip(entry.runs_with)
    if entry.remote_only:
        item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEnabled)  # not addable yet
    return item


def needs(entry: CatalogEntry) -> str:
    """What the entry needs, in a line: the program it runs with and what to type."""
    if entry.remote_only:
        return "Runs on the internet only: MCP Tray cannot add it yet."
    draft = entry.draft()
    parts = [f"Needs {MissingProgram(draft.command).product()}"]
    secrets = [v.name for v in draft.variables if v.secret and v.required]
    others = [v.name for v in draft.variables if not v.secret and v.required]
    if secrets:
        parts.append(f"a key or password ({', '.join(secrets)})")
    if others:
        parts.append(f"a setting ({', '.join(others)})")
    return " · ".join(parts)
