"""A source pulled into a real store, as syncd.pull does, and what a source may ask that store
(:class:`connectors.base.KnownIds`)."""

from __future__ import annotations

from collections.abc import Mapping

from connectors.base import Batch, Source
from syncd.store import Store


class StoreKnown:
    def __init__(self, store: Store, account: str = "acct") -> None:
        self.store = store
        self.account = account

    def known_ids(self, resource: str) -> set[str]:
        return self.store.synced.known_ids(self.account, resource)


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
