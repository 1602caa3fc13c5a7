"""vCard parsing (connectors.vcardparse) and the vCard files address book (connectors.local.vcard).

Hand-written cards for each case docs/vcard.md names, and a corpus of real exports from two vCard
libraries' own test files (data/vcard/corpus/README.md says where each comes from).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from connectors.base import Birthday, Card, CardBatch, CardGroup, Skip, SourceUnavailable
from connectors.local.vcard import VcardBook
from connectors.vcardparse import birthday_from_text, parse
from syncd.store import Store
from tests.fakes.known import pull_cards_into

CORPUS = Path(__file__).parent / "data" / "vcard" / "corpus"


def cards(text: str | bytes, where: str = "book.vcf") -> list[Card | CardGroup | Skip]:
    return list(parse(text.encode() if isinstance(text, str) else text, where))


def one(text: str) -> Card:
    [card] = cards(text)
    assert isinstance(card, Card), card
    return card


# ---- the three versions -------------------------------------------------------------------------------------


def test_version_4_card() -> None:
    card = one(
        "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:urn:uuid:4fbe8971-0bc3-424c-9c26-36c3e1eff6b1\r\nFN:Anna Berg\r\n"
        "N:Berg;Anna;;;\r\nEMAIL;TYPE=work;PREF=2:anna@work.example\r\nEMAIL;PREF=1:anna@home.example\r\n"
        "ORG:Berg & Söhne;Einkauf\r\nCATEGORIES:Family,Clients\r\nBDAY:--0412\r\nEND:VCARD\r\n"
    )
    assert card.name == "Anna Berg"
    assert card.emails == ["anna@home.example", "anna@work.example"]  # PREF=1 first
    assert card.organisation == "Berg & Söhne"
    assert card.groups == ["Family", "Clients"]
    assert card.birthday == Birthday(4, 12)
    assert card.uid == "4fbe8971-0bc3-424c-9c26-36c3e1eff6b1"
    assert card.provider_id == "urn:uuid:4fbe8971-0bc3-424c-9c26-36c3e1eff6b1"


def test_version_3_card_with_apple_labels_and_escapes() -> None:
    card = one(
        "BEGIN:VCARD\nVERSION:3.0\nN:Doe;John;;;\nFN:John Doe\nitem1.EMAIL;type=INTERNET:john@b.example\n"
        "item2.EMAIL;type=INTERNET;type=pref:john@a.example\nitem1.X-ABLabel:Office\n"
        "CATEGORIES:Old colleagues,Pub\\, Friday\nBDAY;X-APPLE-OMIT-YEAR=1604:1604-04-12\nEND:VCARD\n"
    )
    assert card.emails == ["john@a.example", "john@b.example"]  # type=pref first
    assert card.groups == ["Old colleagues", "Pub, Friday"]  # an escaped comma stays in the name
    assert card.birthday == Birthday(4, 12)  # Apple's placeholder year is no year


def test_version_2_1_quoted_printable_with_soft_line_breaks_and_charset() -> None:
    card = one(
        "BEGIN:VCARD\r\nVERSION:2.1\r\nN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:M=C3=BCller;J=C3=BCrgen;;;\r\n"
        "FN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:J=C3=BCrgen Karl Friedrich=\r\n"
        "=20M=C3=BCller-L=C3=\r\n"
        "=BCdenscheid\r\n"
        "ORG;CHARSET=ISO-8859-1;ENCODING=QUOTED-PRINTABLE:B=E4ckerei=\r\n=20Schmidt\r\n"
        "EMAIL;INTERNET;PREF:j@example.com\r\nEMAIL;INTERNET:j2@example.com\r\nEND:VCARD\r\n"
    )
    # The second soft break falls inside the two bytes of ü.
    assert card.name == "Jürgen Karl Friedrich Müller-Lüdenscheid"
    assert card.organisation == "Bäckerei Schmidt"
    assert card.emails == ["j@example.com", "j2@example.com"]


def test_folded_lines_even_inside_a_multibyte_character() -> None:
    name = "Åsa Öberg-ÆrØ"
    raw = f"FN:{name}".encode()
    cut = raw.index("Ø".encode()) + 1  # the fold falls between the two bytes of Ø
    folded = raw[:cut] + b"\r\n " + raw[cut:]
    data = b"BEGIN:VCARD\r\nVERSION:3.0\r\n" + folded + b"\r\nEMAIL:asa@example.se\r\nEND:VCARD\r\n"
    [card] = cards(data)
    assert isinstance(card, Card) and card.name == name


def test_missing_fn_takes_the_structured_name_and_else_nothing() -> None:
    card = one("BEGIN:VCARD\nVERSION:2.1\nN:Smith;Jane;Q.;Dr.;\nEMAIL:jane@example.com\nEND:VCARD\n")
    assert card.name == "Dr. Jane Q. Smith"
    card = one("BEGIN:VCARD\nVERSION:2.1\nEMAIL:nameless@example.com\nEND:VCARD\n")
    assert card.name == "" and card.emails == ["nameless@example.com"]


def test_a_card_with_no_email_is_named_and_skipped() -> None:
    [skip] = cards("BEGIN:VCARD\nVERSION:3.0\nFN:Phone Only\nTEL:+49 30 1234\nEND:VCARD\n")
    assert isinstance(skip, Skip)
    assert skip.what == "book.vcf: card 1 (Phone Only)"
    assert skip.why.startswith("no email address")


def test_a_broken_card_among_good_ones_is_counted_and_named_and_the_others_go_on() -> None:
    text = (
        "BEGIN:VCARD\nVERSION:3.0\nFN:First\nEMAIL:first@example.com\nEND:VCARD\n"
        "BEGIN:VCARD\nVERSION:3.0\nFN:Broken\nEMAIL;TYPE=\"unclosed:broken@example.com\nEND:VCARD\n"
        "BEGIN:VCARD\nVERSION:3.0\nFN:Third\nEMAIL:third@example.com\nEND:VCARD\n"
        "BEGIN:VCARD\nVERSION:3.0\nFN:Cut short\nEMAIL:cut@example.com\n"
    )
    items = cards(text)
    assert [i.name for i in items if isinstance(i, Card)] == ["First", "Third"]
    skips = [i for i in items if isinstance(i, Skip)]
    assert [s.what for s in skips] == ["book.vcf: card 2 (Broken)", "book.vcf: card 4 (Cut short)"]
    assert all(s.why.startswith("unreadable card") for s in skips)
    assert "END:VCARD" in skips[1].why


def test_one_bad_value_does_not_cost_the_card_its_addresses() -> None:
    # The organisation's quoted-printable text ends inside a UTF-8 character (seen in Android exports).
    card = one(
        "BEGIN:VCARD\nVERSION:2.1\nFN:Henry\nEMAIL:henry@example.com\n"
        "ORG;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:=C3=91=80\nEND:VCARD\n"
    )
    assert card.emails == ["henry@example.com"] and card.organisation is None


def test_a_nested_agent_card_stays_inside_its_parent() -> None:
    items = cards(
        "BEGIN:VCARD\nVERSION:2.1\nFN:Boss\nEMAIL:boss@example.com\nAGENT:\nBEGIN:VCARD\nVERSION:2.1\n"
        "FN:Assistant\nEMAIL:assistant@example.com\nEND:VCARD\nEND:VCARD\n"
    )
    assert [(i.name, i.emails) for i in items if isinstance(i, Card)] == [("Boss", ["boss@example.com"])]


def test_windows_1252_file_is_read() -> None:
    data = "BEGIN:VCARD\r\nVERSION:2.1\r\nFN:Zoë Ørsted\r\nEMAIL:zoe@example.dk\r\nEND:VCARD\r\n".encode("cp1252")
    [card] = cards(data)
    assert isinstance(card, Card) and card.name == "Zoë Ørsted"


# ---- groups -----------------------------------------------------------------------------------------------------


def test_group_cards_of_version_4_and_apple() -> None:
    items = cards(
        "BEGIN:VCARD\nVERSION:4.0\nKIND:group\nFN:Suppliers\nUID:grp-1\nMEMBER:urn:uuid:m1\n"
        "MEMBER:mailto:nobody@example.com\nEND:VCARD\n"
        "BEGIN:VCARD\nVERSION:3.0\nX-ADDRESSBOOKSERVER-KIND:group\nFN:Family\nUID:grp-2\n"
        "X-ADDRESSBOOKSERVER-MEMBER:urn:uuid:m2\nEND:VCARD\n"
        "BEGIN:VCARD\nVERSION:4.0\nUID:urn:uuid:m1\nFN:Print Shop\nEMAIL:shop@print.example\nEND:VCARD\n"
    )
    groups = [i for i in items if isinstance(i, CardGroup)]
    assert groups == [CardGroup("grp-1", "Suppliers", ["m1"]), CardGroup("grp-2", "Family", ["m2"])]
    [card] = [i for i in items if isinstance(i, Card)]
    assert card.uid == "m1"  # what the group's MEMBER names


# ---- birthdays -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("19700412", Birthday(4, 12, 1970)),
    ("1970-04-12", Birthday(4, 12, 1970)),
    ("1970-04-12T00:00:00Z", Birthday(4, 12, 1970)),
    ("--0412", Birthday(4, 12)),
    ("--04-12", Birthday(4, 12)),
    ("1604-04-12", Birthday(4, 12)),  # a placeholder year
    ("0000-02-29", Birthday(2, 29)),
    ("1970-04-31", None),  # no such day
    ("circa 1800", None),
    ("", None),
])
def test_birthday_forms(text: str, expected: Birthday | None) -> None:
    assert birthday_from_text(text) == expected


def test_a_free_text_birthday_is_no_birthday() -> None:
    card = one("BEGIN:VCARD\nVERSION:4.0\nFN:Old\nEMAIL:old@example.com\nBDAY;VALUE=text:circa 1800\nEND:VCARD\n")
    assert card.birthday is None


# ---- the corpus of real exports -----------------------------------------------------------------------------------

EXPECTED = {  # file → (names of the cards read, how many skipped)
    "John_Doe_ANDROID.vcf": (["", "", "Ñ Ñ Ñ Ñ", "ÑÑÑÑ"], 2),
    "John_Doe_BLACK_BERRY.vcf": ([], 1),
    "John_Doe_EVOLUTION.vcf": (["Mr. John Richter, James Doe Sr."], 0),
    "John_Doe_GMAIL.vcf": (["Mr. John Richter"], 0),
    "John_Doe_IPHONE.vcf": (["Mr. John Richter James Doe Sr."], 0),
    "John_Doe_LOTUS_NOTES.vcf": (["Mr. Doe John I Johny"], 0),
    "John_Doe_MAC_ADDRESS_BOOK.vcf": (["Mr. John Richter,James Doe Sr."], 0),
    "John_Doe_MS_OUTLOOK.vcf": (["Mr. John Richter James Doe Sr."], 0),
    "fullcontact.vcf": (["Prefix FirstName MiddleName LastName Suffix"], 0),
    "gmail-list.vcf": (["Arnold Smith", "Chris Beatle", "Doug White"], 0),
    "gmail-single.vcf": (["Greg Dartmouth"], 0),
    "gmail-single2.vcf": (["VCard Test"], 0),
    "issue114.vcf": (["Dummy, Dummy"], 0),
    "outlook-2003.vcf": (["John Doe III"], 0),
    "outlook-2007.vcf": (["Mr. Michael Angstadt Jr."], 0),
    "radicale-1587.vcf": ([], 1),
    "rfc2426-example.vcf": (["Frank Dawson", "Tim Howes"], 0),
    "rfc6350-example.vcf": (["Simon Perreault"], 0),
    "thunderbird-MoreFunctionsForAddressBook-extension.vcf": (["John Doe"], 0),
}


def test_corpus_is_complete() -> None:
    assert sorted(p.name for p in CORPUS.glob("*.vcf")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_card_is_read_or_named(name: str) -> None:
    items = cards((CORPUS / name).read_bytes(), name)
    read = [i for i in items if isinstance(i, Card)]
    skipped = [i for i in items if isinstance(i, Skip)]
    assert ([c.name for c in read], len(skipped)) == EXPECTED[name]
    assert all(c.emails and all("@" in e for e in c.emails) for c in read)
    assert all(s.what.startswith(f"{name}: card ") for s in skipped)


def test_corpus_facts_from_quirky_exporters() -> None:
    outlook = next(i for i in cards((CORPUS / "John_Doe_MS_OUTLOOK.vcf").read_bytes()) if isinstance(i, Card))
    assert outlook.birthday == Birthday(3, 22, 1980) and outlook.organisation == "IBM"
    lotus = next(i for i in cards((CORPUS / "John_Doe_LOTUS_NOTES.vcf").read_bytes()) if isinstance(i, Card))
    assert lotus.emails == ["john.doe@ibm.com", "billy_bob@gmail.com"]  # type=pref first
    rfc = next(i for i in cards((CORPUS / "rfc6350-example.vcf").read_bytes()) if isinstance(i, Card))
    assert rfc.birthday == Birthday(2, 3)  # --0203


# ---- the vCard files address book ---------------------------------------------------------------------------------

CARD = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{name}\r\nEMAIL:{email}\r\nCATEGORIES:{groups}\r\nEND:VCARD\r\n"


def vcf(*people: tuple[str, str, str, str]) -> str:
    return "".join(CARD.format(uid=u, name=n, email=e, groups=g) for u, n, e, g in people)


def pull(book: VcardBook, store: Store) -> list[CardBatch]:
    return pull_cards_into(store, book)


def test_a_file_is_read_once_and_again_only_when_it_changes(tmp_path: Path, store: Store) -> None:
    path = tmp_path / "contacts.vcf"
    path.write_text(vcf(("u1", "Anna", "anna@example.com", "Family"), ("u2", "Bob", "bob@example.com", "Suppliers")))
    book = VcardBook("acct", {"path": path})
    [batch] = pull(book, store)
    assert [c.name for c in batch.cards] == ["Anna", "Bob"] and batch.full and batch.complete
    assert pull(book, store) == []  # unchanged: not even opened
    path.write_text(vcf(("u1", "Anna B.", "anna@example.com", "Family")))
    os.utime(path, ns=(1, 1))
    [batch] = pull(book, store)
    assert [c.name for c in batch.cards] == ["Anna B."]
    assert store.cards.known_ids("acct", "contacts.vcf") == {"u1"}  # Bob left the file, so the store


def test_a_folder_of_one_card_per_file_and_a_file_that_goes(tmp_path: Path, store: Store) -> None:
    (tmp_path / "book").mkdir()
    for uid, name in (("a", "Anna"), ("b", "Bob")):
        (tmp_path / "book" / f"{uid}.vcf").write_text(vcf((uid, name, f"{uid}@example.com", "")))
    (tmp_path / "book" / ".hidden.vcf").write_text("not read")
    (tmp_path / "book" / "notes.txt").write_text("not read")
    book = VcardBook("acct", {"path": tmp_path / "book"})
    assert sorted(b.resource for b in pull(book, store)) == ["a.vcf", "b.vcf"]
    (tmp_path / "book" / "b.vcf").unlink()
    [gone] = pull(book, store)
    assert gone.resource == "b.vcf" and gone.deleted == ["b"]
    assert store.cards.count("acct") == 1


def test_a_file_that_is_no_vcard_is_named_and_read_again_once_fixed(tmp_path: Path, store: Store) -> None:
    path = tmp_path / "contacts.vcf"
    path.write_text("this is a spreadsheet, not a card")
    book = VcardBook("acct", {"path": path})
    [batch] = pull(book, store)
    assert batch.skipped == [Skip("contacts.vcf", "not a vCard file: no BEGIN:VCARD")] and batch.cursor is None
    path.write_text(vcf(("u1", "Anna", "anna@example.com", "")))
    [batch] = pull(book, store)
    assert [c.name for c in batch.cards] == ["Anna"]
    assert json.loads(batch.cursor or "{}")["size"] == path.stat().st_size


def test_a_missing_path_fails_the_whole_book(tmp_path: Path, store: Store) -> None:
    with pytest.raises(SourceUnavailable, match="does not exist"):
        pull(VcardBook("acct", {"path": tmp_path / "nowhere.vcf"}), store)


def test_an_address_book_of_ten_thousand_cards(tmp_path: Path, store: Store) -> None:
    path = tmp_path / "all.vcf"
    path.write_text(vcf(*((f"u{i}", f"Person {i}", f"p{i}@example.com", "Clients") for i in range(10_000))))
    book = VcardBook("acct", {"path": path})
    batches = pull(book, store)
    assert [len(b.cards) for b in batches] == [2000] * 5 + [0]
    assert [b.complete for b in batches] == [False] * 5 + [True]
    assert store.cards.count("acct") == 10_000 and pull(book, store) == []


def test_entries_named_vcf_that_are_no_file_are_named_until_they_go_and_group_cards_are_read(
        tmp_path: Path, store: Store) -> None:
    book_dir = tmp_path / "book"
    book_dir.mkdir()
    (book_dir / "groups.vcf").write_text("BEGIN:VCARD\r\nVERSION:4.0\r\nKIND:group\r\nFN:Suppliers\r\nUID:grp-1\r\n"
                                         "MEMBER:urn:uuid:a\r\nEND:VCARD\r\n")
    (book_dir / "a.vcf").write_text(vcf(("a", "Anna", "anna@example.com", "")))
    os.mkfifo(book_dir / "pipe.vcf")  # never opened: a read would wait for a writer forever
    (book_dir / "folder.vcf").mkdir()
    book = VcardBook("acct", {"path": book_dir})
    batches = {b.resource: b for b in pull(book, store)}
    assert sorted((s.what, s.why) for s in batches["."].skipped) == [
        ("folder.vcf", "not a regular file: a folder"), ("pipe.vcf", "not a regular file: a FIFO")]
    assert batches["groups.vcf"].groups == [CardGroup("grp-1", "Suppliers", ["a"])]
    assert dict(store.cards.facts(store.select(None)))["anna@example.com"].groups == ("Suppliers",)
    (book_dir / "pipe.vcf").unlink()
    (book_dir / "folder.vcf").rmdir()
    [cleared] = pull(book, store)
    assert cleared.resource == "." and cleared.skipped == [] and cleared.cursor is None


def test_a_byte_order_mark_a_card_without_version_and_a_mailto_address() -> None:
    card = one("\ufeffBEGIN:VCARD\r\nFN:Anna Berg\r\nEMAIL;TYPE=work:mailto:Anna@Example.org\r\nEND:VCARD\r\n")
    assert (card.name, card.emails) == ("Anna Berg", ["Anna@Example.org"])
