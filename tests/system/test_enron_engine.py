"""The engine on real mail: one Enron mailbox, pulled through the maildir connector, against an independent
reading of the raw files with the standard library's ``email`` package (docs/rules.md#qualifying-contact,
coded from scratch in ``tests/support/enron.py``, sharing nothing with syncd).

Skipped when the Enron corpus (docs/testing.md#the-enron-corpus) or the maildir connector is not available.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from syncd import engine
from syncd.config import AccountConfig, Config
from syncd.store import Store
from tests.support import enron
from tests.support.paths import SHARED_DATA

DATA = SHARED_DATA
TARBALL = DATA / "enron-maildir-10.tar.gz"
maildir = pytest.importorskip("connectors.local.maildir", reason="the maildir connector is not there yet")

pytestmark = pytest.mark.skipif(not TARBALL.exists(), reason="the shared Enron corpus is absent")

MAILBOXES = [("scholtes-d", "diana.scholtes@enron.com"), ("cuilla-m", "martin.cuilla@enron.com")]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return enron.extract(tmp_path_factory.mktemp("enron"), (user for user, _ in MAILBOXES))


# ---- the independent reading (tests/support/enron.py) ------------------------------------------------


def independent(mailbox: Path, owner: str, as_of: datetime) -> dict[str, dict[str, datetime]]:
    """address -> {"outbound"/"inbound": latest qualifying time} for one mailbox, as of a day."""
    messages = enron.read(mailbox)
    found = enron.contacts(messages, enron.owner_addresses(messages, owner), as_of)
    out: dict[str, dict[str, datetime]] = {}
    for kind, last in (("outbound", found.last_out), ("inbound", found.last_in)):
        for person, when in last.items():
            out.setdefault(person, {})[kind] = when
    return out


# ---- the comparison -----------------------------------------------------------------------------------


def pull(store: Store, mailbox: Path, user: str, owner: str) -> Config:
    account = AccountConfig(user, "maildir", mailbox, (owner,), True, {})
    store.accounts.ensure(user, "maildir")
    source = maildir.MaildirSource(user, {"path": mailbox, "me": (owner,)})

    class Known:
        def known_ids(self, resource: str) -> set[str]:
            return store.synced.known_ids(user, resource)

    for batch in source.pull(cursors={}, known=Known()):
        store.synced.apply_batch(user, batch)
    return Config(accounts={user: account})


@pytest.mark.parametrize(("user", "owner"), MAILBOXES)
@pytest.mark.parametrize("cutoff", [datetime(2001, 10, 1, tzinfo=UTC), datetime(2002, 12, 31, 23, 59, 59, tzinfo=UTC)])
def test_relationships_and_last_contacts_match_the_raw_files(
    corpus: Path, user: str, owner: str, cutoff: datetime
) -> None:
    store = Store(":memory:")
    config = pull(store, corpus / user, user, owner)
    stats = engine.refresh(store, config, datetime.now(UTC))
    assert stats.full and stats.interactions > 300
    assert stats.implausible >= 0
    found = {s.key: s for s in engine.people(store, config, cutoff, historical=True)}
    expected = independent(corpus / user, owner, cutoff)

    relationships = {p for p, kinds in expected.items() if "outbound" in kinds}
    assert {k for k, s in found.items() if s.relationship} == relationships
    assert set(found) == set(expected)  # everyone with a qualifying contact, relationship or not
    for person, kinds in expected.items():
        status = found[person]
        assert (status.last_outbound.at if status.last_outbound else None) == kinds.get("outbound"), person
        assert (status.last_inbound.at if status.last_inbound else None) == kinds.get("inbound"), person
        assert status.last_contact is not None and status.last_contact.at == max(kinds.values()), person
        assert status.last_meeting is None
    assert len(relationships) > 10


def test_the_cached_standing_equals_the_as_of_computation_at_the_same_time(corpus: Path) -> None:
    user, owner = MAILBOXES[0]
    store = Store(":memory:")
    config = pull(store, corpus / user, user, owner)
    now = datetime(2002, 6, 1, tzinfo=UTC)
    # The cache at "now" also ignores later mail for last contact (only the implausibility bound and
    # booked meetings differ, and a mail archive has no meetings).
    engine.recompute(store, config, now)
    cached = engine.people(store, config, now)
    fresh = engine.people(store, config, now, historical=True)
    assert [(s.key, s.last_contact, s.due, s.remind) for s in cached] == [
        (s.key, s.last_contact, s.due, s.remind) for s in fresh
    ]
    assert any(s.remind for s in cached)
