"""The systemd units, checked offline: ``systemd-analyze verify`` (any output fails: it exits 0 on unknown
keys, docs/systemd.md#offline-checks) and ``systemd-analyze security`` under a threshold; ``syncd install-units``."""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from syncd import cli
from syncd.cli.service import UNITS, UnitPaths, render_unit

ANALYZE = shutil.which("systemd-analyze")
needs_analyze = pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")
# Exposure ×10 as systemd-analyze 252 counts it. Both services score 1.5 ("OK"); what is left is what a user
# unit cannot give up: network access (PrivateNetwork, IPAddressDeny, AF_INET*), AF_UNIX for D-Bus and
# NOTIFY_SOCKET, a readable home for local mail, and "runs as root", which --offline assumes without User=.
EXPOSURE_THRESHOLD = 15
PATHS = UnitPaths("/usr/bin/syncd", Path("/home/u/.config/syncd/config.toml"), Path("/home/u/.local/state/syncd"),
                  (Path("/home/u/My Calendars"),))


@pytest.fixture
def rendered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))  # `--user` needs one (docs/systemd.md#offline-checks)
    units = tmp_path / "units"
    units.mkdir()
    for name in UNITS:
        # verify fails when ExecStart= is not executable (docs/systemd.md#offline-checks): point it at this Python.
        (units / name).write_text(render_unit(name, dataclasses.replace(PATHS, executable=sys.executable)))
    return units


@needs_analyze
def test_units_verify_without_a_single_warning(rendered: Path) -> None:
    result = subprocess.run(
        [str(ANALYZE), "verify", "--user", *(str(rendered / n) for n in UNITS)],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0 and result.stdout + result.stderr == "", result.stdout + result.stderr


@needs_analyze
def test_verify_would_catch_a_misspelled_key(rendered: Path) -> None:
    # The gate above is only worth having if verify reports this at all (it still exits 0).
    unit = rendered / "syncd.service"
    unit.write_text(unit.read_text().replace("ProtectSystem=", "ProtectSytem="))
    result = subprocess.run([str(ANALYZE), "verify", "--user", str(unit)], capture_output=True, text=True, timeout=60)
    assert "ProtectSytem" in result.stdout + result.stderr


@needs_analyze
@pytest.mark.parametrize("unit", ["syncd.service", "syncd-pull.service"])
def test_units_are_hardened(rendered: Path, unit: str) -> None:
    result = subprocess.run(
        [str(ANALYZE), "security", "--offline=true", "--user", f"--threshold={EXPOSURE_THRESHOLD}", str(rendered / unit)],
        capture_output=True, text=True, timeout=60,
    )
    score = re.search(r"Overall exposure level for \S+: ([\d.]+)", result.stdout)
    assert score is not None, result.stdout + result.stderr
    assert result.returncode == 0, f"exposure {score.group(1)} is above {EXPOSURE_THRESHOLD / 10}"


def test_service_unit_says_what_the_issue_asks() -> None:
    text = render_unit("syncd.service", PATHS)
    for line in ("Type=notify", "Restart=on-failure", "WatchdogSec=", "PrivateUsers=yes",
                 "ProtectSystem=strict", "ProtectHome=read-only", "NoNewPrivileges=yes", "PrivateTmp=yes",
                 "RestrictAddressFamilies=", "SystemCallFilter=", "UMask=0077",
                 "ExecStart=/usr/bin/syncd --config /home/u/.config/syncd/config.toml run"):
        assert line in text
    timer = render_unit("syncd-pull.timer", PATHS)
    assert "Persistent=true" in timer and "RandomizedDelaySec=" in timer


@pytest.mark.parametrize("unit", ["syncd.service", "syncd-pull.service"])
def test_both_services_write_where_the_cli_reads(unit: str) -> None:
    # StateDirectory= would be $XDG_CONFIG_HOME/syncd in a systemd 252 user unit (systemd.exec(5)): a second
    # database behind a second lock. The units name the CLI's own folder, and keep it writable.
    text = render_unit(unit, PATHS)
    assert "\nStateDirectory=" not in text
    assert "Environment=SYNCD_STATE_DIR=/home/u/.local/state/syncd\n" in text
    assert 'ReadWritePaths=/home/u/.local/state/syncd "-/home/u/My Calendars"\n' in text
    assert "@" not in text.replace("@system-service", "").replace("@privileged", "").replace("@resources", "")


def test_unit_values_escape_specifiers_and_blanks() -> None:
    from syncd.cli.service import unit_value

    assert unit_value("/home/a%b/x y") == '"/home/a%%b/x y"'
    assert unit_value("/plain") == "/plain"


def test_install_units_writes_and_never_clobbers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("SYNCD_STATE_DIR", str(tmp_path / "state"))
    config = tmp_path / "config" / "syncd" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(f'[accounts.a]\nprovider = "maildir"\npath = "{tmp_path}"\n'
                      f'[followups]\nics_path = "{tmp_path / "cal" / "f.ics"}"\n')
    cli.main(["install-units"])
    out = capsys.readouterr().out
    target = tmp_path / "config" / "systemd" / "user"
    assert sorted(p.name for p in target.iterdir()) == sorted(UNITS)
    assert "loginctl enable-linger" in out and "systemctl --user enable --now syncd.service" in out
    service = (target / "syncd.service").read_text()
    executable = Path(sys.executable).parent / "syncd"
    assert f"ExecStart={executable} --config {config} run" in service
    assert f"ReadWritePaths={tmp_path / 'state'} -{tmp_path / 'cal'}" in service
    cli.main(["install-units"])  # same content: fine
    assert capsys.readouterr().out.count("unchanged") == 3
    (target / "syncd.service").write_text("# edited\n")
    (target / "syncd-pull.timer").unlink()
    with pytest.raises(SystemExit) as exit_:
        cli.main(["install-units"])
    assert exit_.value.code == 2 and "differs" in capsys.readouterr().err
    assert not (target / "syncd-pull.timer").exists()  # a refusal writes nothing
    cli.main(["install-units", "--force"])
    assert "Type=notify" in (target / "syncd.service").read_text() and (target / "syncd-pull.timer").exists()
