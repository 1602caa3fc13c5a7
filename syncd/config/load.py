"""Reading the configuration file: one declarative spec validates it and builds the typed settings.

Every problem is collected and reported at once with its key path (``config.toml: accounts.work.provder:
unknown key (did you mean 'provider'?)``), never one at a time and never as a traceback. The spec
(:mod:`syncd.config.spec`, and each provider's declared keys) is the only place a key is described: the
validator, the JSON Schema and its defaults, and the test that checks ``config.example.toml`` all read it
(khal's "the spec is the documentation").
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import tomllib
from collections.abc import Callable, Mapping
from datetime import time, timedelta
from pathlib import Path
from typing import Any

from connectors import PROVIDERS
from connectors.settings import REQUIRED, Key, expanded_path
from connectors.tls import is_loopback
from syncd.config.settings import (
    AccountConfig,
    Config,
    EngineConfig,
    FollowupsConfig,
    PersonConfig,
    TierConfig,
    local_timezone,
)
from syncd.config.spec import (
    ACCOUNT_KEYS,
    ENGINE_KEYS,
    FOLLOWUP_KEYS,
    PEOPLE_KEYS,
    PROVIDER_KEYS,
    TIER_KEYS,
    TOP_LEVEL,
)
from syncd.errors import ConfigError

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
    if check_paths:
        _check_paths(raw_accounts, problems)
    if problems.items:
        raise ConfigError(problems.items)
    # No problems: every table was a table and every key converted.
    assert engine is not None and followups is not None
    return _built(path, accounts, engine, followups, tiers, people)


def _check_paths(raw_accounts: Mapping[str, Any], problems: _Problems) -> None:
    """Account paths that do not exist now (``syncd config check`` only: a pull fails just that account)."""
    for name, table in raw_accounts.items():
        raw_path = table.get("path") if isinstance(table, dict) else None
        try:
            full = expanded_path(raw_path)
        except (TypeError, ValueError):
            continue  # already reported
        if not full.exists():
            problems.add(f"accounts.{name}.path", f"{full} does not exist")


def _built(
    path: Path | None, accounts: Mapping[str, AccountConfig | None], engine: dict[str, Any],
    followups: dict[str, Any], tiers: list[dict[str, Any] | None], people: list[dict[str, Any] | None],
) -> Config:
    """The typed settings from tables that converted without a problem."""
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
    for account_name, each in accounts.items():
        host = str(each.options.get("host") or "") if each is not None else ""
        if each is not None and each.options.get("security") == "plain" and not is_loopback(host):
            # The password would cross the network in the clear.
            problems.add(f"accounts.{account_name}.security", f"\"plain\" is only for a server on this machine, "
                         f"not {host}; use \"tls\" or \"starttls\"")
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
