"""Who can be a person, and from when: the engine's half of docs/rules.md#qualifying-contact.

A contact is mail the owner sent to P, mail P sent the owner (not bulk), or a meeting both attended; only
contacts move "last contact". The owner's own addresses, role addresses (``noreply@``, ``postmaster@``,
...), the blocklist and unsubscribe requests are never people. Timestamps before 1990 are never contacts;
both those and mail more than a day ahead of the clock are implausible and counted. A booked meeting or
mail dated ahead of the clock becomes a contact once its time has come. The set-based statements that
apply these decisions to every interaction at once are the store's (:mod:`syncd.store.contacts`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

from connectors.addresses import is_role, matches_any
from syncd.config import EngineConfig
from syncd.store import Store
from syncd.store.contacts import Criteria, DeriveStats

# The version of the rules that make contacts: this module's tests and constants, role addresses
# (connectors/addresses.py) and the store's statements (syncd.store.contacts). Part of what the derived contacts
# are fingerprinted with (syncd.engine.refresh), so a release that changes any of them derives them again.
RULES_VERSION = 1
PLAUSIBLE_FROM = datetime(1990, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=1)
# The message a mail client sends when you click "unsubscribe" is not a contact.
UNSUBSCRIBE_PREFIXES = ("unsubscribe", "leave-", "optout", "opt-out")


def person_test(owners: frozenset[str], engine: EngineConfig) -> Callable[[str], bool]:
    """Whether an address can be a person: not the owner's, no role address, not blocklisted, no
    unsubscribe request. The same test keeps the owner's own address-book card from becoming a person."""
    blocklist = engine.blocklist

    def is_person(address: str) -> bool:
        return (
            address not in owners
            and not is_role(address)
            and not (blocklist and matches_any(address, blocklist))
            and not address.partition("@")[0].startswith(UNSUBSCRIBE_PREFIXES)
        )

    return is_person


def criteria(owners: frozenset[str], engine: EngineConfig, now: datetime) -> Criteria:
    return Criteria(
        owners=owners, is_person=person_test(owners, engine), max_recipients=engine.max_recipients,
        max_attendees=engine.max_attendees, earliest=int(PLAUSIBLE_FROM.timestamp()),
        latest_mail=int((now + FUTURE_SLACK).timestamp()),
    )


def derive(
    store: Store, owners: frozenset[str], engine: EngineConfig, now: datetime, interaction_ids: Iterable[int] | None
) -> tuple[set[str], DeriveStats]:
    """Qualifying contacts of the given interactions (all when None); the addresses whose contacts changed."""
    return store.contacts.derive(criteria(owners, engine, now), interaction_ids)
