"""Opening a bundle's zip archive, and unpacking it without trusting it.

An archive can be damaged or made to harm: names that lead out of the folder
(``../``, ``/etc/…``, ``C:\\…``), links that point out of it, more files or
bytes than any bundle holds (a "zip bomb", whose stated sizes may also lie).
Each is refused with a sentence, and :func:`unpack` writes only regular files
(their modes cut to rwx for the user, never setuid) and, last, links whose
targets stay inside the folder.
"""

from __future__ import annotations

import os
import re
import stat
import sys
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from app.core.errors import UserError

COPY_CHUNK = 1 << 16


@dataclass(frozen=True)
class Limits:
    """What MCP Tray unpacks at most, so that a damaged or hostile archive cannot fill
    the disk. A Python bundle with its libraries runs to a few hundred megabytes and a
    Node one to tens of thousands of files in node_modules; these leave room for both."""

    files: int = 100_000
    bytes: int = 2 << 30  # 2 GiB, uncompressed
    manifest_bytes: int = 1 << 20
    link_bytes: int = 4096  # a link's target is a path


LIMITS = Limits()


class BundleError(UserError):
    """The bundle cannot be added; the sentence says why, and nothing was unpacked."""


@contextmanager
def opened(path: Path) -> Iterator[zipfile.ZipFile]:
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise BundleError(
            f"{path.name} is not a bundle MCP Tray can open: it is not a zip archive. "
            "Download it again, or ask its maker for an .mcpb file."
        ) from None
    except OSError as error:
        raise BundleError(f"{path.name} cannot be read: {error.strerror or error}.") from None
    with archive:
        yield archive


def read(archive: zipfile.ZipFile, info: zipfile.ZipInfo, cap: int) -> bytes:
    with _member(archive, info) as source:
        data = source.read(cap + 1)
    if len(data) > cap:
        raise BundleError(f"{info.filename} in the bundle is larger than it says it is.")
    return data


@contextmanager
def _member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Iterator[IO[bytes]]:
    try:
        with archive.open(info) as source:
            yield source
    except RuntimeError:  # zipfile's word for an encrypted member
        raise BundleError("The bundle is password-protected; MCP Tray cannot open it.") from None
    except (zipfile.BadZipFile, NotImplementedError, EOFError) as error:
        raise BundleError(
            f"The bundle is damaged ({info.filename}: {error}); download it again."
        ) from None


def unpack(archive: zipfile.ZipFile, into: Path, limits: Limits) -> None:
    members = archive.infolist()
    if len(members) > limits.files:
        raise BundleError(
            f"The bundle holds {len(members):,} files, more than the {limits.files:,} MCP Tray "
            "unpacks; it is damaged or not a real bundle."
        )
    if sum(member.file_size for member in members) > limits.bytes:
        raise _too_big(limits)
    budget = limits.bytes
    links: list[tuple[Path, str]] = []
    for member in members:
        target = into / _inside(member.filename)
        if member.is_dir():
            _make_folder(target, member.filename)
        elif _is_link(member):
            links.append((target, _link_target(archive, member, limits)))
        else:
            budget -= _write(archive, member, target, budget, limits)
    # Links come last, so that no file is written through one.
    _make_links(into, links)


def _too_big(limits: Limits) -> BundleError:
    return BundleError(
        f"The bundle unpacks to more than {limits.bytes // (1 << 20):,} MB, more than MCP "
        "Tray unpacks; it is damaged or not a real bundle."
    )


def _inside(name: str) -> PurePosixPath:
    """``name`` as a path inside the bundle; a name that leads out of it is refused."""
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or re.match(r"^[A-Za-z]:", name) or ".." in path.parts or "\0" in name:
        raise BundleError(
            f"The bundle holds a file that would be written outside its folder ({name[:80]}); "
            "MCP Tray does not open such bundles."
        )
    return path


def _is_link(member: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(member.external_attr >> 16)


def _write(
    archive: zipfile.ZipFile, member: zipfile.ZipInfo, target: Path, budget: int, limits: Limits
) -> int:
    """Copy one file out, counting what it really holds (the sizes the archive states may
    lie); the bytes written."""
    written = 0
    _make_folder(target.parent, member.filename)
    try:
        with _member(archive, member) as source, open(target, "xb") as sink:
            while chunk := source.read(COPY_CHUNK):
                written += len(chunk)
                if written > budget:
                    raise _too_big(limits)
                sink.write(chunk)
    except (FileExistsError, NotADirectoryError, IsADirectoryError):
        raise BundleError(
            f"The bundle is damaged: it holds {member.filename[:80]} twice; download it again."
        ) from None
    executable = (member.external_attr >> 16) & 0o111
    os.chmod(target, 0o755 if executable else 0o644)  # never setuid, whatever the zip says
    return written


def _link_target(archive: zipfile.ZipFile, member: zipfile.ZipInfo, limits: Limits) -> str:
    data = read(archive, member, limits.link_bytes)
    if not data or b"\0" in data:
        raise BundleError(
            f"The bundle is damaged: the link {member.filename[:80]} in it points nowhere; "
            "download it again."
        )
    return os.fsdecode(data)  # a link's target is bytes, as a file name is


def _make_folder(folder: Path, name: str) -> None:
    """Make ``folder`` for the member ``name``; a file already in its way means a damaged
    archive (``x`` and then ``x/y``)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise BundleError(
            f"The bundle is damaged: it puts {name[:80]} inside a file; download it again."
        ) from None
    except OSError as error:
        raise BundleError(
            f"The bundle cannot be unpacked ({name[:80]}): {error.strerror or error}."
        ) from None


def _make_links(into: Path, links: list[tuple[Path, str]]) -> None:
    if sys.platform == "win32":
        return  # creating links needs a privilege there; a runnable bundle does not rely on them
    root = os.path.realpath(into)
    for link, target in links:
        # Checked before each is made: an earlier link may lead this one's folder out
        # ("a" -> /elsewhere, then "a/planted"), and it must not be made there at all.
        parent = os.path.realpath(link.parent)
        if os.path.isabs(target) or not (
            _within(root, parent) and _within(root, os.path.realpath(os.path.join(parent, target)))
        ):
            raise _link_out(target)
        _make_folder(link.parent, str(link.relative_to(into)))
        try:
            os.symlink(target, link)
        except OSError:
            raise BundleError("The bundle is damaged: a link in it clashes with a file.") from None
    for link, target in links:
        # Checked again once all exist: a link may point through one made after it.
        if not _within(root, os.path.realpath(link)):
            raise _link_out(target)


def _within(root: str, path: str) -> bool:
    return os.path.commonpath([root, path]) == root


def _link_out(target: str) -> BundleError:
    return BundleError(
        f"The bundle holds a link that points outside it ({target[:80]}); "
        "MCP Tray does not open such bundles."
    )
