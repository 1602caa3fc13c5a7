"""What a source may ask the store (:class:`connectors.base.KnownIds`), answered by a real store in tests."""

from __future__ import annotations

from syncd.store import Store


class StoreKnown:
    def __init__(self, store: Store, account: str = "acct") -> None:
        self.store = store
        self.account = account

    def known_ids(self, resource: str) -> set[str]:
        return self.store.known_ids(self.account, resource)
