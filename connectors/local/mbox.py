"""mbox files (e.g. a Google Takeout export): one file, or a folder of them, each file a RESOURCE.

A message starts at a ``From `` line (RFC 4155) that follows an empty line or the start of the file;
body lines that begin with "From " are quoted ``>From `` by mboxrd writers, and an unquoted one inside a
paragraph is not taken for a boundary. The file is read in large blocks and only header blocks are
kept: bodies are skipped by searching for the next boundary, so memory stays flat however large the
export. PROVIDER ID = the SHA-1 of the header block: stable even when the file is rewritten.

CURSOR = JSON: the byte offset read up to (the end of the last whole message, or end of file), the
file's size and mtime, and a hash of its first bytes (up to 4 KiB). Mail appended later is read from
that offset without touching the earlier part; a file that shrank, whose start changed, or where no
message starts at the offset was rewritten: :class:`CursorExpired`, and the caller resyncs it.
A full sync killed half-way resumes from its last batch and still ends as a full sync (``"full"``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from connectors.base import Batch, CursorExpired, KnownIds, SecretSlot, Skip, Source, SourceUnavailable
from connectors.local.files import LISTING, NotAFile, listing_batch, open_regular, walk_files, what_it_is
from connectors.mailparse import MAX_HEADER_BYTES, header_digest, parse_headers

BATCH_SIZE = 1000
HEAD_BYTES = 4096
BLOCK_BYTES = 1 << 20
# A "From " line that does not follow an empty line is still a boundary when it is a whole postmark
# ("From sender Mon Mar  2 10:00:00 2026"), as written by tools that omit the separating empty line.
_POSTMARK = re.compile(rb"From \S+ +(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) ")
_LOOKAHEAD = 256  # bytes a boundary check may look at past the "\n"


def _head_hash(handle: IO[bytes], length: int) -> str:
    handle.seek(0)
    return hashlib.sha1(handle.read(length), usedforsecurity=False).hexdigest()


class MboxSource(Source):
    provider = "mbox"

    def __init__(self, name: str, settings: Mapping[str, Any], secret: SecretSlot | None = None) -> None:
        super().__init__(name, settings, secret)  # None: a local file needs no login
        self.root = Path(settings["path"])

    def pull(self, cursors: Mapping[str, str], known: KnownIds) -> Iterator[Batch]:
        if not self.root.exists():
            raise SourceUnavailable(f"accounts.{self.name}.path: {self.root} does not exist")
        if self.root.is_dir():
            files, strangers = walk_files(self.root)
            yield from listing_batch(strangers, cursors)
        else:
            files = [(self.root.name, self.root)]
        for resource, path in files:
            yield from self._pull_file(resource, path, cursors.get(resource))
        for resource in sorted(set(cursors) - {resource for resource, _ in files} - {LISTING}):
            yield Batch(resource, None, full=True, complete=True)  # the file is gone: so are its messages

    def _pull_file(self, resource: str, path: Path, cursor: str | None) -> Iterator[Batch]:
        try:
            handle = open_regular(path)
        except NotAFile:
            yield Batch(resource, cursor, skipped=[Skip(resource, what_it_is(path))])
            return
        except OSError as exc:
            # Its cursor no longer passes for "unchanged" (a chmod leaves size and mtime alone), so the next
            # pull reads on from the offset, and the skip is cleared once the file could be opened.
            why = f"unreadable file: {exc.strerror or exc}"
            yield Batch(resource, _unsettled(cursor), skipped=[Skip(resource, why)])
            return
        with handle:
            try:
                yield from self._read(resource, handle, cursor)
            except OSError as exc:  # e.g. an I/O error half-way: what was yielded stays committed
                yield Batch(resource, None, skipped=[Skip(resource, f"unreadable file: {exc.strerror or exc}")])

    def _read(self, resource: str, handle: IO[bytes], cursor: str | None) -> Iterator[Batch]:
        stat = os.fstat(handle.fileno())
        state: dict[str, Any] = json.loads(cursor) if cursor else {}
        head_len = int(state.get("head_len", min(HEAD_BYTES, state.get("size", stat.st_size))))
        head = _head_hash(handle, head_len)
        offset = 0
        full = cursor is None or bool(state.get("full"))
        if cursor is not None:
            if stat.st_size < state["size"]:
                raise CursorExpired(resource, "the mbox file was rewritten (it shrank)")
            if head != state["head"]:
                raise CursorExpired(resource, "the mbox file was rewritten (its start changed)")
            if stat.st_size == state["size"] and stat.st_mtime_ns == state["mtime_ns"]:
                return  # unchanged: not a byte read past the head
            offset = int(state["offset"])
        handle.seek(offset)
        first = handle.read(5)
        if first and first != b"From ":
            if offset:
                raise CursorExpired(resource, "the mbox file was rewritten (no message starts where it left off)")
            yield Batch(resource, None, skipped=[Skip(resource, "not an mbox file: it does not start with 'From '")])
            return

        def save(end: int, done: bool) -> str:
            return json.dumps({
                "offset": end, "size": max(stat.st_size, end), "head": head, "head_len": head_len,
                # mtime only once everything is read, so an unfinished pull is never taken for unchanged
                "mtime_ns": stat.st_mtime_ns if done else 0, "full": full and not done,
            })

        batch = Batch(resource, cursor, full=full)
        end = offset
        for start, end, raw in scan(handle, offset):
            interaction, skips = parse_headers(raw, f"{resource}@{start}")
            batch.skipped.extend(skips)
            if interaction is not None:
                interaction.provider_id = header_digest(raw)
                batch.interactions.append(interaction)
            if len(batch.interactions) >= BATCH_SIZE:
                batch.cursor = save(end, done=False)  # resuming at the next message's start is safe
                yield batch
                batch = Batch(resource, batch.cursor, full=full)
        batch.cursor = save(end, done=True)
        batch.complete = full
        yield batch


def _unsettled(cursor: str | None) -> str | None:
    """``cursor`` with its mtime cleared: the same offset, but the file is read again from there."""
    if cursor is None:
        return None
    return json.dumps({**json.loads(cursor), "mtime_ns": 0})


class _Window:
    """A sliding window over a file in absolute offsets: read block by block, dropped behind the reader."""

    def __init__(self, handle: IO[bytes], offset: int, block: int) -> None:
        self.handle = handle
        self.block = block
        self.base = offset  # file offset of buffer[0]
        handle.seek(offset)
        self.buffer = b""
        self.eof = False

    @property
    def end(self) -> int:
        return self.base + len(self.buffer)

    def more(self) -> bool:
        """Read the next block; False at the end of the file."""
        if self.eof:
            return False
        chunk = self.handle.read(self.block)
        self.eof = not chunk
        self.buffer += chunk
        return bool(chunk)

    def drop(self, before: int) -> None:
        if before > self.base:
            self.buffer, self.base = self.buffer[before - self.base :], before

    def find(self, needle: bytes, start: int, end: int | None = None) -> int:
        index = self.buffer.find(needle, max(0, start - self.base), None if end is None else end - self.base)
        return index + self.base if index >= 0 else -1

    def slice(self, start: int, end: int) -> bytes:
        return self.buffer[max(0, start - self.base) : max(0, end - self.base)]

    def is_boundary(self, newline: int) -> bool:
        """Whether the "From " after the newline at ``newline`` starts a message (RFC 4155): it follows
        an empty line (or starts the window), or is a whole postmark line."""
        before = self.slice(newline - 2, newline)
        if newline <= self.base or before.endswith(b"\n") or before == b"\n\r":
            return True
        return bool(_POSTMARK.match(self.buffer, newline + 1 - self.base))


def scan(handle: IO[bytes], offset: int = 0, block: int = BLOCK_BYTES) -> Iterator[tuple[int, int, bytes]]:
    """(start, end, header block) of each message from ``offset``, which must be a message's start.

    ``end`` is the offset of the next message's ``From `` line, or the end of the file for the last
    one (even one still being appended: its headers are what they are; the next pull reads from EOF).
    """
    window = _Window(handle, offset, block)
    message = offset
    while True:
        if message - window.base > block:
            window.drop(message)  # now and then, not per message: each drop copies the rest
        while message >= window.end and window.more():
            pass
        if message >= window.end:
            return
        while (line_end := window.find(b"\n", message)) < 0 and window.more():
            pass
        if line_end < 0:
            yield message, window.end, b""  # a lone From_ line at the end of the file
            return
        header_start = line_end + 1
        # The header block ends at the first empty line (RFC 5322 §2.1).
        while True:
            blank = window.find(b"\n\n", line_end)
            # Look for a CRLF empty line only before the LF one: an unbounded search for a needle that
            # is absent would scan the whole block once per message.
            crlf = window.find(b"\n\r\n", line_end, None if blank < 0 else blank)
            blank = crlf if crlf >= 0 else blank
            if blank >= 0 or window.end - header_start > MAX_HEADER_BYTES or not window.more():
                break
        header_end = blank + 1 if blank >= 0 else window.end
        next_from = window.find(b"\nFrom ", line_end, header_end)
        if next_from >= 0:  # a From_ line inside a header block: a message without body or empty line
            yield message, next_from + 1, window.slice(header_start, next_from + 1)
            message = next_from + 1
            continue
        header = window.slice(header_start, header_end)
        # Skip the body: find the next boundary, keeping only a small tail of what was searched.
        search = header_end - 1
        while True:
            candidate = window.find(b"\nFrom ", search)
            if candidate >= 0 and (window.end - candidate > _LOOKAHEAD or window.eof):
                if window.is_boundary(candidate):
                    break
                search = candidate + 1
                continue
            search = candidate if candidate >= 0 else max(search, window.end - 6)
            window.drop(search - 2)  # keeps the two bytes is_boundary looks back at
            if not window.more() and candidate < 0:
                break
        if candidate < 0:
            yield message, window.end, header
            return
        yield message, candidate + 1, header
        message = candidate + 1
