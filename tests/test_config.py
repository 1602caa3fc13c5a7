"""The configuration: every problem at once, with its key path; paths found in the documented order."""

from __future__ import annotations

import tomllib
from datetime import time, timedelta
from pathlib import Path

import pytest

from syncd.config import (
    ACCOUNT_KEYS,
    ENGINE_KEYS,
    FOLLOWUP_KEYS,
    PEOPLE_KEYS,
    PROVIDER_KEYS,
    STARTER_CONFIG,
    TIER_KEYS,
    json_schema,
    load_config,
    parse_config,
)
from syncd.errors import ConfigError
from syncd.paths import find_config_path, state_dir
from syncd.values import parse_duration

ROOT = Path(__file__).resolve().parents[1]


def problems(text: str, tmp_path: Path) -> list[str]:
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    return error.value.problems


@pytest.mark.parametrize(
    ("text", "expected"),
    [("30d", timedelta(days=30)), ("6w", timedelta(weeks=6)), ("15m", timedelta(minutes=15)),
     ("2h", timedelta(hours=2)), ("1y", timedelta(days=365)), ("1w2d", timedelta(days=9)), ("90s", timedelta(seconds=90))],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "30", "d30", "3 days", "-1d", "1.5d"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(text)


def test_unknown_key_with_suggestion(tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    found = problems(f'[accounts.work]\nprovider = "maildir"\npath = "{tmp_path / "m"}"\nprovder = "x"\n', tmp_path)
    assert found == ["config.toml: accounts.work.provder: unknown key (did you mean 'provider'?)"]


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    found = problems(
        """
top = 1
[accounts.work]
provider = "gmial"
[accounts.arch]
provider = "maildir"
path = "/no/such/dir"
me = ["not-an-address"]
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
        "config.toml: accounts.work.provider: unknown provider 'gmial' (one of: ics, maildir, mbox)",
        "config.toml: accounts.arch.me: 'not-an-address' is not an email address",
        "config.toml: engine.max_recipients: wrong type: expected a whole number, got str",
        "config.toml: engine.blocklist: 'bad[x]@*' is not an address pattern (use * and ?, e.g. *@shop.example)",
        "config.toml: followups.slot: '25:00' is not a time like 09:30",
        "config.toml: followups.per_day: 0 is too small (at least 1)",
        "config.toml: followups.working_days: 'funday' is not a weekday (mon, tue, wed, thu, fri, sat, sun)",
        "config.toml: followups.timezone: 'Mars/Olympus' is not an IANA time zone (e.g. Europe/Berlin, America/New_York, UTC)",
        "config.toml: tiers[0].every: 'soon' is not a duration like 30d, 6w, 15m, 2h or 1y",
        "config.toml: people[0].addresses: missing (required)",
        "config.toml: followups.target: 'wrok' is neither \"ics\" nor a configured account (did you mean 'work'?)",
        "config.toml: engine.min_every: is longer than engine.max_every",
        "config.toml: tiers[1].name: 'a' is defined twice",
        "config.toml: people[0].tier: no tier named 'b'",
    ]


def test_missing_paths_are_for_config_check_not_for_loading(tmp_path: Path) -> None:
    data = {"accounts": {"usb": {"provider": "mbox", "path": str(tmp_path / "unmounted")}}}
    assert parse_config(data).accounts["usb"].path == tmp_path / "unmounted"
    with pytest.raises(ConfigError) as error:
        parse_config(data, check_paths=True)
    assert error.value.problems == [f"config.toml: accounts.usb.path: {tmp_path / 'unmounted'} does not exist"]


def test_local_accounts_need_a_path(tmp_path: Path) -> None:
    assert problems('[accounts.x]\nprovider = "mbox"\n', tmp_path) == [
        "config.toml: accounts.x.path: missing (required for a local archive)"
    ]


def test_wrong_table_shapes(tmp_path: Path) -> None:
    assert problems('accounts = 3\ntiers = "x"\n[engine]\n', tmp_path) == [
        "config.toml: accounts: must be a table of [accounts.NAME] tables",
        "config.toml: tiers: must be an array of tables ([[tiers]])",
    ]


def test_toml_syntax_error_has_line_and_column(tmp_path: Path) -> None:
    found = problems('[followups]\nslot = "09:30\n', tmp_path)
    assert len(found) == 1 and found[0].startswith("config.toml: not valid TOML:") and "line 2" in found[0]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="run 'syncd init'"):
        load_config(tmp_path / "nope.toml")


def test_valid_config_builds_typed_settings(tmp_path: Path) -> None:
    (tmp_path / "cal.ics").write_text("")
    config = parse_config(
        tomllib.loads(
            f"""
[accounts.cal]
provider = "ics"
path = "{tmp_path / 'cal.ics'}"
window_past = "2y"
[followups]
slot = "08:15"
timezone = "Europe/Berlin"
working_days = ["sat", "sun"]
[[tiers]]
name = "inner"
every = "3w"
match = ["*@example.org", "example.net", "a@b.example"]
"""
        )
    )
    account = config.accounts["cal"]
    assert account.provider == "ics" and account.options["window_past"] == timedelta(days=730)
    assert config.followups.slot == time(8, 15) and config.followups.working_days == frozenset({5, 6})
    assert str(config.followups.timezone) == "Europe/Berlin"
    assert config.tiers[0].every == timedelta(weeks=3)
    assert config.engine.max_recipients == 20


def test_example_and_starter_configs_parse() -> None:
    parse_config(tomllib.loads((ROOT / "config.example.toml").read_text()))
    parse_config(tomllib.loads(STARTER_CONFIG))


def test_example_documents_every_key() -> None:
    text = (ROOT / "config.example.toml").read_text()
    keys = [k.name for k in ACCOUNT_KEYS + ENGINE_KEYS + FOLLOWUP_KEYS + TIER_KEYS + PEOPLE_KEYS]
    keys += [k.name for extra in PROVIDER_KEYS.values() for k in extra]
    missing = [k for k in keys if f"{k} =" not in text]
    assert missing == []


def test_schema_lists_every_key() -> None:
    schema = json_schema()["properties"]
    assert set(schema["engine"]["properties"]) == {k.name for k in ENGINE_KEYS}
    assert set(schema["followups"]["properties"]) == {k.name for k in FOLLOWUP_KEYS}
    assert set(schema["tiers"]["items"]["properties"]) == {k.name for k in TIER_KEYS}
    assert set(schema["people"]["items"]["properties"]) == {k.name for k in PEOPLE_KEYS}
    account = schema["accounts"]["additionalProperties"]
    assert account["required"] == ["provider"] and "window_past" in account["properties"]
    assert account["properties"]["provider"]["enum"] == ["ics", "maildir", "mbox"]


def test_config_path_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("SYNCD_CONFIG", "CONFIGURATION_DIRECTORY", "XDG_CONFIG_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert find_config_path() == tmp_path / ".config" / "syncd" / "config.toml"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert find_config_path() == tmp_path / "xdg" / "syncd" / "config.toml"
    monkeypatch.setenv("CONFIGURATION_DIRECTORY", f"{tmp_path / 'sd'}:/other")
    assert find_config_path() == tmp_path / "sd" / "config.toml"
    monkeypatch.setenv("SYNCD_CONFIG", str(tmp_path / "env.toml"))
    assert find_config_path() == tmp_path / "env.toml"
    assert find_config_path(tmp_path / "cli.toml") == tmp_path / "cli.toml"


def test_state_dir_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("STATE_DIRECTORY", "SYNCD_STATE_DIR", "XDG_STATE_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert state_dir() == tmp_path / ".local" / "state" / "syncd"
    assert (tmp_path / ".local" / "state" / "syncd").stat().st_mode & 0o777 == 0o700
    monkeypatch.setenv("XDG_STATE_HOME", "relative/is/ignored")
    assert state_dir(ensure=False) == tmp_path / ".local" / "state" / "syncd"
    monkeypatch.setenv("SYNCD_STATE_DIR", str(tmp_path / "s"))
    assert state_dir(ensure=False) == tmp_path / "s"
    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path / "sd"))
    assert state_dir(ensure=False) == tmp_path / "sd"
