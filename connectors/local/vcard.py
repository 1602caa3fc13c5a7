"""vCard files (.vcf: Thunderbird's and Google's exports, vdirsyncer's folders of one card per file) as an
address book.

RESOURCE = one .vcf file, named relative to the account path (its file name when the path is a file; bytes that
are not UTF-8 written ``\xff``); an
entry that is no regular file (a FIFO, a folder named x.vcf) is never opened, only counted
(:mod:`connectors.local.files`).
PROVIDER ID = the card's ``UID``, else ``<file>#<n>`` (its position in the file). CURSOR = the file's
``{mtime_ns, size}``: an unchanged file is not opened; a changed one is read whole as a FULL SYNC of its
resource (a file has no change log), so cards removed from it go. A file that disappears takes its cards
with it. Cards are parsed by :mod:`connectors.vcardparse`: one broken card is skipped and named while the
rest of the file is read.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from connectors.base import AddressBook, Card, CardBatch, CardGroup, KnownIds, SecretSlot, Skip, SourceUnavailable
from connectors.local.files import (
    LISTING,
    NotAFile,
    changed_files,
    export_files,
    gone_files,
    open_regular,
    what_it_is,
)
from connectors.vcardparse import is_vcard, parse

SUFFIXES = (".vcf", ".vcard")
BATCH_SIZE = 2000
# The cursor of a batch in the middle of a file: it matches no file, so an interrupted read is redone.
PARTIAL = json.dumps({"partial": True})


class VcardBook(AddressBook):
    provider = "vcard"

    def __init__(self, name: str, settings: Mapping[str, Any], secret: SecretSlot | None = None) -> None:
        super().__init__(name, settings, secret)  # None: a local file needs no login
        self.root = Path(settings["path"])

    def pull(self, cursors: Mapping[str, str], known: KnownIds) -> Iterator[CardBatch]:
        if not self.root.exists():
            raise SourceUnavailable(f"accounts.{self.name}.path: {self.root} does not exist")
        listed, strangers = export_files(self.root, self.name, SUFFIXES)
        files = [(_printable(resource), path) for resource, path in listed]
        if strangers or LISTING in cursors:  # a FIFO or a folder named x.vcf: counted, never opened
            yield CardBatch(LISTING, "odd entries" if strangers else None, skipped=strangers)
        for changed in changed_files(files, cursors):
            if changed.cursor is None:
                skip = Skip(changed.resource, str(changed.error))
                yield CardBatch(changed.resource, changed.previous, skipped=[skip])
                continue
            yield from self._file(changed.resource, changed.path, changed.cursor, changed.previous)
        for resource in gone_files(files, cursors):
            yield CardBatch(resource, None, deleted=sorted(known.known_ids(resource)), full=True, complete=True)

    def _file(self, resource: str, path: Path, cursor: str, previous: str | None) -> Iterator[CardBatch]:
        try:
            with open_regular(path) as handle:
                data = handle.read()
        except NotAFile:
            yield CardBatch(resource, previous, skipped=[Skip(resource, what_it_is(path))])
            return
        except OSError as exc:
            yield CardBatch(resource, previous, skipped=[Skip(resource, f"unreadable file: {exc.strerror or exc}")])
            return
        if data.strip() and not is_vcard(data):
            # The cursor does not move: a fixed file is read on the next pull.
            yield CardBatch(resource, previous, skipped=[Skip(resource, "not a vCard file: no BEGIN:VCARD")])
            return
        batch = CardBatch(resource, PARTIAL, full=True)
        for item in parse(data, resource):
            if isinstance(item, Card):
                batch.cards.append(item)
            elif isinstance(item, CardGroup):
                batch.groups.append(item)
            else:
                batch.skipped.append(item)
            if len(batch.cards) + len(batch.groups) >= BATCH_SIZE:
                yield batch
                batch = CardBatch(resource, PARTIAL, full=True)
        batch.cursor, batch.complete = cursor, True
        yield batch


def _printable(name: str) -> str:
    """A file name as text, its bytes that are not UTF-8 written ``\\xff``: it names the resource and the cards
    of the file, so it must be storable and printable (a name Python hands over with surrogates is neither)."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
