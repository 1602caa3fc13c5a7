"""Where the configuration and the state live: the documented order, systemd's variables, XDG's rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from syncd.paths import find_config_path, state_dir

CONFIG_VARS = ("SYNCD_CONFIG", "CONFIGURATION_DIRECTORY", "XDG_CONFIG_HOME")
STATE_VARS = ("STATE_DIRECTORY", "SYNCD_STATE_DIR", "XDG_STATE_HOME")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in CONFIG_VARS + STATE_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


def test_config_path_order(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Each step sets one more source; the one set last is the strongest, so it must win.
    assert find_config_path(None) == home / ".config" / "syncd" / "config.toml"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "xdg"))
    assert find_config_path(None) == home / "xdg" / "syncd" / "config.toml"
    monkeypatch.setenv("CONFIGURATION_DIRECTORY", str(home / "sd"))
    assert find_config_path(None) == home / "sd" / "config.toml"
    monkeypatch.setenv("SYNCD_CONFIG", str(home / "env.toml"))
    assert find_config_path(None) == home / "env.toml"
    assert find_config_path(home / "cli.toml") == home / "cli.toml"


def test_config_path_is_returned_even_if_missing(home: Path) -> None:
    path = find_config_path(None)
    assert not path.exists() and not path.parent.exists()  # finding creates nothing; `syncd init` does


def test_config_path_expands_home(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert find_config_path(Path("~/cli.toml")) == home / "cli.toml"
    monkeypatch.setenv("SYNCD_CONFIG", "~/env.toml")
    assert find_config_path(None) == home / "env.toml"


def test_systemd_configuration_directory_list_takes_the_first(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONFIGURATION_DIRECTORY", f"{home / 'first'}:{home / 'second'}")
    assert find_config_path(None) == home / "first" / "config.toml"


@pytest.mark.parametrize("value", ["relative/xdg", ""])
def test_relative_or_empty_xdg_config_home_is_ignored(home: Path, monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", value)  # the XDG spec: relative paths are invalid
    assert find_config_path(None) == home / ".config" / "syncd" / "config.toml"


def test_state_dir_order(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert state_dir(ensure=False) == home / ".local" / "state" / "syncd"
    monkeypatch.setenv("XDG_STATE_HOME", str(home / "xdg"))
    assert state_dir(ensure=False) == home / "xdg" / "syncd"
    monkeypatch.setenv("SYNCD_STATE_DIR", str(home / "s"))
    assert state_dir(ensure=False) == home / "s"
    monkeypatch.setenv("STATE_DIRECTORY", f"{home / 'sd'}:{home / 'other'}")
    assert state_dir(ensure=False) == home / "sd"


def test_state_dir_is_created_private(home: Path) -> None:
    path = state_dir()
    assert path == home / ".local" / "state" / "syncd" and path.is_dir()
    assert path.stat().st_mode & 0o777 == 0o700


def test_state_dir_without_ensure_creates_nothing(home: Path) -> None:
    assert not state_dir(ensure=False).exists()


def test_an_existing_state_dir_is_left_as_it_is(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (home / "s").mkdir(mode=0o750)
    (home / "s").chmod(0o750)
    monkeypatch.setenv("SYNCD_STATE_DIR", "~/s")
    assert state_dir() == home / "s"
    assert (home / "s").stat().st_mode & 0o777 == 0o750


def test_relative_xdg_state_home_is_ignored(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", "relative/is/ignored")
    assert state_dir(ensure=False) == home / ".local" / "state" / "syncd"
