"""``.mcpb`` bundles made into drafts: real archives built here, unpacked into a real folder."""

from __future__ import annotations

import json
import os
import re
import stat
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from app.core.config import Config
from app.core.config.draft import ServerDraft
from app.hosts import mcpb
from app.hosts.mcpb import BundleError, Limits, MissingRuntime, draft_from_bundle
from tests.helpers import SERVERS

SERVER = (SERVERS / "secretive.py").read_text()


def manifest(**changes: Any) -> dict[str, Any]:
    """A python bundle whose server reports the API_KEY it was given."""
    base: dict[str, Any] = {
        "manifest_version": "0.3",
        "name": "Secretive Notes",
        "display_name": "Secretive notes",
        "version": "1.2.0",
        "description": "Tells you its key.",
        "author": {"name": "Someone"},
        "server": {
            "type": "python",
            "entry_point": "server.py",
            "mcp_config": {
                "command": "python3",
                "args": ["${__dirname}/server.py", "API_KEY"],
                "env": {"API_KEY": "${user_config.api_key}"},
            },
        },
        "user_config": {
            "api_key": {
                "type": "string",
                "title": "API key",
                "description": "From your account page",
                "sensitive": True,
                "required": True,
            }
        },
    }
    return {**base, **changes}


def bundle(
    path: Path, data: dict[str, Any] | None = None, *, files: dict[str, str] | None = None
) -> Path:
    """Write a bundle: manifest.json (unless ``data`` is None), server.py and ``files``."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        if data is not None:
            archive.writestr("manifest.json", json.dumps(data))
        archive.writestr("server.py", SERVER)
        for name, text in (files or {}).items():
            archive.writestr(name, text)
    return path


def with_link(path: Path, name: str, target: str) -> Path:
    with zipfile.ZipFile(path, "a") as archive:
        info = zipfile.ZipInfo(name)
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(info, target)
    return path


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # python3 is found where this test's Python is, as it would be on the user's PATH.
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable) + os.pathsep + os.defpath)
    return tmp_path / "data"


def left_behind(data_dir: Path) -> list[Path]:
    return sorted((data_dir / "bundles").iterdir()) if (data_dir / "bundles").exists() else []


def test_a_python_bundle_is_unpacked_into_the_data_folder_and_runs_its_entry_point(
    tmp_path: Path, data_dir: Path
) -> None:
    draft = draft_from_bundle(bundle(tmp_path / "notes.mcpb", manifest()), data_dir)

    folder = data_dir / "bundles" / "Secretive-Notes-1.2.0"
    assert (folder / "server.py").read_text() == SERVER
    assert left_behind(data_dir) == [folder]
    assert draft.name == "secretive-notes"
    assert draft.description == "Tells you its key."
    assert draft.command == "python3"
    assert draft.args == [f"{folder}/server.py", "API_KEY"]
    assert draft.cwd == str(folder)
    [key] = draft.variables
    assert (key.name, key.secret, key.required) == ("API_KEY", True, True)
    assert key.description == "API key: From your account page"
    assert draft.config_entry()["env"] == {"API_KEY": "${secret:API_KEY}"}


def test_settings_in_arguments_reach_the_server_as_secrets_or_as_their_values(
    tmp_path: Path, data_dir: Path
) -> None:
    config = {
        "command": "python3",
        "args": [
            "server.py",
            "--token=${user_config.token}",
            "--root",
            "${user_config.roots}",
            "--db",
            "${user_config.database}",
            "${user_config.verbose}",
            "${user_config.extra}",
        ],
        "env": {"HOME_NOTES": "${HOME}${/}notes", "LIMIT": "${user_config.limit}"},
    }
    settings = {
        "token": {"type": "string", "title": "Token", "sensitive": True, "required": True},
        "roots": {"type": "directory", "multiple": True, "default": ["${HOME}/a", "/b"]},
        "database": {"type": "file", "title": "Database", "required": True},
        "verbose": {"type": "boolean", "default": True},
        "extra": {"type": "string"},
        "limit": {"type": "number", "default": 10},
    }
    server = {"type": "python", "entry_point": "server.py", "mcp_config": config}
    data = manifest(server=server, user_config=settings)

    draft = draft_from_bundle(bundle(tmp_path / "b.mcpb", data), data_dir)
    unfilled = mcpb.unfilled(draft)
    mcpb.fill(draft, "database", "/data/notes.db")

    home = str(Path.home())
    assert unfilled == ["database"]
    assert draft.args == [
        "server.py",
        "--token=${secret:token}",
        "--root",
        f"{home}/a",
        "/b",
        "--db",
        "/data/notes.db",
        "true",
    ]
    assert "extra was left out of the arguments." in draft.notes
    values = {v.name: (v.value, v.secret, v.required) for v in draft.variables}
    assert values == {
        "HOME_NOTES": (f"{home}{os.sep}notes", False, False),
        "LIMIT": ("10", False, False),
        "token": ("", True, True),
    }
    assert mcpb.unfilled(draft) == []


def test_an_optional_secret_left_empty_is_not_asked_for_by_the_server(
    tmp_path: Path, data_dir: Path
) -> None:
    data = manifest()
    data["user_config"]["api_key"]["required"] = False
    draft = draft_from_bundle(bundle(tmp_path / "b.mcpb", data), data_dir)

    mcpb.drop_unset(draft)

    assert draft.variables == []
    assert "env" not in draft.config_entry()


def test_python_is_taken_as_python3_where_only_python3_is_installed(
    tmp_path: Path, data_dir: Path
) -> None:
    programs = tmp_path / "bin"
    programs.mkdir()
    (programs / "python3").write_text("#!/bin/sh\n")
    (programs / "python3").chmod(0o755)
    data = manifest()
    data["server"]["mcp_config"]["command"] = "python"
    data["server"]["mcp_config"]["env"]["PATH"] = str(programs)  # the PATH the server gets

    draft = draft_from_bundle(bundle(tmp_path / "b.mcpb", data), data_dir)

    assert draft.command == "python3"


def test_a_binary_bundle_runs_its_entry_point_which_is_made_executable(
    tmp_path: Path, data_dir: Path
) -> None:
    server = {
        "type": "binary",
        "entry_point": "bin/serve",
        "mcp_config": {"command": "bin/serve", "args": ["--stdio"]},
    }
    path = bundle(tmp_path / "b.mcpb", manifest(server=server), files={"bin/serve": "#!/bin/sh\n"})

    draft = draft_from_bundle(path, data_dir)

    program = Path(draft.command)
    assert program == data_dir / "bundles" / "Secretive-Notes-1.2.0" / "bin" / "serve"
    assert os.access(program, os.X_OK)
    assert draft.args == ["--stdio"]


@pytest.mark.parametrize("entry_point", ["bin\\serve", "./bin/serve"])
def test_a_binary_entry_point_written_the_windows_or_dotted_way_is_made_executable(
    tmp_path: Path, data_dir: Path, entry_point: str
) -> None:
    server = {"type": "binary", "entry_point": entry_point, "mcp_config": {"command": "bin/serve"}}
    path = bundle(tmp_path / "b.mcpb", manifest(server=server), files={"bin/serve": "#!/bin/sh\n"})

    draft = draft_from_bundle(path, data_dir)

    assert os.access(draft.command, os.X_OK)


@pytest.mark.skipif(sys.platform == "win32", reason="bundles' links are not made on Windows")
def test_a_link_that_stays_inside_the_bundle_is_kept(tmp_path: Path, data_dir: Path) -> None:
    path = with_link(bundle(tmp_path / "b.mcpb", manifest()), "bin/run", "../server.py")

    draft_from_bundle(path, data_dir)

    folder = data_dir / "bundles" / "Secretive-Notes-1.2.0"
    assert (folder / "bin" / "run").read_text() == SERVER


def test_a_missing_runtime_is_named_with_where_to_get_it_and_nothing_is_unpacked(
    tmp_path: Path, data_dir: Path
) -> None:
    server = {
        "type": "node",
        "entry_point": "server.py",
        "mcp_config": {
            "command": "node",
            "args": ["${__dirname}/server.py"],
            "env": {"PATH": str(tmp_path)},  # the PATH the server gets, without node
        },
    }

    with pytest.raises(MissingRuntime) as raised:
        draft_from_bundle(bundle(tmp_path / "b.mcpb", manifest(server=server)), data_dir)

    assert str(raised.value) == (
        "This bundle needs Node.js (node), which is not installed. Get it from nodejs.org, "
        "then open the bundle again."
    )
    assert raised.value.program == "node"
    assert left_behind(data_dir) == []


def _escaping(tmp_path: Path) -> Path:
    return bundle(tmp_path / "b.mcpb", manifest(), files={"../evil": "x"})


def _absolute(tmp_path: Path) -> Path:
    return bundle(tmp_path / "b.mcpb", manifest(), files={"/tmp/evil": "x"})


def _link_out(tmp_path: Path) -> Path:
    return with_link(bundle(tmp_path / "b.mcpb", manifest()), "lib/out", "../../../outside")


def _link_through_link(tmp_path: Path) -> Path:
    # Each looks inside on its own; together "up/.." is the folder's parent.
    path = with_link(bundle(tmp_path / "b.mcpb", manifest()), "up", "here/..")
    return with_link(path, "here", ".")


def _link_absolute(tmp_path: Path) -> Path:
    return with_link(bundle(tmp_path / "b.mcpb", manifest()), "passwd", "/etc/passwd")


def _member_inside_a_file(tmp_path: Path) -> Path:
    return bundle(tmp_path / "b.mcpb", manifest(), files={"x": "", "x/y": ""})


def _folder_inside_a_file(tmp_path: Path) -> Path:
    path = bundle(tmp_path / "b.mcpb", manifest(), files={"x": ""})
    with zipfile.ZipFile(path, "a") as archive:
        archive.mkdir("x/y")
    return path


def _link_inside_a_file(tmp_path: Path) -> Path:
    return with_link(bundle(tmp_path / "b.mcpb", manifest(), files={"x": ""}), "x/y", "../x")


def _not_a_zip(tmp_path: Path) -> Path:
    path = tmp_path / "b.mcpb"
    path.write_text("<html>Not found</html>")
    return path


def _no_manifest(tmp_path: Path) -> Path:
    return bundle(tmp_path / "b.mcpb", None)


def _future_manifest(tmp_path: Path) -> Path:
    return bundle(tmp_path / "b.mcpb", manifest(manifest_version="7.0"))


def _no_entry_point(tmp_path: Path) -> Path:
    data = manifest()
    data["server"]["entry_point"] = "server/main.py"
    return bundle(tmp_path / "b.mcpb", data)


def _unknown_variable(tmp_path: Path) -> Path:
    data = manifest()
    data["server"]["mcp_config"]["args"] = ["${workspaceFolder}/server.py"]
    return bundle(tmp_path / "b.mcpb", data)


@pytest.mark.parametrize(
    ("build", "says"),
    [
        (_escaping, r"^The bundle holds a file that would be written outside its folder \(\.\./"),
        (_absolute, r"^The bundle holds a file that would be written outside its folder \(/tmp"),
        (_link_out, r"^The bundle holds a link that points outside it \(\.\./\.\./\.\./out"),
        (_link_through_link, r"^The bundle holds a link that points outside it"),
        (_link_absolute, r"^The bundle holds a link that points outside it \(/etc/passwd\)"),
        (_member_inside_a_file, r"^The bundle is damaged: it puts x/y inside a file;"),
        (_folder_inside_a_file, r"^The bundle is damaged: it puts x/y/ inside a file;"),
        pytest.param(
            _link_inside_a_file,
            r"^The bundle is damaged: it puts x/y inside a file;",
            marks=pytest.mark.skipif(sys.platform == "win32", reason="no links made on Windows"),
        ),
        (_not_a_zip, r"^b\.mcpb is not a bundle MCP Tray can open: it is not a zip archive\."),
        (_no_manifest, r"^b\.mcpb is a zip archive but not a bundle: it has no manifest\.json"),
        (_future_manifest, r"^b\.mcpb has a manifest of version 7\.0, which this MCP Tray"),
        (_no_entry_point, r"^The bundle names server/main\.py as its server, but does not hold"),
        (_unknown_variable, r"^The bundle's manifest uses \$\{workspaceFolder\}, which MCP Tray"),
    ],
)
def test_a_bad_or_hostile_bundle_is_refused_in_a_sentence_and_leaves_nothing_behind(
    tmp_path: Path, data_dir: Path, build: Any, says: str
) -> None:
    path = build(tmp_path)

    with pytest.raises(BundleError, match=says):
        draft_from_bundle(path, data_dir)

    assert left_behind(data_dir) == []
    assert not (tmp_path / "evil").exists()
    assert not (data_dir / "evil").exists()


@pytest.mark.skipif(sys.platform == "win32", reason="bundles' links are not made on Windows")
@pytest.mark.parametrize("lead", ["../../../outside", "absolute"])
def test_no_link_is_made_through_an_earlier_link_that_leads_out_of_the_bundle(
    tmp_path: Path, data_dir: Path, lead: str
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    lead = str(outside) if lead == "absolute" else lead
    # The bundle unpacks into data/bundles/<a new folder>, three levels below tmp_path.
    path = with_link(bundle(tmp_path / "b.mcpb", manifest()), "a", lead)
    path = with_link(path, "a/planted", "../server.py")

    says = re.escape(f"The bundle holds a link that points outside it ({lead})")
    with pytest.raises(BundleError, match=f"^{says}"):
        draft_from_bundle(path, data_dir)

    assert not os.path.lexists(outside / "planted")
    assert left_behind(data_dir) == []


@pytest.mark.parametrize(
    ("limits", "says"),
    [
        (Limits(files=2), r"^The bundle holds 3 files, more than the 2 MCP Tray unpacks"),
        (Limits(bytes=3 << 20), r"^The bundle unpacks to more than 3 MB, more than MCP Tray"),
    ],
)
def test_a_bundle_larger_than_the_limits_is_refused_and_leaves_nothing_behind(
    tmp_path: Path, data_dir: Path, limits: Limits, says: str
) -> None:
    # Four megabytes of zeros pack into a few kilobytes: a small zip bomb.
    path = bundle(tmp_path / "b.mcpb", manifest(), files={"zeros": "\0" * (4 << 20)})
    if limits.files == 2:
        path = bundle(tmp_path / "b.mcpb", manifest(), files={"more": ""})

    with pytest.raises(BundleError, match=says):
        draft_from_bundle(path, data_dir, limits=limits)

    assert left_behind(data_dir) == []


def test_a_zip_that_understates_its_sizes_is_stopped_at_the_limit(
    tmp_path: Path, data_dir: Path
) -> None:
    path = bundle(tmp_path / "b.mcpb", manifest(), files={"zeros": "\0" * (4 << 20)})
    _understate(path, "zeros")

    with pytest.raises(BundleError, match=r"^The bundle (unpacks to more than|is damaged)"):
        draft_from_bundle(path, data_dir, limits=Limits(bytes=3 << 20))

    assert left_behind(data_dir) == []


def _understate(path: Path, name: str) -> None:
    """Make the archive's central directory say ``name`` holds one byte."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(name)
    encoded = name.encode()
    at = data.rindex(b"PK\x01\x02")  # the last central entry is ``name``'s
    assert data[at + 46 : at + 46 + len(encoded)] == encoded
    data[at + 24 : at + 28] = (1).to_bytes(4, "little")  # uncompressed size
    path.write_bytes(bytes(data))
    assert info.file_size == 4 << 20


# ----- the same version again, saving and cancelling


def folder_of(draft: ServerDraft) -> Path:
    return Path(draft.cwd)


def test_the_same_version_again_replaces_the_folder_only_when_saved(
    tmp_path: Path, data_dir: Path
) -> None:
    first = draft_from_bundle(bundle(tmp_path / "a.mcpb", manifest()), data_dir)
    changed = bundle(tmp_path / "b.mcpb", manifest(), files={"NEW": "yes"})
    again = draft_from_bundle(changed, data_dir)
    folder = folder_of(first)
    waiting = not (folder / "NEW").exists()

    with mcpb.placed(again, data_dir):
        swapped = (folder / "NEW").exists()

    assert folder_of(again) == folder
    assert waiting
    assert swapped
    assert left_behind(data_dir) == [folder]


def test_a_failed_save_puts_the_previous_folder_back(tmp_path: Path, data_dir: Path) -> None:
    draft_from_bundle(bundle(tmp_path / "a.mcpb", manifest()), data_dir)
    again = draft_from_bundle(bundle(tmp_path / "b.mcpb", manifest(), files={"NEW": ""}), data_dir)

    with pytest.raises(BundleError), mcpb.placed(again, data_dir):
        raise BundleError("the save failed")

    assert not (folder_of(again) / "NEW").exists()
    mcpb.discard(again, data_dir, Config.model_validate({"mcpServers": {}}))
    assert left_behind(data_dir) == []


def test_discarding_keeps_a_folder_a_saved_server_runs_from(tmp_path: Path, data_dir: Path) -> None:
    draft = draft_from_bundle(bundle(tmp_path / "a.mcpb", manifest()), data_dir)
    saved = Config.model_validate({"mcpServers": {"notes": draft.config_entry()}})

    mcpb.discard(draft, data_dir, saved)

    assert left_behind(data_dir) == [folder_of(draft)]
