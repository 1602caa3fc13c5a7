"""Which addresses are you, and why (docs/rules.md#owner-addresses).

* every account's ``me``;
* what an online provider reports (the profile's address and its aliases): facts, kept as reported;
* for a local archive without ``me``: the most common sender of its folders named like "sent" — a
  guess, dropped entirely once you set ``me`` for that account;
* variants of any of these, found in the mail itself:
  - the same domain and the same local part but for ``.``, ``_`` and ``-``
    (``diana_scholtes@`` beside ``diana.scholtes@``);
  - an address named with your own display name (the name your own mail's From carries, two words at
    least): your other mailboxes, whether they send (``Brad McKay <bmckay@...>``) or are written to.

Variants are the same person as you: never people to remind, and the mail they send counts as yours.
"""

from __future__ import annotations

import dataclasses
import re

import connectors
from connectors.addresses import normalise
from connectors.displaynames import name_words
from syncd.config import Config
from syncd.store import Store

_PUNCTUATION = re.compile(r"[._-]")


@dataclasses.dataclass(frozen=True)
class Owners:
    why: dict[str, str]  # address -> why it counts as you, in words

    @property
    def addresses(self) -> frozenset[str]:
        return frozenset(self.why)

    @property
    def variants(self) -> dict[str, str]:
        return {a: w for a, w in self.why.items() if w.startswith("variant")}


def same_but_punctuation(candidate: str, owner: str) -> bool:
    """Same domain, local parts equal once ``.``, ``_`` and ``-`` are removed."""
    local, _, domain = candidate.partition("@")
    owner_local, _, owner_domain = owner.partition("@")
    return (candidate != owner and domain == owner_domain
            and _PUNCTUATION.sub("", local) == _PUNCTUATION.sub("", owner_local))


def _reported(provider: str) -> bool:
    """Whether the provider reports the owner's addresses itself (rather than syncd guessing them)."""
    known = connectors.PROVIDERS.get(provider)
    return known is not None and known.reports_owner


def find(store: Store, config: Config) -> Owners:
    """Every owner address with its reason (configured, reported, guessed, or a variant of one)."""
    found: dict[str, str] = {}
    for name, account in config.accounts.items():
        for raw in account.me:
            address = normalise(raw)
            if address:
                found.setdefault(address, f"'me' of account {name}")
    for record in store.accounts.records():
        configured = config.accounts.get(record.name)
        if configured is not None and configured.me and not _reported(record.provider):
            continue  # a `me` you set replaces the guess entirely
        why = ("reported by the provider" if _reported(record.provider)
               else "guessed: the most common sender in its sent folders")
        for address in record.owner_addresses:
            found.setdefault(address, f"{why} (account {record.name})")
    found.update(_variants(store, found))
    return Owners(found)


def _variants(store: Store, owners: dict[str, str]) -> dict[str, str]:
    variants: dict[str, str] = {}
    for owner in sorted(owners):
        # Every spelling starts with the owner's first local word: a range of the address index.
        for candidate in store.synced.addresses_from(re.split(r"[._-]", owner)[0]):
            if candidate not in owners and same_but_punctuation(candidate, owner):
                variants.setdefault(candidate, f"variant of {owner}: the same local part but for . _ -")
    own_names = sorted(n for n in store.synced.self_names(owners) if len(name_words(n)) >= 2)  # "Me" is no name
    for name in own_names:
        for candidate in sorted(store.synced.addresses_named(name, limit=100)):
            if candidate not in owners and candidate not in variants:
                variants[candidate] = f"variant: mail names it '{name}', the name your own mail gives you"
    return variants
