"""The configuration file: one declarative spec that validates, builds typed settings and the JSON Schema.

Every problem is collected and reported at once with its key path (``config.toml: accounts.work.provder:
unknown key (did you mean 'provider'?)``), never one at a time and never as a traceback.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import tomllib
from collections.abc import Callable, Mapping
from datetime import time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import connectors
from syncd.errors import ConfigError
from syncd.values import (
    SCHEMAS,
    address,
    boolean,
    duration,
    list_of,
    pattern,
    positive_int,
    string,
    time_of_day,
    timezone,
    weekday,
)
from syncd.values import path as to_path

# ---- the spec ----------------------------------------------------------------------------------------

REQUIRED = object()


@dataclasses.dataclass(frozen=True)
class Key:
    name: str
    convert: Callable[[Any], Any]
    default: Any
    doc: str
    item: Callable[[Any], Any] | None = None  # for lists: the converter of one item (for the schema)
    choices: tuple[str, ...] | None = None


def _key(name: str, convert: Callable[[Any], Any], default: Any, doc: str,
         item: Callable[[Any], Any] | None = None) -> Key:
    return Key(name, list_of(item) if item else convert, default, doc, item)


ACCOUNT_KEYS = [
    Key("provider", string, REQUIRED, "maildir | mbox | ics", choices=tuple(sorted(connectors.SOURCES))),
    # Existence is checked by `syncd config check` and at pull time, not here: an unmounted archive
    # must fail its own account, not stop every other account from being pulled.
    Key("path", to_path, None, "the mail folder, mbox file or .ics file/folder (maildir, mbox, ics)"),
    _key("me", list_of(address), (), "your own addresses in this account", item=address),
    Key("enabled", boolean, True, "false skips the account on pull"),
    Key("interval", duration, timedelta(minutes=15), "how often `syncd run` pulls this account"),
]
# Keys only some providers take. A provider needs `path` when it reads local files.
PROVIDER_KEYS: dict[str, list[Key]] = {
    "maildir": [],
    "mbox": [],
    "ics": [
        Key("window_past", duration, timedelta(days=5 * 365), "recurring events are expanded this far back"),
        Key("window_future", duration, timedelta(days=365), "and this far ahead"),
    ],
}
LOCAL_PROVIDERS = {"maildir", "mbox", "ics"}

ENGINE_KEYS = [
    Key("max_recipients", positive_int, 20, "mail to or from more addresses (To+Cc, you excluded) is no contact"),
    Key("max_attendees", positive_int, 20, "meetings with more attendees are no contact"),
    Key("min_every", duration, timedelta(days=14), "the shortest learned rhythm"),
    Key("max_every", duration, timedelta(days=180), "the longest learned rhythm"),
    Key("default_every", duration, timedelta(days=90), "the rhythm when nothing else applies"),
    Key("forget_after", duration, timedelta(days=3 * 365), "older relationships are dormant: listed, not reminded"),
    Key("after_series_end", duration, timedelta(days=21), "follow up this long after a recurring meeting ended"),
    Key("meeting_grace", duration, timedelta(days=7), "a meeting booked before due + this means no reminder"),
    _key("blocklist", list_of(pattern), (), "addresses or *@domain never treated as people", item=pattern),
    Key("provider_equivalences", boolean, False, "treat googlemail.com = gmail.com, dots and +tags as one address"),
]
FOLLOWUP_KEYS = [
    Key("target", string, "ics", "\"ics\", or the name of an account with a calendar"),
    Key("ics_path", to_path, None, "the .ics file follow-ups go to (default: <state dir>/followups.ics)"),
    Key("calendar_name", string, "Follow-ups", "the calendar's name"),
    Key("slot", time_of_day, time(9, 30), "local time of day follow-ups are placed at"),
    Key("duration", duration, timedelta(minutes=15), "length of a follow-up event"),
    Key("per_day", positive_int, 3, "at most this many follow-ups on one day"),
    _key("working_days", list_of(weekday), frozenset(range(5)), "days follow-ups may land on", item=weekday),
    Key("timezone", timezone, None, "IANA zone of the slot (default: this machine's zone)"),
    Key("reminder", duration, timedelta(0), "the pop-up comes this long before the slot"),
    Key("title", string, "Reach out to {name}", "event title; {name} is the person's name"),
    Key("max_deletes", positive_int, 20, "a run deletes at most this many follow-ups without --force"),
    Key("horizon", duration, timedelta(days=14), "follow-ups are written this far ahead"),
]
TIER_KEYS = [
    Key("name", string, REQUIRED, "the tier's name"),
    Key("remind", boolean, True, "false: kept and listed, never reminded (the directory)"),
    Key("every", duration, None, "the rhythm for this tier"),
    _key("match", list_of(pattern), (), "addresses, globs (*@shop.example) or domains", item=pattern),
]
PEOPLE_KEYS = [
    _key("addresses", list_of(address), REQUIRED, "one person's addresses (the first is their key)", item=address),
    Key("name", string, None, "their name"),
    Key("every", duration, None, "their rhythm"),
    Key("tier", string, None, "their tier"),
    Key("note", string, None, "shown in their follow-ups"),
]
TOP_LEVEL = {"accounts": "table", "engine": "table", "followups": "table", "tiers": "array", "people": "array"}

# ---- typed settings ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class AccountConfig:
    name: str
    provider: str
    path: Path | None
    me: tuple[str, ...]
    enabled: bool
    options: Mapping[str, Any]


@dataclasses.dataclass(frozen=True)
class EngineConfig:
    max_recipients: int = 20
    max_attendees: int = 20
    min_every: timedelta = timedelta(days=14)
    max_every: timedelta = timedelta(days=180)
    default_every: timedelta = timedelta(days=90)
    forget_after: timedelta = timedelta(days=3 * 365)
    after_series_end: timedelta = timedelta(days=21)
    meeting_grace: timedelta = timedelta(days=7)
    blocklist: tuple[str, ...] = ()
    provider_equivalences: bool = False


def local_timezone() -> ZoneInfo:
    """This machine's IANA zone: $TZ, else the /etc/localtime link, else UTC."""
    for candidate in (os.environ.get("TZ", "").lstrip(":"), _localtime_link()):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def _localtime_link() -> str:
    try:
        target = os.readlink("/etc/localtime")
    except OSError:
        return ""
    return target.split("zoneinfo/", 1)[1] if "zoneinfo/" in target else ""


@dataclasses.dataclass(frozen=True)
class FollowupsConfig:
    target: str = "ics"
    ics_path: Path | None = None
    calendar_name: str = "Follow-ups"
    slot: time = time(9, 30)
    duration: timedelta = timedelta(minutes=15)
    per_day: int = 3
    working_days: frozenset[int] = frozenset(range(5))
    timezone: ZoneInfo = dataclasses.field(default_factory=local_timezone)
    reminder: timedelta = timedelta(0)
    title: str = "Reach out to {name}"
    max_deletes: int = 20
    horizon: timedelta = timedelta(days=14)


@dataclasses.dataclass(frozen=True)
class TierConfig:
    name: str
    remind: bool = True
    every: timedelta | None = None
    match: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class PersonConfig:
    addresses: tuple[str, ...]
    name: str | None = None
    every: timedelta | None = None
    tier: str | None = None
    note: str | None = None


@dataclasses.dataclass(frozen=True)
class Config:
    path: Path | None = None
    accounts: Mapping[str, AccountConfig] = dataclasses.field(default_factory=dict)
    engine: EngineConfig = dataclasses.field(default_factory=EngineConfig)
    followups: FollowupsConfig = dataclasses.field(default_factory=FollowupsConfig)
    tiers: tuple[TierConfig, ...] = ()
    people: tuple[PersonConfig, ...] = ()


# ---- validation ----------------------------------------------------------------------------------


class _Problems:
    def __init__(self, source: str) -> None:
        self.source = source
        self.items: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.items.append(f"{self.source}: {where}: {message}" if where else f"{self.source}: {message}")


def _suggest(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _table(data: Any, keys: list[Key], where: str, problems: _Problems) -> dict[str, Any]:
    """Convert one table by its keys: unknown, missing, wrong type and bad values all reported."""
    if not isinstance(data, dict):
        problems.add(where, "must be a table")
        return {}
    out: dict[str, Any] = {}
    names = [key.name for key in keys]
    for name in data:
        if name not in names:
            problems.add(f"{where}.{name}", f"unknown key{_suggest(name, names)}")
    for key in keys:
        path = f"{where}.{key.name}"
        if key.name not in data:
            if key.default is REQUIRED:
                problems.add(path, "missing (required)")
            else:
                out[key.name] = key.default
            continue
        try:
            out[key.name] = key.convert(data[key.name])
        except TypeError as exc:
            problems.add(path, f"wrong type: expected {exc}, got {type(data[key.name]).__name__}")
        except ValueError as exc:
            problems.add(path, str(exc))
    return out


def _account(name: str, data: Any, problems: _Problems) -> AccountConfig | None:
    where = f"accounts.{name}"
    provider = data.get("provider") if isinstance(data, dict) else None
    extra: list[Key] = []
    if isinstance(provider, str):
        if provider not in PROVIDER_KEYS:
            known = sorted(PROVIDER_KEYS)
            hint = _suggest(provider, known)
            problems.add(f"{where}.provider", f"unknown provider '{provider}' (one of: {', '.join(known)}){hint}")
        else:
            extra = PROVIDER_KEYS[provider]
    values = _table(data, ACCOUNT_KEYS + extra, where, problems)
    if provider in LOCAL_PROVIDERS and isinstance(data, dict) and "path" not in data:
        problems.add(f"{where}.path", "missing (required for a local archive)")
    if len(values) != len(ACCOUNT_KEYS) + len(extra) or not isinstance(provider, str) or provider not in PROVIDER_KEYS:
        return None
    common = {key.name for key in ACCOUNT_KEYS}
    return AccountConfig(
        name=name,
        provider=provider,
        path=values["path"],
        me=values["me"],
        enabled=values["enabled"],
        options={k: v for k, v in values.items() if k not in common or k == "interval"},
    )


def parse_config(
    data: Mapping[str, Any], source: str = "config.toml", path: Path | None = None, check_paths: bool = False
) -> Config:
    problems = _Problems(source)
    for name in data:
        if name not in TOP_LEVEL:
            problems.add(name, f"unknown key{_suggest(name, list(TOP_LEVEL))}")
    accounts: dict[str, AccountConfig] = {}
    raw_accounts = data.get("accounts", {})
    if not isinstance(raw_accounts, dict):
        problems.add("accounts", "must be a table of [accounts.NAME] tables")
        raw_accounts = {}
    for name, table in raw_accounts.items():
        account = _account(name, table, problems)
        if account is not None:
            accounts[name] = account
    engine = _table(data.get("engine", {}), ENGINE_KEYS, "engine", problems)
    followups = _table(data.get("followups", {}), FOLLOWUP_KEYS, "followups", problems)
    tiers = [_table(t, TIER_KEYS, f"tiers[{i}]", problems) for i, t in enumerate(_array(data, "tiers", problems))]
    people = [_table(p, PEOPLE_KEYS, f"people[{i}]", problems) for i, p in enumerate(_array(data, "people", problems))]
    _cross_checks(accounts, raw_accounts, engine, followups, tiers, people, problems)
    for name, table in raw_accounts.items() if check_paths else ():
        raw_path = table.get("path") if isinstance(table, dict) else None
        if isinstance(raw_path, str) and raw_path.strip() and not to_path(raw_path).exists():
            problems.add(f"accounts.{name}.path", f"{to_path(raw_path)} does not exist")
    if problems.items:
        raise ConfigError(problems.items)
    if followups.get("timezone") is None:
        followups["timezone"] = local_timezone()
    if isinstance(followups.get("working_days"), tuple):
        followups["working_days"] = frozenset(followups["working_days"])
    return Config(
        path=path,
        accounts=accounts,
        engine=EngineConfig(**engine),
        followups=FollowupsConfig(**followups),
        tiers=tuple(TierConfig(**t) for t in tiers),
        people=tuple(PersonConfig(**p) for p in people),
    )


def _array(data: Mapping[str, Any], name: str, problems: _Problems) -> list[Any]:
    value = data.get(name, [])
    if not isinstance(value, list):
        problems.add(name, f"must be an array of tables ([[{name}]])")
        return []
    return value


def _cross_checks(
    accounts: dict[str, AccountConfig],
    raw_accounts: Mapping[str, Any],
    engine: dict[str, Any],
    followups: dict[str, Any],
    tiers: list[dict[str, Any]],
    people: list[dict[str, Any]],
    problems: _Problems,
) -> None:
    target = followups.get("target")
    if isinstance(target, str) and target != "ics" and target not in raw_accounts:
        choices = ["ics", *raw_accounts]
        hint = _suggest(target, choices)
        problems.add("followups.target", f"'{target}' is neither \"ics\" nor a configured account{hint}")
    if not followups.get("working_days", True):
        problems.add("followups.working_days", "needs at least one day")
    if engine.get("min_every") and engine.get("max_every") and engine["min_every"] > engine["max_every"]:
        problems.add("engine.min_every", "is longer than engine.max_every")
    names = [t.get("name") for t in tiers]
    for index, name in enumerate(names):
        if name is not None and names.index(name) != index:
            problems.add(f"tiers[{index}].name", f"'{name}' is defined twice")
    tier_names = [n for n in names if isinstance(n, str)]
    for index, person in enumerate(people):
        tier = person.get("tier")
        if tier is not None and tier not in tier_names:
            problems.add(f"people[{index}].tier", f"no tier named '{tier}'{_suggest(tier, tier_names)}")
        if person.get("addresses") == ():
            problems.add(f"people[{index}].addresses", "needs at least one address")


def load_config(path: Path, check_paths: bool = False) -> Config:
    """Read and validate ``path``; raises ConfigError listing every problem.

    ``check_paths`` (for `syncd config check`) also reports account paths that do not exist now; a pull
    does not, so that an unmounted archive fails only its own account.
    """
    source = path.name
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{path}: no configuration file here; run 'syncd init' to create one"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: cannot read it ({exc})"]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{source}: not valid TOML: {exc}"]) from None
    return parse_config(data, source, path, check_paths)


# ---- schema and starter ----------------------------------------------------------------------------


def _key_schema(key: Key) -> dict[str, Any]:
    if key.item is not None:
        schema: dict[str, Any] = {"type": "array", "items": dict(SCHEMAS.get(key.item, {"type": "string"}))}
    else:
        schema = dict(SCHEMAS.get(key.convert, {"type": "string"}))
    if key.choices:
        schema["enum"] = list(key.choices)
    schema["description"] = key.doc
    return schema


def _object(keys: list[Key]) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {key.name: _key_schema(key) for key in keys},
        "required": [key.name for key in keys if key.default is REQUIRED],
    }


def json_schema() -> dict[str, Any]:
    account_keys = ACCOUNT_KEYS + [key for keys in PROVIDER_KEYS.values() for key in keys]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "syncd configuration",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "accounts": {"type": "object", "additionalProperties": _object(account_keys)},
            "engine": _object(ENGINE_KEYS),
            "followups": _object(FOLLOWUP_KEYS),
            "tiers": {"type": "array", "items": _object(TIER_KEYS)},
            "people": {"type": "array", "items": _object(PEOPLE_KEYS)},
        },
    }


STARTER_CONFIG = """\
# syncd configuration. Every key is documented in config.example.toml;
# check this file with `syncd config check`.

# One table per mail archive or calendar export:
# [accounts.archive]
# provider = "maildir"          # maildir | mbox | ics
# path = "~/Mail"
# me = ["you@example.com"]      # your own addresses

[followups]
target = "ics"                  # follow-ups go to an .ics file any calendar app can import
# ics_path = "~/followups.ics"
slot = "09:30"
per_day = 3

[[tiers]]
name = "directory"              # kept and findable, never reminded
remind = false
match = []
"""
