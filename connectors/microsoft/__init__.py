"""Microsoft 365 and Outlook.com: mail metadata and the primary calendar's meetings through Microsoft Graph as
a source, Outlook contacts as an address book (opt-in), an Outlook calendar as the target.

Logs in with the user's own Entra app registration through MSAL (``auth``); every request goes through one
throttle per mailbox (``graph``).
"""

from __future__ import annotations

from datetime import timedelta

from connectors.base import Provider
from connectors.settings import (
    FOLLOWUPS_CALENDAR_ID,
    REQUIRED,
    Key,
    boolean,
    positive_duration,
    positive_int,
    string,
    url,
)

MICROSOFT = Provider(
    "microsoft",
    (
        Key("client_id", string, REQUIRED, "the application (client) id of your Entra app registration"),
        Key("authority", url, "https://login.microsoftonline.com/common",
            "login authority: .../common, .../organizations, .../consumers, a tenant, or a national cloud's host"),
        Key("graph_endpoint", url, "https://graph.microsoft.com", "Microsoft Graph root (national clouds, tests)"),
        Key("mail", boolean, True, "read mail metadata"),
        Key("folders", string, (), "mail folders read besides Inbox and Sent Items (well-known names or ids)",
            many=True),
        Key("calendar", boolean, True, "read the primary calendar's meetings"),
        Key("contacts", boolean, False,
            "read Outlook contacts (names, categories, folders, birthdays) as an address book; asks for Contacts.Read"),
        Key("window_past", positive_duration, timedelta(days=5 * 365), "meetings are read this far back"),
        Key("window_future", positive_duration, timedelta(days=365), "and this far ahead"),
        Key("rate_limit", positive_int, 10000, "requests per 10 minutes syncd may make (Outlook's per-mailbox limit)"),
        Key("concurrency", positive_int, 4, "requests at once (Outlook allows 4 per mailbox)"),
        FOLLOWUPS_CALENDAR_ID,
    ),
    source="connectors.microsoft.source:MicrosoftSource",
    target="connectors.microsoft.calendar_target:OutlookCalendarTarget",
    address_book="connectors.microsoft.contacts:OutlookContacts",
    address_book_switch="contacts",
    login="connectors.microsoft.auth",
    revoke_page="https://myapps.microsoft.com (or https://account.live.com/consent/Manage for Outlook.com)",
)
