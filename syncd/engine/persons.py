"""Who is who: which addresses are one person (docs/rules.md#merges; the owner's: ``syncd.engine.owners``).

An address belongs to a person by, first match wins: the user's merges (``syncd merge``), the
configuration's ``[[people]]`` entries (their first address is the person's key), the user's address
books (a card is the user's own merge of its addresses, less those ``syncd unmerge`` took out of it), then
— only when ``engine.provider_equivalences`` is on — Gmail's equivalences (dots and ``+tag`` ignored,
googlemail.com = gmail.com). Everything else is a person of its own, keyed by the address.

Cards that share an address are one person (the same friend in two address books). Its key is the first
address of the earliest-read card, so a card added later, or another card's order, never renames it. The
owner's own card, role addresses and the blocklist make no person.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from connectors.addresses import provider_equivalent
from syncd.config import Config
from syncd.engine import owners
from syncd.engine.qualifying import person_test
from syncd.store import Store


def card_links(cards: Iterable[list[str]], splits: set[str], is_person: Callable[[str], bool]) -> dict[str, str]:
    """Address → the key of the person the address-book cards make of it (addresses alone on theirs left out).

    ``cards`` are each card's addresses, the earliest-read card first; cards sharing an address are joined.
    """
    root: dict[str, str] = {}
    order: dict[str, int] = {}  # a root's earliest card

    def find(address: str) -> str:
        while root[address] != address:
            root[address] = root[root[address]]
            address = root[address]
        return address

    for index, addresses in enumerate(cards):
        kept = [a for a in addresses if a not in splits and is_person(a)]
        for address in kept:
            if address not in root:
                root[address], order[address] = address, index
        for address in kept[1:]:
            first, other = find(kept[0]), find(address)
            if first != other:
                winner, loser = (first, other) if order[first] <= order[other] else (other, first)
                root[loser] = winner
    return {address: key for address in root if (key := find(address)) != address}


class Persons:
    """Address → person key: user merges, ``[[people]]`` in the config, address-book cards, equivalences."""

    def __init__(self, store: Store, config: Config, you: owners.Owners | None = None) -> None:
        self.links = store.decisions.links()
        self.configured: dict[str, str] = {}
        for person in config.people:
            for address in person.addresses:
                self.configured.setdefault(address, person.addresses[0])
        # The owner's own card and role addresses make no person (``you``: the owners, when already found).
        self.is_person = person_test((you or owners.find(store, config)).addresses, config.engine)
        self.carded = card_links(store.cards.address_lists(), store.decisions.splits(), self.is_person)
        self.equivalences = config.engine.provider_equivalences

    def key(self, address: str) -> str:
        seen = set()
        key = address
        while key not in seen:  # follow merge chains (A merged into B merged into C)
            seen.add(key)
            nxt = self.links.get(key) or self.configured.get(key) or self.carded.get(key)
            if nxt is None and self.equivalences:
                nxt = provider_equivalent(key)
            if nxt is None or nxt == key:
                break
            key = nxt
        return key

    def belonging(self, store: Store, config: Config) -> dict[str, str]:
        """Every address that belongs to a person other than itself → that person's key."""
        links = store.decisions.links()
        linked = set(links) | set(links.values())
        linked |= {a for person in config.people for a in person.addresses}
        linked |= set(store.decisions.settings())  # listed without contact
        linked |= set(self.carded)
        if self.equivalences:
            # Only Gmail addresses have equivalents; a walk over the distinct addresses, not every contact.
            linked |= {a for a in store.contacts.addresses() if provider_equivalent(a) != a}
        found = {a: self.key(a) for a in linked}
        return {a: k for a, k in found.items() if k != a}
