"""The bundled sample: a small synthetic mailbox and calendar (no real person's mail) and a config for it.

Dates are laid out relative to the day the sample is first written, so the follow-ups it produces land
in the coming days; the same anchor gives the same files. Everyone lives on the reserved example
domains (RFC 2606).
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

OWNER = "sam@example.com"

# (address, display name, rhythm in days between contacts, how many contacts, days since the last one)
PEOPLE: list[tuple[str, str, int, int, int]] = [
    ("alice@example.org", "Alice Moreau", 20, 12, 25),  # inner circle, a little overdue
    ("bob@example.net", "Bob Okafor", 45, 6, 70),  # learned rhythm, overdue
    ("chen@example.org", "Chen Wei", 30, 8, 5),  # recently in touch
    ("dana@client.example", "Dana Ruiz", 14, 10, 40),  # project client, overdue
    ("eli@example.net", "Eli Novak", 90, 3, 200),  # long rhythm, overdue
    ("farah@example.org", "Farah Haddad", 60, 4, 55),  # nearly due
    ("print@printshop.example", "Print Shop", 30, 5, 100),  # directory tier: never reminded
    ("gus@example.net", "Gus Lindqvist", 120, 2, 1300),  # dormant (older than forget_after)
]
NEWSLETTER = ("news@list.example", "Weekly Digest")
COLD_PITCH = ("sales@vendor.example", "Pat Vendor")


def write_sample(root: Path, anchor: date | None = None) -> Path:
    """Write mail/, calendar.ics and config.toml under ``root`` (kept if present). Returns the config path."""
    root.mkdir(parents=True, exist_ok=True)
    anchor_file = root / "anchor"
    if anchor is None:
        anchor = date.fromisoformat(anchor_file.read_text().strip()) if anchor_file.exists() else date.today()
    anchor_file.write_text(anchor.isoformat() + "\n")
    now = datetime.combine(anchor, time(12, 0), UTC)
    mail = root / "mail"
    if not mail.exists():
        _write_maildir(mail, now)
    calendar = root / "calendar.ics"
    if not calendar.exists():
        calendar.write_text(_calendar(now), encoding="utf-8")
    config = root / "config.toml"
    if not config.exists():
        config.write_text(_config(root), encoding="utf-8")
    return config


def _write_maildir(mail: Path, now: datetime) -> None:
    rng = random.Random(7)
    for sub in ("cur", "new", "tmp", ".Sent/cur", ".Sent/new", ".Sent/tmp"):
        (mail / sub).mkdir(parents=True, exist_ok=True)
    counter = 0

    def deliver(folder: str, message: EmailMessage, when: datetime) -> None:
        nonlocal counter
        counter += 1
        name = f"{int(when.timestamp())}.sample{counter:04d}.localhost:2,S"
        (mail / folder / name).write_bytes(bytes(message))

    for address, name, rhythm, count, last_days in PEOPLE:
        for n in range(count):
            when = now - timedelta(days=last_days + n * rhythm + rng.randint(0, 3), hours=rng.randint(0, 8))
            outbound = n % 2 == 0
            me, them = ("Sam Example", OWNER), (name, address)
            sender, recipient = (me, them) if outbound else (them, me)
            message = _message(sender, recipient, when, f"Catching up ({n + 1})")
            deliver(".Sent/cur" if outbound else "cur", message, when)
    for n in range(6):  # a newsletter: bulk, never a relationship
        when = now - timedelta(days=7 * n + 1)
        message = _message(NEWSLETTER[::-1], ("Sam Example", OWNER), when, f"Digest #{100 - n}")
        message["List-Id"] = "<weekly.list.example>"
        message["List-Unsubscribe"] = "<mailto:unsubscribe@list.example>"
        deliver("cur", message, when)
    when = now - timedelta(days=3)  # a cold pitch: inbound only, so not a relationship (reciprocity)
    deliver("new", _message(COLD_PITCH[::-1], ("Sam Example", OWNER), when, "Quick question"), when)
    # An all-hands with 30 recipients: over max_recipients, it moves nobody's last contact.
    crowd = [(f"Colleague {i}", f"colleague{i}@example.com") for i in range(30)]
    message = _message(("Sam Example", OWNER), crowd[0], now - timedelta(days=2), "Office move")
    del message["To"]
    message["To"] = ", ".join(f"{n} <{a}>" for n, a in crowd)
    deliver(".Sent/cur", message, now - timedelta(days=2))


def _message(
    sender: tuple[str, str], recipient: tuple[str, str], when: datetime, subject: str
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = f"{sender[0]} <{sender[1]}>"
    message["To"] = f"{recipient[0]} <{recipient[1]}>"
    message["Subject"] = subject
    message["Date"] = format_datetime(when)
    message["Message-ID"] = make_msgid(idstring=f"{int(when.timestamp())}{sender[1]}", domain="sample.example")
    message.set_content("(sample message body; syncd never reads it)\n")
    return message


def _stamp(value: datetime) -> str:
    return value.strftime("%Y%m%dT%H%M%SZ")


def _calendar(now: datetime) -> str:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//syncd//sample//EN"]

    def event(uid: str, start: datetime, summary: str, attendees: list[tuple[str, str, str]], extra: list[str]) -> None:
        lines.extend(
            [
                "BEGIN:VEVENT",
                f"UID:{uid}",
                f"DTSTAMP:{_stamp(now)}",
                f"DTSTART:{_stamp(start)}",
                f"DTEND:{_stamp(start + timedelta(minutes=45))}",
                f"SUMMARY:{summary}",
                f"ORGANIZER;CN=Sam Example:mailto:{OWNER}",
                *extra,
            ]
        )
        lines.append(f"ATTENDEE;CN=Sam Example;PARTSTAT=ACCEPTED:mailto:{OWNER}")
        for address, name, partstat in attendees:
            lines.append(f"ATTENDEE;CN={name};PARTSTAT={partstat}:mailto:{address}")
        lines.append("END:VEVENT")

    # A weekly project series with Dana that ended three weeks ago: the "project wrapped up" follow-up.
    first = (now - timedelta(days=10 * 7 + 21)).replace(hour=14, minute=0, second=0, microsecond=0)
    event("sample-project-sync", first, "Project sync", [("dana@client.example", "Dana Ruiz", "ACCEPTED")],
          ["RRULE:FREQ=WEEKLY;COUNT=10"])
    # Lunch with Farah next week: a meeting already booked, so no reminder before it.
    lunch = (now + timedelta(days=6)).replace(hour=12, minute=0, second=0, microsecond=0)
    event("sample-lunch", lunch, "Lunch", [("farah@example.org", "Farah Haddad", "ACCEPTED")], [])
    # A coffee with Hana last month: a meeting alone makes a relationship (reciprocity).
    coffee = (now - timedelta(days=33)).replace(hour=9, minute=0, second=0, microsecond=0)
    event("sample-coffee", coffee, "Coffee", [("hana@example.net", "Hana Sato", "ACCEPTED")], [])
    # A meeting the owner declined: not a contact.
    declined = (now - timedelta(days=12)).replace(hour=16, minute=0, second=0, microsecond=0)
    lines.extend(
        [
            "BEGIN:VEVENT",
            "UID:sample-declined",
            f"DTSTAMP:{_stamp(now)}",
            f"DTSTART:{_stamp(declined)}",
            f"DTEND:{_stamp(declined + timedelta(minutes=30))}",
            "SUMMARY:Vendor demo",
            "ORGANIZER;CN=Pat Vendor:mailto:sales@vendor.example",
            f"ATTENDEE;CN=Sam Example;PARTSTAT=DECLINED:mailto:{OWNER}",
            "END:VEVENT",
        ]
    )
    lines.append("END:VCALENDAR")
    return "\r\n".join(lines) + "\r\n"


def _config(root: Path) -> str:
    return f"""# syncd sample configuration (written by `syncd sample`; safe to edit)
[accounts.sample-mail]
provider = "maildir"
path = "{root / 'mail'}"
me = ["{OWNER}"]

[accounts.sample-calendar]
provider = "ics"
path = "{root / 'calendar.ics'}"
me = ["{OWNER}"]

[followups]
target = "ics"
ics_path = "{root / 'followups.ics'}"
timezone = "UTC"

[[tiers]]
name = "directory"
remind = false
match = ["*@printshop.example"]

[[tiers]]
name = "inner"
every = "21d"
match = ["alice@example.org"]
"""
