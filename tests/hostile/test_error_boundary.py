"""The error boundary's rarer branches, through the public functions that take them.

A bug in one account (the others are pulled, exit 70), state faults that are hard to cause for real (an
I/O error, a lock held by another program), the last good copy (renewed when due, never from a damaged
database, a killed copy's temporary file removed), and names that are bytes.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.base import Batch, KnownIds
from connectors.local.mbox import MboxSource
from syncd import cli
from syncd.store import Store, lastgood
from syncd.store import faults as statefaults
from syncd.store.bytenames import db_value, from_db, shown
from tests.support.mailtree import ME, mail


def _sqlite_error(message: str, code: int) -> sqlite3.Error:
    error = sqlite3.OperationalError(message)
    error.sqlite_errorcode = code
    return error


def test_a_bug_in_one_account_leaves_the_others_pulled_and_is_exit_70(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    mail_root = tmp_path / "mail"
    for part in ("cur", "new", "tmp"):
        (mail_root / part).mkdir(parents=True)
    (mail_root / "cur" / "1:2,S").write_bytes(mail(f"Me <{ME}>", to="bob@example.org"))
    (tmp_path / "box.mbox").write_bytes(b"From x Mon Mar  2 10:00:00 2026\n" + mail("Ann <ann@example.org>"))
    config = tmp_path / "config.toml"
    config.write_text(f'[accounts.box]\nprovider = "mbox"\npath = "{tmp_path}/box.mbox"\nme = ["{ME}"]\n'
                      f'[accounts.mail]\nprovider = "maildir"\npath = "{mail_root}"\nme = ["{ME}"]\n'
                      f'[followups]\nics_path = "{tmp_path}/f.ics"\ntimezone = "UTC"\n')
    monkeypatch.setenv("SYNCD_STATE_DIR", str(tmp_path / "state"))

    def broken(self: MboxSource, cursors: Mapping[str, str], known: KnownIds) -> Iterator[Batch]:
        raise RuntimeError("a bug")
        yield  # pragma: no cover

    monkeypatch.setattr(MboxSource, "pull", broken)
    for extra in ([], ["--traceback"]):
        with pytest.raises(SystemExit) as exited:
            cli.main([*extra, "--config", str(config), "pull", "--as-of", "2026-03-03"])
        assert exited.value.code == 70
        out, err = capsys.readouterr()
        assert "box: FAILED: internal error: RuntimeError: a bug" in out
        assert "mail: 1 new" in out or "mail: 0 new" in out  # pulled all the same (new the first time)
        assert "follow-ups:" in out
        assert ("Traceback" in err) == bool(extra)
        assert err.strip().endswith("run with --traceback and report it")
    with Store(tmp_path / "state" / "syncd.sqlite3") as store:
        records = {record.name: record for record in store.accounts.records()}
        assert records["mail"].last_success and (records["box"].last_error or "").startswith("internal error")


def test_faults_that_are_hard_to_cause_for_real_have_their_sentences(tmp_path: Path) -> None:
    database = tmp_path / "syncd.sqlite3"
    io_error = statefaults.describe(_sqlite_error("disk I/O error", 10 | (3 << 8)), database)
    assert io_error is not None and "I/O error" in str(io_error) and "copy the state folder" in str(io_error)
    locked = statefaults.describe(_sqlite_error("database is locked", 5), database)
    assert locked is not None and "locked by another program" in str(locked)
    assert statefaults.describe(_sqlite_error("near \"(\": syntax error", 1), database) is None  # a bug: exit 70
    assert statefaults.describe(OSError(28, "No space left on device", str(database)), database) is not None
    assert statefaults.describe(OSError(28, "No space left on device", "/elsewhere"), database) is None
    full = statefaults.describe(OSError(28, "No space left on device", str(database)), database)
    assert full is not None and "full" in str(full) and full.exit_code == 3


def test_an_io_error_on_a_full_disk_is_said_as_a_full_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(statefaults, "_free_bytes", lambda folder: 4096)
    fault = statefaults.describe(_sqlite_error("disk I/O error", 10), tmp_path / "syncd.sqlite3")
    assert fault is not None and "is full" in str(fault)


def _pulled_store(path: Path) -> Store:
    store = Store(path)
    store.accounts.ensure("a", "maildir")
    for n in range(300):
        store.db.execute("INSERT INTO interactions(kind, ts, subject) VALUES ('mail', ?, ?)", (n, "x" * 200))
    return store


def test_the_last_good_copy_is_renewed_once_a_day_and_a_killed_copy_is_cleaned_up(tmp_path: Path) -> None:
    database = tmp_path / "syncd.sqlite3"
    with _pulled_store(database) as store:
        stray = tmp_path / f".{lastgood.NAME}.abc123.tmp"
        stray.write_bytes(b"half a copy")
        assert lastgood.refresh(store.db, database) is None
        copy = lastgood.path_of(database)
        assert copy.exists() and not stray.exists()
        assert sqlite3.connect(copy).execute("SELECT COUNT(*) FROM interactions").fetchone()[0] == 300
        os.utime(copy, (1_000_000, 1_000_000))
        store.db.execute("DELETE FROM interactions")
        assert lastgood.refresh(store.db, database, now=1_000_000 + 3600) is None  # not due: kept as it was
        assert sqlite3.connect(copy).execute("SELECT COUNT(*) FROM interactions").fetchone()[0] == 300
        assert lastgood.refresh(store.db, database, now=1_000_000 + 25 * 3600) is None  # due: renewed
        assert sqlite3.connect(copy).execute("SELECT COUNT(*) FROM interactions").fetchone()[0] == 0


def test_a_damaged_database_never_becomes_the_last_good_copy(tmp_path: Path) -> None:
    database = tmp_path / "syncd.sqlite3"
    with _pulled_store(database) as store:
        store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page = store.db.execute("PRAGMA page_size").fetchone()[0]
        pages = store.db.execute("PRAGMA page_count").fetchone()[0]
    with open(database, "r+b") as handle:
        handle.seek(page * (pages // 2))
        handle.write(b"\xa5" * page * 2)
    raw = sqlite3.connect(database)
    with pytest.raises(lastgood.DamagedDatabase):
        lastgood.refresh(raw, database)
    raw.close()
    assert not lastgood.path_of(database).exists()


def test_a_copy_that_cannot_be_written_is_a_warning_not_a_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    database = tmp_path / "syncd.sqlite3"
    with _pulled_store(database) as store:
        def refuse(*args: object, **kwargs: object) -> tuple[int, str]:
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(lastgood.tempfile, "mkstemp", refuse)
        warning = lastgood.refresh(store.db, database)
    assert warning == "the last good copy of the state was not renewed (No space left on device)"


@given(st.binary(min_size=1, max_size=40))
def test_any_file_name_is_stored_losslessly_and_shown_printably(name: bytes) -> None:
    text = os.fsdecode(name)
    assert from_db(db_value(text)) == text
    shown(text).encode("utf-8")  # printable: never a surrogate
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (name TEXT PRIMARY KEY)")
    db.execute("INSERT INTO t VALUES (?)", (db_value(text),))
    assert [from_db(row[0]) for row in db.execute("SELECT name FROM t WHERE name = ?", (db_value(text),))] == [text]
