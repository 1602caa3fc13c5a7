"""The files of a local archive (a maildir, a folder of mbox, .ics or .vcf files): listed, counted, opened
safely, and — for exports read whole when they change — each one's size and mtime as its cursor.

A folder on disk holds more than files: FIFOs, sockets, devices, folders named like files, symlinks that
point nowhere or at each other. None of these is read — opening a FIFO blocks until someone writes to
it, forever in a pull — and each is counted, so the summary says what was passed over. A symlink to a
file is followed; symlinked folders are followed once each (a loop is noticed by the folder's device and
inode). Why each of these is needed: docs/files.md#entries-that-are-no-files.
"""

from __future__ import annotations

import dataclasses
import json
import os
import stat
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import BinaryIO

from connectors.base import Batch, Skip

# The resource that holds what a folder's listing found that is no file (a FIFO, a folder named x.ics).
LISTING = "."


class NotAFile(OSError):
    """The path is no regular file (a FIFO, a device, a folder): it is never read."""


def what_it_is(path: str | Path) -> str:
    """The skip reason for an entry that is no regular file, saying what it is."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return "not a regular file: a broken or looping symlink"
    kinds = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
             (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"))
    return "not a regular file: " + next((name for test, name in kinds if test(mode)), "of an unknown kind")


def open_regular(path: str | Path) -> BinaryIO:
    """Open ``path`` for reading, refusing anything but a regular file without blocking (open(2) O_NONBLOCK)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise NotAFile(f"{os.fsdecode(path)} is no regular file")
        return open(fd, "rb", buffering=0)  # the caller closes it
    except BaseException:
        os.close(fd)
        raise


def walk_files(root: Path, suffixes: tuple[str, ...] = ()) -> tuple[list[tuple[str, Path]], list[Skip]]:
    """(relative name, path) of every regular file under ``root`` (with one of ``suffixes``, when given), in
    name order, and a Skip for every entry that looks like one and is no regular file. Dot files and dot
    folders are tool state and left alone."""
    files: list[tuple[str, Path]] = []
    strangers: list[Skip] = []
    seen_folders: set[tuple[int, int]] = set()

    def wanted(name: str) -> bool:
        return not name.startswith(".") and (not suffixes or name.lower().endswith(suffixes))

    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        here = Path(dirpath)
        try:
            info = here.stat()
        except OSError:
            dirnames[:] = []
            continue
        if (info.st_dev, info.st_ino) in seen_folders:  # a symlink back up the tree: walked once already
            dirnames[:] = []
            continue
        seen_folders.add((info.st_dev, info.st_ino))
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        odd = [name for name in filenames if wanted(name)]
        # A folder named like a wanted file ("x.ics/") is no such file; it is walked into all the same.
        odd += [name for name in dirnames if suffixes and wanted(name)]
        for name in odd:
            path = here / name
            relative = path.relative_to(root).as_posix()
            if path.is_file():
                files.append((relative, path))
            else:
                strangers.append(Skip(relative, what_it_is(path)))
    return sorted(files), sorted(strangers, key=lambda skip: skip.what)


def listing_batch(strangers: list[Skip], cursors: Mapping[str, str]) -> Iterator[Batch]:
    """The batch that reports a folder's odd entries (as skips of the resource ``LISTING``), or clears
    them once they are gone. Nothing at all when there are none now and were none before."""
    if strangers or LISTING in cursors:
        yield Batch(LISTING, "odd entries" if strangers else None, skipped=strangers, relisted=True)


def export_files(root: Path, account: str, suffixes: tuple[str, ...]) -> tuple[list[tuple[str, Path]], list[Skip]]:
    """The export files under an account's ``path`` (the path itself when it is no folder), and its odd entries."""
    from connectors.base import SourceUnavailable

    if not root.is_dir():
        return [(root.name, root)], []
    try:
        os.listdir(root)
    except OSError as exc:
        raise SourceUnavailable(f"accounts.{account}.path: cannot list {root}: {exc.strerror}") from None
    return walk_files(root, suffixes)


@dataclasses.dataclass(frozen=True)
class Changed:
    """An export file to read again: its cursor now (its size and mtime), or why it could not even be looked at."""

    resource: str
    path: Path
    previous: str | None
    cursor: str | None
    error: str | None = None


def changed_files(files: list[tuple[str, Path]], cursors: Mapping[str, str]) -> Iterator[Changed]:
    """The files whose size or mtime moved since their cursor; an unchanged file is not even opened."""
    for resource, path in files:
        previous = cursors.get(resource)
        try:
            info = path.stat()
        except OSError as exc:
            yield Changed(resource, path, previous, None, f"unreadable file: {exc.strerror}")
            continue
        cursor = json.dumps({"mtime_ns": info.st_mtime_ns, "size": info.st_size})
        if previous != cursor:
            yield Changed(resource, path, previous, cursor)


def gone_files(files: list[tuple[str, Path]], cursors: Mapping[str, str]) -> list[str]:
    """Resources read before whose file is gone (named so their rows go, not only swept by a later full sync)."""
    return sorted(set(cursors) - {resource for resource, _ in files} - {LISTING})
