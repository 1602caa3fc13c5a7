"""Finding a person from what the user typed: an address, or an unambiguous part of a name or address."""

from __future__ import annotations

from datetime import UTC, datetime

from connectors.addresses import normalise
from syncd.config import Config
from syncd.engine.persons import Persons
from syncd.engine.refresh import people
from syncd.errors import UsageError
from syncd.store import Store


def resolve(store: Store, config: Config, text: str) -> str:
    """An address, or an unambiguous part of a name or address → the person's key."""
    persons = Persons(store, config)
    address = normalise(text)
    if address is not None:
        known = (
            store.contacts.knows(address) or store.decisions.has_settings(address)
            or store.synced.has_participant(address) or store.cards.knows(address)
        )
        configured = any(address in p.addresses for p in config.people)
        if known or configured or address in persons.links:
            return persons.key(address)
        raise UsageError(f"nobody with the address {address} is known yet (has it been pulled?)")
    needle = text.strip().lower()
    if not needle:
        raise UsageError("name a person: an address or part of their name")
    candidates: dict[str, str] = {}
    for status in people(store, config, datetime.now(UTC)):
        if any(needle in item for item in (status.name.lower(), *status.addresses)):
            candidates[status.key] = status.name
    exact = {k: n for k, n in candidates.items() if n.lower() == needle}
    if len(exact) == 1:
        return next(iter(exact))
    if len(candidates) == 1:
        return next(iter(candidates))
    if not candidates:
        raise UsageError(f"nobody matches '{text}' (try an address, or 'syncd people --all')")
    listed = "; ".join(f"{name} <{key}>" for key, name in sorted(candidates.items())[:10])
    more = f" and {len(candidates) - 10} more" if len(candidates) > 10 else ""
    raise UsageError(f"'{text}' matches several people: {listed}{more}; be more precise")
