"""Gmail message metadata as interactions: a full listing newest first, then ``history.list`` increments.

One resource, ``gmail``, with one JSON cursor (see :class:`Cursor`). A first pull reads
``getProfile().historyId`` before it lists, so the first increment also covers what changed during the
crawl (docs/gmail.md#incremental-sync); it lists the mailbox newest first and fetches metadata in batches of ≤ 50, each
page's batches committed with a cursor that resumes the listing where it was killed. Later pulls apply
``history.list`` from the stored history id first, then go on with a listing that is not finished yet
(a bounded first pull, ``initial_window``, leaves the older mail for later pulls: useful fast on a huge
mailbox). A stale history id (404) asks for a full resync (docs/gmail.md#incremental-sync); a stale page token (400)
restarts the listing, which loses nothing because every row is re-sighted.

What is in the store: every message ``messages.list`` returns (includeSpamTrash=false), drafts excepted.
So moving a message to spam or trash, or deleting it, removes it; bringing it back adds it again, and an
increment ends where a full sync would.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.base import Batch, CursorExpired, Interaction, KnownIds, RateMemory, SecretSlot, Skip, Source
from connectors.google import auth as google_auth
from connectors.google.gmail_client import (
    BATCH_LIMIT,
    RESOURCE,
    GmailClient,
    GoneError,
    StalePageToken,
    default_throttle,
)
from connectors.google.gmail_quota import GmailBudget
from connectors.mailparse import parse_headers
from connectors.throttle import Throttle

# Gmail's categories, spam and trash are bulk (docs/rules.md#bulk-mail; docs/gmail.md#labels).
BULK_LABELS = ("SPAM", "TRASH", "CATEGORY_PROMOTIONS", "CATEGORY_SOCIAL", "CATEGORY_UPDATES", "CATEGORY_FORUMS")
# Messages the store does not hold: the listing leaves spam and trash out, and a draft was never sent.
ABSENT_LABELS = frozenset({"SPAM", "TRASH", "DRAFT"})
# A label change that can change what syncd stores about a message (its bulk reason, or whether it is held).
RELEVANT_LABELS = frozenset(BULK_LABELS) | ABSENT_LABELS
# Later pulls backfill this many older messages each (≈ 100,000 units, 17 min at 6,000 units/min), so a
# pull that also brings new mail ends in bounded time; settings["gmail_backfill_per_pull"] overrides it.
BACKFILL_PER_PULL = 5000
MAX_ALIASES = 20


@dataclasses.dataclass
class Cursor:
    """What the ``gmail`` cursor holds (JSON, version 1).

    ``history``: the history id every increment starts from (a string; compared as an integer).
    ``listing``: the full listing still to do, or None when the mailbox is complete: ``page`` is the
    pageToken of the page being worked on (None: the first page), ``done``/``last`` how many of its ids
    were committed and the last of them (a resume skips them only when the page still starts the same),
    ``floor`` the internalDate (ms) a bounded first pull lists back to, ``oldest`` the oldest internalDate
    committed so far (for the coverage sentence).
    ``email``/``aliases``: the profile address and From addresses of SENT mail, the owner's addresses.
    """

    history: str
    listing: dict[str, Any] | None
    email: str = ""
    aliases: list[str] = dataclasses.field(default_factory=list)

    def dump(self) -> str:
        return json.dumps({"v": 1, "history": self.history, "listing": self.listing, "email": self.email,
                           "aliases": self.aliases}, separators=(",", ":"), sort_keys=True)

    @classmethod
    def load(cls, text: str | None) -> Cursor | None:
        if not text:
            return None
        try:
            data = json.loads(text)
            if data.get("v") != 1 or not str(data["history"]).isdigit():
                return None
            return cls(str(data["history"]), data.get("listing"), str(data.get("email") or ""),
                       [str(a) for a in data.get("aliases") or []])
        except (ValueError, KeyError, TypeError, AttributeError):
            return None


class GmailSource(Source):
    provider = "google"

    def __init__(self, name: str, settings: Mapping[str, Any], secret: SecretSlot | None = None,
                 *, throttle: Throttle | None = None) -> None:
        super().__init__(name, settings, secret)
        # Tests and benchmarks hand in a throttle with a fake sleep; otherwise one per account at its quota.
        self.throttle = throttle or settings.get("gmail_throttle") or default_throttle(name, settings)
        self.client: GmailClient | None = None

    def _connect(self) -> GmailClient:
        if self.client is None:
            creds = google_auth.load_credentials(self.name, self.settings, self.secret)
            endpoint = str(self.settings.get("gmail_endpoint") or "https://gmail.googleapis.com/")
            service = google_auth.build_service("gmail", "v1", endpoint, google_auth.authorized_http(creds))
            self.client = GmailClient(service, endpoint, self.throttle, self.name)
        return self.client

    # ---- pull ------------------------------------------------------------------------------------------

    def pull(self, cursors: Mapping[str, str], known: KnownIds) -> Iterator[Batch]:
        """The pull's batches; the rate Google was found to accept is kept in the store as it changes."""
        client = self._connect()
        budget = client.throttle.budget
        if not isinstance(budget, GmailBudget) or not isinstance(known, RateMemory):
            yield from self._pull(client, cursors, known)
            return
        endpoint = str(self.settings.get("gmail_endpoint") or "")
        kept = known.learned_rate(RESOURCE, endpoint)
        if kept is not None and not budget.raises and not budget.refusals:
            budget.resume(*kept)  # nothing learned in this process yet: start where the last one ended
        try:
            for batch in self._pull(client, cursors, known):
                yield batch
                if budget.learned() != kept:
                    kept = budget.learned()
                    known.remember_rate(RESOURCE, endpoint, *kept)
        finally:
            if budget.learned() != kept:
                known.remember_rate(RESOURCE, endpoint, *budget.learned())

    def _pull(self, client: GmailClient, cursors: Mapping[str, str], known: KnownIds) -> Iterator[Batch]:
        cursor = Cursor.load(cursors.get(RESOURCE))
        if cursor is None:
            # The history id before the listing: changes during the crawl are in the first increment
            # (docs/gmail.md#incremental-sync).
            profile = client.profile()
            cursor = Cursor(str(profile.get("historyId") or "0"), {"page": None, "done": 0, "last": None},
                            str(profile.get("emailAddress") or ""))
            window = self.settings.get("initial_window")
            if isinstance(window, timedelta):
                assert cursor.listing is not None
                cursor.listing.update(floor=int((datetime.now(UTC) - window).timestamp() * 1000), bounded=True)
            expected = None if window else _int(profile.get("messagesTotal"))
            # A batch with nothing but the cursor: the new full sync starts here, and a kill before the
            # first page resumes with this history id instead of asking the profile again.
            yield self._batch(cursor, expected=expected)
        else:
            yield from self._increment(client, cursor, known)
        if cursor.listing is not None:
            # A bounded first pull lists back to its floor (resumed there if it was killed); once the floor
            # is reached, each later pull backfills a limited number of older messages.
            limit = self._backfill_limit() if cursor.listing.get("bounded") and cursor.listing.get("floor") is None \
                else None
            yield from self._listing(client, cursor, limit, known)

    def _backfill_limit(self) -> int:
        return int(self.settings.get("gmail_backfill_per_pull") or BACKFILL_PER_PULL)

    def _batch(self, cursor: Cursor, **kwargs: Any) -> Batch:
        listing = cursor.listing
        coverage = None
        if listing is not None and listing.get("oldest") is not None:
            since = datetime.fromtimestamp(listing["oldest"] / 1000, UTC).date().isoformat()
            coverage = f"complete back to {since}; older mail is read on later pulls"
        owners = list(dict.fromkeys(a for a in (cursor.email, *self.settings.get("me", ()), *cursor.aliases) if a))
        # While a listing is unfinished every batch belongs to the full sync: a batch with full=False would
        # end it in the store, and the rows listed so far would then be swept as stale at its end.
        full = listing is not None or bool(kwargs.get("complete"))
        return Batch(RESOURCE, cursor.dump(), full=full, owner_addresses=owners,
                     coverage=coverage, **kwargs)

    # ---- the full listing --------------------------------------------------------------------------

    def _listing(self, client: GmailClient, cursor: Cursor, limit: int | None, known: KnownIds) -> Iterator[Batch]:
        listing = cursor.listing
        assert listing is not None
        fetched = 0
        # Messages the store already holds are re-sighted, not fetched again: a resync after an expired
        # history id (or a forgotten page token) then costs list calls (5 units per 500) instead of 20 units
        # a message. What it cannot see is a category label changed while the history was lost.
        held = known.known_ids(RESOURCE)
        while True:
            try:
                page = client.list_page(listing.get("page"))
            except StalePageToken:
                # Google forgot the token: list again from the newest; rows already stored are re-sighted.
                listing.update(page=None, done=0, last=None)
                continue
            ids = [str(m["id"]) for m in page.get("messages") or []]
            token = page.get("nextPageToken")
            start = 0
            done = int(listing.get("done") or 0)
            if done and 0 < done <= len(ids) and ids[done - 1] == listing.get("last"):
                start = done  # the page still begins as it did: skip what was committed
            if start >= len(ids) and token:
                listing.update(page=str(token), done=0, last=None)
                continue
            if start >= len(ids):
                # Nothing left on the last page (empty, or all of it committed before a kill): listed to its end.
                cursor.listing = None
                yield self._batch(cursor, complete=True)
                return
            stop = False
            for chunk_start in range(start, len(ids), BATCH_LIMIT):
                chunk = ids[chunk_start : chunk_start + BATCH_LIMIT]
                fresh = [message_id for message_id in chunk if message_id not in held]
                batch = self._fetch(client, cursor, fresh) if fresh else Batch(RESOURCE, None)
                batch.seen = [message_id for message_id in chunk if message_id in held]
                listing.update(done=chunk_start + len(chunk), last=chunk[-1])
                for item in batch.interactions:
                    if item.timestamp is not None:
                        ms = int(item.timestamp.timestamp() * 1000)
                        listing["oldest"] = min(listing.get("oldest") or ms, ms)
                fetched += len(fresh)
                stop = self._enough(listing, limit, fetched)
                end_of_page = chunk_start + len(chunk) >= len(ids)
                if end_of_page and token:
                    listing.update(page=str(token), done=0, last=None)  # the next page, committed with this one
                if end_of_page and not token:
                    cursor.listing = None  # listed to its end: rows this full sync did not see are gone
                    yield self._batch(cursor, interactions=batch.interactions, deleted=batch.deleted,
                                      skipped=batch.skipped, seen=batch.seen, complete=True)
                    return
                yield self._finish(batch, cursor)
                if stop:
                    return  # the cursor points at the next chunk; a later pull goes on from there

    @staticmethod
    def _enough(listing: dict[str, Any], limit: int | None, fetched: int) -> bool:
        """Whether this pull's listing stops: a bounded first pull reached its floor, or a backfill its limit.

        The listing is newest first, so once a fetched message is older than the floor the rest is too.
        """
        floor = listing.get("floor")
        if floor is not None and listing.get("oldest") is not None and listing["oldest"] < floor:
            listing["floor"] = None  # from now on, later pulls backfill ``limit`` at a time
            return True
        return limit is not None and fetched >= limit

    def _finish(self, batch: Batch, cursor: Cursor) -> Batch:
        done = self._batch(cursor, interactions=batch.interactions, deleted=batch.deleted, skipped=batch.skipped,
                           seen=batch.seen)
        return done

    def _fetch(self, client: GmailClient, cursor: Cursor, ids: list[str]) -> Batch:
        """Metadata of ``ids`` as a batch: interactions, the gone (404, spam, trash, drafts) and the skipped."""
        found, gone = client.get_many(ids)
        batch = Batch(RESOURCE, None)
        for message_id in ids:
            message = found.get(message_id)
            if message is None:
                if message_id in gone:
                    batch.deleted.append(message_id)
                continue
            labels = set(message.get("labelIds") or [])
            if labels & ABSENT_LABELS:
                batch.deleted.append(message_id)
                continue
            interaction, skips = to_interaction(message)
            batch.skipped.extend(skips)
            if interaction is None:
                continue
            batch.interactions.append(interaction)
            if "SENT" in labels:
                self._note_alias(cursor, interaction)
        return batch

    @staticmethod
    def _note_alias(cursor: Cursor, interaction: Interaction) -> None:
        # SENT is set only on mail the owner sent (docs/gmail.md#labels): its From is one of the owner's addresses,
        # a send-as alias included, which makes the engine read the message as outbound.
        sender = next((p.address.strip().lower() for p in interaction.participants if p.role == "from"), "")
        known = {cursor.email.lower(), *cursor.aliases}
        if sender and "@" in sender and sender not in known and len(cursor.aliases) < MAX_ALIASES:
            cursor.aliases.append(sender)

    # ---- increments ----------------------------------------------------------------------------------

    def _increment(self, client: GmailClient, cursor: Cursor, known: KnownIds) -> Iterator[Batch]:
        page_token: str | None = None
        start = cursor.history
        held: set[str] | None = None
        while True:
            try:
                page = client.history_page(start, page_token)
            except GoneError:
                raise CursorExpired(RESOURCE, f"history id {cursor.history} is too old (HTTP 404)") from None
            fetch, gone, relabelled = _changes(page.get("history") or [])
            page_token = page.get("nextPageToken")
            records = [int(r["id"]) for r in page.get("history") or [] if str(r.get("id", "")).isdigit()]
            # Where the next pull starts: the last record of this page, or at the end the mailbox's own id.
            # History ids only grow; compare them as integers (docs/gmail.md#incremental-sync).
            ends = [int(cursor.history), *records] if page_token else [int(cursor.history), *records,
                                                                        _int(page.get("historyId")) or 0]
            new_history = str(max(ends))
            if not fetch and not gone:
                if new_history != cursor.history:
                    cursor.history = new_history
                    yield self._batch(cursor)
            else:
                batch = self._fetch(client, cursor, sorted(fetch))
                batch.deleted.extend(sorted(gone))
                if relabelled:
                    # The store never rewrites a stored message, so one whose bulk reason may have changed
                    # is removed first, under the old cursor (a kill in between replays both), then re-added.
                    if held is None:
                        held = known.known_ids(RESOURCE)
                    again = sorted(relabelled & held & {i.provider_id for i in batch.interactions})
                    if again:
                        yield self._batch(cursor, deleted=again)
                cursor.history = new_history
                yield self._finish(batch, cursor)
            if not page_token:
                return


def _changes(records: list[dict[str, Any]]) -> tuple[set[str], set[str], set[str]]:
    """One history page → (ids to fetch, ids gone, ids whose relevant labels changed). Later records win."""
    state: dict[str, str] = {}
    relabelled: set[str] = set()
    for record in records:
        for entry in record.get("messagesAdded") or []:
            message = entry.get("message") or {}
            if message.get("id"):
                absent = set(message.get("labelIds") or []) & ABSENT_LABELS
                state[str(message["id"])] = "gone" if absent else "fetch"
        for entry in record.get("messagesDeleted") or []:
            message = entry.get("message") or {}
            if message.get("id"):
                state[str(message["id"])] = "gone"
        for key in ("labelsAdded", "labelsRemoved"):
            for entry in record.get(key) or []:
                message = entry.get("message") or {}
                changed = set(entry.get("labelIds") or [])
                if not message.get("id") or not changed & RELEVANT_LABELS:
                    continue  # UNREAD, STARRED, INBOX, user labels: nothing syncd stores
                mid = str(message["id"])
                if key == "labelsAdded" and changed & ABSENT_LABELS:
                    state[mid] = "gone"  # to spam or trash: out of the listing, so out of the store
                else:
                    state[mid] = "fetch"  # fetched to learn its labels now (404 → gone)
                    relabelled.add(mid)
    fetch = {i for i, s in state.items() if s == "fetch"}
    return fetch, {i for i, s in state.items() if s == "gone"}, relabelled & fetch


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def to_interaction(message: Mapping[str, Any]) -> tuple[Interaction | None, list[Skip]]:
    """A ``format=metadata`` message → an interaction (None when it names nobody) and the skips.

    The headers go through :func:`connectors.mailparse.parse_headers`, the parser of every mail source, as
    a header block; malformed ones become skips, never exceptions. The time is internalDate
    (docs/rules.md#timestamp), the bulk reason a bulk header or else a Gmail label.
    """
    message_id = str(message.get("id") or "?")
    try:
        headers = (message.get("payload") or {}).get("headers") or []
        lines = []
        for header in headers:
            name = str(header.get("name") or "").strip()
            value = " ".join(str(header.get("value") or "").split())  # no line break can end the block early
            if name and ":" not in name:
                lines.append(f"{name}: {value}")
        raw = "\r\n".join(lines).encode("utf-8", "replace")
    except (AttributeError, TypeError) as exc:
        return None, [Skip(f"gmail message {message_id}", f"unparseable headers: {type(exc).__name__}")]
    interaction, skips = parse_headers(raw, message_id)
    if interaction is None:
        return None, skips
    internal = _int(message.get("internalDate"))
    if internal is not None and internal > 0:
        interaction.timestamp = datetime.fromtimestamp(internal / 1000, UTC)
    labels = [str(label) for label in message.get("labelIds") or []]
    if interaction.bulk is None:
        interaction.bulk = next((label for label in BULK_LABELS if label in labels), None)
    if message.get("threadId"):
        interaction.link = f"https://mail.google.com/mail/#all/{message['threadId']}"
    return interaction, skips
