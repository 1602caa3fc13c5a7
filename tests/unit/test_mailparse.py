"""Header parsing: addresses, dates, ids, bulk, and every kind of broken header seen in real archives."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors import mailparse
from connectors.base import Interaction
from connectors.local import files as localfiles
from connectors.mailparse import parse_headers, read_headers
from tests.support.mailfactory import BOB, ME, message

DATE = "Date: Mon, 2 Mar 2026 10:00:00 +0000\n"


def parse(raw: bytes) -> tuple[Interaction, list[str]]:
    interaction, skips = parse_headers(raw, "f/1")
    assert interaction is not None, skips
    return interaction, [s.why for s in skips]


def addresses(interaction: Interaction) -> list[tuple[str, str]]:
    return [(p.role, p.address) for p in interaction.participants]


def test_roles_names_ids_and_subject() -> None:
    raw = (b"From: Me <me@example.com>\nTo: Bob <bob@example.org>, carl@example.org\nCc: \"Doe, Dana\" <dana@x.example>\n"
           b"Bcc: eve@example.org\nSubject: =?utf-8?q?caf=C3=A9?= and\n more\nMessage-ID:  <abc@host> (comment)\n" + DATE.encode())
    interaction, skipped = parse(raw)
    assert addresses(interaction) == [("from", ME), ("to", BOB), ("to", "carl@example.org"),
                                      ("cc", "dana@x.example"), ("bcc", "eve@example.org")]
    assert interaction.participants[3].name == "Doe, Dana"
    assert interaction.subject == "café and more"
    assert interaction.message_id == "abc@host"
    assert interaction.recipient_count == 3 and interaction.kind == "mail" and skipped == []


def test_unquoted_display_name_with_a_comma_is_one_person() -> None:
    interaction, skipped = parse(b"From: Doe, John <john@x.example>\nTo: Scholtes, Diana <d@enron.com>, a@b.example\n" + DATE.encode())
    assert [(p.name, p.address) for p in interaction.participants] == [
        ("Doe, John", "john@x.example"), ("Scholtes, Diana", "d@enron.com"), ("", "a@b.example")]
    assert skipped == []


def test_x500_and_group_syntax_are_dropped_and_counted() -> None:
    raw = (b"From: me@example.com\nTo: /O=ENRON/OU=NA/CN=RECIPIENTS/CN=JDOE, Ann <ann@example.org>\n"
           b"Cc: undisclosed-recipients:;\n" + DATE.encode())
    interaction, skipped = parse(raw)
    assert addresses(interaction) == [("from", ME), ("to", "ann@example.org")]
    assert skipped == ["address without local@domain: '/O=ENRON/OU=NA/CN=RECIPIENTS/CN=JDOE'"]
    assert interaction.recipient_count == 2  # the X.500 recipient was sent to, so it counts for the cap


def test_enron_quirks_dotted_from_and_x_from_name() -> None:
    raw = (b"From: legal <.hall@enron.com>\nTo: me@example.com\nX-From: Hall, Steve C. </O=ENRON/OU=NA/CN=X>\n" + DATE.encode())
    interaction, _ = parse(raw)
    assert interaction.participants[0].address == ".hall@enron.com"  # as written; connectors.addresses normalises
    assert interaction.participants[0].name == "Hall, Steve C."  # the directory's full name beats one word
    bare, _ = parse(b"From: steve.hall@enron.com\nTo: me@example.com\nX-From: Hall, Steve C. </O=ENRON/OU=NA/CN=X>\n" + DATE.encode())
    assert bare.participants[0].name == "Hall, Steve C."


def test_eight_bit_junk_in_headers() -> None:
    raw = b"From: \xff\xfe J\xf6rg <joerg@example.de>\nTo: me@example.com\nSubject: \xe4\xf6\xfc =?x-unknown?q?a?=\n" + DATE.encode()
    interaction, _ = parse(raw)
    assert interaction.participants[0].address == "joerg@example.de"
    assert interaction.subject is not None and "=?x-unknown?q?a?=" in interaction.subject


def test_dates_are_utc_and_bad_ones_are_none() -> None:
    def when(date: str | None) -> datetime | None:
        return parse(message(1, date=date))[0].timestamp

    assert when("Mon, 2 Mar 2026 10:00:00 +0100") == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    assert when("Mon, 2 Mar 2026 10:00:00 -0000") == datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # zone unknown
    assert when("2 Mar 2026 10:00:00") == datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # no zone at all
    assert when("Mon, 14 May 2001 16:39:00 -0700 (PDT)") == datetime(2001, 5, 14, 23, 39, tzinfo=UTC)
    for bad in ("the day after tomorrow", "Sun, 31 Dec 99999 00:00 +0000", "", None):
        assert when(bad) is None


def test_subject_is_truncated_and_missing_things_are_none() -> None:
    interaction, _ = parse(b"From: a@b.example\nSubject: " + b"x" * 500 + b"\n")
    assert interaction.subject == "x" * 200
    assert interaction.message_id is None and interaction.timestamp is None and interaction.recipient_count == 0


def test_bulk_reasons() -> None:
    for header, reason in (("List-Id: <l.example>", "List-Id"), ("List-Unsubscribe: <mailto:u@l.example>", "List-Unsubscribe"),
                           ("Precedence: Bulk", "Precedence: bulk"), ("Precedence: junk", "Precedence: junk"),
                           ("Auto-Submitted: auto-generated", "Auto-Submitted: auto-generated"),
                           ("X-Gmail-Labels: Opened,Category Promotions", "X-Gmail-Labels: Category Promotions"),
                           ("X-Gmail-Labels: Spam", "X-Gmail-Labels: Spam")):
        assert parse(message(1, extra=header + "\n"))[0].bulk == reason
    for header in ("Auto-Submitted: no", "Precedence: first-class", "X-Gmail-Labels: Inbox,Important,Sent"):
        assert parse(message(1, extra=header + "\n"))[0].bulk is None


def test_no_from_and_no_recipients_is_skipped() -> None:
    for raw in (b"Subject: hello\n" + DATE.encode(), b"", b"From: /O=ENRON/CN=X\nTo: undisclosed-recipients:;\n"):
        interaction, skips = parse_headers(raw, "f/1")
        assert interaction is None and skips[-1].why == "no From or recipients" and skips[-1].what == "f/1"


def test_truncated_mid_line() -> None:
    interaction, _ = parse(b"From: Dana <dana@example.org>\nTo: me@exa")
    assert addresses(interaction) == [("from", "dana@example.org"), ("to", "me@exa")]
    cut, _ = parse(b"From: Dana <dana@exa")
    assert cut.participants[0].address == "dana@exa"  # as written; normalisation judges it later


def test_three_hundred_recipients_are_all_kept() -> None:
    raw = ("From: me@example.com\nTo: " + ",\n ".join(f"P {i} <p{i}@example.org>" for i in range(300)) + "\n" + DATE).encode()
    interaction, _ = parse(raw)
    assert len(interaction.participants) == 301 and interaction.recipient_count == 300


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400) | st.text(alphabet=":<>@,;\"()\\=?\n\t /.aZ-", max_size=200).map(str.encode))
def test_parse_headers_never_raises(raw: bytes) -> None:
    interaction, skips = parse_headers(b"From: " + raw, "x")
    assert interaction is not None or skips


def test_read_headers_stops_at_the_empty_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A 5 MB body after the header block is never read: what the file hands out is counted."""
    path = tmp_path / "message"
    path.write_bytes(b"From: a@b.example\r\nTo: c@d.example\r\n\r\n" + b"the body is not read\n" * 250_000)
    handed_out: list[int] = []

    class Counting:
        def __init__(self, handle: Any) -> None:
            self.handle = handle

        def read(self, size: int) -> bytes:
            data: bytes = self.handle.read(size)
            handed_out.append(len(data))
            return data

        def __enter__(self) -> Counting:
            return self

        def __exit__(self, *exc: object) -> None:
            self.handle.close()

    monkeypatch.setattr(mailparse, "open_regular", lambda p: Counting(localfiles.open_regular(p)))
    assert read_headers(str(path)) == b"From: a@b.example\r\nTo: c@d.example"
    assert sum(handed_out) <= 8192


def test_read_headers_refuses_a_fifo_without_blocking(tmp_path: Path) -> None:
    """A FIFO where a message was listed is refused at once: reading it would wait for a writer forever."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(localfiles.NotAFile):
        read_headers(str(fifo))
