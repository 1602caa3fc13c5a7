"""Which folders of an IMAP account are read: INBOX, the special-use \\Sent folder (RFC 6154,
docs/imap.md#special-use-folders), and the folders named in ``folders``; one LIST finds them all.

The sent folder is found by its ``\\Sent`` attribute wherever the server offers it, under whatever name and
language ("Sent Items", "[Gmail]/Sent Mail", "Gesendet"); otherwise by the folder names mail programs use.
A configured folder the server does not list (renamed or deleted) is named in the pull summary and its
messages read before are kept until the folder is found again or taken out of ``folders``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

# RFC 6154 §2; RFC 3501 §7.2.2 \Noselect (and RFC 5258's \NonExistent): a name only, holding no mail.
SENT = b"\\Sent"
NOT_SELECTABLE = {b"\\noselect", b"\\nonexistent"}
# Without SPECIAL-USE: the names clients give the folder, in a few languages (whole name, any hierarchy).
_SENT_NAMES = re.compile(
    r"^(?:.*[/.])?(?:sent|sent items|sent messages|sent mail|gesendet|gesendete objekte|envoy[ée]s|"
    r"[ée]l[ée]ments envoy[ée]s|enviados|posta inviata|verzonden items|verzonden)$", re.IGNORECASE)


@dataclasses.dataclass(frozen=True, slots=True)
class Folder:
    name: str
    sent: bool  # the owner's sent mail: its senders tell who the owner is when `me` is not set


Listing = Sequence[tuple[Sequence[bytes], object, str]]


def choose(listing: Listing, extra: Sequence[str]) -> tuple[list[Folder], list[str]]:
    """From LIST's (flags, delimiter, name) entries: the folders to read, and the configured ones not found."""
    selectable = {name: {bytes(flag).lower() for flag in flags}
                  for flags, _, name in listing if not {bytes(f).lower() for f in flags} & NOT_SELECTABLE}
    chosen: dict[str, Folder] = {}
    inbox = next((name for name in selectable if name.upper() == "INBOX"), None)
    if inbox is not None:
        chosen[inbox] = Folder(inbox, sent=False)
    sent = [name for name, flags in selectable.items() if SENT.lower() in flags]
    if not sent:
        sent = [name for name in selectable if _SENT_NAMES.match(name)]
    if sent:
        chosen.setdefault(sorted(sent)[0], Folder(sorted(sent)[0], sent=True))
    missing = []
    for wanted in extra:
        found = wanted if wanted in selectable else next(
            (name for name in selectable if name.casefold() == wanted.casefold()), None)
        if found is None:
            missing.append(wanted)
        else:
            chosen.setdefault(found, Folder(found, sent=bool(_SENT_NAMES.match(found))))
    return list(chosen.values()), missing
