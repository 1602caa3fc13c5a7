"""Runs ``syncd`` the way a user's shell does, in a hostile world, and checks what the user is told.

Every run is a child process with a memory ceiling (``RLIMIT_AS``) and a time-out, so a pull that would
eat the machine fails its test instead. Privileged tricks a hostile world plays — a full disk, a
read-only mount, a file root could read anyway — are played in a private mount namespace or with root's
file-permission override dropped, and a test that cannot play them here skips with the reason.
"""

from __future__ import annotations

import dataclasses
import os
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.support.paths import ROOT

# Generous for CPython with every client library imported, far below what a runaway expansion takes.
MEMORY_LIMIT = 1536 * 1024 * 1024
TIMEOUT = 120.0
DB_NAME = "syncd.sqlite3"


@dataclasses.dataclass
class Outcome:
    code: int
    out: str
    err: str

    def sentence(self) -> str:
        """The one error line syncd printed (``syncd: ...``); fails when there is not exactly one."""
        lines = [line for line in self.err.splitlines() if line.strip()]
        assert "Traceback" not in self.out + self.err, self.err
        assert len(lines) == 1 and lines[0].startswith("syncd: "), self.err
        return lines[0]


def start_as_from_a_terminal() -> None:
    """In the child before syncd starts: a memory cap, and Ctrl-C's SIGINT at its default action. A test run
    started in the background by a non-interactive shell inherits SIGINT *ignored* (bash does that for
    background jobs), and Python then installs no KeyboardInterrupt handler, so a test of Ctrl-C would pass
    or fail with how the suite was launched (docs/testing.md#pitfalls)."""
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def syncd_command(*args: str) -> list[str]:
    return [sys.executable, "-c", "from syncd.cli import main; main()", *args]


def run(
    args: Sequence[str],
    state: Path,
    *,
    prefix: Sequence[str] = (),
    env: dict[str, str] | None = None,
    timeout: float = TIMEOUT,
) -> Outcome:
    """``syncd ARGS`` with ``SYNCD_STATE_DIR=state``; ``prefix`` wraps it (setpriv, unshare ...)."""
    environment = {
        "SYNCD_STATE_DIR": str(state), "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(state.parent),
        "LANG": "C.UTF-8", "PYTHONPATH": str(ROOT), "SYNCD_LOCK_WAIT": "2", **(env or {}),
    }
    process = subprocess.run(
        [*prefix, *syncd_command(*args)], env=environment, cwd=ROOT, capture_output=True, timeout=timeout,
        preexec_fn=start_as_from_a_terminal,
    )
    out, err = process.stdout.decode("utf-8", "replace"), process.stderr.decode("utf-8", "replace")
    assert "Traceback" not in out + err, err
    return Outcome(process.returncode, out, err)


def maildir_config(config: Path, mail: Path, ics: Path, extra: str = "") -> Path:
    """Write a configuration with one Maildir account, ``mail``, whose owner is me@example.com, and the
    follow-ups in the .ics file ``ics`` (UTC); ``extra`` goes into its [followups] table."""
    config.write_text(
        f'[accounts.mail]\nprovider = "maildir"\npath = "{mail}"\nme = ["me@example.com"]\n\n'
        f'[followups]\nics_path = "{ics}"\ntimezone = "UTC"\n{extra}'
    )
    return config


# ---- privileges ---------------------------------------------------------------------------------------


def without_root_override() -> list[str]:
    """A prefix under which file modes bind the command even when the tests run as root.

    Root reads a mode-000 file through CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH; dropping both from the
    bounding set (setpriv(1)) makes the exec'd command obey modes like any user. As another user, modes
    bind anyway.
    """
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv(1): file modes cannot be made to bind root")
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"]


def in_private_mounts(script: str) -> list[str]:
    """A prefix that runs ``script`` (sh) in a private mount namespace, then the command as ``"$@"``.

    Mounts made there (a tiny tmpfs, a read-only bind) vanish with the process and are never seen by
    the rest of the machine. Needs root (or an unprivileged user namespace); skips otherwise.
    """
    if shutil.which("unshare") is None:
        pytest.skip("unshare(1) is not installed: no private mount namespace for this test")
    probe = subprocess.run(["unshare", "-m", "--propagation", "private", "true"], capture_output=True)
    if probe.returncode != 0:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must be able to mount (run as root): {probe.stderr.decode().strip()}")
        pytest.skip(f"cannot make a private mount namespace here: {probe.stderr.decode().strip()}")
    return ["unshare", "-m", "--propagation", "private", "sh", "-ec", script, "sh"]


# ---- what a state holds -------------------------------------------------------------------------------


def _read_only(database: Path) -> sqlite3.Connection:
    """A connection that leaves no -wal or -shm file behind: a folder made read-only afterwards must hold
    only what syncd itself left there."""
    if Path(f"{database}-wal").exists():
        return sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    return sqlite3.connect(f"file:{database}?immutable=1", uri=True)


def snapshot(state: Path) -> dict[str, object]:
    """What a state database knows, independent of row ids: compared to tell "nothing lost"."""
    db = _read_only(state / DB_NAME)
    try:
        interactions = sorted(
            db.execute(
                "SELECT i.kind, i.ts, i.subject, "
                "(SELECT group_concat(p.role || ':' || p.address, ' ') FROM "
                " (SELECT role, address FROM participants WHERE interaction_id = i.id ORDER BY role, address) p) "
                "FROM interactions i"
            ).fetchall(),
            key=repr,
        )
        sightings = sorted(db.execute("SELECT account, resource, provider_id FROM sightings").fetchall(), key=repr)
        contacts = sorted(db.execute("SELECT address, kind, ts FROM contacts").fetchall())
        return {"interactions": interactions, "sightings": sightings, "contacts": contacts}
    finally:
        db.close()


def integrity(state: Path) -> str:
    db = _read_only(state / DB_NAME)
    try:
        return str(db.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        db.close()
