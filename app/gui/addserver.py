"""The "Add a server" dialog, which also changes one (Edit…).

Two pages. The first: the ways in (app.gui.waysin: paste, catalog) beside
the form (app.gui.serverform), what stops it from being saved under it
(app.hosts.servers.check, asked again at every change), and "Save and
start", off while anything does. The second: how it went, told as the
server moves on (the tray passes every change to :meth:`follow`), "running,
with 9 tools", or the first error in plain words with the server's last
output, a way back to the form, and for a new server "Keep it" / "Remove it".

Nothing is written before Save: Cancel on the first page leaves everything
as it was. Only a bundle (app.hosts.mcpb) is unpacked before, under the data
folder, because the form shows the folder it runs in; Cancel, closing, or
filling the form another way deletes those files again, and Save swaps them
in (:func:`app.hosts.mcpb.placed`) only as it saves. Saving and removing run
app.hosts.servers on a worker thread (they use the keychain, files and the
control socket), and that tells the hub, which starts, restarts or stops
only the server concerned.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import re
import threading
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QCloseEvent, QIcon
from PySide6.QtWidgets import (
    QDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.core.catalog import placeholder
from app.core.config import Config
from app.core.config.draft import ServerDraft
from app.core.endpoint.hubapi import HubAPI
from app.core.errors import UserError
from app.core.problems import plain
from app.core.supervise.status import ServerStatus
from app.gui.outcome import Outcome, OutcomeView, outcome_of
from app.gui.serverform import ServerForm
from app.gui.tasks import Run, WindowTasks
from app.gui.toolcount import count_tools
from app.gui.waysin import BundleTab, CatalogTab, PasteTab
from app.hosts import mcpb, servers

logger = logging.getLogger(__name__)

LAST_OUTPUT_LINES = 12  # enough of a failing server's output to see why; the log has the rest
# A catalog entry's stand-in for an argument the user must give (app.core.catalog).
_STAND_IN = re.compile(re.escape(placeholder("HINT")).replace("HINT", r"([A-Za-z0-9_.-]+)"))
TYPE_IT_IN = (
    "Fill in the form on the right with what the server's instructions give:\n\n"
    "• Name: what MCP Tray and your apps call it.\n"
    "• Program: what starts it, such as npx, uvx, docker or python3.\n"
    "• Arguments: what the program is given, on one line.\n"
    "• Settings: names and values the server reads. Mark passwords and keys as "
    "secret: they are kept in your system's keychain, never in a file."
)


class AddServerDialog(QDialog):
    """Adds a server, or (``editing``) changes the one of that name. ``run`` runs a
    coroutine on the tray's loop."""

    def __init__(self, hub: HubAPI, run: Run, *, logo: QIcon, editing: str | None = None) -> None:
        super().__init__()
        self.hub = hub
        self.tasks = WindowTasks(run)
        self._run = self.tasks.run
        self.editing = editing  # the server this dialog changes; set too once one is saved
        self.added = ""  # a server this dialog added, which "Remove it" takes out again
        self.kept = False  # the user chose to keep it, or it runs: Cancel leaves it
        self.waiting: list[ServerDraft] = []  # more servers from one paste, added in turn
        # The bundle the form shows, unpacked and not saved yet: its files go if it is not.
        self.bundle: ServerDraft | None = None
        # The save under way, and the bundle it saves (no longer self.bundle meanwhile):
        # its files stay if the save succeeds, and go if it fails.
        self.saving: asyncio.Future[servers.Saved] | None = None
        self.given_to: tuple[str, ...] = ()  # the connected apps the saved server went to
        self._saving_bundle: ServerDraft | None = None
        self._counting = False
        self._checking = False  # a check of the form is under way
        self._generation = 0  # of the form's contents, so that a late check is not shown
        self.setWindowTitle(f"Change {editing}" if editing else "Add a server")
        self.setWindowIcon(logo)
        self.resize(980 if editing is None else 600, 600)
        self._form_size = self.size()  # the form's, kept while the outcome is shown
        self.form = ServerForm()
        self.problems = QLabel()
        self.problems.setWordWrap(True)
        self.problems.setObjectName("problems")
        self.save = QPushButton("&Save and start" if editing is None else "&Save and restart")
        self.save.setDefault(True)
        self.cancel = QPushButton("Cancel")
        self.outcome = OutcomeView()
        self.pages = QStackedWidget()
        self.pages.addWidget(self._editor_page())
        self.pages.addWidget(self.outcome)
        QVBoxLayout(self).addWidget(self.pages)
        self._wire()
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        if editing is not None:
            self._fill_for_edit(editing)
        else:
            self.paste.box.setFocus()  # most people come with something to paste
        self.check()

    def _editor_page(self) -> QWidget:
        page = QWidget()
        row = QHBoxLayout()
        if self.editing is None:
            self.paste = PasteTab()
            self.catalog = CatalogTab(
                self._run, online=self.hub.config.catalog, cache_dir=self.hub.paths.state_dir
            )
            self.ways = QTabWidget()
            self.ways.addTab(self.paste, "Paste")
            self.ways.addTab(self.catalog, "Catalog")
            self.bundle_tab = BundleTab()
            self.ways.addTab(self.bundle_tab, "Bundle file")
            self.ways.addTab(_words(TYPE_IT_IN), "Type it in")
            self.ways.setMinimumWidth(360)
            row.addWidget(self.ways, stretch=4)
        box = QGroupBox("The server")
        inside = QVBoxLayout(box)
        inside.addWidget(self.form)
        inside.addStretch(1)
        inside.addWidget(self.problems)
        row.addWidget(box, stretch=5)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.cancel)
        buttons.addWidget(self.save)
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row, stretch=1)
        layout.addLayout(buttons)
        return page

    def _wire(self) -> None:
        self.form.changed.connect(self.check)
        self.save.clicked.connect(self._save_clicked)
        self.cancel.clicked.connect(self._cancel)
        if self.editing is None:
            self.paste.chosen.connect(self._from_paste)
            self.catalog.chosen.connect(self._from_catalog)
            self.bundle_tab.picked.connect(self.open_bundle)
        self.outcome.back.connect(self._back_to_form)
        self.outcome.keep.connect(self._keep)
        self.outcome.discard.connect(lambda: self._run(self._discard(close=True)))
        self.outcome.next.connect(self._add_next)
        self.outcome.close_clicked.connect(self.close)

    # ----- the form

    def fill(self, draft: ServerDraft) -> None:
        """Show ``draft`` in the form; the cursor goes where typing is needed first."""
        self.form.set_draft(draft)
        where = self.form.first_empty_secret()
        if where is not None:
            where.setFocus()

    def _from_paste(self, draft: ServerDraft) -> None:
        self.waiting = [d for d in self.paste.drafts if d is not draft]
        self._leave_bundle()
        self.fill(draft)

    def _from_catalog(self, draft: ServerDraft) -> None:
        self._leave_bundle()
        self.fill(draft)

    # ----- a bundle

    def open_bundle(self, path: Path) -> None:
        """Read the bundle at ``path`` into the form: the Bundle tab's choice, or a bundle
        file opened on the desktop."""
        self.ways.setCurrentWidget(self.bundle_tab)
        self.bundle_tab.say(f"Opening {path.name}…")
        self._run(self.read_bundle(path))

    async def read_bundle(self, path: Path) -> None:
        """On a worker thread: it unpacks the bundle, which may hold many files."""
        data_dir = self.hub.paths.data_dir
        try:
            draft = await asyncio.to_thread(mcpb.draft_from_bundle, path, data_dir)
        except (UserError, OSError) as error:  # BundleError says what is wrong, in words
            logger.info("bundle %s not opened: %s", path, error)
            self.bundle_tab.say(str(error), error=True)
            return
        if self.bundle is not None and self.bundle.cwd != draft.cwd:
            await self._discard_bundle()  # the one shown before, not saved
        self.bundle, self.waiting = draft, []
        self._to_page(0)
        self.form.set_draft(dataclasses.replace(draft, notes=mcpb.without_questions(draft.notes)))
        self.form.ask(mcpb.questions(draft))
        then = "Fill in what it needs, then save it." if self.form.asked else "Check it, then save."
        self.bundle_tab.say(f"Opened {path.name}: the form shows its server. {then}")
        where = self.form.first_question() or self.form.first_empty_secret()
        if where is not None:
            where.setFocus()

    def _leave_bundle(self) -> None:
        """The form shows something else now: the bundle's files go."""
        if self.bundle is not None:
            self._run(self._discard_bundle())
            self.bundle_tab.say("")

    async def _discard_bundle(self) -> None:
        bundle, self.bundle = self.bundle, None
        if bundle is not None:
            await asyncio.to_thread(mcpb.discard, bundle, self.hub.paths.data_dir, self.hub.config)

    def _fill_for_edit(self, name: str) -> None:
        server = self.hub.config.servers[name]
        draft = servers.draft_of(server, name)
        stored = frozenset(v.name for v in draft.variables if v.secret)
        self.form.set_draft(draft, stored=stored)

    def check(self) -> None:
        """The form changed: check it again (on a worker thread, see :meth:`recheck`).

        One check at a time: while the first one waits for the login shell, each
        keystroke would otherwise hold another of the loop's worker threads, which
        the catalog, bundles and tool counts need too.
        """
        self._generation += 1
        if not self._checking:
            self._checking = True
            self._run(self._check_until_current())

    async def _check_until_current(self) -> None:
        """Check, and once more if the form changed while it ran."""
        try:
            checked = -1
            while checked != self._generation:
                checked = self._generation
                await self.recheck()
        finally:
            self._checking = False

    async def recheck(self) -> list[str]:
        """What stops the form from being saved, shown under it, Save off while any.

        On a worker thread: finding the program asks the login shell the first time
        (app.core.shellenv), which may take seconds. An answer about a form that has
        changed since is not shown; the check of the newer one is.
        """
        generation = self._generation
        draft, config = self.form.draft(), self.hub.config
        found = [p for p in [self.form.argument_problem()] if p]
        unanswered = self.form.unanswered()
        # The manifest's words are "Title: description"; the title names the field.
        found += [f"Fill in {words.partition(': ')[0]} at the top." for words in unanswered]
        checked = await asyncio.to_thread(_problems, draft, config, self.editing)
        # A value not typed in yet is still its bundle's placeholder, which the check
        # would name in the config file's terms; the line above says it in the form's.
        found += [p for p in checked if not (unanswered and "${" in p)]
        if generation == self._generation:
            self._show_problems(found)
        return found

    def _show_problems(self, problems: list[str]) -> None:
        self.save.setEnabled(not problems)
        self.save.setToolTip(problems[0] if problems else "")
        if problems:
            lines = "".join(f"<li>{_escaped(p)}</li>" for p in problems)
            self._say(f"<b>Before it can be saved:</b><ul style='margin:0'>{lines}</ul>")
        else:
            self._say("")

    def _say(self, html: str, *, error: bool = False) -> None:
        self.problems.setStyleSheet("color: #a40e26;" if error else "")
        self.problems.setText(html)

    # ----- saving

    def _save_clicked(self) -> None:
        self._run(self.save_and_start())

    async def save_and_start(self) -> None:
        self.save.setEnabled(False)  # one save at a time
        if await self.recheck():
            return
        draft = self.form.draft()
        bundle = self.bundle if self.bundle is not None and draft.cwd == self.bundle.cwd else None
        if bundle is not None:
            mcpb.drop_unset(draft)  # an optional key left empty: the server runs without it
        self._show(Outcome.saving(draft.name))
        self.saving = asyncio.ensure_future(asyncio.to_thread(self._saved, draft, bundle))
        self._saving_bundle = bundle
        if bundle is not None:
            self.bundle = None  # the save's now: nothing else deletes its files meanwhile
        try:
            # Closing the window cancels this, not the save's thread: closeEvent decides
            # about the bundle's files when the save ends.
            saved = await asyncio.shield(self.saving)
        except (UserError, OSError) as error:
            self.saving = self._saving_bundle = None
            self._take_back(bundle)
            self._to_page(0)
            self._say(f"Not saved: {_escaped(plain(str(error)))}", error=True)
            return
        self.saving = self._saving_bundle = None  # a bundle's files are the server's now
        logger.info("%s saved from the Add dialog", saved.name)
        # Kept over saves: a save after a failed start gives no app anything new.
        self.given_to = tuple(dict.fromkeys([*self.given_to, *(t for t, _ in saved.apps)]))
        if self.editing is None:
            self.added = saved.name
        self.editing = saved.name  # saving again changes this server
        self.setWindowTitle(f"Change {saved.name}")
        self.save.setText("&Save and restart")
        for field in self.form.secret_fields():
            field.clear()  # stored now; the value does not linger in the widget
        self._fill_for_edit(saved.name)
        if saved.hub.problem:
            self._show(Outcome.not_told(saved.name, saved.hub.problem))
        elif not saved.hub.running:
            self._show(Outcome.later(saved.name))
        else:
            self.follow(self.hub.status_rows())

    def _take_back(self, bundle: ServerDraft | None) -> None:
        """The save failed: its bundle's files are the form's again, or go if the form
        shows another bundle now (opened from the desktop while it saved)."""
        if bundle is None:
            return
        if self.bundle is None:
            self.bundle = bundle
        elif self.bundle.cwd != bundle.cwd:
            _discard_in_background(bundle, self.hub.paths.data_dir, self.hub.config)

    def _saved(self, draft: ServerDraft, bundle: ServerDraft | None) -> servers.Saved:
        data_dir = self.hub.paths.data_dir
        placing = mcpb.placed(bundle, data_dir) if bundle else contextlib.nullcontext()
        with placing:
            return servers.add(self.hub.paths, draft, self.hub.store, replace=self.editing)

    def follow(self, rows: list[ServerStatus]) -> None:
        """The tray saw states change: tell how the saved server fares."""
        if self.pages.currentIndex() != 1 or not self.editing or self.outcome.final:
            return
        row = next((r for r in rows if r.name == self.editing), None)
        draft = self.form.draft()
        told = outcome_of(row, self.editing, shared=draft.shared, downloads=draft.downloads)
        if told is None:
            return  # not yet applied
        if told.running:
            self._count_tools_once(told)
        elif told.failed:
            self._run(self._show_failure(told))
        else:
            self._show(told)

    def _count_tools_once(self, told: Outcome) -> None:
        if not self._counting:
            self._counting = True
            self._run(self._say_running(told))

    async def _say_running(self, told: Outcome) -> None:
        tools = await asyncio.to_thread(count_tools, self.hub.paths.socket_path, told.name)
        self.kept = True
        self._show(told.with_tools(tools, self.given_to))

    async def _show_failure(self, told: Outcome) -> None:
        lines = await self.hub.log_tail(told.name, LAST_OUTPUT_LINES)
        if self.outcome.final:
            return
        self._show(told.with_output(lines))

    def _show(self, told: Outcome) -> None:
        self._to_page(1)
        self.outcome.show_outcome(
            told, new=bool(self.added), next_name=self.waiting[0].name if self.waiting else ""
        )
        if told.final:
            self.kept = self.kept or not told.failed

    def _to_page(self, index: int) -> None:
        """Show the form (0) at the dialog's own size, or the outcome (1) at the size its
        words need: a hidden page does not count towards the dialog's size."""
        if index == self.pages.currentIndex():
            return
        if index == 1:
            self._form_size = self.size()
        for number in range(self.pages.count()):
            page = self.pages.widget(number)
            fits = QSizePolicy.Policy.Preferred if number == index else QSizePolicy.Policy.Ignored
            if page is not None:
                page.setSizePolicy(fits, fits)
        self.pages.setCurrentIndex(index)
        if index == 1:
            self.adjustSize()
        else:
            self.resize(self._form_size)

    # ----- after the outcome

    def _back_to_form(self) -> None:
        self.outcome.final = False
        self._counting = False
        self._to_page(0)
        self.cancel.setText("Remove it and close" if self.added and not self.kept else "Cancel")
        self.check()

    def _keep(self) -> None:
        self.kept = True
        if self.waiting:
            self._add_next()
        else:
            self.close()

    def _add_next(self) -> None:
        draft = self.waiting.pop(0)
        self.editing, self.added, self.kept, self._counting = None, "", False, False
        self.outcome.final = False
        self.setWindowTitle("Add a server")
        self.save.setText("&Save and start")
        self.cancel.setText("Cancel")
        self.paste.show_next(draft)
        self._to_page(0)
        self.fill(draft)

    async def _discard(self, *, close: bool) -> None:
        """Take out the server this dialog added, with its secrets: the start failed and
        the user does not want it."""
        name, self.added = self.added, ""
        self._show(Outcome.removing(name))
        try:
            await asyncio.to_thread(
                servers.remove, self.hub.paths, name, self.hub.store, delete_secrets=True
            )
        except (UserError, OSError) as error:
            self._show(Outcome.not_removed(name, plain(str(error))))
            return
        logger.info("%s removed again from the Add dialog", name)
        self.kept = True  # nothing is left to discard
        if close:
            self.close()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        """Closed by its window's ✕, or the tray quitting: the files of a bundle not saved
        go, but those of one being saved only once its save has failed. A save that
        outlasts the loop (Quit) keeps them: deleting a folder the config may point to
        is the worse mistake."""
        self.tasks.cancel()
        hub, data_dir = self.hub, self.hub.paths.data_dir
        if self.bundle is not None:
            shown, self.bundle = self.bundle, None
            _discard_in_background(shown, data_dir, hub.config)
        saving, saved = self.saving, self._saving_bundle
        if saving is not None and saved is not None:

            def decide(save: asyncio.Future[servers.Saved]) -> None:
                # Cancelled: the loop ended first, and the thread may have saved it.
                if not save.cancelled() and save.exception() is not None:
                    _discard_in_background(saved, data_dir, hub.config)

            saving.add_done_callback(decide)
        super().closeEvent(event)

    def _cancel(self) -> None:
        """Before Save: close, with nothing written (a bundle opened: its files deleted).
        Back at the form after a failed start of a server this dialog added: the button
        says it removes that server."""
        if self.added and not self.kept:
            self._run(self._discard(close=True))
        else:
            self._run(self._close_without_bundle())

    async def _close_without_bundle(self) -> None:
        await self._discard_bundle()
        self.close()


def _discard_in_background(bundle: ServerDraft, data_dir: Path, config: Config) -> None:
    """Delete the files of a bundle that was not saved, on a thread of their own.

    A Node server's bundle can hold tens of thousands of files, and the window
    closes at once. Not a task on the loop: quitting cancels those and ends the
    loop, while Python waits for this thread before it exits, so a Quit does not
    leave half a bundle behind.
    """
    name = Path(bundle.cwd).name
    threading.Thread(
        target=_discard_files, args=(bundle, data_dir, config), name=f"discard {name}"
    ).start()


def _discard_files(bundle: ServerDraft, data_dir: Path, config: Config) -> None:
    try:
        mcpb.discard(bundle, data_dir, config)
    except OSError:
        logger.exception("the files of the bundle in %s were not all deleted", bundle.cwd)


def _problems(draft: ServerDraft, config: Config, editing: str | None) -> list[str]:
    lookup = servers.server_path(draft, os.environ)
    found = servers.check(draft, config, path_for_lookup=lookup, replacing=editing)
    for argument in draft.args:
        for hint in _STAND_IN.findall(argument):
            found.append(f"Replace {placeholder(hint)} in the arguments with yours.")
    return found


def _words(text: str) -> QWidget:
    page = QWidget()
    label = QLabel(text)
    label.setWordWrap(True)
    label.setAlignment(Qt.AlignmentFlag.AlignTop)
    QVBoxLayout(page).addWidget(label)
    return page


def _escaped(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
