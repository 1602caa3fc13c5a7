"""Sources → store: pull every configured account and account for every item.

The only place that drives a :class:`connectors.base.Source` and an :class:`connectors.base.AddressBook`
(an account may have both: a Google account's mail and calendars, then its contacts). Each batch is
committed with its cursor, so a pull killed at any point resumes from the last whole batch. A broken item
is skipped and named in the summary; a resource whose cursor expired is resynced from scratch; a whole
source that cannot be read fails alone and the other accounts go on.
"""

from __future__ import annotations

import dataclasses
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol, TypeVar

from connectors.base import (
    AuthRequired,
    Batch,
    CardBatch,
    ConnectorError,
    CursorExpired,
    KnownIds,
    Skip,
    SourceUnavailable,
)
from syncd.accounts import open_address_book, open_source, provider_of, reads_contacts
from syncd.config import AccountConfig, Config
from syncd.errors import SyncdError
from syncd.store import Store, is_database_error, utc_now_iso
from syncd.store.bytenames import shown

# A resource whose cursor keeps expiring is not resynced forever within one pull.
MAX_RESYNCS = 3
EXAMPLES_PER_REASON = 3


@dataclasses.dataclass
class AccountSummary:
    account: str
    new: int = 0  # interactions stored for the first time
    seen: int = 0  # interactions the source yielded
    cards: int = 0  # address-book cards and groups read
    cards_changed: int = 0  # of them new, changed or gone
    deleted: int = 0  # provider ids reported gone
    skipped: Counter[str] = dataclasses.field(default_factory=Counter)
    examples: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    items: list[tuple[str, str]] = dataclasses.field(default_factory=list)  # (reason, item) of every skip, for -v
    resynced: list[str] = dataclasses.field(default_factory=list)
    owner_guess: list[str] = dataclasses.field(default_factory=list)
    coverage: dict[str, str] = dataclasses.field(default_factory=dict)  # resource → "complete back to ..."
    error: str | None = None
    needs_login: bool = False  # the error is a missing, revoked or expired login
    internal: str | None = None  # the traceback of a bug that stopped this account (the others went on)
    seconds: float = 0.0
    stopped: bool = False

    @property
    def failed(self) -> bool:
        return self.error is not None

    def add(self, batch: Batch, added: int) -> None:
        self.new += added
        self.seen += len(batch.interactions)
        self.deleted += len(batch.deleted)
        if batch.coverage:
            self.coverage[batch.resource] = batch.coverage
        elif batch.resource in self.coverage and batch.cursor is not None:
            del self.coverage[batch.resource]  # the source stopped qualifying it: complete now
        self._skips(batch.skipped)

    def _skips(self, skipped: list[Skip]) -> None:
        for skip in skipped:
            reason = skip.why.split(":", 1)[0]
            self.skipped[reason] += 1
            line = shown(f"{skip.what}: {skip.why}")
            self.items.append((reason, line))
            examples = self.examples.setdefault(reason, [])
            if len(examples) < EXAMPLES_PER_REASON:
                examples.append(line)

    def add_cards(self, batch: CardBatch, changed: int) -> None:
        self.cards += len(batch.cards) + len(batch.groups)
        self.cards_changed += changed
        self.deleted += len(batch.deleted)
        self._skips(batch.skipped)

    def as_json(self) -> dict[str, Any]:
        return {
            "new": self.new,
            "seen": self.seen,
            "cards": self.cards,
            "cards_changed": self.cards_changed,
            "deleted": self.deleted,
            "skipped": dict(self.skipped),
            "examples": self.examples,
            "resynced": self.resynced,
            "owner_guess": self.owner_guess,
            "coverage": self.coverage,
            "error": self.error,
            "needs_login": self.needs_login,
            "seconds": round(self.seconds, 3),
        }


Progress = Callable[[str, int, int | None], None]  # (account, interactions so far, expected in all)
ShouldStop = Callable[[], bool]  # asked between batches: a stop request ends the pull after a whole batch


class _Table(Protocol):
    """A store table of synced data (``store.synced``, ``store.cards``): it knows the ids each resource holds."""

    def known_ids(self, account: str, resource: str) -> set[str]: ...


class StoreView:
    """What a reader may ask the store about its account: the ids one of its resources holds (interactions,
    or cards: :class:`connectors.base.KnownIds`), and the rate a provider was found to accept (``RateMemory``)."""

    def __init__(self, store: Store, table: _Table, account: str) -> None:
        self.store = store
        self.table = table
        self.account = account

    def known_ids(self, resource: str) -> set[str]:
        return self.table.known_ids(self.account, resource)

    def learned_rate(self, api: str, endpoint: str) -> tuple[float, str] | None:
        return self.store.rates.get(self.account, api, endpoint)

    def remember_rate(self, api: str, endpoint: str, units_per_minute: float, regime: str) -> None:
        self.store.rates.put(self.account, api, endpoint, units_per_minute, regime)


def pull_account(
    store: Store, account: AccountConfig, progress: Progress | None = None, should_stop: ShouldStop | None = None
) -> AccountSummary:
    """Pull one account into the store and record how it went; never raises for what the source reports."""
    summary = AccountSummary(account.name)
    started = time.monotonic()
    store.accounts.ensure(account.name, account.provider)
    number = store.accounts.begin_pull(account.name)
    try:
        _pull_readers(store, account, summary, number, progress, should_stop)
    except AuthRequired as exc:
        summary.error = str(exc)
        summary.needs_login = True
    except (SourceUnavailable, ConnectorError, SyncdError) as exc:  # SyncdError: the token store
        summary.error = str(exc)
    except OSError as exc:
        summary.error = _unreadable(account, exc)
    except Exception as exc:
        if is_database_error(exc):
            raise  # the state itself: the caller's error boundary says what it means for every account
        # A bug in one account's reading must not cost the other accounts their pull.
        summary.error = f"internal error: {type(exc).__name__}: {shown(str(exc))[:200]}"
        summary.internal = traceback.format_exc()
    summary.seconds = time.monotonic() - started
    summary.error = None if summary.error is None else shown(summary.error)  # a file name may be bytes
    _record(store, account, summary)
    return summary


def _pull_readers(
    store: Store, account: AccountConfig, summary: AccountSummary, number: int, progress: Progress | None,
    should_stop: ShouldStop | None,
) -> None:
    """The account's source, then its address book (an account may have either or both)."""
    if provider_of(account).source is not None:
        source = open_source(account)
        owners = _Owners(store, account, summary)

        def take(batch: Batch) -> None:
            summary.add(batch, store.synced.apply_batch(account.name, batch, number))
            owners.note(batch.owner_addresses)

        known = StoreView(store, store.synced, account.name)
        _drive(store, account.name, source.pull, known, take, summary, progress, should_stop)
    if not summary.stopped and reads_contacts(account):
        book = open_address_book(account)

        def take_cards(batch: CardBatch) -> None:
            summary.add_cards(batch, store.cards.apply_batch(account.name, batch, pull=number))

        known_cards = StoreView(store, store.cards, account.name)
        _drive(store, account.name, book.pull, known_cards, take_cards, summary, progress, should_stop)


B = TypeVar("B", Batch, CardBatch)


def _drive(
    store: Store, account: str, pull: Callable[[Mapping[str, str], KnownIds], Iterator[B]], known: KnownIds,
    take: Callable[[B], None], summary: AccountSummary, progress: Progress | None, should_stop: ShouldStop | None,
) -> None:
    """Run one reader of the account to the end; a resource whose cursor expired is resynced from scratch, a
    few times at most; a stop request ends it after a whole batch (``summary.stopped``)."""
    resyncs: Counter[str] = Counter()
    while True:
        try:
            expected: int | None = None
            for batch in pull(store.synced.cursors(account), known):
                found = getattr(batch, "expected", None)
                expected = found if found is not None else expected
                take(batch)
                if progress is not None:
                    progress(account, summary.seen, expected)
                if should_stop is not None and should_stop():
                    summary.stopped = True  # everything so far is committed; the next pull resumes
                    return
            return
        except CursorExpired as expired:
            resyncs[expired.resource] += 1
            if resyncs[expired.resource] > MAX_RESYNCS:
                raise ConnectorError(f"{expired.resource}: cursor keeps expiring; giving up for now") from None
            store.synced.reset_cursor(account, expired.resource)
            summary.resynced.append(expired.resource)


class _Owners:
    """The owner addresses a source reports, kept as the account's (docs/rules.md#owner-addresses)."""

    def __init__(self, store: Store, account: AccountConfig, summary: AccountSummary) -> None:
        self.store, self.account, self.summary = store, account, summary
        self.reported = store.accounts.owner_addresses(account.name)
        if account.me and self.reported and not provider_of(account).reports_owner:
            # A `me` you set replaces the guess entirely: the stored one is dropped, not added to.
            store.accounts.set_owner_addresses(account.name, [])
            self.reported = []

    def note(self, addresses: list[str]) -> None:
        if not addresses:
            return
        if provider_of(self.account).reports_owner:
            # The provider's profile and aliases: facts, kept whatever `me` says, never "guessed",
            # and only ever added to (mail sent from a former alias was still yours).
            merged = list(dict.fromkeys([*self.reported, *addresses]))
            if merged != self.reported:
                self.reported = merged
                self.store.accounts.set_owner_addresses(self.account.name, merged)
        elif not self.account.me and addresses != self.summary.owner_guess:
            # Guessed from the sent folders of an archive without `me`: said so in the summary.
            self.summary.owner_guess = list(addresses)
            self.store.accounts.set_owner_addresses(self.account.name, addresses)


def _unreadable(account: AccountConfig, exc: OSError) -> str:
    if account.path is None and exc.filename is None:  # an online account: the network, not a file
        return f"the connection to the provider failed ({type(exc).__name__}); syncd tries again later"
    return f"cannot read {exc.filename or account.path}: {exc.strerror or exc}"


def _record(store: Store, account: AccountConfig, summary: AccountSummary) -> None:
    if summary.error is None and not summary.stopped:
        store.accounts.record_pull(account.name, success=utc_now_iso(), summary=summary.as_json())
    elif summary.stopped:
        # Not a complete pull: the last success stays where it was, so the next start catches up.
        store.accounts.record_pull(account.name, summary=summary.as_json())
    else:
        store.accounts.record_pull(account.name, error=summary.error, summary=summary.as_json())


def pull_all(
    store: Store, config: Config, only: str | None = None, progress: Progress | None = None,
    should_stop: ShouldStop | None = None,
) -> list[AccountSummary]:
    summaries = []
    for name, account in config.accounts.items():
        if account.enabled and (only is None or name == only):
            if should_stop is not None and should_stop():
                break
            summaries.append(pull_account(store, account, progress, should_stop))
    return summaries
