"""Maildir, Maildir++ and plain trees of one-message files (the layout of the Enron corpus).

RESOURCE = a folder, as a path relative to the account root ("." for the root itself). A folder is a
Maildir when it has ``cur/`` and ``new/`` (``tmp/`` holds deliveries in progress and is never read,
per the Maildir spec, cr.yp.to/proto/maildir.html). That covers Maildir++ (``.Work.Clients`` beside
the root's ``cur/``, as Courier, Dovecot, offlineimap and mbsync keep them) and nested layouts
(mbsync's ``SubFolders Verbatim``: ``Work/Clients/cur``). A folder without ``cur/``/``new/`` that holds
files and is not inside a Maildir is a plain folder of one-message files (``maildir/<user>/sent/1.``).

PROVIDER ID = ``folder/unique``: *unique* is the Maildir file name before its info (``:2,flags``; mbsync
writes ``;2,`` where ``:`` is not allowed), so a flag change or a move from new/ to cur/ keeps the id.
In a plain folder it is the file name.

Incremental: a folder's CURSOR is the mtime of its directories (the folder, and its cur/ and new/).
Adding, removing or renaming a file changes its directory's mtime, so an unchanged folder is not even
listed; a changed one is listed and only files the store does not know yet are opened, and only their
header block is read. A re-pull with nothing changed reads no message file. A folder with a file that
could not be read gets a cursor that matches no folder (``RETRY``), so the next pull lists it again and
tries that file once more, until it is read or gone; the listing then clears its skip (a chmod does not
change a folder's mtime: docs/files.md#maildir).

Entries that are no regular file are counted, never opened: a FIFO would block the read, a folder named
like a message is no message. A symlink to a message file is followed (once: the kernel refuses a loop,
which is counted like a broken link). File names are bytes: a name that is not UTF-8 is kept as Python
gives it (surrogate escapes, PEP 383), and the store keeps it losslessly.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from connectors.addresses import normalise
from connectors.base import Batch, KnownIds, SecretSlot, Skip, Source, SourceUnavailable
from connectors.local.files import NotAFile, what_it_is
from connectors.mailparse import OwnerGuess, parse_headers, read_headers

BATCH_SIZE = 1000
MAILDIR_PARTS = ("cur", "new")
# Directories that hold no mail: Maildir's delivery area, and index/metadata folders of mail tools.
NOT_MAIL = {"tmp", ".notmuch", "courierimapkeywords", "courierimaphieracl", ".git"}
# A directory changed within this many seconds may change again within the same mtime tick (coarse
# on some file systems: 2 s on FAT); its cursor is not advanced, so the next pull lists it again
# (cheap) rather than miss a message that arrived in the same tick.
MTIME_SETTLE_SECONDS = 2.0
# Folders whose senders are the owner: "sent", "Sent Items", "_sent_mail", "[Gmail].Sent Mail",
# "Sent Messages", "sent_items" ... and a few localised names. Whole words, so "presentations" is not.
_SENT = re.compile(r"(?:^|[^a-z])(?:sent|sentitems|gesendet|envoy[ée]s|enviados|inviata|verzonden)(?:[^a-z]|$)")
# mbsync's InfoDelimiter is ":" (the spec's), or ";" on file systems that forbid ":".
_INFO = re.compile(r"[:;]2,")
# The cursor of a folder with a file that could not be read: it matches no folder's mtimes, so the next
# pull lists the folder again and retries the file.
RETRY = json.dumps({"retry": True})


def is_sent_folder(resource: str) -> bool:
    return bool(_SENT.search(resource.rsplit("/", 1)[-1].lower()))


class _Folder:
    __slots__ = ("directories", "maildir", "resource", "stamp")

    def __init__(self, resource: str, directories: list[Path], maildir: bool) -> None:
        self.resource = resource
        self.directories = directories  # the directories holding its message files
        self.maildir = maildir  # file names carry Maildir info (":2,flags") to strip from the id
        self.stamp: list[int] = []  # mtime_ns of each directory when the pull started


class MaildirSource(Source):
    provider = "maildir"

    def __init__(self, name: str, settings: Mapping[str, Any], secret: SecretSlot | None = None) -> None:
        super().__init__(name, settings, secret)  # None: a local file needs no login
        self.root = Path(settings["path"])
        self.me = tuple(settings.get("me") or ())
        self.owner = OwnerGuess(self.me, normalise)

    # ---- walking ----------------------------------------------------------------------------------

    def _walk(self) -> tuple[list[_Folder], list[tuple[str, OSError]]]:
        """Every folder of the account, and the directories that could not be read (as resources)."""
        folders: list[_Folder] = []
        errors: list[tuple[str, OSError]] = []
        in_maildir: set[str] = set()  # directories that are, or are inside, a Maildir folder

        def failed(exc: OSError) -> None:
            errors.append((self._resource(Path(exc.filename or self.root)), exc))

        for dirpath, dirnames, filenames in os.walk(self.root, onerror=failed):
            here = Path(dirpath)
            names = set(dirnames)
            is_maildir = all(part in names for part in MAILDIR_PARTS)
            inside = is_maildir or dirpath in in_maildir
            # cur/ and new/ are listed as part of their folder, and only when it changed: walking into
            # them here would list every message of the account on every pull.
            dirnames[:] = sorted(
                d for d in dirnames if d not in NOT_MAIL and not (is_maildir and d in MAILDIR_PARTS)
            )
            if inside:
                in_maildir.update(os.path.join(dirpath, d) for d in dirnames)
            if is_maildir:
                folders.append(_Folder(self._resource(here), [here / part for part in MAILDIR_PARTS], True))
            elif not inside and any(not f.startswith(".") for f in filenames):
                folders.append(_Folder(self._resource(here), [here], False))
        return folders, errors

    def _resource(self, folder: Path) -> str:
        try:
            relative = folder.relative_to(self.root).as_posix()
        except ValueError:
            return "."
        return relative or "."

    # ---- pulling ----------------------------------------------------------------------------------

    def pull(self, cursors: Mapping[str, str], known: KnownIds) -> Iterator[Batch]:
        if not self.root.is_dir():
            what = "is not a folder" if self.root.exists() else "does not exist"
            raise SourceUnavailable(f"accounts.{self.name}.path: {self.root} {what}")
        folders, errors = self._walk()
        changed: list[_Folder] = []
        for folder in folders:
            try:
                folder.stamp = [d.stat().st_mtime_ns for d in folder.directories]
            except OSError as exc:  # vanished or unreadable since the walk: try again next pull
                errors.append((folder.resource, exc))
                continue
            if cursors.get(folder.resource) != json.dumps(folder.stamp):
                changed.append(folder)
        for resource, error in errors:
            reason = f"unreadable folder: {error.strerror or error}"
            # Listed again next time even if its mtimes stay (a chmod does not change them).
            retry = RETRY if cursors.get(resource) is not None else None
            yield Batch(resource, retry, skipped=[Skip(resource, reason)])
        # How many messages this pull will read, for the progress line's ETA: listing is cheap next to
        # parsing, so changed folders are listed once to count and again to read.
        expected: int | None = sum(
            len(self._listing(f)[0].keys() - known.known_ids(f.resource)) for f in changed
        )
        for folder in changed:
            for batch in self._pull_folder(folder, cursors.get(folder.resource), known):
                batch.expected, expected = expected, None
                yield batch
        # Folders that are gone: so is everything in them. A folder that could not be read is not gone.
        present = {f.resource for f in folders}
        unreadable = [resource for resource, _ in errors]
        for resource in sorted(set(cursors) - present):
            if not any(_within(resource, bad) for bad in unreadable):
                yield Batch(resource, None, deleted=sorted(known.known_ids(resource)))

    @staticmethod
    def _listing(folder: _Folder) -> tuple[dict[str, Path], list[Skip], list[Skip]]:
        """provider id -> file, for every message file of a folder; what could not be listed; and the
        entries that are no message file (counted, never opened)."""
        skipped: list[Skip] = []
        strangers: list[Skip] = []
        present: dict[str, Path] = {}
        for directory in folder.directories:
            try:
                with os.scandir(directory) as entries:
                    for entry in entries:
                        # Dot files are tool state (.uidvalidity, .mbsyncstate, .DS_Store), not mail.
                        if entry.name.startswith("."):
                            continue
                        unique = _INFO.split(entry.name, 1)[0] if folder.maildir else entry.name
                        provider_id = f"{folder.resource}/{unique}"
                        if _is_file(entry):  # follows a symlink; a broken or looping one is no file
                            present[provider_id] = Path(entry.path)
                        elif folder.maildir or not entry.is_dir(follow_symlinks=False):
                            # A plain tree's subfolders are folders of their own; anything else is counted.
                            strangers.append(Skip(provider_id, what_it_is(entry.path)))
            except OSError as exc:
                skipped.append(Skip(folder.resource, f"unreadable folder: {exc.strerror or exc}"))
        return present, skipped, strangers

    def _pull_folder(self, folder: _Folder, previous: str | None, known: KnownIds) -> Iterator[Batch]:
        resource = folder.resource
        present, skipped, strangers = self._listing(folder)
        already = known.known_ids(resource)
        settled = time.time() - max(folder.stamp, default=0) / 1e9 > MTIME_SETTLE_SECONDS
        # A folder listed only in part says nothing about what was deleted, and is listed again next time.
        final_cursor = json.dumps(folder.stamp) if settled and not skipped else previous
        deleted = [] if skipped else sorted(already - present.keys())
        batch = Batch(resource, previous, skipped=skipped + strangers, deleted=deleted)
        sent = not self.me and is_sent_folder(resource)
        for provider_id in sorted(present.keys() - already):
            try:
                raw = read_headers(str(present[provider_id]))
            except NotAFile:  # replaced by a FIFO or a folder since the listing
                batch.skipped.append(Skip(provider_id, what_it_is(str(present[provider_id]))))
                continue
            except OSError as exc:  # unreadable, or gone since the listing
                batch.skipped.append(Skip(provider_id, f"unreadable file: {exc.strerror or exc}"))
                final_cursor = RETRY  # the next pull lists the folder again and retries the file
                continue
            interaction, skips = parse_headers(raw, provider_id)
            batch.skipped.extend(skips)
            if interaction is not None:
                batch.interactions.append(interaction)
                if sent:
                    self.owner.count(interaction)
            if len(batch.interactions) >= BATCH_SIZE:
                yield batch  # carries the previous cursor: a kill here re-lists the folder next time
                batch = Batch(resource, previous)
                batch.owner_addresses = self.owner.guess()
        batch.cursor = final_cursor
        batch.owner_addresses = self.owner.guess()
        batch.relisted = not skipped  # every file of the folder was looked at: older skips are settled
        yield batch


def _is_file(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_file()
    except OSError:  # a symlink loop raises ELOOP rather than answering False
        return False


def _within(resource: str, folder: str) -> bool:
    return folder == "." or resource == folder or resource.startswith(folder + "/")
