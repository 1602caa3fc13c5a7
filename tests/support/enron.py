"""The Enron mailboxes (docs/testing.md#the-enron-corpus): unpacking them, and an independent reading of their
raw files for the tests that check syncd against them.

Written from docs/rules.md with the standard library's ``email`` package, sharing nothing with
syncd's code: which messages there are (one per Message-ID), who the owner is, which contacts qualify,
and which names the raw headers give each address.

The owner: the mailbox owner's address, its spellings with other punctuation (``.``, ``_``, ``-``) on
the same domain, and every address the headers name with the owner's own name (the name on the From of
the owner's mail). Names come from display names in From/To/Cc, from X-From for the sender, and from
X-To / X-cc: an entry that carries one of the real header's addresses names that address; otherwise
entries pair with To / Cc one to one when there are as many entries as addresses (Exchange ends every
entry with ">", Notes separates plain names with commas). Names are those of the message's participants:
an X- entry whose address the real header does not list (a converter rewrote it) names nobody here.
"""

from __future__ import annotations

import dataclasses
import email
import email.policy
import re
import tarfile
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime
from email.utils import getaddresses, parsedate_to_datetime
from pathlib import Path

from tests.support.paths import ENRON_TARBALL

# Each mailbox's owner (the corpus's own README names them).
OWNERS = {
    "badeer-r": "robert.badeer@enron.com", "blair-l": "lynn.blair@enron.com", "cash-m": "michelle.cash@enron.com",
    "corman-s": "shelley.corman@enron.com", "cuilla-m": "martin.cuilla@enron.com",
    "harris-s": "steven.harris@enron.com", "mckay-b": "brad.mckay@enron.com", "ring-r": "richard.ring@enron.com",
    "scholtes-d": "diana.scholtes@enron.com", "whalley-g": "greg.whalley@enron.com",
}
EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
CAP = 20
ROLE = re.compile(r"^(noreply|no-reply|no_reply|donotreply|do-not-reply|do_not_reply|mailer-daemon|postmaster"
                  r"|bounces?|notifications?|newsletters?)([+._-].*)?$")


def extract(root: Path, users: Iterable[str] | None = None) -> Path:
    """Unpack the mailboxes (all, or those of ``users``) under ``root``; returns the ``maildir`` folder."""
    wanted = None if users is None else tuple(f"maildir/{user}/" for user in users)
    with tarfile.open(ENRON_TARBALL) as archive:
        members = [m for m in archive.getmembers() if wanted is None or m.name.lstrip("./").startswith(wanted)]
        archive.extractall(root, members=members, filter="data")
    return next(root.rglob("maildir"))


def address(raw: str) -> str | None:
    """A usable, non-role address, normalised; None for X.500 paths, bare names and role addresses."""
    text = raw.strip().strip("<>").strip("'\"").lower().lstrip(".")
    if not re.fullmatch(r"[^@\s/<>]+@[a-z0-9-]+(\.[a-z0-9-]+)+", text) or ROLE.match(text.split("@")[0]):
        return None
    return text


def words(name: str) -> frozenset[str]:
    """A name as a set of lower-case words, so "Crandall, Sean" and "Sean Crandall" are the same name."""
    name = re.sub(r"\([^)]*\)", " ", name.split("<")[0]).replace("'", "")
    return frozenset(w for w in re.findall(r"[a-z]+", name.lower()) if len(w) > 1)


@dataclasses.dataclass
class Message:
    when: datetime
    sender: str | None
    sender_name: str
    recipients: set[str]  # usable addresses in To/Cc
    entries: set[str]  # every To/Cc entry as written (lower-cased), unusable ones included
    bulk: bool
    names: dict[str, set[str]]  # address -> names this message's headers give it


def _x_entries(value: str) -> list[str]:
    if "<" in value:
        return [part for part in re.split(r"(?<=>)\s*,\s*", value.strip()) if part]
    return [part.strip() for part in value.split(",") if part.strip()]


def read(mailbox: Path) -> list[Message]:
    """Every message of a mailbox once (by Message-ID and sender: docs/rules.md#interaction), with a usable date."""
    seen: set[tuple[str, str]] = set()
    found = []
    for path in sorted(p for p in mailbox.rglob("*") if p.is_file()):
        head = email.message_from_bytes(path.read_bytes().split(b"\n\n", 1)[0], policy=email.policy.compat32)
        ident = (str(head.get("Message-ID", "")).strip(), str(head.get("From", "")).strip().lower())
        if ident in seen:
            continue
        seen.add(ident)
        try:
            when = parsedate_to_datetime(str(head["Date"])).astimezone(UTC)
        except (TypeError, ValueError):
            continue
        senders = [(n, address(a)) for n, a in getaddresses(head.get_all("From", []))]
        to_cc = getaddresses(head.get_all("To", []) + head.get_all("Cc", []))
        names: dict[str, set[str]] = defaultdict(set)
        for name, raw in [*senders, *((n, address(a)) for n, a in to_cc)]:
            if name and raw:
                names[raw].add(name)
        sender = senders[0][1] if senders else None
        if sender and head.get("X-From"):
            names[sender].add(str(head["X-From"]))
        for header, x_header in (("To", "X-To"), ("Cc", "X-cc")):
            listed = [raw for _, raw in getaddresses(head.get_all(header, [])) if raw.strip()]
            entries = _x_entries(str(head.get(x_header) or ""))
            here = {address(raw) for raw in listed} - {None}
            for entry in entries:  # an entry that carries an address of the header: "'Scholtes, Diana' <dscholt@...>"
                carried = re.search(r"<([^<>]+@[^<>]+)>", entry)
                if carried and address(carried.group(1)) in here and entry.split("<")[0].strip(" '\""):
                    names[str(address(carried.group(1)))].add(entry)
            if len(entries) == len(listed):
                for raw, entry in zip(listed, entries, strict=True):
                    if address(raw) and "@" not in entry.split("<")[0]:
                        names[str(address(raw))].add(entry)
        bulk = bool(head.get("List-Id") or head.get("List-Unsubscribe")) or str(
            head.get("Precedence", "")).strip().lower() in ("bulk", "list", "junk") or str(
            head.get("Auto-Submitted", "no")).strip().lower() != "no"
        usable = {a for a in (address(raw) for _, raw in to_cc) if a}
        written = {raw.strip().strip("<>").strip("'\"").lower().lstrip(".") for _, raw in to_cc if raw.strip()}
        own_name = str(head.get("X-From") or (senders[0][0] if senders else ""))
        found.append(Message(when, sender, own_name, usable, written, bulk, dict(names)))
    return found


def owner_addresses(messages: list[Message], owner: str) -> set[str]:
    local, _, domain = owner.partition("@")
    plain = re.sub(r"[._-]", "", local)
    every = {m.sender for m in messages if m.sender} | {r for m in messages for r in m.recipients}
    found = {a for a in every if a.endswith("@" + domain) and re.sub(r"[._-]", "", a.split("@")[0]) == plain}
    own_names = {words(m.sender_name) for m in messages if m.sender in found and len(words(m.sender_name)) > 1}
    for m in messages:
        found |= {a for a, names in m.names.items() if any(words(n) in own_names for n in names)}
    return found


@dataclasses.dataclass
class Contacts:
    me: set[str]
    days: dict[str, set[date]]
    last_out: dict[str, datetime]
    last_in: dict[str, datetime]
    names: dict[str, set[frozenset[str]]]  # every name the headers give the address, as word sets

    @property
    def outbound(self) -> set[str]:
        return set(self.last_out)

    @property
    def inbound(self) -> set[str]:
        return set(self.last_in)

    def last(self, person: str) -> datetime:
        return max(t for t in (self.last_out.get(person), self.last_in.get(person)) if t is not None)


def contacts(messages: list[Message], me: set[str], as_of: datetime) -> Contacts:
    """The qualifying contacts up to ``as_of`` (docs/rules.md#qualifying-contact), per address."""
    found = Contacts(me, defaultdict(set), {}, {}, defaultdict(set))
    for m in messages:
        for who, names in m.names.items():
            found.names[who] |= {words(n) for n in names if len(words(n)) > 1 and "@" not in n.split("<")[0]}
        others = len(m.entries - me)  # every entry counts against the cap, unusable ones included
        if not EARLIEST <= m.when <= as_of or not m.sender or others > CAP:
            continue
        if m.sender in me:
            people, last = m.recipients - me, found.last_out
        elif m.recipients & me and not m.bulk:
            people, last = {m.sender}, found.last_in
        else:
            continue
        for person in people:
            found.days[person].add(m.when.date())
            last[person] = max(last.get(person, m.when), m.when)
    return found
