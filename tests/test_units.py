"""The systemd units, checked offline: ``systemd-analyze verify`` (any output fails: it exits 0 on unknown
keys, apis.md §8.6) and ``systemd-analyze security`` under a threshold; ``syncd install-units``."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from syncd import cli
from syncd.service_cli import UNITS, render_unit

ANALYZE = shutil.which("systemd-analyze")
needs_analyze = pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")
# Exposure ×10 as systemd-analyze counts it; the units score 1.9 ("OK") — see the issue note.
EXPOSURE_THRESHOLD = 25


@pytest.fixture
def rendered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))  # `--user` needs one (apis.md §8.6)
    units = tmp_path / "units"
    units.mkdir()
    for name in UNITS:
        (units / name).write_text(render_unit(name, sys.executable))
    return units


@needs_analyze
def test_units_verify_without_a_single_warning(rendered: Path) -> None:
    result = subprocess.run(
        [str(ANALYZE), "verify", "--user", *(str(rendered / n) for n in UNITS)],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0 and result.stdout + result.stderr == "", result.stdout + result.stderr


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
    text = render_unit("syncd.service", "/usr/bin/syncd")
    for line in ("Type=notify", "Restart=on-failure", "WatchdogSec=", "StateDirectory=syncd", "PrivateUsers=yes",
                 "ProtectSystem=strict", "ProtectHome=read-only", "NoNewPrivileges=yes", "PrivateTmp=yes",
                 "RestrictAddressFamilies=", "SystemCallFilter=", "UMask=0077", "ExecStart=/usr/bin/syncd run"):
        assert line in text
    timer = render_unit("syncd-pull.timer", "/usr/bin/syncd")
    assert "Persistent=true" in timer and "RandomizedDelaySec=" in timer


def test_install_units_writes_and_never_clobbers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    cli.main(["install-units"])
    out = capsys.readouterr().out
    target = tmp_path / "systemd" / "user"
    assert sorted(p.name for p in target.iterdir()) == sorted(UNITS)
    assert "loginctl enable-linger" in out and "systemctl --user enable --now syncd.service" in out
    assert "@SYNCD@" not in (target / "syncd.service").read_text()
    cli.main(["install-units"])  # same content: fine
    (target / "syncd.service").write_text("# edited\n")
    with pytest.raises(SystemExit) as exit_:
        cli.main(["install-units"])
    assert exit_.value.code == 2 and "differs" in capsys.readouterr().err
    cli.main(["install-units", "--force"])
    assert "Type=notify" in (target / "syncd.service").read_text()
