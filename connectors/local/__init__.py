"""Local files: Maildir trees, mbox files and .ics exports as sources, .vcf files as an address book, and an
.ics file as the follow-ups target.

Nothing here logs in or talks to a network; every account names a ``path``.
"""

from __future__ import annotations

from datetime import timedelta

from connectors.base import Provider
from connectors.recurrence import MAX_OCCURRENCES_KEY
from connectors.settings import Key, positive_duration

MAILDIR = Provider("maildir", (), source="connectors.local.maildir:MaildirSource", reads_path=True)
MBOX = Provider("mbox", (), source="connectors.local.mbox:MboxSource", reads_path=True)
ICS = Provider(
    "ics",
    (
        Key("window_past", positive_duration, timedelta(days=5 * 365), "recurring events are expanded this far back"),
        Key("window_future", positive_duration, timedelta(days=365), "and this far ahead"),
        MAX_OCCURRENCES_KEY,
    ),
    source="connectors.local.ics:IcsSource",
    target="connectors.local.ics_target:IcsFileTarget",
    reads_path=True,
)
VCARD = Provider("vcard", (), source=None, address_book="connectors.local.vcard:VcardBook", reads_path=True)
