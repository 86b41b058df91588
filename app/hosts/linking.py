"""Pointing an app at MCP Tray (connect) and back (disconnect).

``connect`` rewrites each server the app shares with MCP Tray's config (a
command it runs, or a remote server it reaches) to
``{"command": "/abs/path/mcp-tray", "args": ["attach", NAME]}`` (VS Code adds
``"type": "stdio"``, Zed ``"source": "custom"``), editing only those values,
atomically, with a backup. It keeps the app's original file and what it
wrote in MCP Tray's data folder, so ``disconnect`` can restore the file
byte for byte, or, when the user changed it since, put back only the
entries MCP Tray wrote that are still as it wrote them. The host's own
settings on an entry (Gemini's ``timeout``, say) are kept.

``connect --http`` writes the HTTP endpoint's token into the app's file, so
that file is made readable by the user only (0600), and the command says so.
:func:`rotate_token` replaces the token and writes the new one into every
app file MCP Tray gave the old one; ``disconnect`` gives a file restored
byte for byte its permission bits back.

A connected app reaches every server MCP Tray runs: a server added to MCP
Tray is added to each app file connect changed (:func:`give_to_connected`),
and removing one takes its entry out of them (:func:`take_out`), since
``attach NAME`` would only fail there now; :func:`apps_reaching` says
beforehand which apps those are.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import stat
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.core.atomic import PRIVATE_MODE, write_atomically
from app.core.config import Config, write_config_text
from app.core.config.switches import set_http_enabled
from app.core.installation import cli_command
from app.core.jsontext.jsonc import Document, JsoncError
from app.core.jsontext.locate import KeyPath
from app.core.paths import Paths
from app.core.secrets import KeyringUnavailable, SecretStore
from app.hosts.host import Host, HostError, NotAConfigFile, read_config_file
from app.hosts.importing import host_entries, our_config, read_host_config, same_server
from app.hosts.registry import HOSTS

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    changed: list[str]  # servers whose entries were rewritten or put back
    untouched: list[str]  # with the reason, for the user
    message: str


def attach_command(name: str) -> tuple[str, list[str]]:
    """The command line an app runs to reach server ``name``: absolute, and lasting."""
    command, *args = cli_command("attach", name)
    return command, args


def connect(
    host: Host,
    path: Path,
    paths: Paths,
    *,
    http: bool = False,
    store: SecretStore | None = None,
) -> Outcome:
    """Point each server the host shares with MCP Tray's config at MCP Tray, and give it
    the servers MCP Tray runs that it has none of the same name of (:func:`to_give`).

    A server counts as shared when MCP Tray's entry of that name runs the same
    command, or reaches the same address for a remote one; one that merely has
    the same name is left alone, and said. With
    ``http`` the host gets the server's URL and the bearer token (turning the
    HTTP endpoint on if it was off) instead of the ``attach`` command; ``store``
    is where the token is kept (the system keyring unless given).
    """
    document = read_host_config(path)  # a readable, valid file, or a clear error
    _text, config = our_config(paths)
    ours, clashes = set(), []
    for entry in host_entries(host, path, document):
        mine = config.servers.get(entry.name)
        raw = host.servers(document.data)[entry.name]
        if mine is None or not isinstance(raw, dict):
            continue
        if attaches(host, entry.name, raw) or (
            entry.config is not None and same_server(mine, entry.config)
        ):
            ours.add(entry.name)
        elif entry.config is not None:
            clashes.append(
                f"{entry.name}: MCP Tray has a different server of that name; left as it is"
            )
    given = to_give(host, document.data, config)
    entry_for = _url_entries(host, paths, config.http.port, store) if http else None
    with _reported(path):
        shared_before = _shared_with_others(path)
        outcome = Connections(paths.connections_dir).connect(
            host, path, ours, entry_for, private=http, given=given
        )
    message = outcome.message
    if http and (outcome.changed or shared_before):
        message += " " + _privacy_note(path, shared_before)
    return Outcome(outcome.changed, clashes + outcome.untouched, message)


def _connected(host: Host, changed: list[str], given: Sequence[str]) -> str:
    pointed = [name for name in changed if name not in given]
    said = [f"Connected {', '.join(pointed)}."] if pointed else []
    if given:
        said.append(f"Gave {host.title} {', '.join(given)} from MCP Tray.")
    return " ".join(said)


def to_give(host: Host, data: Any, config: Config) -> list[str]:
    """The servers MCP Tray runs (not those turned off) that the app's parsed config
    ``data`` has no entry of that name for: connect adds them, so that an app connected
    to MCP Tray reaches every server in it, the demo server first of all."""
    present = host.servers(data)
    return [
        name
        for name, server in config.servers.items()
        if not server.disabled and name not in present
    ]


EntryFor = Callable[[str, dict[str, Any]], dict[str, Any]]


def _attach_entries(host: Host) -> EntryFor:
    return lambda name, previous: host.attach_entry(*attach_command(name), previous=previous)


def _url_entries(host: Host, paths: Paths, port: int, store: SecretStore | None) -> EntryFor:
    from app.core.endpoint.http import install_token, server_url  # the web stack: on demand

    if host.no_urls_because:  # said before anything changes
        raise HostError(
            f"{host.title} starts its servers by command only ({host.no_urls_because}); "
            "connect it without --http"
        )
    try:
        turned_on = set_http_enabled(paths.config_file, True)
        token = install_token(store or SecretStore(paths.secret_index))
    except KeyringUnavailable as error:
        raise HostError(f"{error}; the HTTP endpoint's token lives there") from None
    if turned_on:
        logger.info("turned the HTTP endpoint on in %s", paths.config_file)
    headers = _token_headers(token)
    return lambda name, previous: host.url_entry(server_url(port, name), headers, previous)


def _token_headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _shared_with_others(path: Path) -> bool:
    """Whether users other than its owner may read ``path`` (through a link: its target)."""
    return bool(os.stat(path).st_mode & (stat.S_IRGRP | stat.S_IROTH))


def _privacy_note(path: Path, shared_before: bool) -> str:
    if shared_before:
        return (
            f"{path} now holds MCP Tray's access token, so only you can read it "
            "(other users of this computer could before)."
        )
    return f"{path} holds MCP Tray's access token; only you can read it."


# ----- a new token


@dataclass(frozen=True)
class Given:
    """An app's config file that got the new token, and for which servers."""

    host: Host
    path: Path
    servers: list[str]


@dataclass(frozen=True)
class Rotation:
    given: list[Given]
    trouble: list[str]  # a sentence for each app file that still holds the old token


def rotate_token(paths: Paths, store: SecretStore | None = None) -> Rotation:
    """Put a new HTTP token in the keyring and write it into each app config that
    ``connect --http`` gave the old one (entries the user has since pointed
    elsewhere are left alone). A running hub still takes the old token until it
    is told (control op ``http_token_changed``).

    Raises HostError when the keyring cannot keep the new token: then nothing changed.
    """
    from app.core.endpoint.http import new_token  # the web stack: on demand

    try:
        token = new_token(store or SecretStore(paths.secret_index))
    except KeyringUnavailable as error:
        raise HostError(f"{error}; the HTTP endpoint's token lives there") from None
    logger.info("made a new HTTP access token")
    connections = Connections(paths.connections_dir)
    given, trouble = [], []
    for host, path in connections.over_http():
        if not path.exists():
            trouble.append(f"{host.title}: {path} is gone")
            continue
        try:
            read_host_config(path)  # a readable, valid file, or a clear error
            with _reported(path):
                changed = connections.give_token(host, path, _token_headers(token))
        except HostError as error:
            trouble.append(f"{host.title}: {error}")
            continue
        if changed:
            given.append(Given(host, path, changed))
    return Rotation(given, trouble)


def attaches(host: Host, name: str, raw: dict[str, Any]) -> bool:
    """The host's entry ``raw`` for ``name`` already goes through MCP Tray."""
    url = host.url_of(raw)
    if url is not None:
        return url.startswith("http://127.0.0.1:") and url.endswith(f"/servers/{name}/mcp")
    return list(host.launch(raw).args[-2:]) == ["attach", name]


# ----- a server removed from MCP Tray


@dataclass(frozen=True)
class AppsChanged:
    """What adding or removing a server changed in the apps connect pointed at MCP Tray."""

    changed: list[tuple[Host, Path]]  # the app files its entry was added to or taken out of
    trouble: list[str]  # a sentence for each app file that could not be changed


def apps_reaching(paths: Paths, name: str) -> list[tuple[Host, Path]]:
    """The app files, of those connect changed, whose entry for ``name`` goes through
    MCP Tray; a file that cannot be read now is left out. Reads files: off the loop."""
    found = []
    for host, path in Connections(paths.connections_dir).recorded():
        try:
            if _attaching(host, path, name) is not None:
                found.append((host, path))
        except (OSError, UnicodeDecodeError, JsoncError, NotAConfigFile):
            continue  # take_out says so, if it is still so then
    return found


def take_out(paths: Paths, name: str) -> AppsChanged:
    """Take the entry for the removed server ``name`` out of each app file connect pointed
    at MCP Tray, where it would only fail now; entries the user pointed elsewhere stay."""
    connections = Connections(paths.connections_dir)
    changed, trouble = [], []
    for host, path in connections.recorded():
        try:
            with _reported(path):
                if connections.take_out(host, path, name):
                    changed.append((host, path))
        except HostError as error:
            trouble.append(f"{host.title}: {error}")
    return AppsChanged(changed, trouble)


def give_to_connected(paths: Paths, name: str, store: SecretStore | None = None) -> AppsChanged:
    """Add the server ``name``, new in MCP Tray, to each app file connect pointed at MCP
    Tray, as connect gives it: the ``attach`` command, or the URL for a file connected
    over HTTP. A file that has an entry of that name already keeps it; a server turned
    off is given to none (as connect does), and a file connected over HTTP gets nothing
    while the HTTP endpoint is off: the user turned it off, so it stays off."""
    connections = Connections(paths.connections_dir)
    over_http = connections.over_http()
    config = our_config(paths)[1]
    server = config.servers.get(name)
    if server is None or server.disabled:
        return AppsChanged([], [])
    changed, trouble = [], []
    for host, path in connections.recorded():
        http = (host, path) in over_http
        if http and not config.http.enabled:
            trouble.append(
                f"{host.title} reaches MCP Tray over HTTP, which is turned off, so it did not "
                f"get {name}; turn on Serve over HTTP, then connect {host.title} again"
            )
            continue
        try:
            with _reported(path):
                if not path.exists():
                    continue  # the app is gone; nothing to give it
                entry_for = _url_entries(host, paths, config.http.port, store) if http else None
                given = connections.connect(
                    host, path, set(), entry_for, private=http, given=[name]
                )
        except HostError as error:
            trouble.append(f"{host.title}: {error}")
            continue
        if given.changed:
            changed.append((host, path))
    return AppsChanged(changed, trouble)


def _attaching(host: Host, path: Path, name: str) -> Document | None:
    """The app's file, parsed, when its entry for ``name`` goes through MCP Tray."""
    if not path.exists():
        return None
    document = Document.parse(read_config_file(path))
    raw = host.servers(document.data).get(name)
    return document if isinstance(raw, dict) and attaches(host, name, raw) else None


def disconnect(host: Host, path: Path, paths: Paths) -> Outcome:
    """Undo :func:`connect`: the host starts its servers itself again."""
    with _reported(path):
        return Connections(paths.connections_dir).disconnect(host, path)


@contextmanager
def _reported(path: Path) -> Iterator[None]:
    try:
        yield
    except (OSError, UnicodeDecodeError, JsoncError, NotAConfigFile) as error:
        raise HostError(f"cannot change {path}: {error}; it was left as it is") from None


class Connections:
    """What connect wrote into each app's config, kept in MCP Tray's data folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def connect(
        self,
        host: Host,
        path: Path,
        ours: set[str],
        entry_for: EntryFor | None = None,
        *,
        private: bool = False,
        given: Sequence[str] = (),
    ) -> Outcome:
        """Rewrite the entries named in ``ours`` to what ``entry_for(name, previous)``
        gives (default: the ``attach`` command), and add one so for each name in
        ``given``. ``private``: they hold a credential, so the file becomes readable by
        the user only."""
        entry_for = entry_for or _attach_entries(host)
        text = read_config_file(path)  # keeps \r\n as it is
        document = Document.parse(text)
        servers = host.servers(document.data)
        shared = [name for name in servers if name in ours]
        given = [name for name in given if name not in servers]
        if not shared and not given:
            return Outcome([], [], f"{host.title} has no server MCP Tray runs; import them first")
        record = self._record(host, path)
        if record is None:
            mode = stat.S_IMODE(os.stat(path).st_mode)
            record = {"path": str(path), "entries": {}, "byte_restore": True, "mode": mode}
        elif _digest(text.encode("utf-8")) != record.get("written_sha256"):
            # Edited since the last connect: restoring the first original would
            # undo those edits, so disconnect will put back entries one by one.
            record["byte_restore"] = False
        record["host"] = host.name
        changed = []
        for name in shared:
            wanted = entry_for(name, servers[name])
            if servers[name] == wanted:
                continue
            record["entries"].setdefault(name, {"original": servers[name]})["written"] = wanted
            text = Document.parse(text).replace((host.key, name), wanted)
            changed.append(name)
        for name in given:
            wanted = entry_for(name, {})
            record["entries"].setdefault(name, {"original": None})["written"] = wanted
            text = _with_member(host, text, name, wanted)
            changed.append(name)
        if not changed:
            if private:  # written before files with the token were made private
                os.chmod(os.path.realpath(path), PRIVATE_MODE)
            return Outcome([], [], f"{host.title} already reaches its servers through MCP Tray")
        if record["byte_restore"] and not self._original(host, path).exists():
            write_atomically(self._original(host, path), path.read_bytes())
        write_config_text(path, text, private=private)
        record["written_sha256"] = _digest(path.read_bytes())
        self._save(host, path, record)
        return Outcome(changed, [], f"{_connected(host, changed, given)} {host.restart}")

    def connected(self, host: Host, path: Path) -> bool:
        return self._record_file(host, path).exists()

    def recorded(self) -> list[tuple[Host, Path]]:
        """Every app file connect changed, as (host, file)."""
        return [(host, path) for host, path, _written in self._records()]

    def over_http(self) -> list[tuple[Host, Path]]:
        """The app files connect gave a URL (and so the token), as (host, file)."""
        return [
            (host, path)
            for host, path, written in self._records()
            if any(isinstance(w, dict) and host.url_of(w) for w in written)
        ]

    def _records(self) -> Iterator[tuple[Host, Path, list[Any]]]:
        """Each record's host, app file and the entries connect wrote there."""
        for record_file in sorted(self.folder.glob("*.json")):
            try:
                record = json.loads(record_file.read_text())
                # Records written before "host" was kept: the file name starts with it.
                host = HOSTS[record.get("host") or record_file.stem.rpartition("-")[0]]
                written = [entry["written"] for entry in record["entries"].values()]
                path = Path(record["path"])
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
                logger.warning("skipping the unreadable record %s: %s", record_file, error)
                continue
            yield host, path, written

    def take_out(self, host: Host, path: Path, name: str) -> bool:
        """Take the entry for ``name`` out of the app's file if it goes through MCP Tray
        (with a backup, the rest of the file as it was); whether it did. Disconnect
        then no longer puts it back: the server is gone from MCP Tray."""
        document = _attaching(host, path, name)
        if document is None:
            return False
        write_config_text(path, without_member(document, (host.key, name)))
        record = self._record(host, path)
        if record is None:  # the file is no longer connected: nothing to keep in step
            return True
        record["entries"].pop(name, None)
        if not record["entries"]:
            self._forget(host, path)  # nothing left for disconnect to put back
            return True
        # Restoring the whole original would bring the removed server back.
        record["byte_restore"] = False
        record["written_sha256"] = _digest(path.read_bytes())
        self._save(host, path, record)
        return True

    def give_token(self, host: Host, path: Path, headers: dict[str, str]) -> list[str]:
        """Give each entry connect wrote with a URL, and that still points at MCP
        Tray, the new ``headers``; return their names."""
        record = self._record(host, path) or {"entries": {}}
        servers = host.servers(Document.parse(read_config_file(path)).data)
        ours = {
            name
            for name, entry in record["entries"].items()
            if isinstance(entry.get("written"), dict)
            and host.url_of(entry["written"])
            and isinstance(servers.get(name), dict)
            and attaches(host, name, servers[name])
        }

        def with_headers(name: str, previous: dict[str, Any]) -> dict[str, Any]:
            return host.url_entry(host.url_of(previous) or "", headers, previous)

        return self.connect(host, path, ours, with_headers, private=True).changed

    def disconnect(self, host: Host, path: Path) -> Outcome:
        record = self._record(host, path)
        if record is None:
            return Outcome([], [], f"MCP Tray has not connected {host.title}; nothing to undo")
        current = read_config_file(path).encode("utf-8")
        names = list(record["entries"])
        unchanged = _digest(current) == record.get("written_sha256")
        original = self._original(host, path)
        if unchanged and record.get("byte_restore") and original.exists():
            target = Path(os.path.realpath(path))  # through a dotfile manager's link
            mode = record.get("mode", stat.S_IMODE(target.stat().st_mode))  # as before connect
            write_atomically(target, original.read_bytes(), mode=mode)
            self._forget(host, path)
            return Outcome(names, [], f"Restored {path} as it was. {host.restart}")
        text, changed, untouched = current.decode("utf-8"), [], []
        for name, entry in record["entries"].items():
            servers = host.servers(Document.parse(text).data)
            if servers.get(name) != entry["written"]:
                untouched.append(f"{name}: changed since MCP Tray connected it; left as it is")
                continue
            if entry["original"] is None:  # connect added it
                text = without_member(Document.parse(text), (host.key, name))
            else:
                text = Document.parse(text).replace((host.key, name), entry["original"])
            changed.append(name)
        if changed:
            write_config_text(path, text)
        self._forget(host, path)
        return Outcome(
            changed, untouched, f"Put back {', '.join(changed) or 'nothing'}. {host.restart}"
        )

    # ----- the record, one per host config file

    def _record(self, host: Host, path: Path) -> dict[str, Any] | None:
        try:
            record: dict[str, Any] = json.loads(self._record_file(host, path).read_text())
        except FileNotFoundError:
            return None
        return record

    def _save(self, host: Host, path: Path, record: dict[str, Any]) -> None:
        write_atomically(self._record_file(host, path), json.dumps(record, indent=2).encode())

    def _forget(self, host: Host, path: Path) -> None:
        self._record_file(host, path).unlink(missing_ok=True)
        self._original(host, path).unlink(missing_ok=True)

    def _record_file(self, host: Host, path: Path) -> Path:
        return self.folder / f"{_stem(host, path)}.json"

    def _original(self, host: Host, path: Path) -> Path:
        """The app's file as it was before the first connect (it may hold secrets: 0600)."""
        return self.folder / f"{_stem(host, path)}.original"


def _stem(host: Host, path: Path) -> str:
    """A file name per host and config file: a user and a project config stay apart."""
    return f"{host.name}-{_digest(str(path.absolute()).encode())[:12]}"


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ----- adding and taking out members, formatting kept


def _with_member(host: Host, text: str, name: str, entry: dict[str, Any]) -> str:
    """The app's file with ``name: entry`` added to its servers, making the object that
    holds them when the file has none yet."""
    document = Document.parse(text if text.strip() else "{}\n")
    if isinstance(document.data, dict) and isinstance(document.data.get(host.key), dict):
        return document.insert((host.key,), name, entry)
    return document.insert((), host.key, {name: entry})


def without_member(document: Document, path: KeyPath) -> str:
    """The text without the member at ``path``, its comma and the space before the next
    member; comments around it stay."""
    text, blank = document.text, document.blank
    start, end = document.span(path)
    key = _key_start(blank, start)
    after = end
    while after < len(blank) and blank[after].isspace():
        after += 1
    if blank[after] == ",":  # not the last member: up to the next one
        after += 1
        while after < len(text) and text[after].isspace():
            after += 1
        return text[:key] + text[after:]
    before = key - 1
    while blank[before].isspace():
        before -= 1
    if blank[before] == ",":  # the last member: from the comma before it
        return text[:before] + text[end:]
    return text[: before + 1] + text[end:]  # the only member: the object is left empty


def _key_start(blank: str, value_start: int) -> int:
    """Where the key of the member whose value starts at ``value_start`` opens: back over
    the colon, to the first quote not escaped (a key holds no other)."""
    index = blank.rindex('"', 0, blank.rindex(":", 0, value_start))  # its closing quote
    while True:
        index = blank.rindex('"', 0, index)
        escapes = len(blank[:index]) - len(blank[:index].rstrip("\\"))
        if escapes % 2 == 0:
            return index
