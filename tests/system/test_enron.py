"""On the real Enron corpus (docs/testing.md#the-enron-corpus; skipped when absent): every message accounted for, and the
relationships and last-contact times agree with an independent computation from the raw files."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from syncd import engine
from syncd.config import AccountConfig, Config
from syncd.pull import pull_account
from syncd.store import Store
from tests.support import enron
from tests.support.paths import ENRON_TARBALL

TARBALL = ENRON_TARBALL
MESSAGE_LEVEL = ("no From or recipients", "unreadable file", "unparseable headers")
AS_OF = datetime(2002, 12, 31, 23, 59, 59, tzinfo=UTC)

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not TARBALL.exists(), reason="the shared Enron corpus is absent")]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return enron.extract(tmp_path_factory.mktemp("enron"))


def _files(folder: Path) -> Iterator[Path]:
    return (p for p in folder.rglob("*") if p.is_file())


def test_every_message_of_the_ten_mailboxes_is_accounted_for(corpus: Path) -> None:
    store = Store(":memory:")
    total_files = total_stored = 0
    for mailbox in sorted(corpus.iterdir()):
        summary = pull_account(store, AccountConfig(mailbox.name, "maildir", mailbox, (), True, {}))
        assert summary.error is None
        files = sum(1 for _ in _files(mailbox))
        stored = store.db.execute("SELECT COUNT(*) FROM sightings WHERE account = ?", (mailbox.name,)).fetchone()[0]
        skipped = sum(count for reason, count in summary.skipped.items() if reason in MESSAGE_LEVEL)
        assert stored + skipped == files, f"{mailbox.name}: {files} files, {stored} stored, {skipped} skipped"
        total_files += files
        total_stored += stored
    assert total_files == 14378
    assert total_stored > 14000


# ---- an independent computation of the rules, straight from the raw files (tests/support/enron.py) -----


def _independent(mailbox: Path, owner: str) -> dict[str, tuple[datetime, bool]]:
    """person -> (last qualifying contact, has an outbound contact), from docs/rules.md#qualifying-contact."""
    messages = enron.read(mailbox)
    found = enron.contacts(messages, enron.owner_addresses(messages, owner), AS_OF)
    return {p: (found.last(p), p in found.last_out) for p in found.days}


@pytest.mark.parametrize(("user", "owner"), [("scholtes-d", "diana.scholtes@enron.com"),
                                             ("mckay-b", "brad.mckay@enron.com")])
def test_relationships_and_last_contact_match_an_independent_computation(corpus: Path, user: str, owner: str) -> None:
    store = Store(":memory:")
    account = AccountConfig(user, "maildir", corpus / user, (owner,), True, {})
    config = Config(accounts={user: account})
    pull_account(store, account)
    engine.refresh(store, config, datetime.now(UTC))
    found = {s.key: s for s in engine.people(store, config, AS_OF, historical=True)}
    expected = _independent(corpus / user, owner)
    relationships = {p for p, (_, out) in expected.items() if out}
    assert {k for k, s in found.items() if s.relationship} == relationships
    for person in relationships:
        status = found[person]
        assert status.last_contact is not None
        assert status.last_contact.at == expected[person][0], person
    assert len(relationships) > 20
