"""A pull killed at any point leaves a database the next pull completes: no duplicates, nothing lost."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.generate import gen_maildir
from tests.support.hostile import maildir_config
from tests.support.paths import ROOT


def _pull(config: Path, state: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", "from syncd.cli import main; main()", "--config", str(config), "pull"],
        env={"SYNCD_STATE_DIR": str(state), "PATH": "/usr/bin:/bin", "HOME": str(state)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT,
    )


def _snapshot(state: Path) -> tuple[int, int, int, list[tuple[str, int]]]:
    db = sqlite3.connect(state / "syncd.sqlite3")
    try:
        return (
            db.execute("SELECT COUNT(*) FROM interactions").fetchone()[0],
            db.execute("SELECT COUNT(*) FROM sightings").fetchone()[0],
            db.execute("SELECT COUNT(*) FROM participants").fetchone()[0],
            db.execute("SELECT address, COUNT(*) FROM contacts GROUP BY address ORDER BY address").fetchall(),
        )
    finally:
        db.close()


def _wait_for_rows(state: Path, at_least: int, process: subprocess.Popen[bytes]) -> None:
    """Wait until the pull has committed some batches (it is killed part-way, whatever the machine's speed)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            db = sqlite3.connect(f"file:{state / 'syncd.sqlite3'}?mode=ro", uri=True, timeout=0.1)
            try:
                if db.execute("SELECT COUNT(*) FROM sightings").fetchone()[0] >= at_least:
                    return
            finally:
                db.close()
        except sqlite3.Error:
            pass
        time.sleep(0.005)


@pytest.mark.slow
@pytest.mark.parametrize("kill_at", [1, 5000])
def test_kill_mid_pull_then_resume(tmp_path: Path, kill_at: int) -> None:
    mail = tmp_path / "mail"
    gen_maildir.generate(mail, messages=12000, folders=2, people=300)
    config = maildir_config(tmp_path / "config.toml", mail, tmp_path / "followups.ics")

    killed = tmp_path / "killed"
    process = _pull(config, killed)
    _wait_for_rows(killed, kill_at, process)
    process.send_signal(signal.SIGKILL)
    process.wait()
    partial = _snapshot(killed) if (killed / "syncd.sqlite3").exists() else (0, 0, 0, [])
    assert partial[0] < 12000, "the pull finished before it was killed: nothing was tested"

    resumed = _pull(config, killed)
    _, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err.decode()

    clean = tmp_path / "clean"
    fresh = _pull(config, clean)
    _, err = fresh.communicate(timeout=120)
    assert fresh.returncode == 0, err.decode()

    assert _snapshot(killed) == _snapshot(clean)
    assert _snapshot(killed)[1] == 12000
