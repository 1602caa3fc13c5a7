"""RFC 5322 headers → an Interaction. Shared by every source that sees raw messages (maildir, mbox).

Only the header block is read (metadata only, never bodies). Parsing never raises: whatever cannot be
understood becomes a ``Skip`` with a one-line reason, or an address counted as unusable.

The hard parts are the standard library's: encoded words (``email.header``), address lists with
groups and comments (``email.utils.getaddresses``), dates (``parsedate_to_datetime``). Splitting the
block into unfolded fields (RFC 5322 §2.2, §2.2.3) is done here: the stdlib's feed parser built a full
Message object per message and was a third of ingestion time, for what is a split and a join.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.utils import getaddresses, parsedate_to_datetime

from connectors.base import Interaction, Participant, Role, Skip

_FIELD_NAME = re.compile(r"^[!-9;-~]+$")  # RFC 5322 §3.6.8: printable ASCII except ":"
MAX_HEADER_BYTES = 256 * 1024  # a header block larger than this is junk, not mail
SUBJECT_LIMIT = 200

HEADER_END = (b"\n\n", b"\r\n\r\n")


def header_block(data: bytes) -> bytes:
    """The header part of a raw message (up to the first empty line)."""
    ends = [i for i in (data.find(marker) for marker in HEADER_END) if i >= 0]
    return data[: min(ends)] if ends else data


def read_headers(path: str) -> bytes:
    """Read a message file only as far as its header block ends."""
    chunks: list[bytes] = []
    size = 0
    with open(path, "rb") as handle:
        while size < MAX_HEADER_BYTES:
            chunk = handle.read(16384)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            joined = b"".join(chunks) if len(chunks) > 1 else chunk
            if b"\n\n" in joined or b"\r\n\r\n" in joined:
                return header_block(joined)
            chunks = [joined]
    return header_block(b"".join(chunks))


def _text(value: object) -> str:
    """A header value as text, RFC 2047 encoded words decoded, 8-bit junk replaced."""
    if value is None:
        return ""
    raw = str(value)
    if "=?" not in raw and raw.isascii():
        return raw  # nothing to decode: the common case, and decode_header is slow
    try:
        return str(make_header(decode_header(raw)))
    except (UnicodeError, LookupError, ValueError, AssertionError):
        return raw.encode("utf-8", "replace").decode("utf-8", "replace")


# A list of bare addresses ("a@x.com, b@y.org") needs none of RFC 5322's parsing: no quotes, comments,
# angle brackets or groups. The stdlib parser is the slowest part of ingestion, so it is kept for the rest.
_BARE_LIST = re.compile(r"^[^\"()<>:;\\]*$")


def _addresses(values: list[str]) -> list[tuple[str, str]]:
    if all(_BARE_LIST.match(v) for v in values):
        return [("", part.strip()) for v in values for part in v.split(",") if part.strip()]
    return getaddresses(values)


def _bulk_reason(fields: dict[str, list[str]]) -> str | None:
    def get(name: str, default: str = "") -> str:
        return fields.get(name.lower(), [default])[0]

    for header in ("List-Id", "List-Unsubscribe"):
        if get(header):
            return header
    precedence = str(get("Precedence", "")).strip().lower()
    if precedence in ("bulk", "list", "junk"):
        return f"Precedence: {precedence}"
    auto = str(get("Auto-Submitted", "")).strip().lower()
    if auto and auto != "no":
        return f"Auto-Submitted: {auto}"
    return None


def _timestamp(value: object) -> datetime | None:
    if not value:
        return None
    try:
        when = parsedate_to_datetime(str(value))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:  # RFC 5322 "-0000": the zone is unknown; UTC is the honest guess
        when = when.replace(tzinfo=UTC)
    try:
        return when.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def parse_headers(raw: bytes, provider_id: str) -> tuple[Interaction | None, list[Skip]]:
    """Parse one message's header block. Returns the interaction (or None) and what was skipped."""
    try:
        fields = header_fields(raw)
    except Exception as exc:  # splitting lines cannot really fail; this guards the unforeseen
        return None, [Skip(provider_id, f"unparseable headers: {exc}")]
    skips: list[Skip] = []
    participants: list[Participant] = []
    recipients: set[str] = set()
    roles: tuple[tuple[str, Role], ...] = (("From", "from"), ("To", "to"), ("Cc", "cc"), ("Bcc", "bcc"))
    for header, role in roles:
        values = [_text(v) for v in fields.get(header.lower(), ())]
        if not values:
            continue
        for name, address in _addresses(values):
            address = address.strip()
            if not address:
                continue  # group syntax like "undisclosed-recipients:;" names nobody
            if role in ("to", "cc"):
                recipients.add(address.lower())
            if "@" not in address or address.startswith("/") or " " in address:
                skips.append(Skip(provider_id, f"address without local@domain: {address[:80]!r}"))
                continue
            participants.append(Participant(address, name.strip(), role))
    if not participants:
        return None, [*skips, Skip(provider_id, "no From or recipients")]
    message_id = str(_first(fields, "message-id") or "").strip().strip("<>").strip() or None
    subject = _text(_first(fields, "subject"))[:SUBJECT_LIMIT] or None
    interaction = Interaction(
        provider_id=provider_id,
        kind="mail",
        timestamp=_timestamp(_first(fields, "date")),
        participants=participants,
        message_id=message_id[:500] if message_id else None,
        subject=subject,
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
