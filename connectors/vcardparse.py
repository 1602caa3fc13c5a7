"""vCard text → cards and groups (docs/vcard.md), shared by the vCard files source and CardDAV.

vobject parses each card; what it cannot take is prepared here, line by line, before it sees the card
(docs/vcard.md#parsing-with-vobject):

* a file is split into its ``BEGIN:VCARD`` … ``END:VCARD`` blocks and each is parsed on its own, so one
  broken card is counted and named while the others go on (vobject stops the whole stream at the first
  bad line); a nested card (a 2.1 ``AGENT``) stays inside its parent and is not read;
* lines are unfolded (RFC 6350 §3.2) and a quoted-printable value's soft line breaks (RFC 2045 §6.7: a
  line ending in ``=``) are joined, which vobject 0.9.9 cannot do;
* only the properties syncd reads are handed over (names, addresses, organisation, groups, birthday,
  identity): a phone export's photo, notes and postal addresses are never parsed, so a quirk in one of
  them (a 2.1 base64 photo, an unescaped note) cannot cost the card, and a large address book parses
  faster;
* each line is decoded as UTF-8, else as Windows-1252 (2.1 files from Windows and old phones), so a
  card in another character set is still read rather than dropped; lines are unfolded as bytes first,
  since a fold may fall inside a multi-byte character (docs/vcard.md#syntax-differences).
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Iterable, Iterator
from typing import Any

from connectors.base import Birthday, Card, CardGroup, Skip

# What syncd reads of a card (docs/vcard.md#properties-syncd-reads); everything else is left out.
WANTED = frozenset({
    "VERSION", "FN", "N", "EMAIL", "ORG", "CATEGORIES", "BDAY", "UID", "KIND", "MEMBER",
    "X-ADDRESSBOOKSERVER-KIND", "X-ADDRESSBOOKSERVER-MEMBER",
})
_LINE_BREAK = re.compile(rb"\r\n|\n|\r")
_NAME = re.compile(r"^(?:[A-Za-z0-9-]+\.)?([A-Za-z0-9-]+)")
_FULL_DATE = re.compile(r"^(\d{4})-?(\d{2})-?(\d{2})(?:T.*)?$")
_NO_YEAR = re.compile(r"^--(\d{2})-?(\d{2})$")
_UUID_URN = "urn:uuid:"

Item = Card | CardGroup | Skip


@dataclasses.dataclass
class _Block:
    lines: list[str]  # logical lines between BEGIN:VCARD and END:VCARD (nested cards left out)
    number: int  # its position in the file, from 1
    complete: bool  # END:VCARD was found


def parse(data: bytes | str, where: str) -> Iterator[Item]:
    """Every card and group of ``data`` (one file, or one CardDAV resource), and a :class:`Skip` for each
    card that cannot be used: unreadable, truncated, or without an email address.

    A card's provider id is its UID, else ``where#n`` (its position); a caller with an id of its own
    (a CardDAV href) replaces it.
    """
    for block in _blocks(data):
        yield _item(block, where)


def is_vcard(data: bytes) -> bool:
    """Whether ``data`` holds at least one card (an empty or foreign file is reported, not parsed as none)."""
    return re.search(rb"(?im)^BEGIN:VCARD[ \t\r]*$", data) is not None


# ---- splitting a file ---------------------------------------------------------------------------------------


def _decode(line: bytes) -> str:
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:
        return line.decode("cp1252", errors="replace")


def _blocks(data: bytes | str) -> Iterator[_Block]:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    depth = 0
    lines: list[bytes] = []
    number = 0
    for line in _LINE_BREAK.split(raw):
        marker = line.strip().upper()
        if marker == b"BEGIN:VCARD":
            if depth == 0:
                lines, number = [], number + 1
            depth += 1
            continue
        if marker == b"END:VCARD" and depth:
            depth -= 1
            if depth == 0:
                yield _Block(_logical(lines), number, True)
            continue
        if depth == 1:
            lines.append(line)
    if depth:
        yield _Block(_logical(lines), number, False)


def _logical(lines: Iterable[bytes]) -> list[str]:
    """Unfolded lines, quoted-printable soft line breaks joined, blank lines dropped, each decoded.

    Bytes are joined before decoding: a fold may fall inside a multi-byte UTF-8 character.
    """
    logical: list[bytes] = []
    for line in lines:
        if logical and line[:1] in (b" ", b"\t"):
            logical[-1] += line[1:]  # a fold: CRLF plus one space or tab (RFC 6350 §3.2)
        elif logical and _soft_break(logical[-1]):
            logical[-1] = logical[-1][:-1] + line
        elif line.strip():
            logical.append(line)
    return [_decode(line) for line in logical]


def _soft_break(line: bytes) -> bool:
    """A quoted-printable value ending in ``=`` goes on on the next line (RFC 2045 §6.7 rule 5)."""
    head, colon, _ = line.partition(b":")
    return bool(colon) and line.endswith(b"=") and b"QUOTED-PRINTABLE" in head.upper()


def _property(line: str) -> str:
    found = _NAME.match(line)
    return found[1].upper() if found else ""


# ---- one card -----------------------------------------------------------------------------------------------


def _item(block: _Block, where: str) -> Item:
    lines = block.lines
    label = f"{where}: card {block.number}" + (f" ({_raw_name(lines)})" if _raw_name(lines) else "")
    if not block.complete:
        return Skip(label, "unreadable card: it has no END:VCARD (the file is cut short?)")
    kept = [line for line in lines if _property(line) in WANTED]
    if not any(_property(line) == "VERSION" for line in kept):
        kept.insert(0, "VERSION:3.0")  # vobject needs one; the properties read here mean the same in all three
    try:
        card = _read(kept)
    except Exception as exc:  # vobject raises ParseError, VObjectError, UnicodeError, ValueError, ...
        # One bad value (a quoted-printable name cut in the middle of a character) need not cost the card:
        # the lines that fail on their own are left out, as long as its addresses read.
        version = [line for line in kept if _property(line) == "VERSION"][:1]
        bad = {line for line in kept if _property(line) != "VERSION" and not _readable([*version, line])}
        if any(_property(line) == "EMAIL" for line in bad):
            return Skip(label, f"unreadable card: {_reason(exc)}")
        try:
            card = _read([line for line in kept if line not in bad])
        except Exception:
            return Skip(label, f"unreadable card: {_reason(exc)}")
    try:
        return _convert(card, block.number, where, label)
    except Exception as exc:  # a value of an unexpected shape
        return Skip(label, f"unreadable card: {_reason(exc)}")


def _reason(exc: Exception) -> str:
    return " ".join(str(exc).split())[:120] or type(exc).__name__


def _read(lines: list[str]) -> Any:
    import vobject

    # vobject logs what it makes of odd lines before raising; the skip names the card instead.
    logging.getLogger("vobject").setLevel(logging.CRITICAL)
    return vobject.readOne("BEGIN:VCARD\r\n" + "\r\n".join(lines) + "\r\nEND:VCARD\r\n")


def _readable(lines: list[str]) -> bool:
    try:
        _read(lines)
    except Exception:
        return False
    return True


def _raw_name(lines: list[str]) -> str:
    """The FN (else the UID) as written, to name a card that could not be parsed."""
    for wanted in ("FN", "UID"):
        for line in lines:
            if _property(line) == wanted and ":" in line:
                value = line.split(":", 1)[1].strip()
                if value and "QUOTED-PRINTABLE" not in line.upper():
                    return value[:60]
    return ""


def _values(card: Any, name: str) -> list[Any]:
    return list(card.contents.get(name, []))


def _first(card: Any, name: str) -> str:
    for prop in _values(card, name):
        value = prop.value
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


def _convert(card: Any, number: int, where: str, label: str) -> Item:
    uid = _first(card, "uid")
    member_uid = uid[len(_UUID_URN):] if uid.lower().startswith(_UUID_URN) else uid
    name = _first(card, "fn") or _structured_name(card)
    kind = (_first(card, "kind") or _first(card, "x-addressbookserver-kind")).lower()
    provider_id = uid or f"{where}#{number}"
    if kind == "group":
        listed = [*_values(card, "member"), *_values(card, "x-addressbookserver-member")]
        members = [_member(prop.value) for prop in listed]
        return CardGroup(provider_id, name, [m for m in members if m])
    emails = _emails(card)
    if not emails:
        return Skip(label, "no email address: a card syncd cannot match to anyone")
    return Card(
        provider_id=provider_id, name=name, emails=emails, organisation=_organisation(card),
        groups=_categories(card), uid=member_uid or None, birthday=_birthday(card),
    )


def _structured_name(card: Any) -> str:
    """A name built from ``N`` (RFC 6350 §6.2.2) for a card without ``FN`` (allowed in 2.1)."""
    for prop in _values(card, "n"):
        value = prop.value
        parts = [getattr(value, field, "") for field in ("prefix", "given", "additional", "family", "suffix")]
        words = [" ".join(p) if isinstance(p, list) else str(p) for p in parts]
        text = " ".join(w.strip() for w in words if w and w.strip())
        if text:
            return text
    return ""


def _preference(prop: Any) -> int:
    """Lower is more preferred: 4.0 ``PREF=1..100``, 3.0 ``TYPE=pref``, 2.1's bare ``PREF``; else 101."""
    params = {key.upper(): value for key, value in prop.params.items()}
    try:
        return int(params["PREF"][0])
    except (KeyError, ValueError, IndexError, TypeError):
        pass
    types = [t.upper() for t in params.get("TYPE", [])] + [s.upper() for s in getattr(prop, "singletonparams", [])]
    return 0 if "PREF" in types else 101


def _emails(card: Any) -> list[str]:
    found: list[tuple[int, int, str]] = []
    for position, prop in enumerate(_values(card, "email")):
        value = str(prop.value or "").strip()
        if value.lower().startswith("mailto:"):
            value = value[7:].strip()
        if "@" in value:
            found.append((_preference(prop), position, value))
    return list(dict.fromkeys(value for _, _, value in sorted(found)))


def _organisation(card: Any) -> str | None:
    for prop in _values(card, "org"):
        value = prop.value
        parts = value if isinstance(value, list) else [value]
        for part in parts:  # company;unit;...: the company names the organisation
            text = (" ".join(part) if isinstance(part, list) else str(part or "")).strip()
            if text:
                return text
    return None


def _categories(card: Any) -> list[str]:
    names: list[str] = []
    for prop in _values(card, "categories"):
        value = prop.value
        for item in value if isinstance(value, list) else str(value).split(","):
            text = str(item).strip()
            if text:
                names.append(text)
    return list(dict.fromkeys(names))


def _member(value: Any) -> str:
    text = str(value or "").strip()
    if text.lower().startswith(_UUID_URN):
        return text[len(_UUID_URN):]
    # A member named by address (MEMBER:mailto:…) has no card to point at: not read.
    return "" if text.lower().startswith("mailto:") else text


def _birthday(card: Any) -> Birthday | None:
    for prop in _values(card, "bday"):
        params = {key.upper(): value for key, value in prop.params.items()}
        if [v.lower() for v in params.get("VALUE", [])] == ["text"]:
            return None  # free text ("circa 1800"): no day to remind on
        found = birthday_from_text(str(prop.value or ""), _omitted_year(params))
        if found is not None:
            return found
    return None


def _omitted_year(params: dict[str, Any]) -> int | None:
    """Apple marks "no year" with a placeholder year named in ``X-APPLE-OMIT-YEAR`` (docs/vcard.md#dates)."""
    try:
        return int(params["X-APPLE-OMIT-YEAR"][0])
    except (KeyError, ValueError, IndexError, TypeError):
        return None


def birthday_from_text(text: str, omitted_year: int | None = None) -> Birthday | None:
    """``19700412``, ``1970-04-12``, ``1970-04-12T00:00:00Z``, ``--0412`` or ``--04-12``; None for anything else.

    Years before 1800 are placeholders for "unknown" (Apple's 1604, some exporters' 0000 or 1000).
    """
    text = text.strip()
    try:
        if found := _NO_YEAR.match(text):
            return Birthday(int(found[1]), int(found[2]))
        if found := _FULL_DATE.match(text):
            year = int(found[1])
            known = year if year >= 1800 and year != omitted_year else None
            return Birthday(int(found[2]), int(found[3]), known)
    except ValueError:  # a day that does not exist (31 April)
        return None
    return None
