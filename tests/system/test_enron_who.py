"""Who lands in the calendar, on the ten Enron mailboxes (docs/testing.md#the-enron-corpus; skipped when absent).

Each mailbox is pulled through the maildir connector and planned at the day after its owner's last sent
mail, into a real .ics target. The reference is computed from the raw files by ``tests/support/enron.py``
(the standard library's ``email`` package, sharing nothing with syncd): who the owner is, which contacts
qualify, how many days and which directions each address has, and which names the raw headers give
each address. Then:

* everyone with ≥ 3 contact days and mail both ways (and not dormant) is reminded;
* one-shot contacts (one contact day, never answered) are ≤ 10 % of the reminded;
* the first 15 follow-ups in the calendar are ≤ 10 % one-shot contacts;
* ≥ 95 % of the relationships the raw headers name are shown by one of those names.

The figures of each mailbox are printed (``pytest -s``).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from connectors.base import FollowupEvent
from syncd import engine
from syncd.accounts import open_target
from syncd.config import AccountConfig, Config, FollowupsConfig
from syncd.engine.due import due_followups
from syncd.engine.status import PersonStatus
from syncd.plan import reconcile
from syncd.plan.occasions import followup_key
from syncd.plan.placement import next_working_day
from syncd.pull import pull_account
from syncd.store import Store
from tests.support import enron as ref
from tests.support.enron import OWNERS
from tests.support.paths import ENRON_TARBALL

DORMANT = timedelta(days=3 * 365)

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not ENRON_TARBALL.exists(), reason="the shared Enron corpus is absent")]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ref.extract(tmp_path_factory.mktemp("enron"))


# ---- the reference, from the raw files (tests/support/enron.py) ----------------------------------


def reference(mailbox: Path, owner: str) -> tuple[datetime, ref.Contacts]:
    """The day after the owner's last sent mail (its end), and the contacts up to then."""
    messages = ref.read(mailbox)
    me = ref.owner_addresses(messages, owner)
    last_sent = max(m.when for m in messages if m.sender in me)
    as_of = datetime.combine(last_sent.date() + timedelta(days=1), time(23, 59, 59), UTC)
    return as_of, ref.contacts(messages, me, as_of)


# ---- syncd, the way a user runs it -------------------------------------------------------------------


def pulled(tmp_path: Path, mailbox: Path, owner: str) -> tuple[Store, Config]:
    store = Store(tmp_path / "state.sqlite3")
    account = AccountConfig(mailbox.name, "maildir", mailbox, (owner,), True, {})
    followups = FollowupsConfig(timezone=ZoneInfo("UTC"), ics_path=tmp_path / "followups.ics")
    config = Config(accounts={mailbox.name: account}, followups=followups)
    assert pull_account(store, account).error is None
    engine.refresh(store, config, datetime.now(UTC))
    return store, config


def plan(store: Store, config: Config, as_of: datetime) -> tuple[dict[str, PersonStatus], list[FollowupEvent]]:
    """One pull's planning as of a day (what ``syncd pull --as-of`` does after pulling), into the .ics."""
    statuses = engine.people(store, config, as_of, historical=True)
    reconcile.reconcile(due_followups(statuses, store, config, as_of), store, open_target(config), as_of,
                        config.followups)
    events = sorted(open_target(config).list_own(), key=lambda e: (e.start, e.key))
    return {s.key: s for s in statuses}, events


def plan_with_syncd(tmp_path: Path, mailbox: Path, owner: str, as_of: datetime) -> tuple[dict, list[str]]:
    people, events = plan(*pulled(tmp_path, mailbox, owner), as_of)
    return people, [event.person for event in events]


@pytest.mark.parametrize("user", sorted(OWNERS))
def test_the_calendar_holds_the_people_the_owner_plainly_corresponded_with(
    corpus: Path, tmp_path: Path, user: str
) -> None:
    as_of, found = reference(corpus / user, OWNERS[user])
    people, calendar = plan_with_syncd(tmp_path, corpus / user, OWNERS[user], as_of)
    reminded = {key for key, status in people.items() if status.remind}
    both_ways = found.inbound & found.outbound
    strong = {a for a in both_ways if len(found.days[a]) >= 3 and as_of - found.last(a) <= DORMANT}
    one_shot = {a for a in found.outbound - found.inbound if len(found.days[a]) == 1}
    named = {a for a in found.outbound if found.names.get(a)}
    shown = {a for a in named if a in people and ref.words(people[a].name) in found.names[a]}
    first = calendar[:15]
    print(f"\n{user} at {as_of.date()}: {len(found.outbound)} relationships, {len(strong)} with >= 3 contact "
          f"days both ways, {len(reminded)} reminded, {len(one_shot & reminded)} of them one-shot "
          f"({len(one_shot & reminded) / max(len(reminded), 1):.0%}); first {len(first)} follow-ups: "
          f"{sum(p in one_shot for p in first)} one-shot; named by the headers {len(named)}, shown by name "
          f"{len(shown)} ({len(shown) / max(len(named), 1):.0%})")
    assert strong - reminded == set(), [(a, people[a].reason if a in people else "unknown") for a in strong - reminded]
    assert len(one_shot & reminded) <= 0.10 * len(reminded)
    assert sum(p in one_shot for p in first) <= 0.10 * len(first)
    assert len(shown) >= 0.95 * len(named), sorted(
        (a, people[a].name if a in people else None, sorted(" ".join(sorted(n)) for n in found.names[a]))
        for a in named - shown
    )[:20]
    assert first, "nothing in the calendar"


def test_a_one_off_for_the_strongest_tie_lands_on_its_day_once(corpus: Path, tmp_path: Path) -> None:
    user = "blair-l"  # the largest mailbox: its first fortnight is full
    as_of, _ = reference(corpus / user, OWNERS[user])
    store, config = pulled(tmp_path, corpus / user, OWNERS[user])
    people, events = plan(store, config, as_of)
    strongest = max((s for s in people.values() if s.remind), key=lambda s: s.strength)
    day = next_working_day(as_of.date() + timedelta(days=3), config.followups)
    assert Counter(e.start.date() for e in events)[day] == config.followups.per_day  # the day is full
    reminder = store.decisions.add_reminder(strongest.key, day, "after the audit")
    for run in range(2):  # the next pull, and one more: it lands once
        _, events = plan(store, config, as_of + timedelta(minutes=run))
    key = followup_key(strongest.key, "reminder", str(reminder), 0)
    landed = [e for e in events if e.key == key]
    assert len(landed) == 1 and landed[0].start.date() == day
    assert Counter(e.start.date() for e in events)[day] == config.followups.per_day + 1  # ahead of the cap
    print(f"\n{user}: one-off for {strongest.name} (strength {strongest.strength:.2f}) lands {landed[0].start}")
