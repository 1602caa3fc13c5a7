"""maildir and mbox sources: layouts, incremental pulls, and every kind of bad input named in the issue."""

from __future__ import annotations

import builtins
import mailbox
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.base import CursorExpired
from connectors.local.maildir import MaildirSource
from connectors.local.mbox import MboxSource
from connectors.mailparse import parse_headers
from tests.support import mailfactory
from tests.support.mailfactory import ME, Harness, age, items, reasons, write_maildir


def message(n: int, sender: str = f"Me <{ME}>", to: str = "Bob <bob@example.org>", extra: str = "") -> bytes:
    """A message dated a minute apart from its neighbours (``n`` minutes past 10:00)."""
    return mailfactory.message(n, sender, to, extra, date=f"Mon, 2 Mar 2026 10:{n % 60:02d}:00 +0100")


@pytest.fixture
def no_open(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Record every file opened, to prove a pull reads no message."""
    opened: list[str] = []
    real_open, real_os_open = builtins.open, os.open

    def spy_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        opened.append(str(file))
        return real_open(file, *args, **kwargs)

    def spy_os_open(path: Any, *args: Any, **kwargs: Any) -> Any:
        opened.append(str(path))
        return real_os_open(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", spy_open)
    monkeypatch.setattr(os, "open", spy_os_open)
    yield opened


# ---- maildir --------------------------------------------------------------------------------------


def test_maildir_plus_plus_and_unchanged_repull_reads_nothing(tmp_path: Path, no_open: list[str]) -> None:
    write_maildir(tmp_path, {".": [message(1, sender="Bob <bob@example.org>", to=f"Me <{ME}>")],
                            ".Sent": [message(2), message(3)], ".Work.Clients": [message(4)]})
    (tmp_path / "tmp" / "half-delivered").write_bytes(b"From: x")
    age(tmp_path)  # the folders settled: their cursors are kept
    harness = Harness(MaildirSource("a", {"path": tmp_path, "me": (ME,)}))
    first = harness.pull()
    assert sorted(b.resource for b in first if b.interactions) == [".", ".Sent", ".Work.Clients"]
    assert len(items(first)) == 4
    no_open.clear()
    second = harness.pull()
    assert items(second) == [] and reasons(second) == []
    assert [p for p in no_open if "host:2," in p] == []  # no message file opened


def test_new_message_flag_rename_and_deletion(tmp_path: Path) -> None:
    write_maildir(tmp_path, {".": [message(1), message(2)]})
    age(tmp_path)  # the folders settled: their cursors are kept
    harness = Harness(MaildirSource("a", {"path": tmp_path, "me": (ME,)}))
    harness.pull()
    cur = tmp_path / "cur"
    first = sorted(cur.iterdir())[0]
    first.rename(first.with_name(first.name.replace(":2,S", ":2,RS")))  # a flag change
    (tmp_path / "new" / "1800000000.M9P1.host").write_bytes(message(9))  # new mail
    sorted(cur.iterdir())[1].unlink()  # a deletion
    age(tmp_path)  # the folders settled: their cursors are kept
    batches = harness.pull()
    assert [i.message_id for i in items(batches)] == ["m9@example.com"]
    assert sum(len(b.deleted) for b in batches) == 1
    assert harness.store.count("interactions") == 2


def test_plain_tree_like_the_enron_corpus(tmp_path: Path) -> None:
    for folder, n in (("sent", 1), ("inbox", 2), ("projects/alpha", 3)):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / f"{n}.").write_bytes(message(n))
    batches = Harness(MaildirSource("a", {"path": tmp_path, "me": ()})).pull()
    assert sorted(i.provider_id for i in items(batches)) == ["inbox/2.", "projects/alpha/3.", "sent/1."]
    guesses = [b.owner_addresses for b in batches if b.owner_addresses]
    assert guesses == [[ME]]  # the owner guessed from the "sent" folder, and said so


def test_bad_input_is_skipped_and_named(tmp_path: Path) -> None:
    (tmp_path / "inbox").mkdir()
    files = {
        "no-from-or-date": b"Subject: hello\n\nbody\n",
        "no-date": b"From: Bob <bob@example.org>\nTo: me@example.com\n\nbody\n",
        "x500": b"From: me@example.com\nTo: /O=ENRON/OU=NA/CN=RECIPIENTS/CN=JDOE, Ann <ann@example.org>\nDate: Mon, 2 Mar 2026 10:00:00 +0000\n\n",
        "undisclosed": b"From: me@example.com\nTo: undisclosed-recipients:;\nCc: carl@example.org\nDate: Mon, 2 Mar 2026 10:00:00 +0000\n\n",
        "junk8bit": b"From: \xff\xfe J\xf6rg <joerg@example.de>\nTo: me@example.com\nSubject: \xe4\xf6\xfc =?utf-8?q?caf=C3=A9?=\nDate: Mon, 2 Mar 2026 10:00:00 +0000\n\n",
        "truncated": b"From: Dana <dana@example.org>\nTo: me@exa",
        "bad-date": b"From: eve@example.org\nTo: me@example.com\nDate: the day after tomorrow\n\n",
        "empty": b"",
        "many": ("From: me@example.com\nTo: " + ", ".join(f"p{i}@example.org" for i in range(300))
                 + "\nDate: Mon, 2 Mar 2026 10:00:00 +0000\n\n").encode(),
    }
    for name, data in files.items():
        (tmp_path / "inbox" / name).write_bytes(data)
    unreadable = tmp_path / "inbox" / "unreadable"
    unreadable.mkdir()  # a directory where a message should be: listed as a folder, not a file
    batches = Harness(MaildirSource("a", {"path": tmp_path, "me": (ME,)})).pull()
    by_id = {i.provider_id.split("/")[-1]: i for i in items(batches)}
    why = reasons(batches)
    assert "no From or recipients" in why  # no-from-or-date, empty
    assert by_id["no-date"].timestamp is None
    assert by_id["bad-date"].timestamp is None
    assert [p.address for p in by_id["x500"].participants] == ["me@example.com", "ann@example.org"]
    assert any(r.startswith("address without local@domain") and "/O=ENRON" in r for r in why)
    assert [p.address for p in by_id["undisclosed"].participants] == ["me@example.com", "carl@example.org"]
    assert by_id["junk8bit"].participants[0].address == "joerg@example.de"
    assert "café" in (by_id["junk8bit"].subject or "")
    assert by_id["truncated"].participants[0].address == "dana@example.org"
    assert len(by_id["many"].participants) == 301  # parsed whole; the recipient cap is the engine's
    assert len(by_id) + why.count("no From or recipients") == len(files)


def test_unreadable_message_file_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_maildir(tmp_path, {".": [message(1), message(2)]})
    victim = sorted((tmp_path / "cur").iterdir())[0]
    real_open = os.open

    def failing_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        if str(file) == str(victim):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(os, "open", failing_open)
    batches = Harness(MaildirSource("a", {"path": tmp_path, "me": (ME,)})).pull()
    assert len(items(batches)) == 1
    assert any("unreadable file: Permission denied" in r for r in reasons(batches))


def test_parse_headers_never_raises() -> None:
    for raw in (b"\x00\x01\x02", b"From: <>\n", b"To: ,,,\n", b"From: a@b.example\nDate: Sun, 31 Dec 99999 00:00 +0000\n"):
        interaction, skipped = parse_headers(raw, "x")
        assert interaction is not None or skipped


def test_bulk_headers() -> None:
    for header, reason in (("List-Id: <l.example>", "List-Id"), ("List-Unsubscribe: <mailto:u@l.example>", "List-Unsubscribe"),
                           ("Precedence: bulk", "Precedence: bulk"), ("Auto-Submitted: auto-generated", "Auto-Submitted: auto-generated")):
        interaction, _ = parse_headers(message(1, extra=header + "\n"), "x")
        assert interaction is not None and interaction.bulk == reason
    interaction, _ = parse_headers(message(1, extra="Auto-Submitted: no\n"), "x")
    assert interaction is not None and interaction.bulk is None


# ---- mbox -----------------------------------------------------------------------------------------


def write_mbox(path: Path, messages: list[bytes]) -> None:
    box = mailbox.mbox(str(path))
    for data in messages:
        box.add(data)
    box.flush()
    box.close()


def test_mbox_appended_mail_is_read_from_the_offset(tmp_path: Path) -> None:
    path = tmp_path / "all.mbox"
    big = message(1) + b"x" * 8000 + b"\n"  # pushes message 2 past the 4 KiB head the cursor hashes
    write_mbox(path, [big, message(2) + b"From the body, quoted by mboxrd\n"])
    harness = Harness(MboxSource("a", {"path": path}))
    assert len(items(harness.pull())) == 2
    # Change message 2 in place (same length, past the head): a re-read from the start would see it.
    data = path.read_bytes()
    path.write_bytes(data.replace(b"Subject: note 2", b"Subject: NOTE 2"))
    write_mbox(path, [message(3)])  # appended
    batches = harness.pull()
    assert [i.message_id for i in items(batches)] == ["m3@example.com"]
    assert items(harness.pull()) == []


def test_mbox_rewritten_file_expires_the_cursor(tmp_path: Path) -> None:
    path = tmp_path / "all.mbox"
    write_mbox(path, [message(1), message(2)])
    harness = Harness(MboxSource("a", {"path": path}))
    harness.pull()
    path.unlink()
    write_mbox(path, [message(2)])  # shorter: rewritten
    with pytest.raises(CursorExpired, match="rewritten"):
        harness.pull()
    harness.store.synced.reset_cursor("a", "all.mbox")
    batches = harness.pull()
    assert batches[-1].full and batches[-1].complete
    assert harness.store.count("interactions") == 1  # message 1 is gone with the rewrite


def test_mbox_folder_and_missing_file(tmp_path: Path) -> None:
    (tmp_path / "box").mkdir()
    write_mbox(tmp_path / "box" / "a.mbox", [message(1)])
    write_mbox(tmp_path / "box" / "b.mbox", [message(2)])
    harness = Harness(MboxSource("a", {"path": tmp_path / "box"}))
    assert len(items(harness.pull())) == 2
    (tmp_path / "box" / "b.mbox").unlink()
    harness.pull()
    assert harness.store.count("interactions") == 1


def test_maildir_tells_how_many_messages_a_pull_will_read(tmp_path: Path) -> None:
    write_maildir(tmp_path, {".": [message(1), message(2)], ".Sent": [message(3)]})
    age(tmp_path)  # the folders settled: their cursors are kept
    harness = Harness(MaildirSource("a", {"path": tmp_path, "me": (ME,)}))
    first = harness.pull()
    assert first[0].expected == 3 and all(b.expected is None for b in first[1:])
    (tmp_path / "new" / "1800000000.M9P1.host").write_bytes(message(9))
    age(tmp_path)  # the folders settled: their cursors are kept
    assert harness.pull()[0].expected == 1
