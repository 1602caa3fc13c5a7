"""Google: Gmail message metadata and Google Calendar meetings as a source, Google Contacts as an address book
(opt-in), a Google calendar as the target.

Logs in with the user's own OAuth client (``auth``); every request goes through one throttle per account
and API (``connectors.throttle``).
"""

from __future__ import annotations

from connectors.base import Provider
from connectors.settings import (
    FOLLOWUPS_CALENDAR_ID,
    Key,
    boolean,
    expanded_path,
    positive_duration,
    positive_int,
    string,
    url,
)

GOOGLE = Provider(
    "google",
    (
        Key("client_secret", expanded_path, None,
            "your OAuth client's JSON file (a \"Desktop app\" client), for login"),
        Key("gmail", boolean, True, "read Gmail message metadata"),
        Key("calendars", string, ("primary",), "calendars read for meetings (ids; [] reads none)", many=True),
        Key("initial_window", positive_duration, None, "first pull reads this far back; older mail comes later"),
        Key("gmail_quota", positive_int, 15000,
            "at most this many Gmail quota units a minute; syncd learns what Google accepts below it"),
        Key("calendar_quota", positive_int, 600,
            "Calendar requests per minute syncd may make (Google's per-user limit)"),
        Key("gmail_endpoint", url, "https://gmail.googleapis.com/", "Gmail API base URL (proxies, tests)"),
        Key("calendar_endpoint", url, "https://www.googleapis.com/calendar/v3/", "Calendar API base URL"),
        Key("contacts", boolean, False,
            "read Google Contacts (names, labels, birthdays) as an address book; asks for contacts.readonly"),
        Key("contacts_quota", positive_int, 90, "People API requests per minute syncd may make"),
        Key("people_endpoint", url, "https://people.googleapis.com/", "People API base URL"),
        Key("token_uri", url, "https://oauth2.googleapis.com/token", "OAuth token endpoint"),
        FOLLOWUPS_CALENDAR_ID,
    ),
    source="connectors.google.source:GoogleSource",
    target="connectors.google.calendar_target:GoogleCalendarTarget",
    address_book="connectors.google.contacts:GoogleContacts",
    address_book_switch="contacts",
    login="connectors.google.auth",
    revoke_page="https://myaccount.google.com/permissions",
)
