"""The mbox source on real files: boundaries, appends read from the offset, rewrites, resumable full syncs."""

from __future__ import annotations

import io
import itertools
import json
import mailbox
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.base import CursorExpired, SourceUnavailable
from connectors.local import mbox
from connectors.local.mbox import MboxSource, scan
from connectors.mailparse import header_block
from tests.support.mailfactory import Harness, items, message, reasons, write_mbox


def harness(path: Path) -> Harness:
    return Harness(MboxSource("a", {"path": path, "me": ()}))


def subjects(batches: list) -> list[str | None]:
    return [i.subject for i in items(batches)]


def test_one_file_and_a_folder_of_files(tmp_path: Path) -> None:
    (tmp_path / "Takeout" / "Mail").mkdir(parents=True)
    write_mbox(tmp_path / "Takeout" / "Mail" / "All mail Including Spam and Trash.mbox", [message(1), message(2)])
    write_mbox(tmp_path / "Takeout" / "Mail" / "Sent.mbox", [message(3)])
    (tmp_path / "Takeout" / "Mail" / ".hidden").write_bytes(b"x")
    (tmp_path / "Takeout" / "archive_browser.html").write_bytes(b"<html>")
    batches = harness(tmp_path / "Takeout").pull()
    assert {b.resource for b in batches if b.interactions} == {
        "Mail/All mail Including Spam and Trash.mbox", "Mail/Sent.mbox"}
    assert subjects(batches) == ["note 1", "note 2", "note 3"]
    assert reasons(batches) == ["not an mbox file: it does not start with 'From '"]
    single = harness(tmp_path / "Takeout" / "Mail" / "Sent.mbox").pull()
    assert [b.resource for b in single] == ["Sent.mbox"] and single[0].full and single[0].complete


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(SourceUnavailable, match=r"^accounts.a.path: .*/unmounted.mbox does not exist$"):
        harness(tmp_path / "unmounted.mbox").pull()


def test_provider_id_is_the_header_hash_and_survives_a_rewrite(tmp_path: Path) -> None:
    path = tmp_path / "all.mbox"
    write_mbox(path, [message(1), message(2)])
    first = items(harness(path).pull())
    path.unlink()
    write_mbox(path, [message(2)])
    assert [i.provider_id for i in items(harness(path).pull())] == [first[1].provider_id]


def test_from_quoting_and_boundaries(tmp_path: Path) -> None:
    path = tmp_path / "all.mbox"
    body = "Hello,\nFrom the start this was quoted.\n\n>From here too\n"
    # An unquoted "From " inside a paragraph (a sloppy writer) is body, not a new message.
    sloppy = message(2).replace(b"body line 2\n", b"first line\nFrom a friend, as they say\n")
    write_mbox(path, [message(1, body=body)])
    with path.open("ab") as handle:
        handle.write(b"From x Mon Mar  2 10:00:00 2026\n" + sloppy + b"\n")
        # A postmark without an empty line before it still starts a message.
        handle.write(b"From y Tue Mar  3 10:00:00 2026\n" + message(3))
    batches = harness(path).pull()
    assert subjects(batches) == ["note 1", "note 2", "note 3"] and reasons(batches) == []


def test_a_message_cut_short_by_the_next_postmark_and_a_lone_postmark_at_the_end() -> None:
    first = b"From a Mon Mar  2 10:00:00 2026\nFrom: ann@example.org\nSubject: no body\n"  # no empty line
    second = b"From b Mon Mar  2 11:00:00 2026\nFrom: bob@example.org\nSubject: fine\n\nbody\n"
    lone = b"From c Mon Mar  2 12:00:00 2026"  # the writer stopped after the postmark
    data = first + second + lone
    found = list(scan(io.BytesIO(data)))
    assert [(start, end) for start, end, _ in found] == [
        (0, len(first)), (len(first), len(first + second)), (len(first + second), len(data))]
    assert [header for _, _, header in found] == [
        b"From: ann@example.org\nSubject: no body\n", b"From: bob@example.org\nSubject: fine\n", b""]


def test_takeout_labels_mark_categories_as_bulk(tmp_path: Path) -> None:
    path = tmp_path / "all.mbox"
    write_mbox(path, [message(1, extra="X-GM-THRID: 1\nX-Gmail-Labels: Archived,Category Promotions\n"),
                      message(2, extra="X-Gmail-Labels: Inbox,Important,Opened\n")])
    assert [i.bulk for i in items(harness(path).pull())] == ["X-Gmail-Labels: Category Promotions", None]


def test_appended_mail_is_read_from_the_offset(tmp_path: Path) -> None:
    path = tmp_path / "all.mbox"
    write_mbox(path, [message(1, body="x" * 8000 + "\n"), message(2)])  # message 2 lies past the hashed head
    h = harness(path)
    assert subjects(h.pull()) == ["note 1", "note 2"]
    assert items(h.pull()) == []  # unchanged
    # Break message 2 in place, same length, past the head: a re-read from the start would skip it.
    data = path.read_bytes()
    path.write_bytes(data.replace(b"From: Me <me@example.com>\nTo: Bob <bob@example.org>\nSubject: note 2",
                                  b"Xrom: Me <me@example.com>\nXo: Bob <bob@example.org>\nSubject: note 2"))
    write_mbox(path, [message(3)])
    batches = h.pull()
    assert subjects(batches) == ["note 3"] and reasons(batches) == []
    assert not batches[-1].full and h.stored() == 3


def test_a_small_file_that_grows_is_not_taken_for_a_rewrite(tmp_path: Path) -> None:
    path = tmp_path / "all.mbox"
    write_mbox(path, [message(1)])  # far less than the 4 KiB head
    h = harness(path)
    h.pull()
    write_mbox(path, [message(2, body="y" * 5000 + "\n")])
    assert subjects(h.pull()) == ["note 2"]


def test_message_still_being_appended(tmp_path: Path) -> None:
    path = tmp_path / "all.mbox"
    write_mbox(path, [message(1)])
    with path.open("ab") as handle:
        handle.write(b"From z Mon Mar  2 10:00:00 2026\n" + message(2)[:60])  # cut mid-header, no newline
    h = harness(path)
    batches = h.pull()
    assert len(items(batches)) == 2 and json.loads(batches[-1].cursor or "")["offset"] == path.stat().st_size
    write_mbox(path, [message(3)])
    assert subjects(h.pull()) == ["note 3"]


@pytest.mark.parametrize("rewrite", ["shrunk", "new start", "moved boundary"])
def test_rewritten_file_expires_the_cursor_and_a_full_sync_follows(tmp_path: Path, rewrite: str) -> None:
    path = tmp_path / "all.mbox"
    write_mbox(path, [message(1, body="z" * 5000 + "\n"), message(2)])
    h = harness(path)
    h.pull()
    data = path.read_bytes()
    if rewrite == "shrunk":
        path.write_bytes(data[: len(data) // 2])
    elif rewrite == "new start":
        path.write_bytes(data.replace(b"note 1", b"NOTE 1") + data)
    else:  # same head, but the saved offset now falls inside a message
        path.write_bytes(data[:4200] + b"padding\n" + data[4200:])
    with pytest.raises(CursorExpired, match="was rewritten"):
        h.pull()
    h.store.synced.reset_cursor("a", "all.mbox")  # what syncd.pull does on CursorExpired
    batches = h.pull()
    assert all(b.full for b in batches) and batches[-1].complete
    expected = {"shrunk": 1, "new start": 3, "moved boundary": 2}[rewrite]  # note 2 twice is one
    assert h.stored() == expected


def test_a_killed_full_sync_resumes_and_still_ends_as_one(tmp_path: Path) -> None:
    path = tmp_path / "all.mbox"
    count = mbox.BATCH_SIZE * 2 + 10
    write_mbox(path, [message(n) for n in range(count)])
    h = harness(path)
    killed = h.pull(limit=1)
    assert len(items(killed)) == mbox.BATCH_SIZE and killed[0].full and not killed[0].complete
    rest = h.pull()
    assert all(b.full for b in rest) and rest[-1].complete and [b.complete for b in rest].count(True) == 1
    assert len(items(rest)) == count - mbox.BATCH_SIZE and h.stored() == count


def test_unreadable_and_vanished_files(tmp_path: Path) -> None:
    (tmp_path / "box").mkdir()
    write_mbox(tmp_path / "box" / "a.mbox", [message(1)])
    write_mbox(tmp_path / "box" / "b.mbox", [message(2)])
    h = harness(tmp_path / "box")
    h.pull()
    (tmp_path / "box" / "b.mbox").unlink()
    h.pull()
    assert h.stored() == 1


# ---- the scanner against the standard library's reader ----------------------------------------------

_line = st.text(alphabet="From >abc:@.\t", max_size=30)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.lists(_line, max_size=4), st.lists(_line, max_size=6)), min_size=1, max_size=6),
       st.integers(min_value=1, max_value=64))
def test_scan_agrees_with_mailbox_mbox(tmp_path_factory: pytest.TempPathFactory, messages: list, block: int) -> None:
    """Any messages written by the stdlib (which quotes body "From " lines) are found with the same headers,
    whatever the block size (so boundaries, empty lines and "\\nFrom " straddle block edges)."""
    path = tmp_path_factory.mktemp("scan") / "x.mbox"
    box = mailbox.mbox(str(path))
    for n, (extra, body) in enumerate(messages):
        headers = [f"Subject: s{n}", *(f"X-{i}: {v}" for i, v in enumerate(extra))]
        box.add("\n".join(headers).encode() + b"\n\n" + "\n".join(body).encode() + b"\n")
    box.close()
    data = path.read_bytes()
    reader = mailbox.mbox(str(path))
    expected = [header_block(reader.get_bytes(key)) for key in reader.iterkeys()]
    found = list(scan(io.BytesIO(data), 0, block))
    assert [raw.rstrip(b"\n") for _, _, raw in found] == [raw.rstrip(b"\n") for raw in expected]
    assert found[0][0] == 0 and found[-1][1] == len(data)
    assert all(data[start : start + 5] == b"From " for start, _, _ in found)
    assert all(end == following[0] for (_, end, _), following in itertools.pairwise(found))
