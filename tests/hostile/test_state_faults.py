"""The state-fault matrix: a broken state or target is said in one sentence with the README's exit code.

Damaged pages, a full disk (a tiny tmpfs in a private mount namespace), a read-only database file and
folder (file modes binding root too, and a read-only mount), a read-only parent of a new state folder, a
state path that is a file, a full disk under the follow-ups .ics. Each checks the exit code, the one
sentence, that nothing was lost, and, where the state is intact, that the read-only commands still work.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
import subprocess
from pathlib import Path

import pytest

from tests.support import hostile as harness
from tests.support.mailtree import ME


def _maildir(root: Path, messages: int, start: int = 0, people: int = 40) -> None:
    for part in ("cur", "new", "tmp"):
        (root / part).mkdir(parents=True, exist_ok=True)
    for n in range(start, start + messages):
        who = f"person{n % people}@example.org"
        outbound = n % 3 == 0
        sender, to = (f"Me <{ME}>", who) if outbound else (who, ME)
        day = 1 + n % 27
        text = (f"From: {sender}\nTo: {to}\nSubject: note {n} " + "x" * 40 + f"\nDate: Mon, {day} Feb 2026 10:00:00 +0000\n"
                f"Message-ID: <{n}@state.example>\n\nbody\n")
        (root / "cur" / f"{1700000000 + n}.M{n}.host:2,S").write_text(text)


def _world(tmp_path: Path, messages: int = 60, ics: Path | None = None) -> Path:
    _maildir(tmp_path / "mail", messages)
    return harness.maildir_config(tmp_path / "config.toml", tmp_path / "mail", ics or tmp_path / "followups.ics")


def _pulled(tmp_path: Path, state: Path, messages: int = 60) -> Path:
    config = _world(tmp_path, messages)
    outcome = harness.run(["--config", str(config), "pull"], state)
    assert outcome.code == 0, outcome.err
    return config


def _read_only_commands_work(config: Path, state: Path, prefix: list[str]) -> None:
    status = harness.run(["--config", str(config), "status"], state, prefix=prefix)
    assert status.code == 0, status.err
    assert "mail (maildir): ok" in status.out
    people = harness.run(["--config", str(config), "people", "--json"], state, prefix=prefix)
    assert people.code == 0, people.err
    assert len(json.loads(people.out)) > 0


# ---- damaged pages -------------------------------------------------------------------------------------


def _damage(database: Path) -> None:
    db = sqlite3.connect(database)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page = db.execute("PRAGMA page_size").fetchone()[0]
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.close()
    assert pages > 8
    with open(database, "r+b") as handle:  # garbage over pages in the middle; the header stays intact
        for number in range(pages // 3, pages // 3 + 3):
            handle.seek(number * page)
            handle.write(bytes([0xA5]) * page)


def test_damaged_pages_are_exit_3_with_the_integrity_check_and_the_way_back(tmp_path: Path) -> None:
    state = tmp_path / "state"
    config = _pulled(tmp_path, state, messages=400)
    reference = harness.snapshot(state)
    _damage(state / harness.DB_NAME)
    # A changed rule makes the next pull recompute every contact, so it reads the damaged pages for sure.
    config.write_text(config.read_text() + "\n[engine]\nmax_recipients = 19\n")

    for command in (["pull"], ["status"], ["people"]):
        outcome = harness.run(["--config", str(config), *command], state)
        # A command that never reads a damaged page has nothing to report; one that does says so.
        assert outcome.code in ((3,) if command == ["pull"] else (0, 3)), (command, outcome.err)
        if outcome.code == 3:
            sentence = outcome.sentence()
            assert "damaged" in sentence and "integrity check" in sentence, sentence
        assert (state / harness.DB_NAME).exists(), "a damaged database is kept for the user to decide"

    # The sentence names the last good copy and the command that puts it back.
    sentence = harness.run(["--config", str(config), "pull"], state).sentence()
    copies = sorted(state.glob("*last-good*"))
    assert copies and str(copies[0]) in sentence, sentence
    restore = sentence.split("run: ", 1)[1].rstrip(" .")
    assert subprocess.run(restore, shell=True, cwd=tmp_path).returncode == 0
    again = harness.run(["--config", str(config), "pull"], state)
    assert again.code == 0, again.err
    assert harness.snapshot(state) == reference


def test_damaged_pages_without_a_good_copy_say_how_to_start_afresh_and_that_works(tmp_path: Path) -> None:
    state = tmp_path / "state"
    config = _pulled(tmp_path, state, messages=400)
    for copy in state.glob("*last-good*"):
        copy.unlink()  # damaged before the first copy was ever taken
    _damage(state / harness.DB_NAME)
    config.write_text(config.read_text() + "\n[engine]\nmax_recipients = 19\n")  # every contact recomputed
    outcome = harness.run(["--config", str(config), "pull"], state)
    assert outcome.code == 3, outcome.err
    sentence = outcome.sentence()
    assert "is damaged (integrity check: " in sentence and "there is no good copy yet; to start afresh" in sentence
    afresh = sentence.split("run: ", 1)[1].rstrip(" .")
    assert subprocess.run(afresh, shell=True, cwd=tmp_path).returncode == 0
    assert list((state / "damaged").glob(f"{harness.DB_NAME}*"))  # set aside, not deleted
    again = harness.run(["--config", str(config), "pull"], state)
    assert again.code == 0, again.err
    assert "mail: 400 new" in again.out, again.out


def test_a_state_database_that_cannot_be_opened_is_exit_3(tmp_path: Path) -> None:
    config = _world(tmp_path)
    state = tmp_path / "state"
    state.mkdir()
    (state / harness.DB_NAME).symlink_to(tmp_path / "gone" / "syncd.sqlite3")  # a link to a folder moved away
    outcome = harness.run(["--config", str(config), "pull"], state)
    assert outcome.code == 3, outcome.err
    assert outcome.sentence() == (f"syncd: cannot use {state / harness.DB_NAME} in the state folder: No such file or "
                                  "directory; check that it (and what it links to) exists and is yours")


# ---- full disk -----------------------------------------------------------------------------------------


FULL_DISK = """
mount -t tmpfs -o size={size} tmpfs "{state}"
set +e
"$@" > "{out}/1.out" 2> "{out}/1.err"; echo $? > "{out}/1.code"
mount -o remount,size=64m "{state}"
"$@" > "{out}/2.out" 2> "{out}/2.err"; echo $? > "{out}/2.code"
cp -a "{state}/." "{out}/state/"
"""


def _both(out: Path, n: int) -> harness.Outcome:
    return harness.Outcome(int((out / f"{n}.code").read_text()), (out / f"{n}.out").read_text(),
                           (out / f"{n}.err").read_text())


def test_a_full_disk_is_exit_3_and_the_pull_completes_once_there_is_space(tmp_path: Path) -> None:
    config = _world(tmp_path, messages=600)
    state, out = tmp_path / "state", tmp_path / "out"
    state.mkdir()
    (out / "state").mkdir(parents=True)
    script = FULL_DISK.format(size="160k", state=state, out=out)
    harness.run(["--config", str(config), "pull"], state, prefix=harness.in_private_mounts(script))
    first, second = _both(out, 1), _both(out, 2)
    assert first.code == 3, first.err
    sentence = first.sentence()
    assert "full" in sentence and "free" in sentence, sentence
    assert second.code == 0, second.err

    fresh = tmp_path / "fresh"
    assert harness.run(["--config", str(config), "pull"], fresh).code == 0
    assert harness.snapshot(out / "state") == harness.snapshot(fresh)
    assert harness.integrity(out / "state") == "ok"


TARGET_FULL = """
mount -t tmpfs -o size=64k tmpfs "{target}"
cp "{saved}" "{target}/followups.ics"
dd if=/dev/zero of="{target}/filler" bs=1k count=100 2>/dev/null || true
set +e
"$@" > "{out}/1.out" 2> "{out}/1.err"; echo $? > "{out}/1.code"
ls -a "{target}" > "{out}/listing"
cp "{target}/followups.ics" "{out}/followups.ics"
"""


def test_a_full_disk_under_the_followups_file_is_exit_1_and_the_file_stays_whole(tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.mkdir()
    state, out = tmp_path / "state", tmp_path / "out"
    out.mkdir()
    config = _world(tmp_path, messages=300, ics=target / "followups.ics")
    saved = tmp_path / "saved.ics"
    saved.write_text("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//me//mine//EN\r\nEND:VCALENDAR\r\n")
    script = TARGET_FULL.format(target=target, saved=saved, out=out)
    harness.run(["--config", str(config), "pull", "--as-of", "2026-03-02"], state,
                prefix=harness.in_private_mounts(script))
    outcome = _both(out, 1)
    assert outcome.code == 1, outcome.err + outcome.out
    assert "follow-ups: FAILED" in outcome.out and "No space left" in outcome.out, outcome.out
    assert "Traceback" not in outcome.err
    assert (out / "followups.ics").read_bytes() == saved.read_bytes()
    assert ".tmp" not in (out / "listing").read_text()


# ---- read-only state ---------------------------------------------------------------------------------


def test_a_read_only_database_file_is_exit_3_and_read_only_commands_still_work(tmp_path: Path) -> None:
    state = tmp_path / "state"
    config = _pulled(tmp_path, state)
    before = harness.snapshot(state)
    as_user = harness.without_root_override()
    for path in state.glob(f"{harness.DB_NAME}*"):
        path.chmod(0o444)
    outcome = harness.run(["--config", str(config), "pull"], state, prefix=as_user)
    assert outcome.code == 3, outcome.err
    sentence = outcome.sentence()
    assert "read-only" in sentence and "move it away" not in sentence, sentence
    _read_only_commands_work(config, state, as_user)
    assert harness.snapshot(state) == before


def test_a_read_only_state_folder_is_exit_3_with_advice_that_keeps_the_data(tmp_path: Path) -> None:
    state = tmp_path / "state"
    config = _pulled(tmp_path, state)
    before = harness.snapshot(state)
    as_user = harness.without_root_override()
    state.chmod(0o555)
    try:
        outcome = harness.run(["--config", str(config), "pull"], state, prefix=as_user)
        assert outcome.code == 3, outcome.err
        sentence = outcome.sentence()
        assert "permission" in sentence.lower() and "move it away" not in sentence, sentence
        _read_only_commands_work(config, state, as_user)
    finally:
        state.chmod(0o700)
    assert harness.snapshot(state) == before


READ_ONLY_MOUNT = """
mount --bind "{state}" "{state}"
mount -o remount,bind,ro "{state}"
exec "$@"
"""


@pytest.mark.parametrize("command", [["pull"], ["status"], ["people", "--json"], ["why", "person12@example.org"]])
def test_a_state_on_a_read_only_mount(tmp_path: Path, command: list[str]) -> None:
    state = tmp_path / "state"
    config = _pulled(tmp_path, state)
    before = harness.snapshot(state)
    prefix = harness.in_private_mounts(READ_ONLY_MOUNT.format(state=state))
    outcome = harness.run(["--config", str(config), *command], state, prefix=prefix)
    if command == ["pull"]:
        assert outcome.code == 3, outcome.err
        sentence = outcome.sentence()
        assert "read-only" in sentence and "move it away" not in sentence, sentence
    else:
        assert outcome.code == 0, outcome.err
        assert outcome.out.strip()
    assert harness.snapshot(state) == before


def test_a_read_only_parent_of_a_new_state_folder_is_exit_3(tmp_path: Path) -> None:
    config = _world(tmp_path)
    parent = tmp_path / "locked"
    parent.mkdir()
    parent.chmod(0o555)
    try:
        outcome = harness.run(["--config", str(config), "pull"], parent / "state", prefix=harness.without_root_override())
    finally:
        parent.chmod(0o700)
    assert outcome.code == 3, outcome.err
    sentence = outcome.sentence()
    assert str(parent / "state") in sentence and "permission" in sentence.lower(), sentence
    assert not (parent / "state").exists()


def test_a_state_path_that_is_a_file_is_exit_3(tmp_path: Path) -> None:
    config = _world(tmp_path)
    state = tmp_path / "state"
    state.write_text("my notes, not a folder\n")
    for command in (["pull"], ["status"]):
        outcome = harness.run(["--config", str(config), *command], state)
        assert outcome.code == 3, outcome.err
        sentence = outcome.sentence()
        assert str(state) in sentence and "not a folder" in sentence, sentence
    assert state.read_text() == "my notes, not a folder\n"


def test_a_state_database_that_is_a_folder_is_exit_3(tmp_path: Path) -> None:
    config = _world(tmp_path)
    state = tmp_path / "state"
    (state / harness.DB_NAME).mkdir(parents=True)
    outcome = harness.run(["--config", str(config), "pull"], state)
    assert outcome.code == 3, outcome.err
    assert "not a database file" in outcome.sentence()
    assert stat.S_ISDIR(os.stat(state / harness.DB_NAME).st_mode)


def test_a_state_database_that_is_not_sqlite_is_exit_3_and_kept(tmp_path: Path) -> None:
    config = _world(tmp_path)
    state = tmp_path / "state"
    state.mkdir()
    (state / harness.DB_NAME).write_bytes(b"my diary\n" * 1000)
    outcome = harness.run(["--config", str(config), "pull"], state)
    assert outcome.code == 3, outcome.err
    sentence = outcome.sentence()
    assert "not a database" in sentence, sentence
    assert (state / harness.DB_NAME).read_bytes() == b"my diary\n" * 1000
    shutil.rmtree(state)
