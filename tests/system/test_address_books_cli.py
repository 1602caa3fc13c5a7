"""Address books from the command line, end to end: the README's walk-through ("Suppliers" and "Family" groups,
pulled once), people by group and in JSON and CSV, why, unmerge of a card's address, init's starter tiers, and a
broken card named in the pull summary."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import icalendar
import pytest

from tests.support.address_book import write_address_book_sample
from tests.support.cli import Run

TODAY = date.today()


@pytest.fixture
def walkthrough(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    config = write_address_book_sample(tmp_path / "sample", TODAY)
    monkeypatch.setenv("SYNCD_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("SYNCD_CONFIG", str(config))
    return tmp_path / "sample"


def people(run: Run, *args: str) -> dict[str, dict[str, Any]]:
    code, out, err = run("people", "--json", *args)
    assert code == 0, err
    return {p["key"]: p for p in json.loads(out)}


def test_the_walkthrough_suppliers_kept_family_on_their_rhythm_names_and_birthdays(run: Run, walkthrough: Path) -> None:
    code, out, err = run("pull")
    assert code == 0, err
    assert "contacts: 6 cards read (6 new or changed), 0 gone" in out
    listed = people(run)
    # Suppliers: kept (listed without --all, even the plumber syncd never saw in mail), never reminded.
    for key, name in (("print@printshop.example", "Druckerei Weber"), ("klaus@plumbing.example", "Klaus (plumber)")):
        assert listed[key]["name"] == name and listed[key]["remind"] is False and listed[key]["due"] is None
    assert listed["klaus@plumbing.example"]["tier"] == "suppliers"
    assert listed["print@printshop.example"]["organisation"] == "Druckerei Weber GmbH"
    # Family: their own rhythm, under the names given them, Oma too though she never mails.
    for key in ("farah@example.org", "eli@example.net", "oma@example.net"):
        assert (listed[key]["tier"], listed[key]["every_days"], listed[key]["cadence_rule"]) == (
            "family", 30, "tier 'family'")
        assert listed[key]["groups"] == ["Family"]
    assert listed["eli@example.net"]["name"] == "Cousin Eli" and listed["eli@example.net"]["remind"] is True
    assert listed["oma@example.net"]["due"] == (TODAY + timedelta(days=30)).isoformat()
    assert listed["farah@example.org"]["reason"].startswith("meeting already booked")
    # A card is one person under the name the user gave.
    assert listed["bob@example.net"]["addresses"] == ["bob.okafor@home.example", "bob@example.net"]
    assert listed["bob@example.net"]["name"] == "Bob Okafor"
    # A reminder on each family birthday, on the day; none for the plumber (a supplier).
    calendar = icalendar.Calendar.from_ical((walkthrough / "followups.ics").read_bytes())
    birthdays = {str(e["SUMMARY"]): e.decoded("DTSTART").date() for e in calendar.walk("VEVENT")
                 if str(e["SUMMARY"]).startswith("Wish ")}
    assert birthdays == {
        "Wish Farah Haddad a happy birthday": TODAY + timedelta(days=5),
        "Wish Cousin Eli a happy birthday": TODAY + timedelta(days=9),
        "Wish Oma Ingrid a happy birthday": TODAY + timedelta(days=12),
    }
    code, out, _ = run("pull")
    assert code == 0 and "0 created, 0 updated, 0 deleted" in out


def test_people_by_group_csv_and_why(run: Run, walkthrough: Path) -> None:
    run("pull")
    code, out, _ = run("people", "--group", "family")
    assert code == 0 and "Oma Ingrid" in out and "Druckerei" not in out
    code, out, _ = run("people", "--csv", "--group", "Suppliers")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert sorted(r["name"] for r in rows) == ["Druckerei Weber", "Klaus (plumber)"]
    assert {r["groups"] for r in rows} == {"Suppliers"} and "organisation" in rows[0]
    code, out, _ = run("why", "oma@example.net")
    assert code == 0 and "address book: card first read" in out and "groups Family" in out
    assert "birthday 1941-" in out


def test_someone_only_in_the_address_book_without_a_tier_is_listed_with_all(run: Run, walkthrough: Path) -> None:
    book = walkthrough / "contacts.vcf"
    book.write_text(book.read_text() + "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:zed\r\nFN:Zed\r\n"
                    "EMAIL:zed@example.org\r\nEND:VCARD\r\n")
    run("pull")
    assert "zed@example.org" not in people(run)
    zed = people(run, "--all")["zed@example.org"]
    assert zed["relationship"] is False and zed["reason"].startswith("only in your address book")


def test_unmerge_takes_an_address_off_its_card_and_holds_across_pulls(run: Run, walkthrough: Path) -> None:
    run("pull")
    code, _, err = run("unmerge", "bob.okafor@home.example")
    assert code == 0, err
    book = walkthrough / "contacts.vcf"
    book.write_text(book.read_text().replace("FN:Bob Okafor", "FN:Bob O."))  # changed upstream
    run("pull")
    listed = people(run, "--all")
    assert listed["bob@example.net"]["addresses"] == ["bob@example.net"]
    assert listed["bob@example.net"]["name"] == "Bob O."


def test_a_broken_card_is_named_in_the_summary_and_the_others_are_read(run: Run, walkthrough: Path) -> None:
    book = walkthrough / "contacts.vcf"
    book.write_text(book.read_text() + "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Broken\r\nEMAIL;TYPE=\"x:b@example.org\r\n"
                    "END:VCARD\r\n")
    code, out, _ = run("-v", "pull")
    assert code == 0
    assert "skipped 1: unreadable card" in out and "contacts.vcf: card 7 (Broken)" in out
    assert "Oma Ingrid" in {p["name"] for p in people(run).values()}


def test_init_offers_a_starter_tier_per_group_never_the_directory_by_itself(
        run: Run, walkthrough: Path, tmp_path: Path) -> None:
    run("pull")
    code, out, _ = run("init", "--groups")
    assert code == 0 and "(Family, Suppliers) is named by a tier already" in out
    fresh = tmp_path / "new" / "config.toml"
    code, out, _ = run("--config", str(fresh), "init")
    assert code == 0
    written = fresh.read_text()
    assert '# groups = ["Family"]' in written and '# groups = ["Suppliers"]' in written
    assert "# remind = false              # suggested" in written
    assert "\nremind = false" in written  # the starter's own directory tier, as before ...
    assert '\ngroups = ["Suppliers"]' not in written  # ... but nothing from the address book is set by itself
