"""Who is who: which addresses are one person (docs/rules.md#merges; the owner's: ``syncd.engine.owners``).

An address belongs to a person by, first match wins: the user's merges (``syncd merge``), the
configuration's ``[[people]]`` entries (their first address is the person's key), then — only when
``engine.provider_equivalences`` is on — Gmail's equivalences (dots and ``+tag`` ignored, googlemail.com =
gmail.com). Everything else is a person of its own, keyed by the address.
"""

from __future__ import annotations

from connectors.addresses import provider_equivalent
from syncd.config import Config
from syncd.store import Store


class Persons:
    """Address → person key: user merges first, then ``[[people]]`` in the config, then equivalences."""

    def __init__(self, store: Store, config: Config) -> None:
        self.links = store.decisions.links()
        self.configured: dict[str, str] = {}
        for person in config.people:
            for address in person.addresses:
                self.configured.setdefault(address, person.addresses[0])
        self.equivalences = config.engine.provider_equivalences

    def key(self, address: str) -> str:
        seen = set()
        key = address
        while key not in seen:  # follow merge chains (A merged into B merged into C)
            seen.add(key)
            nxt = self.links.get(key) or self.configured.get(key)
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
        if self.equivalences:
            # Only Gmail addresses have equivalents; a walk over the distinct addresses, not every contact.
            linked |= {a for a in store.contacts.addresses() if provider_equivalent(a) != a}
        found = {a: self.key(a) for a in linked}
        return {a: k for a, k in found.items() if k != a}
