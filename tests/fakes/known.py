"""A source or an address book pulled into a real store, as syncd.pull does, and what they may ask that
store (:class:`connectors.base.KnownIds` and ``RateMemory``)."""

from __future__ import annotations

from collections.abc import Mapping

from connectors.base import AddressBook, Batch, CardBatch, Source
from syncd.pull import StoreView
from syncd.store import Store


class StoreKnown(StoreView):
    """The ids the store holds per resource: of interactions, or (``cards=True``) of cards and groups."""

    def __init__(self, store: Store, account: str = "acct", *, cards: bool = False) -> None:
        super().__init__(store, store.cards if cards else store.synced, account)


def pull_into(
    store: Store, source: Source, account: str = "acct", *, cursors: Mapping[str, str] | None = None,
    stop_after: int | None = None,
) -> list[Batch]:
    """What syncd.pull does with a source: every batch committed with its cursor; ``stop_after`` kills the
    pull after that many batches."""
    batches: list[Batch] = []
    for batch in source.pull(store.synced.cursors(account) if cursors is None else cursors, StoreKnown(store, account)):
        store.synced.apply_batch(account, batch)
        batches.append(batch)
        if stop_after is not None and len(batches) >= stop_after:
            break
    return batches


def pull_cards_into(
    store: Store, book: AddressBook, account: str = "acct", *, stop_after: int | None = None
) -> list[CardBatch]:
    """What syncd.pull does with an address book: every batch committed with its cursor."""
    batches: list[CardBatch] = []
    for batch in book.pull(store.synced.cursors(account), StoreKnown(store, account, cards=True)):
        store.cards.apply_batch(account, batch)
        batches.append(batch)
        if stop_after is not None and len(batches) >= stop_after:
            break
    return batches
