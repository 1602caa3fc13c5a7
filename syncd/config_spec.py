"""The configuration's spec: every key of every table, how its value is read, its default and doc line.

The only place a key is described (khal's "the spec is the documentation"): :mod:`syncd.config`
validates with it and builds the typed settings and the JSON Schema from it, and a test checks
``config.example.toml`` against it. Providers' own keys are in ``PROVIDER_KEYS``.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
from collections.abc import Callable
from datetime import time, timedelta
from pathlib import Path
from string import Formatter
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import connectors
from syncd.durations import duration, positive_duration
from syncd.values import SCHEMAS, WEEKDAYS, address, boolean, pattern, positive_int, string, time_of_day, weekday
from syncd.values import path as to_path

# ---- value kinds this module adds to syncd.values ---------------------------------------------------


def timezone(value: Any) -> ZoneInfo:
    if not isinstance(value, str):
        raise TypeError('an IANA time zone name like "Europe/Berlin"')
    try:
        return ZoneInfo(value)
    # A zone *folder* ("Europe") raises IsADirectoryError, not ZoneInfoNotFoundError.
    except (ZoneInfoNotFoundError, ValueError, OSError):
        zones = {zone.lower(): zone for zone in available_timezones()}
        close = difflib.get_close_matches(value.strip().lower(), list(zones), n=1, cutoff=0.8)
        hint = f" (did you mean '{zones[close[0]]}'?)" if close else ""
        raise ValueError(
            f"'{value}' is not an IANA time zone (e.g. Europe/Berlin, America/New_York, UTC){hint}"
        ) from None


_VARIABLE = re.compile(r"\$(\w+)|\$\{([^}]*)\}")


def expanded_path(value: Any) -> Path:
    """``~`` and ``$VARS`` expanded; an unset variable would otherwise stay in the path as literal text."""
    if not isinstance(value, str):
        raise TypeError("a path string")
    if not value.strip():
        raise ValueError("is empty")
    unset = [a or b for a, b in _VARIABLE.findall(value) if (a or b) not in os.environ]
    if unset:
        raise ValueError(f"${unset[0]} is not set in the environment")
    return to_path(value)


def title_template(value: Any) -> str:
    """Checked here because a typo like ``{nmae}`` would otherwise fail at the first follow-up written."""
    text = string(value)
    try:  # parse() and format() raise ValueError for stray braces and bad format specs
        if all(field in (None, "name") for _, field, _, _ in Formatter().parse(text)):
            text.format(name="")
            return text
    except ValueError:
        pass
    raise ValueError(f"'{text}' may use only the placeholder {{name}} (write {{{{ and }}}} for literal braces)")


def url(value: Any) -> str:
    """An http(s) base URL; providers are reached only through these, so tests and proxies can redirect them."""
    text = string(value).strip()
    from urllib.parse import urlsplit

    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"'{text}' is not an http(s) URL like https://host/")
    if parts.scheme == "http" and (parts.hostname or "") not in ("127.0.0.1", "::1", "localhost"):
        # Tokens travel with every request: in clear text only to this machine (a local proxy, a test fake).
        raise ValueError(f"'{text}' must use https (plain http only for 127.0.0.1 or localhost)")
    return text


KIND_SCHEMAS: dict[Callable[..., Any], dict[str, Any]] = {
    **SCHEMAS,
    positive_duration: SCHEMAS[duration],
    timezone: {"type": "string"},
    expanded_path: {"type": "string"},
    title_template: {"type": "string"},
    weekday: {"enum": list(WEEKDAYS)},
    address: {"type": "string", "format": "email"},
    pattern: {"type": "string"},
    url: {"type": "string", "format": "uri"},
}

# ---- the spec ----------------------------------------------------------------------------------------

REQUIRED = object()  # a default that says the key must be given


@dataclasses.dataclass(frozen=True)
class Key:
    """One key of a table: its name, how its TOML value becomes a typed one, its default, the doc line."""

    name: str
    kind: Callable[[Any], Any]  # converter of the value, or of one item when ``many``
    default: Any
    doc: str
    many: bool = False  # a TOML array of ``kind`` values, read as a tuple
    choices: tuple[str, ...] | None = None  # the only values allowed (checked after ``kind``)


ACCOUNT_KEYS = [
    Key("provider", string, REQUIRED, "where the data comes from", choices=tuple(sorted(connectors.SOURCES))),
    # Existence is checked by `syncd config check` and at pull time, not here: an unmounted archive
    # must fail its own account, not stop every other account from being pulled.
    Key("path", expanded_path, None, "the mail folder, mbox file or .ics file/folder (maildir, mbox, ics)"),
    Key("me", address, (), "your own addresses in this account", many=True),
    Key("enabled", boolean, True, "false skips the account on pull"),
    Key("interval", positive_duration, timedelta(minutes=15), "how often `syncd run` pulls this account"),
]
TOKEN_STORE = Key(
    "token_store", string, "keyring",
    "where the login is kept: \"keyring\" (the system keyring) or \"file\" (a 0600 file in the state folder, "
    "unencrypted: for headless machines without a keyring)",
    choices=("keyring", "file"),
)
EXISTING_CALENDAR = Key(
    "followups_calendar_id", string, None,
    "write follow-ups into this existing calendar (e.g. \"primary\") instead of a dedicated one syncd creates "
    "(needs the broader permission to edit all events)",
)
GOOGLE_KEYS = [
    Key("client_secret", expanded_path, None, "your OAuth client's JSON file (a \"Desktop app\" client), for login"),
    Key("gmail", boolean, True, "read Gmail message metadata"),
    Key("calendars", string, ("primary",), "calendars read for meetings (ids; [] reads none)", many=True),
    Key("initial_window", positive_duration, None, "first pull reads this far back; older mail comes later"),
    Key("gmail_quota", positive_int, 6000, "Gmail quota units per minute syncd may spend (Google's per-user limit)"),
    Key("calendar_quota", positive_int, 600, "Calendar requests per minute syncd may make (Google's per-user limit)"),
    Key("gmail_endpoint", url, "https://gmail.googleapis.com/", "Gmail API base URL (proxies, tests)"),
    Key("calendar_endpoint", url, "https://www.googleapis.com/calendar/v3/", "Calendar API base URL"),
    Key("token_uri", url, "https://oauth2.googleapis.com/token", "OAuth token endpoint"),
    EXISTING_CALENDAR,
    TOKEN_STORE,
]
MICROSOFT_KEYS = [
    Key("client_id", string, REQUIRED, "the application (client) id of your Entra app registration"),
    Key("authority", url, "https://login.microsoftonline.com/common",
        "login authority: .../common, .../organizations, .../consumers, a tenant, or a national cloud's host"),
    Key("graph_endpoint", url, "https://graph.microsoft.com", "Microsoft Graph root (national clouds, tests)"),
    Key("mail", boolean, True, "read mail metadata"),
    Key("folders", string, (), "mail folders read besides Inbox and Sent Items (well-known names or ids)", many=True),
    Key("calendar", boolean, True, "read the primary calendar's meetings"),
    Key("window_past", positive_duration, timedelta(days=5 * 365), "meetings are read this far back"),
    Key("window_future", positive_duration, timedelta(days=365), "and this far ahead"),
    Key("rate_limit", positive_int, 10000, "requests per 10 minutes syncd may make (Outlook's per-mailbox limit)"),
    Key("concurrency", positive_int, 4, "requests at once (Outlook allows 4 per mailbox)"),
    EXISTING_CALENDAR,
    TOKEN_STORE,
]
ONLINE_PROVIDERS = {"google", "microsoft"}  # they need a login, kept in the token store
# Keys only some providers take.
PROVIDER_KEYS: dict[str, list[Key]] = {
    "google": GOOGLE_KEYS,
    "microsoft": MICROSOFT_KEYS,
    "maildir": [],
    "mbox": [],
    "ics": [
        Key("window_past", positive_duration, timedelta(days=5 * 365), "recurring events are expanded this far back"),
        Key("window_future", positive_duration, timedelta(days=365), "and this far ahead"),
    ],
}
LOCAL_PROVIDERS = {"maildir", "mbox", "ics"}  # they read files, so `path` is required

ENGINE_KEYS = [
    Key("max_recipients", positive_int, 20, "mail to or from more addresses (To+Cc, you excluded) is no contact"),
    Key("max_attendees", positive_int, 20, "meetings with more attendees are no contact"),
    Key("min_every", positive_duration, timedelta(days=14), "the shortest learned rhythm"),
    Key("max_every", positive_duration, timedelta(days=180), "the longest learned rhythm"),
    Key("default_every", positive_duration, timedelta(days=90), "the rhythm when nothing else applies"),
    Key("forget_after", positive_duration, timedelta(days=3 * 365), "older relationships are dormant, not reminded"),
    Key("after_series_end", duration, timedelta(days=21), "follow up this long after a recurring meeting ended"),
    Key("meeting_grace", duration, timedelta(days=7), "a meeting booked before due + this means no reminder"),
    Key("blocklist", pattern, (), "addresses or *@domain never treated as people", many=True),
    Key("provider_equivalences", boolean, False, "treat googlemail.com = gmail.com, dots and +tags as one address"),
]
FOLLOWUP_KEYS = [
    Key("target", string, "ics", "\"ics\", or the name of an account with a calendar"),
    Key("ics_path", expanded_path, None, "the .ics file follow-ups go to (default: <state dir>/followups.ics)"),
    Key("calendar_name", string, "Follow-ups", "the calendar's name"),
    Key("slot", time_of_day, time(9, 30), "local time of day follow-ups are placed at"),
    Key("duration", positive_duration, timedelta(minutes=15), "length of a follow-up event"),
    Key("per_day", positive_int, 3, "at most this many follow-ups on one day"),
    Key("working_days", weekday, frozenset(range(5)), "days follow-ups may land on", many=True),
    Key("timezone", timezone, None, "IANA zone of the slot (default: this machine's zone)"),
    Key("reminder", duration, timedelta(0), "the pop-up comes this long before the slot"),
    Key("title", title_template, "Reach out to {name}", "event title; {name} is the person's name"),
    Key("max_deletes", positive_int, 20, "a run deletes at most this many follow-ups without --force"),
    Key("horizon", positive_duration, timedelta(days=14), "follow-ups are written this far ahead"),
]
TIER_KEYS = [
    Key("name", string, REQUIRED, "the tier's name"),
    Key("remind", boolean, True, "false: kept and listed, never reminded (the directory)"),
    Key("every", positive_duration, None, "the rhythm for this tier"),
    Key("match", pattern, (), "addresses, globs (*@shop.example) or domains", many=True),
]
PEOPLE_KEYS = [
    Key("addresses", address, REQUIRED, "one person's addresses (the first is their key)", many=True),
    Key("name", string, None, "their name"),
    Key("every", positive_duration, None, "their rhythm"),
    Key("tier", string, None, "their tier (one of the [[tiers]])"),
    Key("note", string, None, "shown in their follow-ups"),
]
TOP_LEVEL = ("accounts", "engine", "followups", "tiers", "people")
