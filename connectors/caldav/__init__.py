"""CalDAV calendars (``provider = "caldav"``): meetings in, follow-ups out, through the caldav package.

``account`` is the connection (authentication, the host and TLS rules, retries, one sentence per failure);
``discovery`` finds the principal, the calendar home and its calendars; ``source`` reads meetings
incrementally (sync-collection, or CTag/ETag listings); ``target`` keeps the follow-ups, one resource each,
with conditional writes; ``login`` is ``syncd auth login`` for the account's password.
"""

from __future__ import annotations

from datetime import timedelta

from connectors import password
from connectors.base import Provider
from connectors.recurrence import MAX_OCCURRENCES_KEY
from connectors.settings import REQUIRED, Key, positive_duration, string, url

CALDAV = Provider(
    "caldav",
    (
        Key("url", url, REQUIRED, "the CalDAV server (e.g. https://caldav.fastmail.com/) or one calendar's URL"),
        Key("calendars", string, (), "calendars read for meetings, by name or URL (default: all of yours)",
            many=True),
        Key("followups_calendar", string, None,
            "hold follow-ups in this existing calendar (name or URL) instead of one syncd creates"),
        Key("window_past", positive_duration, timedelta(days=5 * 365), "recurring meetings are expanded this far back"),
        Key("window_future", positive_duration, timedelta(days=365), "and this far ahead"),
        MAX_OCCURRENCES_KEY,
        *password.KEYS,
    ),
    source="connectors.caldav.source:CalDavSource",
    target="connectors.caldav.target:CalDavTarget",
    login="connectors.caldav.login",
    revoke_page="your calendar provider's app-password settings (if you made one for syncd)",
)
