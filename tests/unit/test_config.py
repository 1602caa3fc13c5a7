"""The configuration: every problem at once, with its key path; the spec, the schema and the example agree."""

from __future__ import annotations

import dataclasses
import json
import re
import tomllib
from datetime import time, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import connectors
from connectors.settings import REQUIRED, Key, format_duration, parse_duration
from syncd.config import (
    ACCOUNT_KEYS,
    ENGINE_KEYS,
    FOLLOWUP_KEYS,
    PEOPLE_KEYS,
    PROVIDER_KEYS,
    STARTER_CONFIG,
    TIER_KEYS,
    EngineConfig,
    FollowupsConfig,
    PersonConfig,
    TierConfig,
    default_value,
    json_schema,
    load_config,
    parse_config,
)
from syncd.errors import ConfigError
from tests.support.paths import ROOT

SECTIONS: dict[str, list[Key]] = {
    "accounts": ACCOUNT_KEYS + [key for keys in PROVIDER_KEYS.values() for key in keys],
    "engine": ENGINE_KEYS,
    "followups": FOLLOWUP_KEYS,
    "tiers": TIER_KEYS,
    "people": PEOPLE_KEYS,
}


def problems(text: str, tmp_path: Path, name: str = "config.toml") -> list[str]:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    return error.value.problems


def problem(text: str, tmp_path: Path) -> str:
    found = problems(text, tmp_path)
    assert len(found) == 1, found
    return found[0]


# ---- durations -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("30d", timedelta(days=30)), ("6w", timedelta(weeks=6)), ("15m", timedelta(minutes=15)),
     ("2h", timedelta(hours=2)), ("1y", timedelta(days=365)), ("1w2d", timedelta(days=9)),
     ("90s", timedelta(seconds=90)), (" 1W 2D ", timedelta(days=9))],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "30", "d30", "3 days", "-1d", "1.5d", "1x"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match=re.escape(f"'{text}' is not a duration like 30d, 6w, 15m, 2h or 1y")):
        parse_duration(text)


@given(st.integers(min_value=0, max_value=10**10))
def test_written_durations_read_back(seconds: int) -> None:
    assert parse_duration(format_duration(timedelta(seconds=seconds))) == timedelta(seconds=seconds)


def test_durations_are_written_as_a_user_would() -> None:
    assert [format_duration(d) for d in (timedelta(days=3 * 365), timedelta(days=14), timedelta(0))] == [
        "3y", "14d", "0m"]
    assert format_duration(time(9, 5)) == "09:05"


# ---- one problem each, pinned --------------------------------------------------------------------


def test_unknown_key_with_suggestion(tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    found = problems(f'[accounts.work]\nprovider = "maildir"\npath = "{tmp_path / "m"}"\nprovder = "x"\n', tmp_path)
    assert found == ["config.toml: accounts.work.provder: unknown key (did you mean 'provider'?)"]


def test_unknown_top_level_table_with_suggestion(tmp_path: Path) -> None:
    assert problem('[[tier]]\nname = "x"\n', tmp_path) == "config.toml: tier: unknown key (did you mean 'tiers'?)"


def test_prefix_is_the_file_name(tmp_path: Path) -> None:
    assert problems("[engin]\n", tmp_path, name="work.toml") == [
        "work.toml: engin: unknown key (did you mean 'engine'?)"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[engine]\nmax_recipients = "20"', "engine.max_recipients: wrong type: expected a whole number, got a string"),
        ("[engine]\nprovider_equivalences = 1", "engine.provider_equivalences: wrong type: expected true or false, got a number"),
        ("[followups]\nslot = 09:30:00", 'followups.slot: wrong type: expected a time string like "09:30", got a time'),
        ("[followups]\nhorizon = 14", 'followups.horizon: wrong type: expected a duration string like "30d", got a number'),
        ('[engine]\nblocklist = "*@x.example"', "engine.blocklist: wrong type: expected an array, got a string"),
        ("[engine]\nblocklist = [1, []]", "engine.blocklist[0]: wrong type: expected a string, got a number"),
        ("engine = 3", "engine: must be a table"),
        ("people = [1]", "people[0]: must be a table"),
        ("accounts = 3", "accounts: must be a table of [accounts.NAME] tables"),
        ('tiers = "x"', "tiers: must be an array of tables ([[tiers]])"),
    ],
)
def test_wrong_types(text: str, expected: str, tmp_path: Path) -> None:
    found = problems(text + "\n", tmp_path)
    assert found[0] == f"config.toml: {expected}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[[tiers]]\nname = "t"\nevery = "soon"', "tiers[0].every: 'soon' is not a duration like 30d, 6w, 15m, 2h or 1y"),
        ('[[tiers]]\nname = "t"\nevery = "0d"', "tiers[0].every: '0d' must be longer than zero"),
        ('[followups]\nslot = "9h"', "followups.slot: '9h' is not a time like 09:30"),
        ('[followups]\nslot = "24:00"', "followups.slot: '24:00' is not a time like 09:30"),
        ('[followups]\ntimezone = "Mars/Olympus"',
         "followups.timezone: 'Mars/Olympus' is not an IANA time zone (e.g. Europe/Berlin, America/New_York, UTC)"),
        ('[followups]\ntimezone = "europe/berlin"', "followups.timezone: 'europe/berlin' is not an IANA time zone "
         "(e.g. Europe/Berlin, America/New_York, UTC) (did you mean 'Europe/Berlin'?)"),
        # A zone folder raises IsADirectoryError inside zoneinfo: still one sentence, not a traceback.
        ('[followups]\ntimezone = "Europe"',
         "followups.timezone: 'Europe' is not an IANA time zone (e.g. Europe/Berlin, America/New_York, UTC)"),
        ('[followups]\nworking_days = ["mon", "funday"]',
         "followups.working_days[1]: 'funday' is not a weekday (mon, tue, wed, thu, fri, sat, sun)"),
        ("[followups]\nworking_days = []", "followups.working_days: needs at least one day"),
        ("[followups]\nper_day = 0", "followups.per_day: 0 is too small (at least 1)"),
        ('[followups]\ntitle = "Call {nmae}"',
         "followups.title: 'Call {nmae}' may use only the placeholder {name} (write {{ and }} for literal braces)"),
        ('[followups]\ntitle = "Call {name"',
         "followups.title: 'Call {name' may use only the placeholder {name} (write {{ and }} for literal braces)"),
        ('[engine]\nblocklist = ["bad[x]@*"]',
         "engine.blocklist[0]: 'bad[x]@*' is not an address pattern (use * and ?, e.g. *@shop.example)"),
        ('[[tiers]]\nname = "t"\nmatch = ["not a domain"]',
         "tiers[0].match[0]: 'not a domain' is neither an address, an address pattern nor a domain"),
        ('[[people]]\naddresses = ["alice@example.com", "alice at home"]',
         "people[0].addresses[1]: 'alice at home' is not an email address"),
        ("[[people]]\naddresses = []", "people[0].addresses: needs at least one address"),
        ('[[people]]\nname = "Bob"', "people[0].addresses: missing (required)"),
        ('[engine]\nmin_every = "200d"', "engine.min_every: is longer than engine.max_every"),
        ('[[tiers]]\nname = "a"\n[[tiers]]\nname = "a"', "tiers[1].name: 'a' is defined twice"),
    ],
)
def test_bad_values(text: str, expected: str, tmp_path: Path) -> None:
    assert problem(text + "\n", tmp_path) == f"config.toml: {expected}"


def test_unknown_provider(tmp_path: Path) -> None:
    assert problem('[accounts.x]\nprovider = "gmial"\n', tmp_path) == (
        "config.toml: accounts.x.provider: unknown provider 'gmial' (one of: caldav, carddav, google, ics, imap, maildir, mbox, microsoft, vcard)")
    assert problem('[accounts.x]\nprovider = "mbx"\n', tmp_path) == (
        "config.toml: accounts.x.provider: unknown provider 'mbx' (one of: caldav, carddav, google, ics, imap, maildir, mbox, microsoft, vcard) (did you mean 'mbox'?)")


def test_online_accounts_need_https_endpoints_except_on_this_machine(tmp_path: Path) -> None:
    assert problem('[accounts.g]\nprovider = "google"\ngmail_endpoint = "http://gmail.example/"\n', tmp_path) == (
        "config.toml: accounts.g.gmail_endpoint: 'http://gmail.example/' must use https "
        "(plain http only for 127.0.0.1 or localhost)")
    assert problem('[accounts.o]\nprovider = "microsoft"\nclient_id = "x"\ngraph_endpoint = "graph"\n', tmp_path) == (
        "config.toml: accounts.o.graph_endpoint: 'graph' is not an http(s) URL like https://host/")
    assert problem('[accounts.o]\nprovider = "microsoft"\n', tmp_path) == (
        "config.toml: accounts.o.client_id: missing (required)")
    path = tmp_path / "ok.toml"
    path.write_text('[accounts.g]\nprovider = "google"\ngmail_endpoint = "http://127.0.0.1:8080/"\n'
                    '[accounts.o]\nprovider = "microsoft"\nclient_id = "x"\ntoken_store = "file"\n')
    config = load_config(path)
    assert config.accounts["o"].options["folders"] == () and config.accounts["o"].options["token_store"] == "file"


def test_a_wrong_provider_does_not_make_its_keys_unknown_too(tmp_path: Path) -> None:
    assert problem('[accounts.x]\nprovider = "icss"\npath = "/x"\nwindow_past = "1y"\n', tmp_path) == (
        "config.toml: accounts.x.provider: unknown provider 'icss' (one of: caldav, carddav, google, ics, imap, maildir, mbox, microsoft, vcard) (did you mean 'ics'?)")


def test_provider_keys_belong_to_their_provider(tmp_path: Path) -> None:
    assert problem('[accounts.m]\nprovider = "maildir"\npath = "/x"\nwindow_past = "1y"\n', tmp_path) == (
        "config.toml: accounts.m.window_past: unknown key")


def test_local_accounts_need_a_path(tmp_path: Path) -> None:
    assert problem('[accounts.x]\nprovider = "mbox"\n', tmp_path) == (
        "config.toml: accounts.x.path: missing (required for a local archive)")


def test_path_variables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SYNCD_NO_SUCH_VAR", raising=False)
    assert problem('[accounts.x]\nprovider = "mbox"\npath = "${SYNCD_NO_SUCH_VAR}/mail"\n', tmp_path) == (
        "config.toml: accounts.x.path: $SYNCD_NO_SUCH_VAR is not set in the environment")
    assert problem('[accounts.x]\nprovider = "mbox"\npath = " "\n', tmp_path) == "config.toml: accounts.x.path: is empty"
    monkeypatch.setenv("MAILROOT", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    config = parse_config({"accounts": {"a": {"provider": "mbox", "path": "$MAILROOT/a"},
                                        "b": {"provider": "mbox", "path": "~/b"}}})
    assert config.accounts["a"].path == tmp_path / "a"
    assert config.accounts["b"].path == tmp_path / "home" / "b"


def test_missing_paths_are_for_config_check_not_for_loading(tmp_path: Path) -> None:
    data = {"accounts": {"usb": {"provider": "mbox", "path": str(tmp_path / "unmounted")}}}
    assert parse_config(data).accounts["usb"].path == tmp_path / "unmounted"
    with pytest.raises(ConfigError) as error:
        parse_config(data, check_paths=True)
    assert error.value.problems == [f"config.toml: accounts.usb.path: {tmp_path / 'unmounted'} does not exist"]


def test_people_tier_must_be_configured(tmp_path: Path) -> None:
    text = '[[tiers]]\nname = "inner"\n[[people]]\naddresses = ["a@b.example"]\ntier = "iner"\n'
    assert problem(text, tmp_path) == "config.toml: people[0].tier: no tier named 'iner' (did you mean 'inner'?)"


def test_a_tier_with_its_own_problem_still_counts_as_defined(tmp_path: Path) -> None:
    text = '[[tiers]]\nname = "inner"\nevery = "x"\n[[people]]\naddresses = ["a@b.example"]\ntier = "inner"\n'
    assert problem(text, tmp_path) == (
        "config.toml: tiers[0].every: 'x' is not a duration like 30d, 6w, 15m, 2h or 1y")


def test_an_address_belongs_to_one_person(tmp_path: Path) -> None:
    text = '[[people]]\naddresses = ["A@b.example"]\n[[people]]\naddresses = ["c@d.example", "a@b.example"]\n'
    assert problem(text, tmp_path) == "config.toml: people[1].addresses: a@b.example is already in people[0]"


def test_followups_target(tmp_path: Path) -> None:
    assert problem('[accounts.work]\nprovider = "mbox"\npath = "/x"\n[followups]\ntarget = "wrok"\n', tmp_path) == (
        "config.toml: followups.target: 'wrok' is neither \"ics\" nor a configured account (did you mean 'work'?)")
    assert problem('[accounts.work]\nprovider = "mbox"\npath = "/x"\n[followups]\ntarget = "work"\n', tmp_path) == (
        "config.toml: followups.target: account 'work' (mbox) cannot hold follow-ups")


def test_toml_syntax_error_has_line_and_column(tmp_path: Path) -> None:
    assert problems('[followups]\nslot = "09:30\n', tmp_path) == [
        "config.toml: line 2, column 14: not valid TOML: Illegal character '\\n'"]
    assert problems("[engine]\nmax_recipients =", tmp_path) == [
        "config.toml: end of document: not valid TOML: Invalid value"]


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        load_config(tmp_path / "nope.toml")
    assert error.value.problems == [f"{tmp_path / 'nope.toml'}: no configuration file here; run 'syncd init' to create one"]
    with pytest.raises(ConfigError, match="cannot read it"):
        load_config(tmp_path)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    found = problems(
        """
top = 1
[accounts.work]
provider = "gmial"
[accounts.arch]
provider = "maildir"
path = "/no/such/dir"
me = ["not-an-address", "me@example.com", 3]
[engine]
max_recipients = "20"
min_every = "200d"
blocklist = ["bad[x]@*"]
[followups]
slot = "25:00"
timezone = "Mars/Olympus"
target = "wrok"
working_days = ["mon", "funday"]
per_day = 0
[[tiers]]
name = "a"
every = "soon"
[[tiers]]
name = "a"
[[people]]
tier = "b"
""",
        tmp_path,
    )
    assert found == [
        "config.toml: top: unknown key",
        "config.toml: accounts.work.provider: unknown provider 'gmial' (one of: caldav, carddav, google, ics, imap, maildir, mbox, microsoft, vcard)",
        "config.toml: accounts.arch.me[0]: 'not-an-address' is not an email address",
        "config.toml: accounts.arch.me[2]: wrong type: expected a string, got a number",
        "config.toml: engine.max_recipients: wrong type: expected a whole number, got a string",
        "config.toml: engine.blocklist[0]: 'bad[x]@*' is not an address pattern (use * and ?, e.g. *@shop.example)",
        "config.toml: followups.slot: '25:00' is not a time like 09:30",
        "config.toml: followups.per_day: 0 is too small (at least 1)",
        "config.toml: followups.working_days[1]: 'funday' is not a weekday (mon, tue, wed, thu, fri, sat, sun)",
        "config.toml: followups.timezone: 'Mars/Olympus' is not an IANA time zone (e.g. Europe/Berlin, America/New_York, UTC)",
        "config.toml: tiers[0].every: 'soon' is not a duration like 30d, 6w, 15m, 2h or 1y",
        "config.toml: people[0].addresses: missing (required)",
        "config.toml: followups.target: 'wrok' is neither \"ics\" nor a configured account (did you mean 'work'?)",
        "config.toml: engine.min_every: is longer than engine.max_every",
        "config.toml: tiers[1].name: 'a' is defined twice",
        "config.toml: people[0].tier: no tier named 'b'",
    ]


# ---- what a valid file gives -----------------------------------------------------------------------


def test_valid_config_builds_typed_settings(tmp_path: Path) -> None:
    (tmp_path / "cal.ics").write_text("")
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[accounts.cal]
provider = "ics"
path = "{tmp_path / 'cal.ics'}"
me = ["Me@Example.com"]
window_past = "2y"
[engine]
blocklist = ["*@spam.example", "Bob@X.example"]
[followups]
slot = "08:15"
timezone = "Europe/Berlin"
working_days = ["sat", "sun", "sat"]
title = "Call {{name}} {{{{ok}}}}"
[[tiers]]
name = "inner"
every = "3w"
match = ["*@example.org", "example.net", "a@b.example"]
[[people]]
addresses = ["Alice@Example.com"]
tier = "inner"
every = "1w2d"
"""
    )
    config = load_config(path, check_paths=True)
    assert config.path == path
    account = config.accounts["cal"]
    assert (account.name, account.provider, account.path, account.me, account.enabled) == (
        "cal", "ics", tmp_path / "cal.ics", ("me@example.com",), True)
    assert account.options == {"interval": timedelta(minutes=15), "window_past": timedelta(days=730),
                               "window_future": timedelta(days=365), "max_occurrences": 1000,
                               "followups_target": False}
    assert config.engine == EngineConfig(blocklist=("*@spam.example", "bob@x.example"))
    assert config.followups.slot == time(8, 15) and config.followups.working_days == frozenset({5, 6})
    assert str(config.followups.timezone) == "Europe/Berlin" and config.followups.title == "Call {name} {{ok}}"
    assert config.tiers == (TierConfig("inner", every=timedelta(weeks=3), match=("*@example.org", "example.net", "a@b.example")),)
    assert config.people == (PersonConfig(("alice@example.com",), tier="inner", every=timedelta(days=9)),)


def test_an_empty_file_is_all_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "America/New_York")
    config = parse_config({})
    assert config.accounts == {} and config.tiers == () and config.people == ()
    assert config.engine == EngineConfig() and config.followups == FollowupsConfig()
    assert str(config.followups.timezone) == "America/New_York"
    monkeypatch.setenv("TZ", "CET-1CEST")  # a POSIX rule, not an IANA name: falls through to the next source
    assert parse_config({}).followups.timezone is not None


# ---- the spec is the one source: dataclasses, schema, example --------------------------------------


@pytest.mark.parametrize(
    ("keys", "settings"),
    [(ENGINE_KEYS, EngineConfig), (FOLLOWUP_KEYS, FollowupsConfig), (TIER_KEYS, TierConfig), (PEOPLE_KEYS, PersonConfig)],
)
def test_spec_and_settings_agree(keys: list[Key], settings: type) -> None:
    fields = {field.name: field for field in dataclasses.fields(settings)}
    assert [key.name for key in keys] == list(fields)
    for key in keys:
        field = fields[key.name]
        if key.default is REQUIRED:
            assert field.default is dataclasses.MISSING, key.name
        elif field.default is not dataclasses.MISSING:  # the time zone's default is computed, not declared
            assert key.default == field.default, key.name


def test_every_provider_has_its_keys_declared() -> None:
    assert set(PROVIDER_KEYS) == set(connectors.PROVIDERS)


def test_schema_is_json_and_lists_every_key() -> None:
    schema = json.loads(json.dumps(json_schema()))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    tables = schema["properties"]
    assert set(tables) == set(SECTIONS)
    assert set(tables["engine"]["properties"]) == {k.name for k in ENGINE_KEYS}
    assert set(tables["followups"]["properties"]) == {k.name for k in FOLLOWUP_KEYS}
    assert set(tables["tiers"]["items"]["properties"]) == {k.name for k in TIER_KEYS}
    assert set(tables["people"]["items"]["properties"]) == {k.name for k in PEOPLE_KEYS}
    assert tables["people"]["items"]["required"] == ["addresses"] and tables["tiers"]["items"]["required"] == ["name"]
    account = tables["accounts"]["additionalProperties"]
    assert account["required"] == ["provider"]
    assert account["properties"]["provider"]["enum"] == ["caldav", "carddav", "google", "ics", "imap", "maildir", "mbox", "microsoft", "vcard"]
    assert set(account["properties"]) == {k.name for k in ACCOUNT_KEYS}
    for variant in account["allOf"]:  # each provider allows exactly the common keys and its own
        provider = variant["if"]["properties"]["provider"]["const"]
        allowed = {k.name for k in ACCOUNT_KEYS + PROVIDER_KEYS[provider]}
        assert set(variant["then"]["properties"]) == allowed and variant["then"]["additionalProperties"] is False
    assert {v["if"]["properties"]["provider"]["const"] for v in account["allOf"]} == set(PROVIDER_KEYS)


def test_schema_defaults_read_back_as_the_defaults() -> None:
    tables = json_schema()["properties"]
    data: dict[str, Any] = {
        name: {key: spec["default"] for key, spec in tables[name]["properties"].items() if "default" in spec}
        for name in ("engine", "followups")
    }
    config = parse_config(data)
    assert config.engine == EngineConfig() and config.followups == FollowupsConfig()
    assert tables["followups"]["properties"]["working_days"]["default"] == ["mon", "tue", "wed", "thu", "fri"]


def test_example_and_starter_configs_parse() -> None:
    example = parse_config(tomllib.loads((ROOT / "config.example.toml").read_text()), "config.example.toml")
    assert example.engine == EngineConfig()  # the example shows the defaults, so it must be them
    assert dataclasses.replace(example.followups, timezone=FollowupsConfig().timezone) == FollowupsConfig()
    parse_config(tomllib.loads(STARTER_CONFIG))


def _sections(text: str) -> dict[str, str]:
    """The example's text per table, commented-out headers included (``# [accounts.NAME]``)."""
    parts: dict[str, str] = {}
    current = ""
    for line in text.splitlines():
        header = re.match(r"^#?\s*\[+(\w+)", line)
        if header:
            current = header[1]
        parts[current] = parts.get(current, "") + line + "\n"
    return parts


def undocumented_keys(tables: dict[str, str], keys_by_table: dict[str, list[Key]]) -> list[str]:
    """The keys a table of the example does not show (commented out or not), or shows with another default."""
    missing = []
    for table, keys in keys_by_table.items():
        for key in keys:
            line = re.search(rf"^#?\s*{key.name} = .*$", tables.get(table, ""), re.MULTILINE)
            default = default_value(key)
            if line is None:
                missing.append(f"{table}.{key.name}")
            elif default is not None and json.dumps(default) not in line[0]:
                missing.append(f"{table}.{key.name} (default {json.dumps(default)})")
    return missing


def test_example_documents_every_key_with_its_default() -> None:
    assert undocumented_keys(_sections((ROOT / "config.example.toml").read_text()), SECTIONS) == []


def _provider_blocks(text: str) -> dict[str, str]:
    """The example's commented-out account tables by the provider they show (``# provider = "imap"``)."""
    blocks: dict[str, str] = {}
    for block in re.split(r"(?m)^# \[accounts\.", text)[1:]:
        shown = re.search(r'^#\s*provider = "(\w+)"', block, re.MULTILINE)
        if shown:
            blocks[shown[1]] = blocks.get(shown[1], "") + block
    return blocks


def test_example_documents_every_provider_key_in_that_providers_table() -> None:
    """A key of one provider documented only under another (``window_past`` under ``microsoft``) escapes the
    per-table check above: each provider with keys of its own has a table that shows all of them."""
    blocks = _provider_blocks((ROOT / "config.example.toml").read_text())
    assert undocumented_keys(blocks, PROVIDER_KEYS) == []


def test_plain_imap_is_only_for_this_machine(tmp_path: Path) -> None:
    assert problem('[accounts.m]\nprovider = "imap"\nhost = "imap.example.org"\nusername = "u"\nsecurity = "plain"\n',
                   tmp_path) == ('config.toml: accounts.m.security: "plain" is only for a server on this machine, not '
                                 'imap.example.org; use "tls" or "starttls"')
    config = tmp_path / "ok.toml"
    config.write_text('[accounts.m]\nprovider = "imap"\nhost = "127.0.0.1"\nusername = "u"\nsecurity = "plain"\n')
    assert load_config(config).accounts["m"].options["security"] == "plain"
