"""``kill -9`` at random moments of a pull, and SIGTERM / SIGINT while syncd starts up.

The kill trials are randomised but bounded (``SYNCD_KILL_TRIALS``, default 4, a printed seed to replay
with ``SYNCD_KILL_SEED``): fresh, partly pulled, killed twice, and while the follow-ups .ics is written.
After each, the next pull must complete to exactly what an uninterrupted pull stores, with a sound
database and a follow-ups file without duplicates or stray temporary files.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import icalendar
import pytest

from syncd.store.schema import SCHEMA_VERSION
from tests.hostile.test_state_faults import _maildir
from tests.support import hostile as harness

TRIALS = int(os.environ.get("SYNCD_KILL_TRIALS", "4"))
SEED = int(os.environ.get("SYNCD_KILL_SEED", str(random.randrange(1 << 30))))
FOREIGN = "".join(
    f"BEGIN:VEVENT\r\nUID:mine-{n}\r\nDTSTART:20250101T090000Z\r\nSUMMARY:my own event {n}\r\nEND:VEVENT\r\n"
    for n in range(1000)
)


def _spawn(config: Path, state: Path) -> subprocess.Popen[bytes]:
    env = {"SYNCD_STATE_DIR": str(state), "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(state.parent),
           "PYTHONPATH": str(harness.ROOT)}
    return subprocess.Popen(harness.syncd_command("--config", str(config), "pull", "--as-of", "2026-03-02"),
                            env=env, cwd=harness.ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _finish(config: Path, state: Path) -> None:
    process = _spawn(config, state)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 0, err.decode()


def _followups(ics: Path) -> list[str]:
    calendar = icalendar.Calendar.from_ical(ics.read_bytes())
    keys = [str(e["X-SYNCD-KEY"]) for e in calendar.walk("VEVENT") if "X-SYNCD-KEY" in e]
    assert len(keys) == len(set(keys)), "a follow-up written twice"
    assert sum(1 for e in calendar.walk("VEVENT") if str(e["UID"]).startswith("mine-")) == 1000
    return sorted(keys)


def _world(root: Path, messages: int = 1200) -> tuple[Path, Path]:
    # 299 people, not a multiple of 3: everyone gets mail both ways on several days, so everyone is kept
    # warm (docs/rules.md#kept-warm-and-small-network) and the follow-ups are many.
    _maildir(root / "mail", messages, people=299)
    ics = root / "followups.ics"
    ics.write_text(f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//me//mine//EN\r\n{FOREIGN}END:VCALENDAR\r\n")
    config = harness.maildir_config(root / "config.toml", root / "mail", ics, 'per_day = 50\nhorizon = "60d"\n')
    return config, ics


@pytest.mark.slow
def test_kill_9_at_random_moments_then_resume(tmp_path: Path) -> None:
    print(f"kill trials: {TRIALS}, seed {SEED} (replay with SYNCD_KILL_SEED={SEED})")
    rng = random.Random(SEED)
    reference_root = tmp_path / "reference"
    config, ics = _world(reference_root)
    started = time.monotonic()
    _finish(config, reference_root / "state")
    duration = time.monotonic() - started
    reference, reference_keys = harness.snapshot(reference_root / "state"), _followups(ics)
    assert reference_keys, "the world plans follow-ups: the .ics write is part of every trial"

    for trial in range(TRIALS):
        root = tmp_path / f"trial{trial}"
        config, ics = _world(root)
        state = root / "state"
        if trial % 4 == 1:
            _finish(config, state)  # partly pulled: more mail arrives, and that pull is killed
            _maildir(root / "mail", 300, start=1200, people=300)
        kills = 2 if trial % 4 == 2 else 1
        for _ in range(kills):
            # trial % 4 == 3 aims at the end of the pull, where the follow-ups file is written.
            low = 0.7 if trial % 4 == 3 else 0.0
            process = _spawn(config, state)
            time.sleep(duration * rng.uniform(low, 1.0))
            process.send_signal(signal.SIGKILL)
            process.wait()
        _finish(config, state)
        if trial % 4 == 1:
            clean = root / "clean"
            _finish(config, clean)
            assert harness.snapshot(state) == harness.snapshot(clean), f"trial {trial}"
        else:
            assert harness.snapshot(state) == reference, f"trial {trial}"
        assert harness.integrity(state) == "ok"
        assert _followups(ics) == reference_keys or trial % 4 == 1
        assert not [p for p in ics.parent.iterdir() if p.name.endswith(".tmp")], "a temporary file was left"


# ---- signals during start-up ------------------------------------------------------------------------


def _state_is_untouched_or_initialised(state: Path) -> None:
    database = state / harness.DB_NAME
    if not database.exists():
        return
    db = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        db.close()


@pytest.mark.parametrize("command", ["run", "pull"])
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 0), (signal.SIGINT, 130)])
def test_a_stop_while_syncd_starts_is_a_clean_exit(tmp_path: Path, command: str, signum: int, code: int) -> None:
    """SIGTERM (systemd stopping the unit) is exit 0, SIGINT 130, whether the state was reached or not."""
    config, _ = _world(tmp_path, messages=50)
    rng = random.Random(SEED)
    for trial in range(3):
        state = tmp_path / f"state{trial}"
        env = {"SYNCD_STATE_DIR": str(state), "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
               "HOME": str(tmp_path), "PYTHONPATH": str(harness.ROOT)}
        process = subprocess.Popen(harness.syncd_command("--config", str(config), command), env=env,
                                   cwd=harness.ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   preexec_fn=harness.start_as_from_a_terminal)
        deadline = time.monotonic() + 30
        while not state.exists() and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.001)  # the state folder appears when start-up reaches the state
        time.sleep(rng.uniform(0, 0.05))
        process.send_signal(signum)
        out, err = process.communicate(timeout=60)
        # A small world's pull can be done before the signal comes: then nothing was stopped, and 0 is right.
        done = command == "pull" and b"follow-ups:" in out
        assert process.returncode == code or (done and process.returncode == 0), err.decode()
        assert "Traceback" not in err.decode()
        _state_is_untouched_or_initialised(state)
