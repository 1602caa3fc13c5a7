"""The small interfaces connectors speak — sources of interactions, address books, follow-up targets —
and the vocabulary they share.

Vocabulary
----------
ACCOUNT
    One configured ``[accounts.NAME]`` table. A connector instance serves exactly one account.
RESOURCE
    A unit the provider syncs on its own: a mail folder, an mbox file, an .ics file, a calendar.
    Each resource has its own CURSOR, so a broken resource never holds back the others.
CURSOR
    An opaque string the connector hands back after each BATCH and receives again on the next pull.
    The store saves it in the same transaction as the batch's rows, so a pull killed at any point
    resumes from the last committed batch. ``None`` means "start from scratch" (a full sync).
PROVIDER ID
    The id of one item within its account and resource: stable across pulls, unique per account.
    For calendar occurrences it includes the occurrence's start (``UID/RECURRENCE-ID``).
INTERACTION
    One mail message or one event occurrence: a UTC timestamp plus PARTICIPANTS (address, display
    name, role). Metadata only: never a body.
BATCH
    What a source yields: interactions to upsert, provider ids that are gone, items skipped (with a
    reason, for the pull summary), and the cursor that covers all of it.
SKIP
    An item left out, with its reason. The store keeps it until a later pull reads it or finds it gone;
    a source whose item failed for a passing reason (an unreadable file) hands back a cursor that makes
    the next pull look at that resource again.
FULL SYNC
    A pull that started from ``cursor=None``; its batches carry ``full=True``. When the last batch of
    a full sync of a resource is committed, rows of that resource the full sync did not see are stale
    and are removed (see ``syncd.store``). Raising :class:`CursorExpired` asks the caller for one.
CARD
    One entry of the user's address book (a vCard, a Google contact, an Outlook contact): the name the
    user gave a person, all their addresses, organisation, groups and birthday. An ADDRESS BOOK yields
    cards in batches exactly as a source yields interactions: per resource, with a cursor, full syncs
    and deletions (:class:`CardBatch`).
GROUP
    A category of the user's address book ("Family", "Suppliers"): written on the card itself (vCard
    ``CATEGORIES``, Outlook categories), or a :class:`CardGroup` of its own that cards belong to by
    reference (a vCard group card listing its members, a Google contact group).
FOLLOW-UP
    A "reach out to X" event that syncd owns in a TARGET calendar. It carries syncd's TAG (an
    ``X-SYNCD-KEY`` property, a private extended property, ...); targets list and touch tagged events
    only, so a user's own events are never changed.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime
from typing import Any, Literal, Protocol, runtime_checkable

from connectors.settings import Key

Role = Literal["from", "to", "cc", "bcc", "organizer", "attendee"]
# RFC 5545 PARTSTAT, lower-cased; mail participants have none.
Response = Literal["accepted", "declined", "tentative", "needs-action", "delegated"]
Kind = Literal["mail", "event"]


class ConnectorError(Exception):
    """A problem a connector reports in one sentence the user can act on."""


class CursorExpired(ConnectorError):
    """The stored cursor can no longer be resumed from; the caller restarts the resource from scratch."""

    def __init__(self, resource: str, why: str) -> None:
        super().__init__(f"{resource}: {why}; doing a full resync")
        self.resource = resource


class SourceUnavailable(ConnectorError):
    """The whole source cannot be read (missing path, revoked token, ...): nothing of it was pulled."""


class AuthRequired(SourceUnavailable):
    """The account has no usable token (never logged in, revoked, expired): only a new login helps.

    The message never contains a token; the CLI adds how to log in.
    """

    def __init__(self, account: str, why: str) -> None:
        super().__init__(f"account '{account}' needs login ({why}): run 'syncd auth login {account}'")
        self.account = account


class SecretSlot(Protocol):
    """One account's secret (an OAuth token JSON, an MSAL cache), kept by syncd's token store.

    Connectors read it before talking to the provider and write it back whenever the provider hands
    out a new token, so a refreshed or rotated token is never lost. Values never go into logs or errors.
    """

    def get(self) -> str | None: ...

    def set(self, value: str) -> None: ...


@dataclasses.dataclass(frozen=True, slots=True)
class Participant:
    address: str  # as written; connectors.addresses normalises it
    name: str = ""
    role: Role = "to"
    response: Response | None = None  # events only


@dataclasses.dataclass(slots=True)
class Interaction:
    provider_id: str
    kind: Kind
    timestamp: datetime | None  # aware, UTC; None when the item has no usable date
    participants: list[Participant]
    message_id: str | None = None  # mail: RFC 5322 Message-ID without <>, the cross-account identity
    subject: str | None = None
    # Why the message is bulk ("List-Id", "Precedence: bulk", "CATEGORY_PROMOTIONS", ...); None if not.
    bulk: str | None = None
    # Events
    end: datetime | None = None
    cancelled: bool = False
    series_id: str | None = None  # UID of a recurring series this occurrence belongs to
    all_day: bool = False
    link: str | None = None  # where the provider offers a link to the thread / event
    # The owner's own response to an event when the provider reports it apart from the attendee list.
    owner_response: Response | None = None
    # Mail: how many distinct To+Cc entries the message had, unusable ones (X.500 paths) included, so
    # the recipient cap counts what was sent, not only what could be parsed. None: count participants.
    recipient_count: int | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Skip:
    """An item left out of a pull, named for the summary: ``what`` locates it, ``why`` explains it."""

    what: str
    why: str


@dataclasses.dataclass(slots=True)
class Batch:
    resource: str
    cursor: str | None
    interactions: list[Interaction] = dataclasses.field(default_factory=list)
    deleted: list[str] = dataclasses.field(default_factory=list)  # provider ids gone from the resource
    skipped: list[Skip] = dataclasses.field(default_factory=list)
    full: bool = False  # part of a full sync of ``resource``
    complete: bool = False  # the last batch of a full sync: unseen rows of the resource are stale
    # Owner addresses the provider reports (profile, aliases), or guessed from sent folders.
    owner_addresses: list[str] = dataclasses.field(default_factory=list)
    # On the first batch of a pull, when the source can tell: how many interactions the whole pull
    # will yield (for a progress ETA). None: unknown.
    expected: int | None = None
    # How far back the resource is known completely, when a bounded first pull is still backfilling
    # (e.g. "complete back to 2024-11-29; older mail is read on later pulls"); `syncd status` shows it.
    coverage: str | None = None
    # Provider ids a full sync found still there but did not read again (the store holds them already): the
    # store keeps them as they are, so the end of the full sync does not take them for gone.
    seen: list[str] = dataclasses.field(default_factory=list)
    # The batch ends a listing of the whole resource (a folder listed again): what earlier pulls skipped
    # there and this one did not is read or gone. The last batch of a full sync says as much by itself.
    relisted: bool = False


class KnownIds(Protocol):
    """What a source may ask the store: which provider ids of a resource it already holds.

    Lets a local source skip files it has read before without keeping their names in the cursor.
    """

    def known_ids(self, resource: str) -> set[str]: ...


@runtime_checkable
class RateMemory(Protocol):
    """What a source may keep in the store beside its data: the rate a provider was found to accept.

    The ``known`` a pull hands to a source offers this too. A rate is kept per account, API and endpoint
    (a rate learned against another endpoint, a proxy or a test server, says nothing about this one), as
    units a minute and the name of the quota regime the source inferred.
    """

    def learned_rate(self, api: str, endpoint: str) -> tuple[float, str] | None: ...

    def remember_rate(self, api: str, endpoint: str, units_per_minute: float, regime: str) -> None: ...


@runtime_checkable
class PlaceMemory(Protocol):
    """What a follow-ups target may keep in the store between runs: where it found its calendar, so the next
    run goes straight there instead of looking for it again. ``what`` names what was looked for, in the
    target's own words (the calendar's name and the endpoint: a place found for another name says nothing
    about this one); ``remember(what, None)`` forgets it. A target must cope with a place that is gone."""

    def recall(self, what: str) -> str | None: ...

    def remember(self, what: str, place: str | None) -> None: ...


class Connector:
    """One account's side of a provider, as syncd builds it: the account's name, its settings and its
    secret slot. Sources and targets are made the same way (``connectors.open_source`` / ``open_target``)."""

    #: the ``provider = "..."`` name
    provider: str = ""

    def __init__(self, name: str, settings: Mapping[str, Any], secret: SecretSlot | None = None) -> None:
        self.name = name
        self.settings = settings
        self.secret = secret  # providers that log in only


class Source(Connector, ABC):
    """Reads interactions from one account incrementally.

    ``pull`` is a generator of :class:`Batch` objects. It receives the cursor of every resource it
    handed back before (``cursors``), resumes each from there and yields batches whose ``cursor`` covers
    everything up to and including that batch. It must not yield a cursor that covers rows it has not
    yet yielded. Per-item problems become ``Batch.skipped`` entries, never exceptions; a resource that
    cannot be resumed raises :class:`CursorExpired`; a source that cannot be read at all raises
    :class:`SourceUnavailable`.
    """

    @abstractmethod
    def pull(self, cursors: Mapping[str, str], known: KnownIds) -> Iterator[Batch]: ...


class ChainedSource(Source):
    """One account read by several parts in turn (mail, then calendars), each with its own resources.

    ``parts`` lists (setting that switches the part on, its default, "module:Class" of a Source). Parts
    are imported only when switched on, so an account without a calendar never loads its client.
    """

    parts: tuple[tuple[str, Any, str], ...] = ()

    def pull(self, cursors: Mapping[str, str], known: KnownIds) -> Iterator[Batch]:
        import importlib

        for setting, default, spec in self.parts:
            if self.settings.get(setting, default):
                module, _, name = spec.partition(":")
                part = getattr(importlib.import_module(module), name)
                yield from part(self.name, self.settings, self.secret).pull(cursors, known)


@dataclasses.dataclass(frozen=True, slots=True)
class Birthday:
    """A day of the year, with the year when the card knows it (vCard 4.0 writes ``--0412`` without one)."""

    month: int
    day: int
    year: int | None = None

    def __post_init__(self) -> None:
        # 2000 is a leap year, so 29 February is a valid birthday; the check rejects 31 April and friends.
        date(self.year or 2000, self.month, self.day)

    def text(self) -> str:
        """``1970-04-12``, or ``--04-12`` without a year (RFC 6350 §4.3.1's reduced form)."""
        return f"{self.year:04d}-{self.month:02d}-{self.day:02d}" if self.year else f"--{self.month:02d}-{self.day:02d}"

    @classmethod
    def from_text(cls, text: str) -> Birthday:
        if text.startswith("--"):
            return cls(int(text[2:4]), int(text[5:7]))
        return cls(int(text[5:7]), int(text[8:10]), int(text[:4]))


@dataclasses.dataclass(slots=True)
class Card:
    """One person in the user's address book. Metadata only: no phone numbers, addresses, notes or photos.

    ``provider_id`` identifies the card within its account (a vCard UID, a People API resource name, a
    Graph id). ``groups`` are group names written on the card itself; ``memberships`` are the provider ids
    of :class:`CardGroup` objects it belongs to by reference. A group's own card lists its members by
    ``uid`` (vCard ``MEMBER:urn:uuid:<UID>``), so a card keeps its UID apart from its provider id.
    """

    provider_id: str
    name: str = ""  # the name the user gave (FN; else built from N); "" when the card has none
    emails: list[str] = dataclasses.field(default_factory=list)  # as written, the preferred one first
    organisation: str | None = None
    groups: list[str] = dataclasses.field(default_factory=list)
    memberships: list[str] = dataclasses.field(default_factory=list)
    uid: str | None = None
    birthday: Birthday | None = None


@dataclasses.dataclass(slots=True)
class CardGroup:
    """A group of the address book with an identity of its own, so a rename changes one name, not every card.

    ``members`` are the UIDs of member cards when the group itself lists them (vCard group cards); for
    groups the cards point at (``Card.memberships``) it stays empty.
    """

    provider_id: str
    name: str
    members: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(slots=True)
class CardBatch:
    """What an address book yields: the :class:`Batch` of cards, with the same cursor and full-sync rules."""

    resource: str
    cursor: str | None
    cards: list[Card] = dataclasses.field(default_factory=list)
    groups: list[CardGroup] = dataclasses.field(default_factory=list)
    deleted: list[str] = dataclasses.field(default_factory=list)  # provider ids of cards or groups gone
    skipped: list[Skip] = dataclasses.field(default_factory=list)
    full: bool = False
    complete: bool = False
    # Provider ids a full sync found still there but could not read again (a card now broken): the store
    # keeps what it holds of them, so the end of the full sync does not take them for gone.
    seen: list[str] = dataclasses.field(default_factory=list)


class AddressBook(Connector, ABC):
    """Reads the user's address book incrementally: like a :class:`Source`, with cards instead of interactions.

    ``pull`` resumes every resource from its cursor and yields :class:`CardBatch` objects under the same
    rules: a cursor covers everything up to its batch, per-card problems are ``skipped`` entries (a broken
    card is counted and named, the others go on), an expired cursor raises :class:`CursorExpired`, an
    address book that cannot be read at all raises :class:`SourceUnavailable`. ``known`` answers which
    card and group ids the store holds for a resource.
    """

    @abstractmethod
    def pull(self, cursors: Mapping[str, str], known: KnownIds) -> Iterator[CardBatch]: ...


@dataclasses.dataclass(slots=True)
class FollowupEvent:
    """One follow-up as a target stores it.

    ``key`` is syncd's tag value: stable for one person and cycle, so a retried create is recognised.
    ``planned_start`` is where syncd put it; when ``start`` differs, the user moved it (a snooze).
    """

    key: str
    person: str  # the person's key (their primary address)
    start: datetime  # aware
    duration_minutes: int
    title: str
    description: str
    reminder_minutes: int
    planned_start: datetime | None = None


class CalendarTarget(Connector, ABC):
    """A calendar syncd writes follow-ups into. It lists and touches only events with syncd's tag.

    Built like a :class:`Source`: a name (the account's, or the provider's for a file), its settings
    (``calendar_name`` among them) and the account's secret slot. ``list_own`` returns the tagged
    events as they are now (user moves included); ``create`` of a key that already exists must not
    make a second event; ``delete`` of a key already gone is not an error. ``commit`` makes the changes
    durable: a file target writes its file atomically there, the Outlook target sends its writes there in
    batches; until then a change may not have reached the calendar.
    """

    memory: PlaceMemory | None = None

    @abstractmethod
    def list_own(self) -> list[FollowupEvent]: ...

    @abstractmethod
    def create(self, event: FollowupEvent) -> None: ...

    @abstractmethod
    def update(self, event: FollowupEvent) -> None: ...

    @abstractmethod
    def delete(self, key: str) -> None: ...

    @abstractmethod
    def where(self) -> str | None:
        """The calendar ``list_own`` read, as a name that stays the same across runs (a file's path, a
        calendar's id or URL); None when there is none yet (no file, the dedicated calendar not made or
        deleted), so nothing syncd wrote before is in it. Asked after ``list_own`` and after ``commit``."""

    def commit(self) -> None:
        """Make the changes so far durable."""

    def use_memory(self, memory: PlaceMemory) -> None:
        """Where the target may keep what it found across runs; the reconciler hands it the store's before
        ``list_own``. A target that never looks for its calendar ignores it."""
        self.memory = memory


@runtime_checkable
class Login(Protocol):
    """What a provider that logs in offers ``syncd auth`` (a module with these three functions).

    Each returns or describes who is logged in, in words; none ever returns or prints the secret itself.
    """

    def login(
        self, account: str, settings: Mapping[str, Any], slot: SecretSlot, *, no_browser: bool, port: int,
        paste: bool, echo: Callable[[str], None],
    ) -> str: ...

    def import_secret(self, account: str, settings: Mapping[str, Any], slot: SecretSlot, text: str) -> str: ...

    def describe(self, text: str | None) -> str: ...


@dataclasses.dataclass(frozen=True)
class Provider:
    """One provider, declared once in its package's ``__init__`` and listed in the registry (``connectors``).

    syncd builds everything provider-specific from this: the configuration's keys and JSON Schema for
    ``provider = "<name>"`` accounts, the pull (the source and the address book, and a secret slot when the
    provider logs in),
    the follow-ups target, and ``syncd auth``. Classes and modules are named as strings and imported
    only when used, so an account's heavy client library loads only when that account is read.
    """

    name: str  # ``provider = "..."`` in the configuration
    keys: tuple[Key, ...]  # its own settings, beside the ones every account has (path, me, enabled, interval)
    source: str | None  # "module:Class" of its :class:`Source`; None for a provider of address books only
    target: str | None = None  # "module:Class" of its :class:`CalendarTarget`, when it can hold follow-ups
    # "module:Class" of its :class:`AddressBook`, when it reads the user's contacts, and the boolean setting
    # that switches it on (None: always on), so no one is asked for a permission they did not want.
    address_book: str | None = None
    address_book_switch: str | None = None
    login: str | None = None  # the module implementing :class:`Login`, when its accounts log in
    revoke_page: str | None = None  # where the user withdraws syncd's access, said on logout
    reads_path: bool = False  # its accounts are local files or folders: ``path`` is required
    # The owner addresses its sources yield are guessed from sent folders (IMAP), not reported by the server.
    guesses_owner: bool = False

    @property
    def needs_secret(self) -> bool:
        """Whether its accounts keep a secret (a token) in syncd's token store."""
        return self.login is not None

    @property
    def reports_owner(self) -> bool:
        """Whether the owner addresses its sources yield are facts from the server (a profile, aliases)."""
        return self.needs_secret and not self.guesses_owner
