"""RFC 5322 headers → an Interaction. Shared by every source that sees raw messages (maildir, mbox).

Only the header block is read (metadata only, never bodies). Parsing never raises: whatever cannot be
understood becomes a ``Skip`` with a one-line reason, or an address counted as unusable.

The hard parts are the standard library's: encoded words (``email.header``, RFC 2047), address lists
with groups and comments (``email.utils.getaddresses``), dates (``parsedate_to_datetime``). Splitting the
block into unfolded fields (RFC 5322 §2.2, §2.2.3) is done here: the stdlib's feed parser builds a full
Message object per message and was a third of ingestion time, for what is a split and a join.

Skip reasons (the pull summary groups them by the text before the first colon):

* ``no From or recipients`` — the message names nobody usable; it is not an interaction.
* ``unparseable headers: ...`` — an unforeseen failure; the message is left out, the pull goes on.
* ``address without local@domain: '...'`` — one address of a message that is still an interaction
  (X.500 paths, display-name debris). It still counts towards ``recipient_count``.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.utils import getaddresses, parsedate_to_datetime

from connectors.base import Interaction, Participant, Role, Skip
from connectors.local.files import open_regular
from connectors.xheaders import pair

_FIELD_NAME = re.compile(r"^[!-9;-~]+$")  # RFC 5322 §3.6.8: printable ASCII except ":"
MAX_HEADER_BYTES = 256 * 1024  # a header block larger than this is junk, not mail
SUBJECT_LIMIT = 200
MESSAGE_ID_LIMIT = 500

HEADER_END = (b"\n\n", b"\r\n\r\n")
ROLES: tuple[tuple[str, Role], ...] = (("from", "from"), ("to", "to"), ("cc", "cc"), ("bcc", "bcc"))
# Takeout's X-Gmail-Labels carry Gmail's categories, which are bulk (docs/rules.md#bulk-mail).
_GMAIL_BULK_LABELS = ("spam", "trash", "category promotions", "category social", "category updates",
                      "category forums")
# What connectors.addresses can make an address of: something@something, no spaces, not an X.500 path.
_USABLE = re.compile(r"^[^\s@/][^\s@]*@[^\s@]+$")


def header_block(data: bytes) -> bytes:
    """The header part of a raw message: up to the first empty line (RFC 5322 §2.1)."""
    ends = [i for i in (data.find(marker) for marker in HEADER_END) if i >= 0]
    return data[: min(ends)] if ends else data


def read_headers(path: str) -> bytes:
    """Read a message file only as far as its header block ends (bodies are never read whole).

    Anything but a regular file is refused without blocking (a FIFO would hang the pull).
    """
    buffer = b""
    with open_regular(path) as handle:
        while len(buffer) < MAX_HEADER_BYTES:
            chunk = handle.read(8192)
            if not chunk:
                break
            # Search only the new bytes plus the 3 before them, where a split "\r\n\r\n" may start.
            start = max(0, len(buffer) - 3)
            buffer += chunk
            if b"\n\n" in buffer[start:] or b"\r\n\r\n" in buffer[start:]:
                break
    return header_block(buffer)


def _text(value: str | None) -> str:
    """A header value as text, RFC 2047 encoded words decoded, undecodable bytes replaced."""
    if not value:
        return ""
    if "=?" not in value and value.isascii():
        return value  # nothing to decode: the common case, and decode_header is slow
    try:
        return str(make_header(decode_header(value)))
    except (UnicodeError, LookupError, ValueError, AssertionError, TypeError):
        return value


# A list of bare addresses ("a@x.com, b@y.org") needs none of RFC 5322's parsing: no quotes, comments,
# angle brackets or groups. The stdlib parser is the slowest part of ingestion, so it is kept for the rest.
_BARE_LIST = re.compile(r"^[^\"()<>:;\\]*$")


def _addresses(values: list[str]) -> list[tuple[str, str]]:
    if all(_BARE_LIST.match(v) for v in values):
        return [("", part.strip()) for v in values for part in v.split(",") if part.strip()]
    pairs = getaddresses(values)
    # An unquoted display name with a comma ("Doe, John <john@x.org>", against RFC 5322 §3.4 but
    # common) splits into a bare "Doe" and "John <john@x.org>": put the name back together.
    merged: list[tuple[str, str]] = []
    for name, address in pairs:
        if merged and name and "@" in address:
            previous_name, previous = merged[-1]
            if not previous_name and previous and "@" not in previous and "/" not in previous:
                merged[-1] = (f"{previous}, {name}", address)
                continue
        merged.append((name, address))
    return merged


def _bulk_reason(fields: dict[str, list[str]]) -> str | None:
    for header in ("list-id", "list-unsubscribe"):
        if _first(fields, header):
            return "List-Id" if header == "list-id" else "List-Unsubscribe"
    precedence = (_first(fields, "precedence") or "").strip().lower()
    if precedence in ("bulk", "list", "junk"):
        return f"Precedence: {precedence}"
    auto = (_first(fields, "auto-submitted") or "").strip().lower()
    if auto and auto != "no":  # RFC 3834 §5: anything but "no" was sent by a program
        return f"Auto-Submitted: {auto[:40]}"
    labels = [label.strip() for label in (_first(fields, "x-gmail-labels") or "").split(",")]
    for label in labels:
        if label.lower() in _GMAIL_BULK_LABELS:
            return f"X-Gmail-Labels: {label}"
    return None


def _timestamp(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        when = parsedate_to_datetime(value)
        if when.tzinfo is None:  # RFC 5322 §3.3 "-0000": the zone is unknown; UTC is the honest guess
            when = when.replace(tzinfo=UTC)
        return when.astimezone(UTC)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _message_id(value: str | None) -> str | None:
    """RFC 5322 §3.6.4 msg-id without its angle brackets; comments or a second id after it are dropped."""
    if not value:
        return None
    bracketed = re.search(r"<([^<>]*)>", value)
    text = (bracketed.group(1) if bracketed else value).strip()
    return text[:MESSAGE_ID_LIMIT] or None


def _better_name(written: str, directory: str) -> str:
    """The header's own display name, unless it is a single word ("legal") and the X- header, the
    directory name an Exchange or Notes server wrote, has a full one."""
    written, directory = " ".join(written.split()), " ".join(directory.split())
    return directory if directory and (not written or " " not in written) else written


def parse_headers(raw: bytes, provider_id: str) -> tuple[Interaction | None, list[Skip]]:
    """Parse one message's header block: the interaction (None if it is no interaction) and the skips.

    A pair rather than ``Interaction | Skip``: a message can be a fine interaction and still have
    addresses that had to be left out, and the pull summary counts those too.
    """
    try:
        return _parse(raw, provider_id)
    except Exception as exc:  # guards the unforeseen: one odd message must not stop a pull
        reason = " ".join(str(exc).split())[:120]
        return None, [Skip(provider_id, f"unparseable headers: {type(exc).__name__}: {reason}")]


def _parse(raw: bytes, provider_id: str) -> tuple[Interaction | None, list[Skip]]:
    fields = header_fields(raw)
    skips: list[Skip] = []
    participants: list[Participant] = []
    recipients: set[str] = set()
    for header, role in ROLES:
        values = [_text(v) for v in fields.get(header, ())]
        written = _addresses(values) if values else []
        # Archives converted from Exchange or Lotus Notes name the people in X-From / X-To / X-cc; they
        # are read only when the header itself leaves a name to fill (see _better_name).
        extra = _text(_first(fields, f"x-{header}")) if role != "bcc" else ""
        wanting = extra and any(" " not in name.strip() for name, _ in written)
        named = pair(extra, [address for _, address in written]) if wanting else {}
        for index, (name, raw_address) in enumerate(written):
            address = raw_address.strip()
            if not address:
                continue  # group syntax like "undisclosed-recipients:;" names nobody (RFC 5322 §3.4)
            if role in ("to", "cc"):
                recipients.add(address.lower())
            if not _USABLE.match(address):
                skips.append(Skip(provider_id, f"address without local@domain: {address[:80]!r}"))
                continue
            participants.append(Participant(address, _better_name(name, named.get(index, "")), role))
    if not participants:
        return None, [*skips, Skip(provider_id, "no From or recipients")]
    subject = " ".join(_text(_first(fields, "subject")).split())[:SUBJECT_LIMIT]
    interaction = Interaction(
        provider_id=provider_id,
        kind="mail",
        timestamp=_timestamp(_first(fields, "date")),
        participants=participants,
        message_id=_message_id(_first(fields, "message-id")),
        subject=subject or None,
        bulk=_bulk_reason(fields),
        recipient_count=len(recipients),
    )
    return interaction, skips


def header_fields(raw: bytes) -> dict[str, list[str]]:
    """Lower-cased field name -> unfolded values, in order. Lines that are no field are passed over.

    Raw 8-bit bytes are read as UTF-8 (RFC 6532 allows it in headers); anything else becomes U+FFFD.
    """
    fields: dict[str, list[str]] = {}
    name: str | None = None
    value: list[str] = []
    for line in raw.decode("utf-8", "replace").split("\n"):
        line = line.rstrip("\r")
        if line[:1] in (" ", "\t"):
            if name is not None:
                value.append(line)  # a folded continuation: unfolding removes only the line break
            continue
        if name is not None:
            fields.setdefault(name, []).append("".join(value).strip())
            name = None
        head, colon, rest = line.partition(":")
        if colon and _FIELD_NAME.match(head.rstrip()):
            name, value = head.rstrip().lower(), [rest]
    if name is not None:
        fields.setdefault(name, []).append("".join(value).strip())
    return fields


def _first(fields: dict[str, list[str]], name: str) -> str | None:
    values = fields.get(name)
    return values[0] if values else None


def header_digest(raw: bytes) -> str:
    """A stable id for a message without a file name of its own (mbox): the hash of its header block."""
    return hashlib.sha1(raw, usedforsecurity=False).hexdigest()


class OwnerGuess:
    """Without ``me``, the owner is the most common sender of the sent folders (said so in the pull summary).

    Sources that read sent folders (Maildir, IMAP) count each sent message's sender here.
    """

    def __init__(self, me: Sequence[str], normalise: Callable[[str], str | None] = lambda a: a.strip().lower()):
        self.me = tuple(me)
        self.normalise = normalise
        self._senders: Counter[str] = Counter()

    def count(self, interaction: Interaction) -> None:
        first = interaction.participants[0]
        address = self.normalise(first.address) if first.role == "from" else None
        if address:
            self._senders[address] += 1

    def guess(self) -> list[str]:
        if self.me or not self._senders:
            return []
        return [self._senders.most_common(1)[0][0]]
