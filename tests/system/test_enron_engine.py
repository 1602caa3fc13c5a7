"""The engine on real mail: one Enron mailbox, pulled through the maildir connector, against an independent
reading of the raw files with the standard library's ``email`` package (docs/rules.md#qualifying-contact, coded
here from scratch, sharing nothing with syncd).

Skipped when the shared corpus (``../shared/data``) or the maildir connector is not available.
"""

from __future__ import annotations

import email
import email.policy
import re
import tarfile
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import getaddresses, parsedate_to_datetime
from pathlib import Path

import pytest

from syncd import engine
from syncd.config import AccountConfig, Config
from syncd.store import Store
from tests.support.paths import SHARED_DATA

DATA = SHARED_DATA
TARBALL = DATA / "enron-maildir-10.tar.gz"
maildir = pytest.importorskip("connectors.local.maildir", reason="the maildir connector is not there yet")

pytestmark = pytest.mark.skipif(not TARBALL.exists(), reason="the shared Enron corpus is absent")

MAILBOXES = [("scholtes-d", "diana.scholtes@enron.com"), ("cuilla-m", "martin.cuilla@enron.com")]
EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
ROLE = re.compile(
    r"^(noreply|no-reply|no_reply|donotreply|do-not-reply|do_not_reply|mailer-daemon|postmaster|bounces?"
    r"|notifications?|newsletters?)([+._-].*)?$"
)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("enron")
    wanted = tuple(f"maildir/{user}/" for user, _ in MAILBOXES)
    with tarfile.open(TARBALL) as archive:
        members = [m for m in archive.getmembers() if m.name.lstrip("./").startswith(wanted)]
        archive.extractall(root, members=members, filter="data")
    return next(root.rglob("maildir"))


# ---- the independent reading ----------------------------------------------------------------------


def _address(raw: str) -> str | None:
    text = raw.strip().strip("<>").strip("'\"").lower().lstrip(".")
    if not re.fullmatch(r"[^@\s/<>]+@[a-z0-9-]+(\.[a-z0-9-]+)+", text):
        return None  # X.500 paths, "undisclosed-recipients:;", bare names
    return None if ROLE.match(text.split("@")[0]) else text


def _messages(mailbox: Path) -> Iterator[email.message.Message]:
    for path in sorted(p for p in mailbox.rglob("*") if p.is_file()):
        head = path.read_bytes().split(b"\n\n", 1)[0]
        yield email.message_from_bytes(head, policy=email.policy.compat32)


def independent(mailbox: Path, owner: str, cutoff: datetime) -> dict[str, dict[str, datetime]]:
    """address -> {"outbound"/"inbound": latest qualifying time} for one mailbox, as of a day."""
    seen: set[str] = set()
    found: dict[str, dict[str, datetime]] = {}
    for message in _messages(mailbox):
        ident = str(message.get("Message-ID", "")).strip()
        if ident in seen:
            continue  # the same message in several folders is one interaction
        seen.add(ident)
        try:
            when = parsedate_to_datetime(str(message["Date"])).astimezone(UTC)
        except (TypeError, ValueError):
            continue
        if not EARLIEST <= when <= cutoff:
            continue
        senders = [a for a in (_address(x) for _, x in getaddresses(message.get_all("From", []))) if a]
        entries = [x for _, x in getaddresses(message.get_all("To", []) + message.get_all("Cc", [])) if x.strip()]
        # The cap counts every To/Cc entry other than the owner, unusable ones included.
        raw = {x.strip().strip("<>").strip("'\"").lower().lstrip(".") for x in entries}
        if len(raw - {owner}) > 20 or not senders:
            continue
        recipients = {a for a in (_address(x) for x in entries) if a}
        bulk = bool(message.get("List-Id") or message.get("List-Unsubscribe")) or str(
            message.get("Precedence", "")).strip().lower() in ("bulk", "list", "junk") or str(
            message.get("Auto-Submitted", "no")).strip().lower() != "no"
        if senders[0] == owner:
            for person in recipients - {owner}:
                slot = found.setdefault(person, {})
                slot["outbound"] = max(slot.get("outbound", when), when)
        elif owner in recipients and not bulk:
            slot = found.setdefault(senders[0], {})
            slot["inbound"] = max(slot.get("inbound", when), when)
    return found


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
