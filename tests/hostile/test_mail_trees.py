"""Hostile mail trees through ``syncd pull``: one bad file is one skipped, named item; nothing is lost.

Each pull runs as a child process under a memory ceiling and a time-out (see harness), with file modes
binding even for root, so an unreadable file really is unreadable.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections import Counter
from pathlib import Path

from tests.support import hostile as harness
from tests.support.mailtree import ME, Case, mail, repair, write_hostile_maildir

CONFIG = """
[accounts.mail]
provider = "maildir"
path = "{root}/maildir"
me = ["{me}"]

[accounts.mbox]
provider = "mbox"
path = "{root}/mbox"
me = ["{me}"]

[accounts.cal]
provider = "ics"
path = "{root}/ics"
me = ["{me}"]

[followups]
ics_path = "{root}/followups.ics"
timezone = "UTC"
"""

EVENT = """BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//test//hostile//EN\r
BEGIN:VEVENT\r
UID:{uid}\r
DTSTART:20260301T100000Z\r
DTEND:20260301T110000Z\r
SUMMARY:meeting\r
ORGANIZER:mailto:{who}\r
ATTENDEE;PARTSTAT=ACCEPTED:mailto:{me}\r
END:VEVENT\r
END:VCALENDAR\r
"""


def _world(root: Path) -> tuple[Path, list[Case]]:
    cases = write_hostile_maildir(root / "maildir", root / "elsewhere")
    (root / "mbox").mkdir()
    mbox = b"From x Mon Mar  2 10:00:00 2026\n" + mail("Mona <mona@example.org>", message_id="mona@x")
    (root / "mbox" / "good.mbox").write_bytes(mbox)
    with open(os.path.join(os.fsencode(root / "mbox"), b"\xff.mbox"), "wb") as handle:
        handle.write(b"From x Mon Mar  2 10:00:00 2026\n" + mail("Nina <nina@example.org>", message_id="nina@x"))
    (root / "ics").mkdir()
    with open(os.path.join(os.fsencode(root / "ics"), b"\xff.ics"), "wb") as handle:
        handle.write(EVENT.format(uid="bad-name", who="oscar@example.org", me=ME).encode())
    # Unreadable for now, in each kind of account: skipped, named, and read once they can be.
    (root / "ics" / "locked.ics").write_text(EVENT.format(uid="locked", who="paula@example.org", me=ME))
    (root / "mbox" / "locked.mbox").write_bytes(
        b"From x Mon Mar  2 10:00:00 2026\n" + mail("Quinn <quinn@example.org>", message_id="quinn@x"))
    for path in (root / "ics" / "locked.ics", root / "mbox" / "locked.mbox"):
        path.chmod(0)
    config = root / "config.toml"
    config.write_text(CONFIG.format(root=root, me=ME))
    return config, cases


def _senders(state: Path) -> set[str]:
    db = sqlite3.connect(state / harness.DB_NAME)
    try:
        return {r[0] for r in db.execute("SELECT address FROM participants WHERE role IN ('from', 'organizer')")}
    finally:
        db.close()


def _skipped(state: Path, config: Path, account: str) -> list[dict[str, str]]:
    outcome = harness.run(["--config", str(config), "status", "--json"], state)
    assert outcome.code == 0, outcome.err
    accounts = {a["name"]: a for a in json.loads(outcome.out)["accounts"]}
    return list(accounts[account]["skipped_items"])


def test_a_hostile_tree_is_read_item_by_item_and_a_repaired_one_loses_nothing(tmp_path: Path) -> None:
    config, cases = _world(tmp_path)
    state = tmp_path / "state"
    as_user = harness.without_root_override()

    first = harness.run(["--config", str(config), "pull"], state, prefix=as_user)
    assert first.code == 0, first.out + first.err
    senders = _senders(state)
    for case in cases:
        if case.sender and not case.skipped:
            assert case.sender in senders, case.name
    # The other accounts are pulled too, their odd file names included.
    assert {"mona@example.org", "nina@example.org", "oscar@example.org"} <= senders
    # Every skipped item is named with its reason, and kept until it is read or gone.
    items = _skipped(state, config, "mail")
    reasons = Counter(item["reason"].split(":", 1)[0] for item in items)
    expected = Counter(case.skipped for case in cases if case.skipped)
    for reason, count in expected.items():
        assert reasons[reason] == count, (reason, items)
    assert any(item["item"].endswith("1014.unreadable") for item in items if item["reason"].startswith("unreadable"))
    # No date and implausible dates are counted apart.
    assert "1 with implausible dates" in first.out and "1 without a date" in first.out, first.out

    second = harness.run(["--config", str(config), "pull"], state, prefix=as_user)
    assert second.code == 0
    assert "erin@example.org" not in _senders(state), "an unreadable file is still unreadable"
    assert any(item["reason"].startswith("unreadable") for item in _skipped(state, config, "mail"))

    for account in ("mbox", "cal"):
        assert [item["item"] for item in _skipped(state, config, account)] == [f"locked.{account.replace('cal', 'ics')}"]
    assert not {"paula@example.org", "quinn@example.org"} & _senders(state)

    repair(tmp_path / "maildir")
    (tmp_path / "ics" / "locked.ics").chmod(0o644)
    (tmp_path / "mbox" / "locked.mbox").chmod(0o644)
    third = harness.run(["--config", str(config), "pull"], state, prefix=as_user)
    assert third.code == 0
    assert {"erin@example.org", "paula@example.org", "quinn@example.org"} <= _senders(state), (
        "a file unreadable once is read once it can be")
    for account in ("mail", "mbox", "cal"):
        assert not any(item["reason"].startswith("unreadable") for item in _skipped(state, config, account))

    fresh = tmp_path / "fresh"
    assert harness.run(["--config", str(config), "pull"], fresh, prefix=as_user).code == 0
    assert harness.snapshot(state) == harness.snapshot(fresh)


def test_one_message_id_from_two_senders_is_two_interactions(tmp_path: Path) -> None:
    config, _ = _world(tmp_path)
    state = tmp_path / "state"
    assert harness.run(["--config", str(config), "pull", "--account", "mail"], state).code == 0
    db = sqlite3.connect(state / harness.DB_NAME)
    rows = db.execute(
        "SELECT COUNT(DISTINCT interaction_id) FROM participants WHERE role = 'from' "
        "AND address IN ('jane@example.org', 'karl@example.org')"
    ).fetchone()
    assert rows[0] == 2


def test_verbose_pull_and_status_name_every_skipped_item(tmp_path: Path) -> None:
    root = tmp_path / "maildir"
    for part in ("cur", "new", "tmp"):
        (root / part).mkdir(parents=True)
    for n in range(7):
        (root / "cur" / f"{n}.empty:2,S").write_bytes(b"")
    (root / "cur" / "9.good:2,S").write_bytes(mail("Bob <bob@example.org>"))
    config = tmp_path / "config.toml"
    config.write_text(f'[accounts.mail]\nprovider = "maildir"\npath = "{root}"\nme = ["{ME}"]\n'
                      f'[followups]\nics_path = "{tmp_path}/f.ics"\ntimezone = "UTC"\n')
    state = tmp_path / "state"
    pulled = harness.run(["--config", str(config), "-v", "pull"], state)
    assert pulled.code == 0
    assert all(f"./{n}.empty: no From or recipients" in pulled.out for n in range(7)), pulled.out
    status = harness.run(["--config", str(config), "status", "--skipped"], state)
    assert status.code == 0
    assert all(f"./{n}.empty: no From or recipients" in status.out for n in range(7)), status.out
    short = harness.run(["--config", str(config), "status"], state)
    assert "skipped 7: no From or recipients" in short.out


def _books(tmp_path: Path) -> Path:
    """Mail (Maildir), a calendar folder (cal) and an address-book folder (book): the configuration."""
    for part in ("cur", "new", "tmp"):
        (tmp_path / "maildir" / part).mkdir(parents=True)
    (tmp_path / "maildir" / "cur" / "1:2,S").write_bytes(mail("Mona <mona@example.org>"))
    (tmp_path / "ics").mkdir()
    (tmp_path / "ics" / "a.ics").write_text(EVENT.format(uid="a", who="paula@example.org", me=ME))
    (tmp_path / "cards").mkdir()
    (tmp_path / "cards" / "a.vcf").write_text("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Anna Berg\r\nEMAIL:anna@example.org\r\n"
                                              "END:VCARD\r\n")
    config = tmp_path / "config.toml"
    config.write_text(CONFIG.format(root=tmp_path, me=ME).replace(
        '[accounts.mbox]\nprovider = "mbox"', '[accounts.book]\nprovider = "vcard"').replace(
        f"{tmp_path}/mbox", f"{tmp_path}/cards"))
    return config


def test_a_calendar_or_address_book_folder_that_cannot_be_listed_fails_that_account_alone(tmp_path: Path) -> None:
    config = _books(tmp_path)
    state = tmp_path / "state"
    for folder in ("ics", "cards"):
        (tmp_path / folder).chmod(0)
    try:
        locked = harness.run(["--config", str(config), "pull"], state, prefix=harness.without_root_override())
    finally:
        for folder in ("ics", "cards"):
            (tmp_path / folder).chmod(0o755)
    assert locked.code == 1, locked.out + locked.err
    for account, folder in (("cal", "ics"), ("book", "cards")):
        assert f"{account}: FAILED: accounts.{account}.path: cannot list {tmp_path}/{folder}: Permission denied" \
            in locked.out, locked.out
    assert _senders(state) == {"mona@example.org"}  # the mail account was pulled all the same
    again = harness.run(["--config", str(config), "pull"], state)
    assert again.code == 0, again.out + again.err
    assert _senders(state) == {"mona@example.org", "paula@example.org"}
    assert "book: 1 cards read (1 new or changed)" in again.out and "cal: 1 new" in again.out, again.out


def test_an_unreadable_card_file_is_skipped_and_an_unreadable_follow_ups_file_fails_the_calendar_alone(
        tmp_path: Path) -> None:
    config = _books(tmp_path)
    state = tmp_path / "state"
    assert harness.run(["--config", str(config), "pull"], state).code == 0
    locked = tmp_path / "cards" / "b.vcf"
    locked.write_text("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Bob\r\nEMAIL:bob@example.org\r\nEND:VCARD\r\n")
    followups = tmp_path / "followups.ics"
    for path in (locked, followups):
        path.chmod(0)
    try:
        outcome = harness.run(["--config", str(config), "-v", "pull"], state, prefix=harness.without_root_override())
    finally:
        for path in (locked, followups):
            path.chmod(0o600)
    assert outcome.code == 1, outcome.out + outcome.err
    assert "b.vcf: unreadable file: Permission denied" in outcome.out, outcome.out
    assert f"follow-ups: FAILED: cannot read the follow-ups file {followups}: Permission denied" in outcome.out
    again = harness.run(["--config", str(config), "pull"], state)
    assert again.code == 0 and "book: 1 cards read (1 new or changed)" in again.out, again.out
