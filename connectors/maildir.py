"""Maildir, Maildir++ and plain trees of one-message files (the layout of the Enron corpus).

RESOURCE = a folder, as a path relative to the account root ("." for the root itself). PROVIDER ID =
``folder/unique`` where *unique* is the Maildir file name before its ``:2,flags`` info (so a flag
change or a move from new/ to cur/ keeps the id), or the file name in a plain tree.

Incremental: a folder's CURSOR is the mtime of its directories (the folder, and its cur/ and new/).
Adding, removing or renaming a file changes its directory's mtime, so an unchanged folder is not even
listed; a changed one is listed and only files the store does not know yet are opened — and only their
header block is read. A re-pull with nothing changed reads no message file.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from connectors.base import Batch, KnownIds, Skip, Source, SourceUnavailable
from connectors.mailparse import parse_headers, read_headers
from syncd.addresses import normalise

BATCH_SIZE = 2000
MAILDIR_PARTS = ("cur", "new")
# A directory changed within this many seconds may change again within the same mtime tick; its
# cursor is not advanced, so the next pull lists it again (cheap) rather than miss a message.
MTIME_SETTLE_SECONDS = 2.0
SENT_WORDS = ("sent",)


def _is_sent(folder: str) -> bool:
    return any(word in folder.lower() for word in SENT_WORDS)


class MaildirSource(Source):
    provider = "maildir"

    def __init__(self, name: str, settings: Mapping[str, Any]) -> None:
        super().__init__(name, settings)
        self.root = Path(settings["path"])
        self.me = {a for a in (normalise(x) for x in settings.get("me") or ()) if a}
        self._sent_from: Counter[str] = Counter()

    # ---- walking ----------------------------------------------------------------------------------

    def _folders(self) -> Iterator[tuple[str, list[Path]]]:
        """Every folder as (resource, directories holding its messages)."""
        for dirpath, dirnames, filenames in os.walk(self.root, onerror=None):
            here = Path(dirpath)
            dirnames[:] = sorted(d for d in dirnames if d != "tmp" and not d.startswith(".notmuch"))
            if here.name in MAILDIR_PARTS and (here.parent / "cur").is_dir() and (here.parent / "new").is_dir():
                continue  # cur/ and new/ are visited as part of their Maildir folder
            maildir_parts = [here / part for part in MAILDIR_PARTS if part in dirnames]
            is_maildir = len(maildir_parts) == 2
            if is_maildir:
                yield self._resource(here), maildir_parts
            elif filenames:
                yield self._resource(here), [here]

    def _resource(self, folder: Path) -> str:
        relative = folder.relative_to(self.root).as_posix()
        return relative or "."

    @staticmethod
    def _stamp(directories: list[Path]) -> list[int]:
        return [d.stat().st_mtime_ns for d in directories]

    # ---- pulling ----------------------------------------------------------------------------------

    def pull(self, cursors: Mapping[str, str], known: KnownIds) -> Iterator[Batch]:
        if not self.root.is_dir():
            raise SourceUnavailable(f"accounts.{self.name}.path: {self.root} does not exist or is not a folder")
        seen_resources: set[str] = set()
        changed: list[tuple[str, list[Path], list[int]]] = []
        for resource, directories in self._folders():
            seen_resources.add(resource)
            try:
                stamp = self._stamp(directories)
            except OSError as exc:
                yield Batch(resource, cursors.get(resource), skipped=[Skip(resource, f"unreadable folder: {exc}")])
                continue
            if cursors.get(resource) != json.dumps(stamp):
                changed.append((resource, directories, stamp))
        # How many messages this pull will read, for the progress line's ETA: listing is cheap next to
        # parsing, so changed folders are listed once to count and again to read.
        expected: int | None = sum(
            len(self._listing(resource, directories)[0].keys() - known.known_ids(resource))
            for resource, directories, _ in changed
        )
        for resource, directories, stamp in changed:
            for batch in self._pull_folder(resource, directories, stamp, cursors.get(resource), known):
                batch.expected, expected = expected, None
                yield batch
        # Folders that vanished: everything in them is gone.
        for resource in sorted(set(cursors) - seen_resources):
            gone = sorted(known.known_ids(resource))
            yield Batch(resource, None, deleted=gone)

    @staticmethod
    def _listing(resource: str, directories: list[Path]) -> tuple[dict[str, Path], list[Skip]]:
        """provider id -> file, for every message file of a folder (and what could not be listed)."""
        skipped: list[Skip] = []
        present: dict[str, Path] = {}
        for directory in directories:
            try:
                with os.scandir(directory) as entries:
                    for entry in entries:
                        if entry.name.startswith(".") or not entry.is_file(follow_symlinks=False):
                            continue
                        unique = entry.name.split(":2,", 1)[0] if directory.name in MAILDIR_PARTS else entry.name
                        present[f"{resource}/{unique}"] = Path(entry.path)
            except OSError as exc:
                skipped.append(Skip(resource, f"unreadable folder: {exc}"))
        return present, skipped

    def _pull_folder(
        self, resource: str, directories: list[Path], stamp: list[int], previous: str | None, known: KnownIds
    ) -> Iterator[Batch]:
        present, skipped = self._listing(resource, directories)
        already = known.known_ids(resource)
        settled = time.time() - max(stamp, default=0) / 1e9 > MTIME_SETTLE_SECONDS
        final_cursor = json.dumps(stamp) if settled and not skipped else previous
        batch = Batch(resource, previous, skipped=skipped, deleted=sorted(already - present.keys()))
        sent = _is_sent(resource)
        for provider_id in sorted(present.keys() - already):
            path = present[provider_id]
            try:
                raw = read_headers(str(path))
            except OSError as exc:
                batch.skipped.append(Skip(provider_id, f"unreadable file: {exc.strerror or exc}"))
                continue
            interaction, skips = parse_headers(raw, provider_id)
            batch.skipped.extend(skips)
            if interaction is not None:
                batch.interactions.append(interaction)
                if sent and not self.me:
                    senders = [p.address for p in interaction.participants if p.role == "from"]
                    for sender in senders:
                        address = normalise(sender)
                        if address:
                            self._sent_from[address] += 1
            if len(batch.interactions) >= BATCH_SIZE:
                yield batch
                batch = Batch(resource, previous)
        batch.cursor = final_cursor
        if sent and self._sent_from:
            # The product file: without `me`, the owner is the most common sender of "sent" folders.
            batch.owner_addresses = [self._sent_from.most_common(1)[0][0]]
        yield batch
