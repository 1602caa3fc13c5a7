"""mbox files (e.g. a Google Takeout export): one file, or a folder of them, each file a RESOURCE.

Messages start at lines beginning with ``From `` (the mboxrd/mboxo convention; quoted body lines are
``>From ``). The file is streamed line by line and only header blocks are kept, so memory stays flat
however large the export. PROVIDER ID = the SHA-1 of the header block: stable even when the file is
rewritten.

CURSOR = the byte offset read up to, plus the file's size and a hash of its first 4 KiB. Mail appended
later is read from that offset without touching the earlier part; a file that shrank or whose start
changed was rewritten, and the cursor expires (the caller resyncs that file from scratch).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from connectors.base import Batch, CursorExpired, KnownIds, Skip, Source, SourceUnavailable
from connectors.mailparse import MAX_HEADER_BYTES, header_digest, parse_headers

BATCH_SIZE = 2000
HEAD_BYTES = 4096


def _head_hash(handle: IO[bytes]) -> str:
    handle.seek(0)
    return hashlib.sha1(handle.read(HEAD_BYTES), usedforsecurity=False).hexdigest()


class MboxSource(Source):
    provider = "mbox"

    def __init__(self, name: str, settings: Mapping[str, Any]) -> None:
        super().__init__(name, settings)
        self.root = Path(settings["path"])

    def _files(self) -> list[tuple[str, Path]]:
        if self.root.is_file():
            return [(self.root.name, self.root)]
        return [
            (path.relative_to(self.root).as_posix(), path)
            for path in sorted(self.root.rglob("*"))
            if path.is_file() and not path.name.startswith(".")
        ]

    def pull(self, cursors: Mapping[str, str], known: KnownIds) -> Iterator[Batch]:
        if not self.root.exists():
            raise SourceUnavailable(f"accounts.{self.name}.path: {self.root} does not exist")
        files = self._files()
        for resource, path in files:
            yield from self._pull_file(resource, path, cursors.get(resource))
        for resource in sorted(set(cursors) - {resource for resource, _ in files}):
            yield Batch(resource, None, full=True, complete=True)  # the file is gone: so are its messages

    def _pull_file(self, resource: str, path: Path, cursor: str | None) -> Iterator[Batch]:
        try:
            stat = path.stat()
            handle = path.open("rb")
        except OSError as exc:
            yield Batch(resource, cursor, skipped=[Skip(resource, f"unreadable file: {exc.strerror or exc}")])
            return
        with handle:
            head = _head_hash(handle)
            offset = 0
            if cursor is not None:
                state = json.loads(cursor)
                if stat.st_size < state["size"] or head != state["head"]:
                    raise CursorExpired(resource, "the mbox file was rewritten")
                if stat.st_size == state["size"] and stat.st_mtime_ns == state["mtime_ns"]:
                    return
                offset = state["offset"]
            full = cursor is None
            handle.seek(offset)
            batch = Batch(resource, cursor, full=full)
            end = offset
            for start, end, raw in _messages(handle, offset):
                provider_id = header_digest(raw)
                interaction, skips = parse_headers(raw, f"{resource}@{start}")
                batch.skipped.extend(skips)
                if interaction is not None:
                    interaction.provider_id = provider_id
                    batch.interactions.append(interaction)
                if len(batch.interactions) >= BATCH_SIZE:
                    # Resuming from the start of the next message is safe: what came before is committed.
                    if not full:
                        batch.cursor = json.dumps({"offset": end, "size": stat.st_size, "mtime_ns": 0, "head": head})
                    yield batch
                    batch = Batch(resource, batch.cursor, full=full)
            batch.cursor = json.dumps({"offset": end, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "head": head})
            batch.complete = full
            yield batch


def _messages(handle: IO[bytes], offset: int) -> Iterator[tuple[int, int, bytes]]:
    """(start, end, header block) of each message from ``offset`` on; bodies are skipped line by line."""
    position = offset
    start: int | None = None
    header: list[bytes] = []
    in_header = False
    size = 0
    for line in handle:
        if line.startswith(b"From "):
            if start is not None:
                yield start, position, b"".join(header)
            start, header, in_header, size = position, [], True, 0
        elif in_header:
            if line in (b"\n", b"\r\n") or size > MAX_HEADER_BYTES:
                in_header = False
            else:
                header.append(line)
                size += len(line)
        position += len(line)
    if start is not None:
        yield start, position, b"".join(header)
