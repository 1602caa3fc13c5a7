"""On the real Enron corpus (../shared/data; skipped when absent): every message accounted for, and the
relationships and last-contact times agree with an independent computation from the raw files."""

from __future__ import annotations

import email
import re
import tarfile
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import getaddresses, parsedate_to_datetime
from pathlib import Path

import pytest

from syncd import engine
from syncd.config import AccountConfig, Config
from syncd.pull import pull_account
from syncd.store import Store
from tests.support.paths import ENRON_TARBALL

TARBALL = ENRON_TARBALL
MESSAGE_LEVEL = ("no From or recipients", "unreadable file", "unparseable headers")
AS_OF = datetime(2002, 12, 31, 23, 59, 59, tzinfo=UTC)

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not TARBALL.exists(), reason="the shared Enron corpus is absent")]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("enron")
    with tarfile.open(TARBALL) as archive:
        archive.extractall(root, filter="data")
    return next(root.rglob("maildir"))


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


# ---- an independent computation of the rules, straight from the raw files ---------------------------

ROLE = re.compile(r"^(noreply|no-reply|donotreply|mailer-daemon|postmaster|bounces?|notifications?|newsletter)([+._-]|$)")


def _clean(raw: str) -> str | None:
    address = raw.strip().strip("<>").strip("'\"").lower().lstrip(".")
    if not re.fullmatch(r"[^@\s/]+@[a-z0-9-]+(\.[a-z0-9-]+)+", address):
        return None
    return None if ROLE.match(address.split("@")[0]) else address


def _independent(mailbox: Path, owner: str) -> dict[str, tuple[datetime, bool]]:
    """person -> (last qualifying contact, has an outbound contact), from docs/rules.md#qualifying-contact."""
    last: dict[str, datetime] = {}
    outbound: set[str] = set()
    for path in _files(mailbox):
        message = email.message_from_bytes(path.read_bytes().split(b"\n\n", 1)[0])
        try:
            when = parsedate_to_datetime(message["Date"]).astimezone(UTC)
        except (TypeError, ValueError):
            continue
        if not datetime(1990, 1, 1, tzinfo=UTC) <= when <= AS_OF:
            continue
        senders = [a for a in (_clean(x) for _, x in getaddresses(message.get_all("From", []))) if a]
        recipients = {a for a in (_clean(x) for _, x in getaddresses(message.get_all("To", []) + message.get_all("Cc", []))) if a}
        # Every entry counts against the cap, unusable ones (X.500 paths) included.
        raw_recipients = {x.strip().strip("<>").strip("'\"").lower().lstrip(".") for _, x in
                          getaddresses(message.get_all("To", []) + message.get_all("Cc", [])) if x.strip()}
        others = {a for a in raw_recipients if a != owner}
        if len(others) > 20 or not senders:
            continue
        bulk = any(message.get(h) for h in ("List-Id", "List-Unsubscribe")) or str(
            message.get("Precedence", "")).lower() in ("bulk", "list", "junk") or str(
            message.get("Auto-Submitted", "no")).lower() != "no"
        if senders[0] == owner:
            for person in recipients - {owner}:
                last[person] = max(last.get(person, when), when)
                outbound.add(person)
        elif owner in recipients and not bulk:
            person = senders[0]
            last[person] = max(last.get(person, when), when)
    return {p: (t, p in outbound) for p, t in last.items()}


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
