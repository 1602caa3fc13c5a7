"""The address-book walk-through of the README ("Suppliers" and "Family"), on top of the bundled sample: a
contacts.vcf written as Thunderbird exports one, and the sample's configuration with the address book, two
tiers naming its groups, and birthdays on. Birthdays fall in the days after ``anchor``, so they are planned."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from syncd.sample import write_sample


def _day(anchor: date, days: int, year: int | None) -> str:
    day = anchor + timedelta(days=days)
    return f"{year:04d}{day:%m%d}" if year else f"--{day:%m%d}"


def contacts(anchor: date) -> str:
    cards = [
        ("farah", "Farah Haddad", ["farah@example.org"], "Family", _day(anchor, 5, 1988), None),
        ("eli", "Cousin Eli", ["eli@example.net"], "Family", _day(anchor, 9, None), None),
        ("oma", "Oma Ingrid", ["oma@example.net"], "Family", _day(anchor, 12, 1941), None),
        ("weber", "Druckerei Weber", ["print@printshop.example"], "Suppliers", None, "Druckerei Weber GmbH"),
        ("klaus", "Klaus (plumber)", ["klaus@plumbing.example"], "Suppliers", _day(anchor, 3, 1970), None),
        ("bob", "Bob Okafor", ["bob@example.net", "bob.okafor@home.example"], None, None, None),
    ]
    out = []
    for uid, name, emails, group, birthday, organisation in cards:
        lines = ["BEGIN:VCARD", "VERSION:3.0", f"UID:{uid}", f"FN:{name}", f"N:{name};;;;"]
        lines += [f"EMAIL;TYPE=INTERNET:{email}" for email in emails]
        lines += [f"CATEGORIES:{group}"] if group else []
        lines += [f"BDAY:{birthday}"] if birthday else []
        lines += [f"ORG:{organisation}"] if organisation else []
        out.append("\r\n".join([*lines, "END:VCARD"]) + "\r\n")
    return "".join(out)


TIERS = """
[[tiers]]
name = "suppliers"
remind = false
groups = ["Suppliers"]

[[tiers]]
name = "family"
every = "30d"
groups = ["Family"]

[accounts.contacts]
provider = "vcard"
path = "{path}"
"""


def write_address_book_sample(root: Path, anchor: date) -> Path:
    """The sample under ``root`` with the address book added; returns the configuration's path."""
    config = write_sample(root, anchor=anchor)
    book = root / "contacts.vcf"
    book.write_text(contacts(anchor), encoding="utf-8")
    text = config.read_text().replace('timezone = "UTC"\n', 'timezone = "UTC"\nbirthdays = true\n')
    config.write_text(text + TIERS.format(path=book), encoding="utf-8")
    return config
