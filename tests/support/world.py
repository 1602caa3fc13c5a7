"""Building interactions and a store for the engine's tests: everything goes through the store's
``apply_batch``, as a real pull would, so the tests exercise the same rows the engine sees in production."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from connectors.base import Batch, Birthday, Card, CardBatch, CardGroup, Interaction, Participant, Response
from syncd import engine
from syncd.config import AccountConfig, Config, EngineConfig, PersonConfig, TierConfig, parse_config
from syncd.engine.status import PersonStatus
from syncd.store import Store

ME = "me@example.com"
NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
_ids = itertools.count(1)


def ago(days: float, now: datetime = NOW) -> datetime:
    return (now - timedelta(days=days)).replace(microsecond=0)


def ahead(days: float, now: datetime = NOW) -> datetime:
    return (now + timedelta(days=days)).replace(microsecond=0)


def mail(
    sender: str,
    to: Sequence[str],
    when: datetime | None,
    *,
    cc: Sequence[str] = (),
    bcc: Sequence[str] = (),
    bulk: str | None = None,
    count: int | None = None,
    subject: str = "hello",
    name: str = "",
    names: Mapping[str, str] | None = None,
    pid: str | None = None,
) -> Interaction:
    """One message; ``name`` is the sender's display name, ``names`` anyone's (address → name)."""
    n = next(_ids)
    display = {sender: name, **(names or {})} if name else dict(names or {})
    people = [Participant(sender, display.get(sender, ""), "from")]
    people += [Participant(a, display.get(a, ""), "to") for a in to]
    people += [Participant(a, display.get(a, ""), "cc") for a in cc]
    people += [Participant(a, display.get(a, ""), "bcc") for a in bcc]
    return Interaction(
        pid or f"m{n}", "mail", when, people, message_id=f"m{n}@test", subject=subject, bulk=bulk,
        recipient_count=count,
    )


def meeting(
    attendees: Sequence[str | tuple[str, str | None]],
    when: datetime,
    *,
    organizer: str = ME,
    cancelled: bool = False,
    series: str | None = None,
    owner_response: Response | None = None,
    subject: str = "Meeting",
    pid: str | None = None,
) -> Interaction:
    n = next(_ids)
    people = [Participant(organizer, "", "organizer")]
    for entry in attendees:
        address, response = (entry, None) if isinstance(entry, str) else entry
        people.append(Participant(address, "", "attendee", cast(Response | None, response)))
    return Interaction(
        pid or f"e{n}", "event", when, people, subject=subject, cancelled=cancelled, series_id=series,
        owner_response=owner_response, end=when + timedelta(hours=1),
    )


def card(
    provider_id: str, *emails: str, name: str = "", groups: Sequence[str] = (), organisation: str | None = None,
    birthday: Birthday | None = None, memberships: Sequence[str] = (), uid: str | None = None,
) -> Card:
    """An address-book card, as a connector hands it over."""
    return Card(provider_id, name, list(emails), organisation, list(groups), list(memberships), uid, birthday)


def config(
    *,
    tiers: Sequence[TierConfig] = (),
    people: Sequence[PersonConfig] = (),
    me: Sequence[str] = (),
    **engine_settings: Any,
) -> Config:
    account = AccountConfig("a", "maildir", None, tuple(me), True, {})
    # These tests are about the rules of a warm relationship, so every relationship is kept warm unless
    # a test says otherwise (the small network has its own tests: tests/unit/test_network.py).
    settings = {"warm_min_days": 0, **engine_settings}
    return Config(accounts={"a": account}, engine=EngineConfig(**settings), tiers=tuple(tiers), people=tuple(people))


class World:
    """One in-memory store with one account ("a") whose owner is ``ME`` (as the provider reported it).

    The configuration is ``cfg``, or the TOML tables given as keywords (``World(engine={"max_every": "60d"})``),
    or the defaults.
    """

    def __init__(self, cfg: Config | None = None, owners: Sequence[str] = (ME,), **toml: Any) -> None:
        self.store = Store(":memory:")
        self.store.accounts.ensure("a", "maildir")
        self.store.accounts.set_owner_addresses("a", owners)
        if toml:  # every relationship warm here too, unless the test's [engine] says otherwise
            toml = {**toml, "engine": {"warm_min_days": 0, **toml.get("engine", {})}}
        self.config = cfg or (parse_config({"accounts": {}, **toml}) if toml else config())

    def with_config(self, **changes: Any) -> World:
        self.config = dataclasses.replace(self.config, **changes)
        return self

    def add(self, *items: Interaction, resource: str = "inbox", full: bool = False) -> World:
        self.store.synced.apply_batch("a", Batch(resource, "c", list(items), full=full, complete=full))
        return self

    def book(
        self, *items: Card | CardGroup, account: str = "book", resource: str = "book.vcf", full: bool = True,
        deleted: Sequence[str] = (), seen: datetime = NOW,
    ) -> World:
        """An address book's batch, applied as a pull would; by default the whole book (a full sync of
        ``resource``, so a card left out is gone). ``seen`` is when a new card counts as first read."""
        self.store.accounts.ensure(account, "vcard")
        batch = CardBatch(resource, "c", [c for c in items if isinstance(c, Card)],
                          [g for g in items if isinstance(g, CardGroup)], list(deleted), full=full, complete=full)
        self.store.cards.apply_batch(account, batch, now=seen)
        return self

    def refresh(self, now: datetime = NOW) -> engine.RefreshStats:
        return engine.refresh(self.store, self.config, now)

    def people(self, now: datetime = NOW) -> dict[str, PersonStatus]:
        self.refresh(now)
        return {s.key: s for s in engine.people(self.store, self.config, now)}

    def person(self, key: str, now: datetime = NOW) -> PersonStatus:
        return self.people(now)[key]

    def iid(self, provider_id: str) -> int:
        """The interaction id the store gave the item with this provider id."""
        row = self.store.db.execute(
            "SELECT interaction_id FROM sightings WHERE account = 'a' AND provider_id = ?", (provider_id,)
        ).fetchone()
        return int(row[0])

    def full(self, now: datetime = NOW) -> dict[str, PersonStatus]:
        engine.recompute(self.store, self.config, now)
        return {s.key: s for s in engine.people(self.store, self.config, now)}


def contacted(world: World, key: str) -> bool:
    """Whether any qualifying contact with ``key`` exists (the person is listed with a last contact)."""
    person = world.people().get(key)
    return person is not None and person.last_contact is not None
