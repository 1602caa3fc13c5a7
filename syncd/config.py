"""The configuration file: one declarative spec that validates, builds typed settings and the JSON Schema.

Every problem is collected and reported at once with its key path (``config.toml: accounts.work.provder:
unknown key (did you mean 'provider'?)``), never one at a time and never as a traceback. The spec (the
``*_KEYS`` lists) is the only place a key is described: the validator, the JSON Schema and its defaults,
and the test that checks ``config.example.toml`` all read it (khal's "the spec is the documentation").
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from datetime import time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connectors import PROVIDERS
from connectors.settings import REQUIRED, Key, expanded_path, format_duration
from syncd.config_spec import (
    ACCOUNT_KEYS,
    ENGINE_KEYS,
    FOLLOWUP_KEYS,
    KIND_SCHEMAS,
    PEOPLE_KEYS,
    PROVIDER_KEYS,
    TIER_KEYS,
    TOP_LEVEL,
    WEEKDAYS,
    weekday,
)
from syncd.errors import ConfigError

# ---- typed settings ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class AccountConfig:
    name: str
    provider: str
    path: Path | None
    me: tuple[str, ...]
    enabled: bool
    options: Mapping[str, Any]  # the provider's own keys, and `interval`, already converted


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
            except (ZoneInfoNotFoundError, ValueError, OSError):  # POSIX rules like "CET-1CEST", folders
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


_TOML_TYPES = {str: "a string", int: "a number", float: "a number", bool: "true/false", list: "an array",
               dict: "a table", time: "a time"}
_INVALID = object()  # a value that was reported as a problem


def _convert(kind: Callable[[Any], Any], value: Any, where: str, problems: _Problems) -> Any:
    try:
        return kind(value)
    except TypeError as exc:
        got = _TOML_TYPES.get(type(value), "a date")  # the only TOML types left are dates and datetimes
        problems.add(where, f"wrong type: expected {exc}, got {got}")
    except ValueError as exc:
        problems.add(where, str(exc))
    return _INVALID


def _value(key: Key, value: Any, where: str, problems: _Problems) -> Any:
    if key.many:
        if not isinstance(value, list):
            problems.add(where, f"wrong type: expected an array, got {_TOML_TYPES.get(type(value), 'a date')}")
            return _INVALID
        # Each item is checked and reported on its own (`me[1]`), so one typo does not hide the next.
        items = [_convert(key.kind, item, f"{where}[{i}]", problems) for i, item in enumerate(value)]
        return _INVALID if _INVALID in items else tuple(items)
    result = _convert(key.kind, value, where, problems)
    if key.choices is not None and result is not _INVALID and result not in key.choices:
        hint = _suggest(result, list(key.choices))
        problems.add(where, f"unknown {key.name} '{result}' (one of: {', '.join(key.choices)}){hint}")
        return _INVALID
    return result


def _table(
    data: Any, keys: list[Key], where: str, problems: _Problems, tolerated: frozenset[str] = frozenset()
) -> dict[str, Any] | None:
    """Convert one table by its keys, reporting every problem; keys with a problem are left out.

    ``tolerated`` keys are neither converted nor called unknown: the keys of other providers while an
    account's own provider is itself wrong, so one typo does not produce a cascade of problems.
    """
    if not isinstance(data, dict):
        problems.add(where, "must be a table")
        return None
    names = [key.name for key in keys]
    for name in data:
        if name not in names and name not in tolerated:
            problems.add(f"{where}.{name}", f"unknown key{_suggest(name, names)}")
    out: dict[str, Any] = {}
    for key in keys:
        if key.name in data:
            value = _value(key, data[key.name], f"{where}.{key.name}", problems)
            if value is not _INVALID:
                out[key.name] = value
        elif key.default is REQUIRED:
            problems.add(f"{where}.{key.name}", "missing (required)")
        else:
            out[key.name] = key.default
    return out


def _account(name: str, data: Any, problems: _Problems) -> AccountConfig | None:
    where = f"accounts.{name}"
    provider = data.get("provider") if isinstance(data, dict) else None
    before = len(problems.items)
    if isinstance(provider, str) and provider in PROVIDER_KEYS:
        values = _table(data, ACCOUNT_KEYS + PROVIDER_KEYS[provider], where, problems)
    else:
        any_provider = frozenset(key.name for keys in PROVIDER_KEYS.values() for key in keys)
        values = _table(data, ACCOUNT_KEYS, where, problems, tolerated=any_provider)
    if isinstance(provider, str) and provider in PROVIDERS and PROVIDERS[provider].reads_path and "path" not in data:
        problems.add(f"{where}.path", "missing (required for a local archive)")
        return None
    if len(problems.items) != before or values is None:
        return None
    common = {key.name for key in ACCOUNT_KEYS} - {"interval"}
    return AccountConfig(
        name=name,
        provider=values["provider"],
        path=values["path"],
        me=values["me"],
        enabled=values["enabled"],
        options={k: v for k, v in values.items() if k not in common},
    )


def parse_config(
    data: Mapping[str, Any], source: str = "config.toml", path: Path | None = None, check_paths: bool = False
) -> Config:
    """Validate parsed TOML; raises ConfigError with every problem, each prefixed with ``source``."""
    problems = _Problems(source)
    for name in data:
        if name not in TOP_LEVEL:
            problems.add(name, f"unknown key{_suggest(name, list(TOP_LEVEL))}")
    raw_accounts = data.get("accounts", {})
    if not isinstance(raw_accounts, dict):
        problems.add("accounts", "must be a table of [accounts.NAME] tables")
        raw_accounts = {}
    accounts = {name: _account(name, table, problems) for name, table in raw_accounts.items()}
    engine = _table(data.get("engine", {}), ENGINE_KEYS, "engine", problems)
    followups = _table(data.get("followups", {}), FOLLOWUP_KEYS, "followups", problems)
    raw_tiers = _array(data, "tiers", problems)
    tiers = [_table(t, TIER_KEYS, f"tiers[{i}]", problems) for i, t in enumerate(raw_tiers)]
    people = [_table(p, PEOPLE_KEYS, f"people[{i}]", problems) for i, p in enumerate(_array(data, "people", problems))]
    _cross_checks(accounts, raw_accounts, engine or {}, followups or {}, raw_tiers, people, problems)
    for name, table in raw_accounts.items() if check_paths else ():
        raw_path = table.get("path") if isinstance(table, dict) else None
        try:
            full = expanded_path(raw_path)
        except (TypeError, ValueError):
            continue  # already reported
        if not full.exists():
            problems.add(f"accounts.{name}.path", f"{full} does not exist")
    if problems.items:
        raise ConfigError(problems.items)
    # No problems: every table was a table and every key converted.
    assert engine is not None and followups is not None
    followups["working_days"] = frozenset(followups["working_days"])
    if followups["timezone"] is None:
        followups["timezone"] = local_timezone()
    # The account that holds the follow-ups logs in with write access; its sources and target must ask for
    # the same permissions, so the fact travels with the account's options.
    target = followups["target"]
    built = {
        name: dataclasses.replace(account, options={**account.options, "followups_target": name == target})
        for name, account in accounts.items() if account is not None
    }
    return Config(
        path=path,
        accounts=built,
        engine=EngineConfig(**engine),
        followups=FollowupsConfig(**followups),
        tiers=tuple(TierConfig(**t) for t in tiers if t is not None),
        people=tuple(PersonConfig(**p) for p in people if p is not None),
    )


def _array(data: Mapping[str, Any], name: str, problems: _Problems) -> list[Any]:
    value = data.get(name, [])
    if not isinstance(value, list):
        problems.add(name, f"must be an array of tables ([[{name}]])")
        return []
    return value


def _cross_checks(
    accounts: Mapping[str, AccountConfig | None],
    raw_accounts: Mapping[str, Any],
    engine: dict[str, Any],
    followups: dict[str, Any],
    raw_tiers: list[Any],
    people: list[dict[str, Any] | None],
    problems: _Problems,
) -> None:
    """Checks across keys, on whatever converted; a key that failed on its own was already reported."""
    target = followups.get("target")
    account = accounts.get(target) if isinstance(target, str) else None
    if isinstance(target, str) and target != "ics" and target not in raw_accounts:
        hint = _suggest(target, ["ics", *raw_accounts])
        problems.add("followups.target", f"'{target}' is neither \"ics\" nor a configured account{hint}")
    elif account is not None and PROVIDERS[account.provider].target is None:
        problems.add("followups.target", f"account '{target}' ({account.provider}) cannot hold follow-ups")
    if followups.get("working_days") == ():
        problems.add("followups.working_days", "needs at least one day")
    low, high = engine.get("min_every"), engine.get("max_every")
    if isinstance(low, timedelta) and isinstance(high, timedelta) and low > high:
        problems.add("engine.min_every", "is longer than engine.max_every")
    # A tier whose table had a problem still counts as defined, so people naming it get no second problem.
    names = [t.get("name") if isinstance(t, dict) else None for t in raw_tiers]
    tier_names = [n for n in names if isinstance(n, str)]
    for index, name in enumerate(names):
        if isinstance(name, str) and names.index(name) != index:
            problems.add(f"tiers[{index}].name", f"'{name}' is defined twice")
    owner: dict[str, int] = {}
    for index, person in enumerate(people):
        if person is None:
            continue
        tier = person.get("tier")
        if tier is not None and tier not in tier_names:
            problems.add(f"people[{index}].tier", f"no tier named '{tier}'{_suggest(tier, tier_names)}")
        if person.get("addresses") == ():
            problems.add(f"people[{index}].addresses", "needs at least one address")
        for item in person.get("addresses", ()):
            # One address in two entries would merge them behind the user's back, or split them at random.
            if owner.setdefault(item, index) != index:
                problems.add(f"people[{index}].addresses", f"{item} is already in people[{owner[item]}]")


_TOML_WHERE = re.compile(r" \(at (line \d+, column \d+|end of document)\)$")


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
        # tomllib ends its message with "(at line 2, column 14)": moved to where the key path usually goes.
        message = str(exc)
        where = _TOML_WHERE.search(message)
        if where is None:
            raise ConfigError([f"{source}: not valid TOML: {message}"]) from None
        raise ConfigError([f"{source}: {where[1]}: not valid TOML: {message[: where.start()]}"]) from None
    return parse_config(data, source, path, check_paths)


# ---- schema and starter ----------------------------------------------------------------------------


def default_value(key: Key) -> Any:
    """``key``'s default as a TOML/JSON value, or None when there is none to write (required, or computed)."""
    def one(value: Any) -> Any:
        if key.kind is weekday:
            return WEEKDAYS[value]
        return format_duration(value) if isinstance(value, timedelta | time) else value

    if key.default is REQUIRED or key.default is None:
        return None
    return [one(item) for item in sorted(key.default)] if key.many else one(key.default)


def _key_schema(key: Key) -> dict[str, Any]:
    schema = dict(KIND_SCHEMAS.get(key.kind, {"type": "string"}))
    if key.many:
        schema = {"type": "array", "items": schema}
    if key.choices:
        schema["enum"] = list(key.choices)
    if default_value(key) is not None:
        schema["default"] = default_value(key)
    schema["description"] = key.doc
    return schema


def _object(keys: list[Key]) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {key.name: _key_schema(key) for key in keys},
        "required": [key.name for key in keys if key.default is REQUIRED],
    }


def _account_schema() -> dict[str, Any]:
    """Common keys, then per provider (``if``/``then``) the keys it adds; other keys are refused."""
    schema = _object(ACCOUNT_KEYS)
    del schema["additionalProperties"]  # enforced inside each provider's `then`, which knows its keys
    variants = []
    for provider, extra in sorted(PROVIDER_KEYS.items()):
        then = _object(extra)
        then["properties"] = {key.name: True for key in ACCOUNT_KEYS} | then["properties"]
        then["required"] = ["path"] if PROVIDERS[provider].reads_path else []
        chosen = {"required": ["provider"], "properties": {"provider": {"const": provider}}}
        variants.append({"if": chosen, "then": then})
    schema["allOf"] = variants
    return schema


def json_schema() -> dict[str, Any]:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "syncd configuration",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "accounts": {"type": "object", "additionalProperties": _account_schema()},
            "engine": _object(ENGINE_KEYS),
            "followups": _object(FOLLOWUP_KEYS),
            "tiers": {"type": "array", "items": _object(TIER_KEYS)},
            "people": {"type": "array", "items": _object(PEOPLE_KEYS)},
        },
    }


STARTER_CONFIG = """\
# syncd configuration. Every key is documented in config.example.toml;
# check this file with `syncd config check`.

# One table per mail archive, calendar export or online account:
# [accounts.archive]
# provider = "maildir"          # maildir | mbox | ics
# path = "~/Mail"
# me = ["you@example.com"]      # your own addresses
#
# [accounts.gmail]              # then: syncd auth login gmail
# provider = "google"
# client_secret = "~/.config/syncd/google-client.json"
#
# [accounts.outlook]            # then: syncd auth login outlook
# provider = "microsoft"
# client_id = "<your app registration's client id>"

[followups]
target = "ics"                  # an .ics file any calendar app imports, or an online account ("gmail")
# ics_path = "~/followups.ics"
slot = "09:30"
per_day = 3

[[tiers]]
name = "directory"              # kept and findable, never reminded
remind = false
match = []
"""
