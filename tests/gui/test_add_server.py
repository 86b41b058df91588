"""The Add dialog, Edit… and Remove… against a real hub, real servers and a real keyring.

Each test drives the dialog as a person would (paste, click, type) and waits
on what the hub publishes, bounded by the tray loop's timeout; screenshots of
what the person sees land in ``test-artifacts/add-server`` (or under
``$MCP_TRAY_TEST_ARTIFACTS``).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from keyring.backends import SecretService
from PySide6.QtWidgets import QLineEdit, QWidget
from pytestqt.qtbot import QtBot

from app.core.config.draft import Variable
from app.core.events import ServerStateChanged
from app.core.secrets import Secrets, SecretStore
from app.gui.addserver import AddServerDialog
from app.gui.outcome import Outcome
from app.gui.removeserver import RemoveServerDialog
from app.gui.serverform import VariableRow
from tests.gui.conftest import TEST_TIMEOUT_S, RunningTray, TrayLoop, find_action
from tests.helpers import FLAKY, PYTHON, SERVERS
from tests.keyrings import MemoryKeyring

ARTIFACTS = Path(os.environ.get("MCP_TRAY_TEST_ARTIFACTS", "test-artifacts")) / "add-server"
JARGON = re.compile(r"\b(JSON|env|args|stdio|PATH|keyring|pid)\b|`|crash-loop|needs-secret")
SECRETIVE = SERVERS / "secretive.py"
TRIED = {"running", "backoff", "crash-loop"}  # states of a server the hub has tried to start


def shoot(widget: QWidget, name: str) -> Path:
    """What the person sees, saved for a look (and for the README's screenshot)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    widget.grab().save(str(path))
    return path


def texts(widget: QWidget) -> str:
    """Every word the widget shows, for the jargon check."""
    from PySide6.QtWidgets import QAbstractButton, QLabel

    words = [w.text() for w in widget.findChildren(QLabel) if w.isVisible()]
    words += [w.text() for w in widget.findChildren(QAbstractButton) if w.isVisible()]
    words += [w.placeholderText() for w in widget.findChildren(QLineEdit) if w.isVisible()]
    return "\n".join(words)


def config_text(tray_home: Path) -> str:
    return (tray_home / "config.json").read_text()


async def until(running: RunningTray, done: Callable[[], bool]) -> None:
    """Until ``done()``, checked at each repaint (bounded by the tray loop's timeout)."""
    while not done():
        await running.repainted()


async def told(dialog: AddServerDialog) -> None:
    """Until the dialog has told how the saved server fares, all it will tell."""
    shown = asyncio.Event()
    dialog.outcome.told.connect(lambda outcome: shown.set())
    while not dialog.outcome.final:
        shown.clear()
        await shown.wait()


def test_a_pasted_snippet_fills_the_form(start_tray: Any, tray_loop: TrayLoop) -> None:
    running: RunningTray = start_tray({})
    dialog = running.tray.open_add()
    snippet = json.dumps(
        {"mcpServers": {"notes": {"command": PYTHON, "args": [str(FLAKY)], "env": {"MODE": "x"}}}}
    )

    dialog.paste.box.setPlainText(snippet)
    dialog.paste.parse()
    tray_loop.run(dialog.recheck)

    form = dialog.form
    assert form.name.text() == "notes"
    assert form.program.text() == PYTHON
    assert shlex.split(form.arguments.text()) == [str(FLAKY)]
    assert [(r.name.text(), r.value.text()) for r in form.rows] == [("MODE", "x")]
    assert dialog.paste.verdict.text().startswith("Found the server notes.")
    assert dialog.save.isEnabled()
    assert not JARGON.search(texts(dialog))
    shoot(dialog, "paste.png")
    # The README's picture: a snippet as a server's README prints it.
    memory = {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-memory"]}
    dialog.paste.box.setPlainText(json.dumps({"mcpServers": {"memory": memory}}, indent=2))
    dialog.paste.parse()
    tray_loop.run(dialog.recheck)
    shoot(dialog, "readme.png")
    dialog.close()
    tray_loop.run(running.settled)


def test_a_paste_of_several_servers_lets_the_user_pick_and_a_bad_paste_says_why(
    start_tray: Any, tray_loop: TrayLoop
) -> None:
    running: RunningTray = start_tray({})
    dialog = running.tray.open_add()
    both = {"one": {"command": PYTHON}, "two": {"command": PYTHON, "args": ["-V"]}}

    dialog.paste.box.setPlainText(json.dumps({"mcpServers": both}))
    dialog.paste.parse()
    first = dialog.form.name.text()
    dialog.paste.which.activated.emit(1)
    second = dialog.form.name.text()
    offered = dialog.paste.which.isVisibleTo(dialog)
    dialog.paste.box.setPlainText("{ this is not a server }")
    dialog.paste.parse()

    assert (first, second) == ("one", "two")
    assert offered and not dialog.paste.which.isVisibleTo(dialog)
    assert dialog.paste.verdict.text()  # why, in words
    assert not JARGON.search(dialog.paste.verdict.text())
    dialog.close()
    tray_loop.run(running.settled)


def test_a_secret_typed_in_the_form_goes_to_the_keyring_and_never_to_the_config(  # noqa: PLR0917 - fixtures
    start_tray: Any,
    tray_loop: TrayLoop,
    tray_home: Path,
    secret_service: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    expect_warnings: Any,
) -> None:
    expect_warnings(r"desktop notification failed")  # no notification daemon on this bus
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", secret_service["DBUS_SESSION_BUS_ADDRESS"])
    backend = SecretService.Keyring()
    running: RunningTray = start_tray(
        {}, secrets=Secrets(SecretStore(tray_home / "names.json", backend=backend))
    )
    dialog = running.tray.open_add()
    typed = "tok-typed-into-the-add-form-5678"
    form = dialog.form
    dialog.ways.setCurrentIndex(3)  # "Type it in"
    form.name.setText("api")
    form.program.setText(PYTHON)
    form.arguments.setText(shlex.join([str(SECRETIVE)]))
    form.add_empty_variable()
    form.rows[0].name.setText("API_TOKEN")
    form.rows[0].value.textEdited.emit(typed)  # as typing does: it looks like a key
    form.rows[0].value.setText(typed)

    async def scenario() -> None:
        await dialog.recheck()
        shoot(dialog, "form.png")
        dialog.save.click()
        await told(dialog)
        await running.settled()

    tray_loop.run(scenario)
    shoot(dialog, "running.png")

    assert form.rows[0].secret.isChecked()
    assert form.rows[0].value.echoMode() is QLineEdit.EchoMode.Password
    assert backend.get_password("mcp-tray/api", "API_TOKEN") == typed
    assert typed not in config_text(tray_home)
    assert json.loads(config_text(tray_home))["mcpServers"]["api"]["env"] == {
        "API_TOKEN": "${secret:API_TOKEN}"
    }
    assert dialog.outcome.title.text() == "api is running"
    assert dialog.outcome.body.text().startswith("It offers 1 tool.")
    assert not JARGON.search(texts(dialog))
    backend.delete_password("mcp-tray/api", "API_TOKEN")
    dialog.close()


def test_a_catalog_entry_fills_the_form_and_asks_for_its_secret(
    start_tray: Any, tray_loop: TrayLoop
) -> None:
    running: RunningTray = start_tray({})
    dialog = running.tray.open_add()
    catalog = dialog.catalog

    async def scenario() -> None:
        listed = asyncio.Event()
        catalog.listed.connect(listed.set)
        while not catalog.bundled:  # read on a worker thread
            await listed.wait()

    tray_loop.run(scenario)
    dialog.ways.setCurrentIndex(1)
    catalog.search.setText("brave")
    item = catalog.list.item(0)
    shoot(dialog, "catalog.png")
    catalog.list.itemClicked.emit(item)
    tray_loop.run(dialog.recheck)
    shoot(dialog, "catalog-chosen.png")

    assert item.text().startswith("Brave Search\n")
    assert "Needs Node.js" in item.text() and "BRAVE_API_KEY" in item.text()
    assert dialog.form.name.text() == "brave-search"
    assert dialog.form.program.text() == "npx"
    (row,) = dialog.form.rows
    assert row.name.text() == "BRAVE_API_KEY" and row.secret.isChecked()
    assert row.value.echoMode() is QLineEdit.EchoMode.Password
    assert not dialog.save.isEnabled()
    assert "BRAVE_API_KEY needs a value" in dialog.problems.text()
    catalog.search.setText("linear")
    remote = catalog.list.item(0)
    assert "Runs on the internet only" in remote.text() and not remote.flags() & _enabled()
    dialog.close()
    tray_loop.run(running.settled)


def _enabled() -> Any:
    from PySide6.QtCore import Qt

    return Qt.ItemFlag.ItemIsEnabled


def test_save_is_off_and_says_why_while_the_name_is_taken(
    start_tray: Any, tray_loop: TrayLoop
) -> None:
    running: RunningTray = start_tray({"notes": {"command": PYTHON, "args": [str(FLAKY)]}})
    dialog = running.tray.open_add()
    dialog.form.name.setText("notes")
    dialog.form.program.setText(PYTHON)
    tray_loop.run(dialog.recheck)
    taken = (dialog.save.isEnabled(), dialog.problems.text(), dialog.save.toolTip())
    dialog.form.name.setText("notes-2")
    tray_loop.run(dialog.recheck)

    assert not taken[0]
    assert "already has a server named notes" in taken[1]
    assert "already has a server named notes" in taken[2]
    assert dialog.save.isEnabled() and not dialog.problems.text()
    dialog.close()
    tray_loop.run(running.settled)


def test_a_server_that_fails_to_start_shows_why_and_remove_it_leaves_nothing(
    start_tray: Any, tray_loop: TrayLoop, tray_home: Path, expect_warnings: Any
) -> None:
    expect_warnings(r"broken (entered crash-loop|exited)")
    running: RunningTray = start_tray({})
    before = config_text(tray_home)
    dialog = running.tray.open_add()
    dialog.paste.box.setPlainText(f"{shlex.quote(PYTHON)} {FLAKY} --crash-at-start")
    dialog.paste.parse()
    dialog.form.name.setText("broken")

    async def scenario() -> None:
        dialog.save.click()
        await told(dialog)

    tray_loop.run(scenario)
    shoot(dialog, "failed.png")
    failed = (dialog.outcome.title.text(), dialog.outcome.body.text())
    shown = [k for k, b in dialog.outcome.buttons.items() if b.isVisibleTo(dialog)]
    output = dialog.outcome.output.toPlainText()

    async def discard() -> None:
        dialog.outcome.buttons["discard"].click()
        await running.settled()

    tray_loop.run(discard)

    assert failed[0] == "broken did not start"
    assert failed[1].startswith("It stopped with an error.")
    assert "fatal" in output  # its own last words
    assert shown == ["back", "discard", "keep"]
    assert "broken" not in json.loads(config_text(tray_home))["mcpServers"]
    assert json.loads(config_text(tray_home)) == json.loads(before)


def test_edit_fills_the_form_and_saving_restarts_only_that_server(
    start_tray: Any, tray_loop: TrayLoop, tray_home: Path
) -> None:
    servers = {
        "notes": {"command": PYTHON, "args": [str(FLAKY)]},
        "other": {"command": PYTHON, "args": [str(FLAKY)]},
    }
    running: RunningTray = start_tray(servers)
    stay_up = ["--exit-after-file", str(tray_home / "no-such-file")]

    async def scenario() -> AddServerDialog:
        await until(running, lambda: all(r.state == "running" for r in running.tray.rows()))
        find_action(running.tray.menu, "notes", "Edit…").trigger()
        dialog = running.tray.server_dialogs["notes"]
        dialog.form.arguments.setText(shlex.join([str(FLAKY), *stay_up]))
        mark = len(running.events.events)
        dialog.save.click()
        await told(dialog)
        await running.settled()
        changed = running.events.events[mark:]
        restarted = {e.server for e in changed if isinstance(e, ServerStateChanged)}
        assert restarted == {"notes"}
        return dialog

    dialog = tray_loop.run(scenario)

    assert dialog.windowTitle() == "Change notes"
    assert dialog.outcome.title.text() == "notes is running"
    entry = json.loads(config_text(tray_home))["mcpServers"]["notes"]
    assert entry["args"] == [str(FLAKY), *stay_up]
    dialog.close()


def test_remove_with_delete_secrets_removes_the_entry_and_its_secret(
    start_tray: Any, tray_loop: TrayLoop, tray_home: Path
) -> None:
    keyring = MemoryKeyring()
    store = SecretStore(tray_home / "names.json", backend=keyring)
    store.set("api", "API_TOKEN", "tok-kept-for-the-api-server-1234")
    entry = {
        "command": PYTHON,
        "args": [str(SECRETIVE)],
        "env": {"API_TOKEN": "${secret:API_TOKEN}"},
    }
    running: RunningTray = start_tray(
        {"api": entry, "notes": {"command": PYTHON, "args": [str(FLAKY)]}},
        secrets=Secrets(store),
    )

    async def scenario() -> RemoveServerDialog:
        await until(running, lambda: "api" in {r.name for r in running.tray.rows()})
        find_action(running.tray.menu, "api", "Remove…").trigger()
        dialog = running.tray.remove_dialogs["api"]
        shoot(dialog, "remove.png")
        assert dialog.delete_secrets.isChecked() and dialog.delete_secrets.isVisible()
        assert "API_TOKEN" in dialog.delete_secrets.text()
        dialog.remove.click()
        await running.settled()
        await until(running, lambda: "api" not in {r.name for r in running.tray.rows()})
        return dialog

    dialog = tray_loop.run(scenario)
    shoot(dialog, "removed.png")

    assert list(json.loads(config_text(tray_home))["mcpServers"]) == ["notes"]
    assert ("mcp-tray/api", "API_TOKEN") not in keyring.entries
    assert dialog.question.text().startswith("api was removed. Its secrets (API_TOKEN)")
    assert not JARGON.search(texts(dialog))
    dialog.close()


# ----- bundles


def asking_bundle(tmp_path: Path) -> Path:
    """A bundle whose server needs a key (a secret) and the name of the setting it reports,
    a value its arguments use: the form asks for both."""
    from tests.hosts.test_mcpb import bundle, manifest

    config = {
        "command": PYTHON,  # the Python of these tests, which has the server's library
        "args": ["${__dirname}/server.py", "${user_config.variable}"],
        "env": {"API_KEY": "${user_config.api_key}"},
    }
    data = manifest()
    data["server"]["mcp_config"] = config
    data["user_config"]["variable"] = {
        "type": "string",
        "title": "Setting to report",
        "description": "Type API_KEY",
        "required": True,
    }
    return bundle(tmp_path / "notes.mcpb", data)


async def opened(dialog: AddServerDialog, path: Path) -> None:
    """Choose ``path`` in the bundle tab's file chooser, as a person would; until read."""
    from PySide6.QtWidgets import QFileDialog

    said = asyncio.Event()
    dialog.bundle_tab.said.connect(lambda words: "…" not in words and said.set())
    dialog.bundle_tab.button.click()
    chooser = dialog.bundle_tab.findChild(QFileDialog)
    chooser.selectFile(str(path))
    chooser.accept()
    await said.wait()


def bundles(tray_home: Path) -> list[str]:
    folder = tray_home / "data" / "bundles"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_a_bundle_opened_in_the_dialog_asks_for_its_values_is_saved_runs_and_removed(
    start_tray: Any, tray_loop: TrayLoop, tray_home: Path, tmp_path: Path
) -> None:
    from app.hosts import servers

    keyring = MemoryKeyring()
    running: RunningTray = start_tray(
        {}, secrets=Secrets(SecretStore(tray_home / "names.json", backend=keyring))
    )
    dialog = running.tray.open_add()
    tray_loop.run(lambda: opened(dialog, asking_bundle(tmp_path)))
    tray_loop.run(dialog.recheck)
    form = dialog.form
    before = (dialog.save.isEnabled(), dialog.problems.text())
    shoot(dialog, "bundle.png")
    folder = tray_home / "data" / "bundles" / "Secretive-Notes-1.2.0"

    assert dialog.bundle_tab.verdict.text().startswith("Opened notes.mcpb")
    assert form.name.text() == "secretive-notes"
    assert form.folder.text() == str(folder)
    assert [words for words, _ in form.asked.values()] == ["Setting to report: Type API_KEY"]
    assert not before[0] and "Setting to report" in before[1]
    assert "${" not in texts(dialog) and not JARGON.search(texts(dialog))

    form.asked["variable"][1].setText("API_KEY")
    form.first_empty_secret().setText("bundle-key")  # type: ignore[union-attr] - asked for

    async def save() -> None:
        await dialog.recheck()
        dialog.save.click()
        await told(dialog)

    tray_loop.run(save)
    entry = json.loads(config_text(tray_home))["mcpServers"]["secretive-notes"]

    assert dialog.outcome.title.text() == "secretive-notes is running"
    assert entry["args"] == [f"{folder}/server.py", "API_KEY"]
    assert entry["cwd"] == str(folder)
    assert bundles(tray_home) == ["Secretive-Notes-1.2.0"]
    dialog.close()

    hub = running.hub
    removed = tray_loop.run(
        lambda: asyncio.to_thread(
            servers.remove, hub.paths, "secretive-notes", hub.store, delete_secrets=True
        )
    )
    tray_loop.run(running.settled)

    assert removed.bundle_deleted == folder
    assert bundles(tray_home) == []


def test_cancel_after_opening_a_bundle_leaves_no_files_and_a_bad_one_says_why(
    start_tray: Any, tray_loop: TrayLoop, tray_home: Path, tmp_path: Path
) -> None:
    running: RunningTray = start_tray({})
    dialog = running.tray.open_add()
    not_a_bundle = tmp_path / "broken.mcpb"
    not_a_bundle.write_text("not a zip")

    tray_loop.run(lambda: opened(dialog, not_a_bundle))
    refused = dialog.bundle_tab.verdict.text()
    tray_loop.run(lambda: opened(dialog, asking_bundle(tmp_path)))
    unpacked = bundles(tray_home)
    closed = asyncio.Event()
    dialog.destroyed.connect(closed.set)

    async def cancel() -> None:
        dialog.cancel.click()
        await closed.wait()

    tray_loop.run(cancel)

    assert refused and "broken.mcpb" in refused and not JARGON.search(refused)
    assert unpacked == ["Secretive-Notes-1.2.0"]
    assert bundles(tray_home) == []
    assert "secretive-notes" not in config_text(tray_home)


def test_a_bundle_opened_on_the_desktop_while_the_tray_runs_opens_its_add_dialog(
    start_tray: Any, tray_loop: TrayLoop, tray_home: Path, tmp_path: Path, qtbot: QtBot
) -> None:
    from app.core.endpoint import client
    from app.gui.app import present

    running: RunningTray = start_tray({})
    present(running.hub, running.tray)  # as app.gui.app wires the tray to its hub
    path = asking_bundle(tmp_path)
    shown = asyncio.Event()

    async def ask() -> AddServerDialog:
        socket = running.hub.paths.socket_path
        await asyncio.to_thread(client.call, socket, "open_bundle", path=str(path), timeout=5)
        while "" not in running.tray.server_dialogs:
            await asyncio.sleep(0)  # the hub's call reaches the tray on the loop's next turns
        dialog = running.tray.server_dialogs[""]
        dialog.bundle_tab.said.connect(lambda words: "…" not in words and shown.set())
        await shown.wait()
        return dialog

    dialog = tray_loop.run(ask)

    assert dialog.isVisible()
    assert dialog.ways.currentWidget() is dialog.bundle_tab
    assert dialog.form.name.text() == "secretive-notes"
    dialog.close()  # its files are deleted on a thread of their own
    qtbot.waitUntil(lambda: bundles(tray_home) == [], timeout=int(TEST_TIMEOUT_S * 1000))


def test_remove_says_the_files_of_its_bundle_were_deleted(tmp_path: Path) -> None:
    from app.gui.removeserver import removed_words
    from app.hosts.servers import HubTold, Removed

    folder = tmp_path / "bundles" / "Notes-1.2.0"
    with_bundle = Removed("notes", None, HubTold(running=True), bundle_deleted=folder)
    without = Removed("notes", None, HubTold(running=True))

    assert removed_words(with_bundle) == "notes was removed. Deleted the files of its bundle."
    assert "bundle" not in removed_words(without)


class HeldLookup:
    """servers.server_path held until released, as the first look-up in the login shell
    can be: how many run at once, and in all."""

    def __init__(self, real: Callable[..., str], loop: asyncio.AbstractEventLoop) -> None:
        self.real, self.loop = real, loop
        self.release = threading.Event()
        self.entered = asyncio.Event()
        self._lock = threading.Lock()
        self.now = self.most = self.calls = 0

    def __call__(self, *args: Any) -> str:
        with self._lock:
            self.now, self.calls = self.now + 1, self.calls + 1
            self.most = max(self.most, self.now)
        self.loop.call_soon_threadsafe(self.entered.set)
        try:
            self.release.wait(TEST_TIMEOUT_S)
            return self.real(*args)
        finally:
            with self._lock:
                self.now -= 1


def test_typing_while_the_program_is_looked_up_checks_once_more_not_once_per_key(
    start_tray: Any, tray_loop: TrayLoop, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.hosts import servers

    lookup = HeldLookup(servers.server_path, tray_loop.loop)
    monkeypatch.setattr(servers, "server_path", lookup)
    running: RunningTray = start_tray({"notes": {"command": PYTHON, "args": [str(FLAKY)]}})

    async def type_fast() -> AddServerDialog:
        dialog = running.tray.open_add()  # its first check waits for the look-up
        try:
            await lookup.entered.wait()
            for typed in ("n", "no", "not", "note", "notes"):
                dialog.form.name.setText(typed)
        finally:
            lookup.release.set()
        await running.settled()
        return dialog

    dialog = tray_loop.run(type_fast)

    assert (lookup.most, lookup.calls) == (1, 2)  # the first, and one of the form as typed
    assert "already has a server named notes" in dialog.problems.text()
    dialog.close()
    tray_loop.run(running.settled)


class HeldSave:
    """servers.add held until released, as a save that waits for the hub can be; then it
    saves, or fails as a full disk would."""

    def __init__(self, real: Callable[..., Any], loop: asyncio.AbstractEventLoop, *, fails: bool):
        self.real, self.loop, self.fails = real, loop, fails
        self.release = threading.Event()
        self.entered = asyncio.Event()

    def __call__(self, *args: Any, **options: Any) -> Any:
        self.loop.call_soon_threadsafe(self.entered.set)
        self.release.wait(TEST_TIMEOUT_S)
        if self.fails:
            raise OSError(28, "No space left on device")
        return self.real(*args, **options)


@pytest.mark.parametrize("fails", [False, True], ids=["saved", "not saved"])
def test_closing_while_a_bundle_is_saved_keeps_its_files_only_if_it_is_saved(  # noqa: PLR0917 - fixtures
    start_tray: Any,
    tray_loop: TrayLoop,
    tray_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    qtbot: QtBot,
    fails: bool,
) -> None:
    from app.hosts import servers

    save = HeldSave(servers.add, tray_loop.loop, fails=fails)
    monkeypatch.setattr(servers, "add", save)
    running: RunningTray = start_tray(
        {}, secrets=Secrets(SecretStore(tray_home / "names.json", backend=MemoryKeyring()))
    )
    dialog = running.tray.open_add()
    tray_loop.run(lambda: opened(dialog, asking_bundle(tmp_path)))
    dialog.form.asked["variable"][1].setText("API_KEY")
    dialog.form.first_empty_secret().setText("bundle-key")  # type: ignore[union-attr] - asked for
    folder = tray_home / "data" / "bundles" / "Secretive-Notes-1.2.0"

    async def close_while_saving() -> None:
        await dialog.recheck()
        dialog.save.click()
        try:
            await save.entered.wait()
            saving = dialog.saving
            assert saving is not None
            dialog.close()
        finally:
            save.release.set()
        await asyncio.wait({saving})  # what the close decided is decided now
        if not fails:  # until the hub has started it from its folder, or tried to
            await until(running, lambda: _state(running, "secretive-notes") in TRIED)

    tray_loop.run(close_while_saving)
    tray_loop.run(running.settled)

    if fails:
        qtbot.waitUntil(lambda: bundles(tray_home) == [], timeout=int(TEST_TIMEOUT_S * 1000))
        assert "secretive-notes" not in config_text(tray_home)
    else:
        assert folder.is_dir() and (folder / "server.py").is_file()
        entry = json.loads(config_text(tray_home))["mcpServers"]["secretive-notes"]
        assert entry["cwd"] == str(folder)


def _state(running: RunningTray, name: str) -> str:
    return next((r.state for r in running.tray.rows() if r.name == name), "")


def test_enter_in_the_remove_dialog_keeps_the_server_and_remove_must_be_chosen(
    start_tray: Any, tray_loop: TrayLoop, tray_home: Path
) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    running: RunningTray = start_tray({"notes": {"command": PYTHON, "args": [str(FLAKY)]}})

    async def scenario() -> tuple[bool, bool, str, list[str]]:
        await until(running, lambda: "notes" in {r.name for r in running.tray.rows()})
        find_action(running.tray.menu, "notes", "Remove…").trigger()
        dialog = running.tray.remove_dialogs["notes"]
        default = (dialog.remove.isDefault(), dialog.remove.autoDefault(), dialog.remove.text())
        cancelled = asyncio.Event()
        dialog.buttons.rejected.connect(cancelled.set)
        QTest.keyClick(dialog.focusWidget() or dialog, Qt.Key.Key_Return)
        await cancelled.wait()
        await running.settled()
        return (*default, [r.name for r in running.tray.rows()])

    remove_is_default, remove_is_auto_default, label, rows = tray_loop.run(scenario)

    assert not remove_is_default and not remove_is_auto_default
    assert label == "&Remove"  # Alt+R, or a click
    assert list(json.loads(config_text(tray_home))["mcpServers"]) == ["notes"]
    assert rows == ["notes"]


def test_remove_names_the_connected_apps_and_takes_the_server_out_of_their_files(
    start_tray: Any, tray_loop: TrayLoop, tmp_path: Path
) -> None:
    from app.hosts.linking import Connections
    from app.hosts.registry import HOSTS

    running: RunningTray = start_tray({"notes": {"command": PYTHON, "args": [str(FLAKY)]}})
    cursor = tmp_path / "mcp.json"
    cursor.write_text(json.dumps({"mcpServers": {"notes": {"command": PYTHON}, "own": {}}}))
    Connections(running.hub.paths.connections_dir).connect(HOSTS["cursor"], cursor, {"notes"})

    async def scenario() -> tuple[str, RemoveServerDialog]:
        await until(running, lambda: "notes" in {r.name for r in running.tray.rows()})
        find_action(running.tray.menu, "notes", "Remove…").trigger()
        dialog = running.tray.remove_dialogs["notes"]
        await dialog.apps_named.wait()
        asked = dialog.question.text()
        dialog.remove.click()
        await running.settled()
        await until(running, lambda: "notes" not in {r.name for r in running.tray.rows()})
        return asked, dialog

    asked, dialog = tray_loop.run(scenario)

    assert asked.endswith("Cursor uses it; MCP Tray takes it out of its settings too.")
    assert json.loads(cursor.read_text()) == {"mcpServers": {"own": {}}}
    assert "Took it out of Cursor's settings" in dialog.question.text()
    assert not JARGON.search(texts(dialog))
    dialog.close()


@pytest.mark.parametrize(
    ("command", "args", "downloads"),
    [
        ("python3", ["server.py"], False),
        ("/usr/bin/node", ["build/index.js"], False),
        ("npx", ["-y", "@modelcontextprotocol/server-memory"], True),
        ("uvx", ["mcp-server-git"], True),
        ("pipx", ["run", "mcp-server-fetch"], True),
        ("pnpm", ["dlx", "srv"], True),
        ("docker", ["run", "-i", "--rm", "mcp/fetch"], True),
    ],
)
def test_starting_says_a_download_may_take_a_minute_only_for_a_package_runner(
    command: str, args: list[str], downloads: bool
) -> None:
    from app.core.config.draft import ServerDraft
    from app.core.supervise.states import State
    from app.core.supervise.status import ServerStatus
    from app.gui.outcome import outcome_of

    draft = ServerDraft(name="srv", command=command, args=args)
    row = ServerStatus(name="srv", state=State.STARTING)

    told = outcome_of(row, "srv", shared=True, downloads=draft.downloads)

    assert told is not None and told.title == "Starting srv…"
    assert ("downloaded" in told.body) is downloads
    assert told.body or not downloads


@pytest.mark.parametrize(
    ("stopped_by_user", "shared", "title"),
    [
        (False, True, "Starting srv…"),  # a save's restart, on its way up
        (True, True, "srv is saved"),
        (False, False, "srv is saved"),  # started for each app that connects
    ],
)
def test_a_stopped_server_is_at_rest_only_when_the_user_or_its_sharing_keeps_it_so(
    stopped_by_user: bool, shared: bool, title: str
) -> None:
    from app.core.supervise.states import State
    from app.core.supervise.status import ServerStatus
    from app.gui.outcome import outcome_of

    row = ServerStatus(name="srv", state=State.STOPPED, stopped_by_user=stopped_by_user)

    told = outcome_of(row, "srv", shared=shared)

    assert told is not None and told.title == title
    assert told.final is (title != "Starting srv…")


def test_the_outcome_is_as_large_as_its_words_and_the_form_gets_its_size_back(
    start_tray: Any, tray_loop: TrayLoop
) -> None:
    running: RunningTray = start_tray({})
    dialog = running.tray.open_add()
    form_size = dialog.size()
    dialog.form.name.setText("notes")
    dialog.form.program.setText(PYTHON)
    dialog.form.arguments.setText(shlex.quote(str(FLAKY)))
    said: list[str] = []
    dialog.outcome.told.connect(lambda outcome: said.append(outcome.body))

    async def scenario() -> None:
        await dialog.save_and_start()
        await told(dialog)

    tray_loop.run(scenario)
    outcome_size = dialog.size()
    dialog.outcome.back.emit()

    assert not any("downloaded" in words for words in said)
    assert outcome_size.width() < form_size.width() and outcome_size.height() < 400
    assert dialog.size() == form_size
    dialog.close()
    tray_loop.run(running.settled)


def test_a_long_setting_name_shows_whole_in_the_form(qtbot: QtBot) -> None:
    name = "GITHUB_PERSONAL_ACCESS_TOKEN"
    row = VariableRow(Variable(name, secret=True, required=True), stored=False)
    holder = QWidget()
    qtbot.addWidget(holder)
    row.name.setParent(holder)
    holder.show()
    qtbot.waitExposed(holder)

    assert row.name.width() > row.name.fontMetrics().horizontalAdvance(name)
    assert row.name.cursorPosition() == 0  # a longer one would show its start, not its end


def test_the_outcome_names_the_connected_apps_the_new_server_went_to() -> None:
    running = Outcome("api", "api is running", running=True)

    assert running.with_tools(2, ("Cursor", "Claude Desktop")).body == (
        "It offers 2 tools. Cursor and Claude Desktop have it now; "
        "an app may need a restart to show it."
    )
    assert running.with_tools(1).body == "It offers 1 tool. Connect an app… gives it to your apps."


def test_a_failure_shows_only_what_the_last_run_wrote() -> None:
    log = [
        "2026-12-01 10:00:00 » Started (process 10).",
        "2026-12-01 10:00:01 error: --port takes a number",  # the mistake the user then fixed
        "2026-12-01 10:00:01 » Exited with status 2.",
        "2026-12-01 10:05:00 » Started (process 11).",
        "2026-12-01 10:05:01 error: cannot reach the database",
        "2026-12-01 10:05:01 » Exited with status 1.",
    ]

    failed = Outcome("api", "api did not start", failed=True).with_output(log)

    assert failed.output == ("error: cannot reach the database",)
