"""IMAP mail metadata, read incrementally by UID (RFC 3501, RFC 9051; CONDSTORE/QRESYNC, RFC 7162).

Protocol facts: docs/imap.md#reading-headers-only, #uids-and-uidvalidity, #condstore-and-qresync.

RESOURCE = one folder, by its name on the server (INBOX, the \\Sent folder, the configured ``folders``).
PROVIDER ID = ``folder/UIDVALIDITY/UID``: a UID names a message only together with its folder's UIDVALIDITY
(RFC 3501 §2.3.1.1), so when the server renumbers a folder the old ids can never be taken for new messages.

Only headers are fetched, ``BODY.PEEK[HEADER.FIELDS (...)]`` with the fields syncd reads, plus INTERNALDATE;
folders are opened with EXAMINE (read-only), so nothing is ever marked read or otherwise changed
(RFC 3501 §6.3.2, §6.4.5). The header block is parsed by :mod:`connectors.mailparse`, like a Maildir file.

CURSOR (per folder, JSON): UIDVALIDITY, the last UID read, and, once the folder was read to the end, the
MESSAGES and UIDNEXT it had then (plus HIGHESTMODSEQ where CONDSTORE is offered). A pull first asks
``STATUS folder (MESSAGES UIDNEXT UIDVALIDITY)``: when all three are as they were, nothing arrived and
nothing was expunged (an expunge lowers MESSAGES, an arrival raises UIDNEXT), and that one command was the
folder's whole pull. Otherwise the folder is examined, ``UID SEARCH UID last+1:*`` lists the new messages and
their headers are fetched in batches, each committed with a cursor at its last UID, so a pull cut off
mid-FETCH resumes after the last committed batch. Expunged messages are found when the message count does
not add up (known + new ≠ EXISTS), that is on exactly the pulls after something was expunged: with QRESYNC
by ``UID FETCH 1:last (UID) (CHANGEDSINCE modseq VANISHED)``, which names the expunged UIDs; without it by
one ``UID SEARCH ALL`` compared with the UIDs the store holds.

A changed UIDVALIDITY resyncs that folder alone (:class:`CursorExpired`): it is read again as a full sync
under the new ids; the same Message-IDs map onto the interactions already stored, and the old ids are removed
only when the new read is complete, so nothing is doubled or missing at any point.

Timestamp: the Date header, unless it is missing, unreadable, before 1990, or more than a day after
INTERNALDATE (a sender's wrong clock); then INTERNALDATE, the time the server received or stored the message.
INTERNALDATE alone would move old mail to the day it was migrated or copied to this server.

RETRIES: a message whose FETCH answer came without its header block, or with no answer at all, is a glitch
of that answer, not of the message (a stored message never changes under its UID:
docs/imap.md#uids-and-uidvalidity): its UID is kept in the cursor's ``retry`` and fetched again on every
later pull (the STATUS shortcut is not taken while any wait) until it is read, or answers nothing (expunged:
its skip is forgotten). A message whose headers were read but are unusable is not fetched again: the same
bytes would come back.
"""

from __future__ import annotations

import dataclasses
import imaplib
import json
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.base import Batch, CursorExpired, KnownIds, SecretSlot, Skip, Source
from connectors.imap.folders import Folder, choose
from connectors.imap.session import TIMEOUT_SECONDS, ImapSession
from connectors.mailparse import OwnerGuess, parse_headers

# The fields connectors.mailparse reads, and nothing else.
FIELDS = ("FROM", "TO", "CC", "BCC", "DATE", "MESSAGE-ID", "SUBJECT", "LIST-ID", "LIST-UNSUBSCRIBE", "PRECEDENCE",
          "AUTO-SUBMITTED")
HEADERS = f"BODY.PEEK[HEADER.FIELDS ({' '.join(FIELDS)})]"
FETCH = ["UID", "INTERNALDATE", HEADERS]
BATCH_SIZE = 2000  # UIDs per FETCH command and per committed batch
EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
CLOCK_SLACK = timedelta(days=1)


@dataclasses.dataclass
class FolderState:
    uidvalidity: int
    last_uid: int = 0
    messages: int | None = None  # MESSAGES and UIDNEXT when the folder was last read to the end
    uidnext: int | None = None
    modseq: int | None = None  # HIGHESTMODSEQ then (CONDSTORE servers)
    full: bool = False  # a full read is under way; it resumes after last_uid
    retry: tuple[int, ...] = ()  # UIDs whose answer came without headers: fetched again next time

    @classmethod
    def load(cls, text: str | None) -> FolderState | None:
        if not text:
            return None
        try:
            data = json.loads(text)
            state = cls(**{field.name: data.get(field.name, field.default) for field in dataclasses.fields(cls)})
            state.retry = tuple(int(uid) for uid in state.retry)
            return state
        except (ValueError, TypeError, AttributeError):
            return None  # an unreadable cursor: read the folder again (the store keeps what it has)

    def dump(self) -> str:
        data = dataclasses.asdict(self)
        if not self.retry:
            del data["retry"]  # the cursor of nearly every folder stays as it always was
        return json.dumps(data, sort_keys=True)

    def unchanged(self, status: Mapping[bytes, Any]) -> bool:
        return (self.messages is not None and not self.full and not self.retry
                and (status.get(b"MESSAGES"), status.get(b"UIDNEXT")) == (self.messages, self.uidnext))


def provider_id(folder: str, uidvalidity: int, uid: int) -> str:
    return f"{folder}/{uidvalidity}/{uid}"


def uid_of(pid: str, folder: str, uidvalidity: int) -> int | None:
    prefix = f"{folder}/{uidvalidity}/"
    tail = pid[len(prefix):] if pid.startswith(prefix) else ""
    return int(tail) if tail.isdigit() else None


def timestamp(header_date: datetime | None, internal: datetime | None) -> datetime | None:
    if internal is not None and internal.tzinfo is None:
        internal = internal.replace(tzinfo=UTC)  # imapclient gives a zone; without one the honest guess is UTC
    internal = internal.astimezone(UTC) if internal is not None else None
    if header_date is None or header_date < EARLIEST:
        return internal if internal is not None else header_date
    if internal is not None and header_date > internal + CLOCK_SLACK:
        return internal
    return header_date


class ImapSource(Source):
    provider = "imap"

    def __init__(self, name: str, settings: Mapping[str, Any], secret: SecretSlot | None = None, *,
                 timeout: float = TIMEOUT_SECONDS) -> None:
        super().__init__(name, settings, secret)
        self.timeout = timeout
        self.owner = OwnerGuess(settings.get("me") or ())
        self.yielded = 0
        self.session: ImapSession | None = None  # the last session, for benchmarks (commands sent)

    def pull(self, cursors: Mapping[str, str], known: KnownIds) -> Iterator[Batch]:
        with ImapSession(self.name, self.settings, self.secret, timeout=self.timeout) as session:
            self.session = session
            with session.failures("listing folders"):
                listing = session.client.list_folders()
            folders, missing = choose(listing, tuple(self.settings.get("folders") or ()))
            for name in missing:
                why = ("not on the server (renamed or deleted?); the messages read from it before are kept until "
                       f"it is back or taken out of accounts.{self.name}.folders")
                yield Batch(name, cursors.get(name), skipped=[Skip(name, f"folder missing: {why}")])
            for folder in folders:
                yield from self._folder(session, folder, cursors.get(folder.name), known)
            # Folders read before and no longer chosen (the \Sent folder moved elsewhere, a name taken out of
            # `folders`): their messages are gone from this account. Last, so a renamed folder's mail is first
            # stored under its new name and nothing goes missing in between.
            for name in sorted(set(cursors) - {f.name for f in folders} - set(missing)):
                yield Batch(name, None, deleted=sorted(known.known_ids(name)))

    # ---- one folder ---------------------------------------------------------------------------------------

    def _folder(self, session: ImapSession, folder: Folder, previous: str | None, known: KnownIds) -> Iterator[Batch]:
        name, client = folder.name, session.client
        state = FolderState.load(previous)
        with session.failures(f"checking {name}"):
            try:
                status = client.folder_status(name, [b"MESSAGES", b"UIDNEXT", b"UIDVALIDITY"])
            except imaplib.IMAP4.error as exc:
                if isinstance(exc, imaplib.IMAP4.abort):
                    raise
                # Listed a moment ago and gone now: deleted or renamed meanwhile; the next pull sees the new list.
                yield Batch(name, previous, skipped=[Skip(name, "folder missing: it vanished while syncd read it")])
                return
        if state is not None and state.uidvalidity != status.get(b"UIDVALIDITY"):
            raise CursorExpired(name, "the server renumbered the folder (its UIDVALIDITY changed)")
        if state is not None and state.unchanged(status):
            return  # the STATUS above was this folder's whole pull
        with session.failures(f"opening {name}"):
            self._enable(session)
            info = client.select_folder(name, readonly=True)  # EXAMINE: nothing in it can change
        validity = int(info[b"UIDVALIDITY"])
        if state is not None and state.uidvalidity != validity:
            raise CursorExpired(name, "the server renumbered the folder (its UIDVALIDITY changed)")
        full = state is None or state.full
        last = state.last_uid if state is not None else 0
        ours = {uid: pid for pid in known.known_ids(name) if (uid := uid_of(pid, name, validity)) is not None}
        with session.failures(f"listing new messages in {name}"):
            listed = sorted(client.search(["ALL"] if full else ["UID", f"{last + 1}:*"]))
        new = [uid for uid in listed if uid not in ours and uid > (0 if full else last)]
        # Earlier glitches first (below ``last``, so no SEARCH lists them), then the new messages.
        again = sorted(set(state.retry) - set(ours) - set(new)) if state is not None and not full else []
        todo = again + new
        seen = [ours[uid] for uid in listed if uid in ours] if full else []
        gone = set(ours) - set(listed) if full else set()
        batch = Batch(name, previous, full=full, seen=seen, expected=self.yielded + len(todo))
        fetched, retry = 0, []
        for start in range(0, len(todo), BATCH_SIZE):
            chunk = todo[start:start + BATCH_SIZE]
            with session.failures(f"reading headers in {name}"):
                answers = client.fetch(chunk, FETCH)
            for uid in chunk:
                answer = answers.get(uid)
                if answer is None and uid in again:  # asked again and still nothing: expunged meanwhile
                    batch.deleted.append(provider_id(name, validity, uid))  # (which forgets its skip)
                elif not self._message(batch, folder, validity, uid, answer):
                    retry.append(uid)
            fetched += sum(1 for uid in chunk if uid in answers)
            done = start + BATCH_SIZE
            if done < len(todo):
                read_up_to = max([last, *(uid for uid in todo[:done] if uid not in again)])
                waiting = tuple(sorted([*retry, *again[done:]]))
                batch.cursor = FolderState(validity, read_up_to, full=full, retry=waiting).dump()
                batch.owner_addresses = self.owner.guess()
                yield batch
                batch = Batch(name, batch.cursor, full=full)
        exists = int(info[b"EXISTS"])
        if not full and len(ours) + fetched != exists:
            gone = self._expunged(session, name, state, last, set(ours))
        modseq = info.get(b"HIGHESTMODSEQ")
        batch.deleted = sorted([*batch.deleted, *(ours[uid] for uid in gone)])
        batch.complete = full
        batch.cursor = FolderState(validity, max([last, *new]), exists, int(info[b"UIDNEXT"]),
                                   int(modseq) if modseq is not None else None, retry=tuple(sorted(retry))).dump()
        batch.owner_addresses = self.owner.guess()
        yield batch

    def _enable(self, session: ImapSession) -> None:
        """QRESYNC (which implies CONDSTORE) before the first folder is opened: ENABLE is valid only then
        (RFC 5161 §3.1), and it makes EXAMINE report HIGHESTMODSEQ and FETCH accept VANISHED."""
        if not session.enabled and session.client.has_capability("QRESYNC"):
            session.client.enable("QRESYNC")
        session.enabled = True

    def _expunged(self, session: ImapSession, name: str, state: FolderState | None, last: int,
                  ours: set[int]) -> set[int]:
        """Which of the stored UIDs are expunged now (called only when the counts say some are)."""
        client = session.client
        with session.failures(f"looking for deleted messages in {name}"):
            if state is not None and state.modseq and last and client.has_capability("QRESYNC"):
                # A UID range, which imapclient's fetch() does not take, and an answer it does not return
                # (VANISHED (EARLIER), RFC 7162 §3.2.10): sent and read through imaplib underneath it.
                imap = client._imap
                imap.untagged_responses.pop("VANISHED", None)
                typ, data = imap.uid("FETCH", f"1:{last}", f"(UID) (CHANGEDSINCE {state.modseq} VANISHED)")
                if typ != "OK":
                    raise imaplib.IMAP4.error(f"UID FETCH VANISHED: {typ} {data!r}")
                imap.untagged_responses.pop("FETCH", None)  # flag changes: nothing syncd reads
                return ours & _uid_sets(imap.untagged_responses.pop("VANISHED", []))
            present = set(client.search(["ALL"]))
        return ours - present

    def _message(self, batch: Batch, folder: Folder, validity: int, uid: int, answer: Mapping[bytes, Any] | None
                 ) -> bool:
        """Read one FETCH answer into ``batch``; False when it is worth asking again (no answer, no headers)."""
        pid = provider_id(folder.name, validity, uid)
        if answer is None:
            return False  # expunged between SEARCH and FETCH, or an answer the server left out: asked once more
        raw = next((value for key, value in answer.items() if bytes(key).startswith(b"BODY[HEADER.FIELDS")), None)
        if not isinstance(raw, bytes | bytearray):
            batch.skipped.append(Skip(pid, "unparseable headers: the server sent no header block; asked again on "
                                           "the next pull"))
            return False
        interaction, skips = parse_headers(bytes(raw), pid)
        batch.skipped.extend(skips)
        if interaction is None:
            return True
        internal = answer.get(b"INTERNALDATE")
        interaction.timestamp = timestamp(interaction.timestamp, internal if isinstance(internal, datetime) else None)
        batch.interactions.append(interaction)
        self.yielded += 1
        if folder.sent:
            self.owner.count(interaction)
        return True


def _uid_sets(lines: Iterable[bytes | str]) -> set[int]:
    """UIDs of ``VANISHED (EARLIER) 41,43:116,118`` answers (RFC 7162 §3.2.10; sequence-set syntax)."""
    uids: set[int] = set()
    for line in lines:
        text = line.decode() if isinstance(line, bytes) else str(line)
        sets = text.split(")")[-1].strip() if ")" in text else text.strip()
        for part in sets.split(","):
            low, _, high = part.strip().partition(":")
            if low.isdigit():
                uids.update(range(int(low), int(high if high.isdigit() else low) + 1))
    return uids
