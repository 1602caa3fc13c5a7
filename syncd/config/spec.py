"""The configuration's spec: every key of every table, how its value is read, its default and doc line.

The only place a key is described (khal's "the spec is the documentation"): :mod:`syncd.config`
validates with it and builds the typed settings and the JSON Schema from it, and a test checks
``config.example.toml`` against it. A provider's own keys are declared in its connectors package
(``connectors.PROVIDERS``); ``PROVIDER_KEYS`` gathers them, with the token store for those that log in.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from datetime import time, timedelta
from string import Formatter
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from connectors import PROVIDERS
from connectors.settings import (
    REQUIRED,
    SCHEMAS,
    Key,
    address,
    boolean,
    count,
    duration,
    expanded_path,
    pattern,
    positive_duration,
    positive_int,
    string,
)

# ---- value kinds of syncd's own tables --------------------------------------------------------------

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def time_of_day(value: Any) -> time:
    if not isinstance(value, str):
        raise TypeError('a time string like "09:30"')
    match = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", value.strip())
    if not match:
        raise ValueError(f"'{value}' is not a time like 09:30")
    return time(int(match[1]), int(match[2]))


def weekday(value: Any) -> int:
    text = string(value).strip().lower()[:3]
    if text not in WEEKDAYS:
        raise ValueError(f"'{value}' is not a weekday (mon, tue, wed, thu, fri, sat, sun)")
    return WEEKDAYS.index(text)


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


def group_name(value: Any) -> str:
    text = string(value).strip()
    if not text:
        raise ValueError("is empty (name an address-book group, e.g. \"Family\")")
    return text


KIND_SCHEMAS: dict[Callable[..., Any], dict[str, Any]] = {
    **SCHEMAS,
    time_of_day: {"type": "string", "pattern": r"^([01]?\d|2[0-3]):[0-5]\d$"},
    timezone: {"type": "string"},
    title_template: {"type": "string"},
    group_name: {"type": "string", "minLength": 1},
    weekday: {"enum": list(WEEKDAYS)},
}

# ---- the spec ----------------------------------------------------------------------------------------

ACCOUNT_KEYS = [
    Key("provider", string, REQUIRED, "where the data comes from", choices=tuple(sorted(PROVIDERS))),
    # Existence is checked by `syncd config check` and at pull time, not here: an unmounted archive
    # must fail its own account, not stop every other account from being pulled.
    Key("path", expanded_path, None,
        "the mail folder, mbox file, .ics file/folder or .vcf file/folder (maildir, mbox, ics, vcard)"),
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
# Each provider's own keys, and where the login is kept for those that log in.
PROVIDER_KEYS: dict[str, list[Key]] = {
    name: [*provider.keys, *([TOKEN_STORE] if provider.needs_secret else [])] for name, provider in PROVIDERS.items()
}

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
    Key("warm_min_days", count, 2,
        "contact both ways on this many days keeps a relationship warm (reminded); 0 keeps every one warm"),
    Key("lapsed_after", positive_int, 3, "overdue by more than this many rhythms: lapsed, offered for review"),
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
    Key("lapsed_per_day", count, 1, "at most this many follow-ups a day for lapsed relationships (0: none)"),
    Key("birthdays", boolean, False, "a yearly follow-up on the birthday of everyone reminded (from address books)"),
    Key("birthday_title", title_template, "Wish {name} a happy birthday", "a birthday follow-up's title"),
]
TIER_KEYS = [
    Key("name", string, REQUIRED, "the tier's name"),
    Key("remind", boolean, True, "false: kept and listed, never reminded (the directory)"),
    Key("every", positive_duration, None, "the rhythm for this tier"),
    Key("match", pattern, (), "addresses, globs (*@shop.example) or domains", many=True),
    Key("groups", group_name, (), "address-book groups (labels, categories, contact folders) whose people it holds",
        many=True),
]
PEOPLE_KEYS = [
    Key("addresses", address, REQUIRED, "one person's addresses (the first is their key)", many=True),
    Key("name", string, None, "their name"),
    Key("every", positive_duration, None, "their rhythm"),
    Key("tier", string, None, "their tier (one of the [[tiers]])"),
    Key("note", string, None, "shown in their follow-ups"),
]
TOP_LEVEL = ("accounts", "engine", "followups", "tiers", "people")
