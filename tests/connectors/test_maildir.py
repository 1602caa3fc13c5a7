"""The maildir source on real directories: layouts, incremental pulls, bad input, and the Enron corpus."""

from __future__ import annotations

import builtins
import os
import tarfile
import time
from pathlib import Path
from typing import Any

import pytest

from connectors.base import SourceUnavailable
from connectors.local import maildir
from connectors.local.maildir import MaildirSource, is_sent_folder
from tests.support.mailfactory import (
    BOB,
    ME,
    Harness,
    age,
    ids,
    items,
    maildir_name,
    message,
    mtimes,
    reasons,
    restore_mtimes,
    settings,
    write_maildir,
    write_plain,
)
from tests.support.paths import ENRON_TARBALL

ENRON = ENRON_TARBALL


def harness(root: Path, me: tuple[str, ...] = (ME,)) -> Harness:
    return Harness(MaildirSource("a", settings(root, me)))


# ---- layouts --------------------------------------------------------------------------------------


def test_maildir_plus_plus(tmp_path: Path) -> None:
    write_maildir(tmp_path, {".": [message(1, sender=f"Bob <{BOB}>", to=ME)], ".Sent": [message(2), message(3)],
                             ".Work.Clients": [message(4)]})
    (tmp_path / "tmp" / "half-delivered").write_bytes(b"From: x")  # tmp/ is never read (Maildir spec)
    (tmp_path / "new" / "1800000000.M9P1.host").write_bytes(message(5))  # new/ has no ":2," info yet
    (tmp_path / "dovecot-uidlist").write_bytes(b"3 V1 N2\n")  # tool state beside cur/ is not mail
    (tmp_path / "courierimapkeywords").mkdir()
    (tmp_path / "courierimapkeywords" / ":list").write_bytes(b"x")
    (tmp_path / "cur" / ".DS_Store").write_bytes(b"x")
    age(tmp_path)
    batches = harness(tmp_path).pull()
    assert ids(batches) == ["./1700000000.M0P1.host", "./1800000000.M9P1.host", ".Sent/1700000000.M0P1.host",
                            ".Sent/1700000001.M1P1.host", ".Work.Clients/1700000000.M0P1.host"]
    assert reasons(batches) == []
    assert all(b.cursor is not None for b in batches)


def test_nested_subfolders_mbsync_verbatim(tmp_path: Path) -> None:
    write_maildir(tmp_path, {"INBOX": [message(1)], "Work": [message(2)], "Work/Clients/Acme": [message(3)],
                             "Archive/2020": [message(4)]})  # "Archive" itself is no Maildir
    batches = harness(tmp_path).pull()
    assert sorted({b.resource for b in batches}) == ["Archive/2020", "INBOX", "Work", "Work/Clients/Acme"]
    assert len(items(batches)) == 4


def test_plain_tree_like_the_enron_corpus_and_the_owner_guess(tmp_path: Path) -> None:
    write_plain(tmp_path, "sent_items", [message(1), message(2, sender="Alias <alias@example.com>"), message(3)])
    write_plain(tmp_path, "inbox", [message(4, sender=f"Bob <{BOB}>", to=ME)])
    write_plain(tmp_path, "projects/alpha", [message(5, sender="Carl <carl@example.org>")])
    write_plain(tmp_path, "presentations", [message(6, sender="Carl <carl@example.org>")] * 5)  # not "sent"
    batches = harness(tmp_path, me=()).pull()
    assert "projects/alpha/1." in ids(batches) and "inbox/1." in ids(batches) and len(items(batches)) == 10
    assert {tuple(b.owner_addresses) for b in batches if b.resource >= "sent_items"} == {(ME,)}
    # With `me` configured nothing is guessed.
    assert all(not b.owner_addresses for b in harness(tmp_path).pull())


def test_sent_folder_names() -> None:
    for name in ("sent", "sent_items", "_sent_mail", "Sent Messages", ".Sent", "[Gmail].Sent Mail", "INBOX.Sent Items",
                 "Gesendet"):
        assert is_sent_folder(name), name
    for name in ("inbox", "presentations", "consent", "sent_items/old-inbox"):
        assert not is_sent_folder(name), name


def test_missing_path_and_a_file_instead_of_a_folder(tmp_path: Path) -> None:
    with pytest.raises(SourceUnavailable, match=r"^accounts.a.path: .*/nope does not exist$"):
        list(MaildirSource("a", settings(tmp_path / "nope")).pull({}, harness(tmp_path)))
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(SourceUnavailable, match="is not a folder"):
        list(MaildirSource("a", settings(tmp_path / "file")).pull({}, harness(tmp_path)))


# ---- incremental ----------------------------------------------------------------------------------


def test_unchanged_repull_lists_and_reads_nothing(tmp_path: Path) -> None:
    write_maildir(tmp_path, {"INBOX": [message(1)], "Sent": [message(2), message(3)]})
    write_plain(tmp_path / "plain", "inbox", [message(4)])  # a plain folder beside them (no Maildir root)
    age(tmp_path)
    h = harness(tmp_path)
    assert len(items(h.pull())) == 4
    # Behind the source's back, without changing any directory's mtime: every message file is emptied
    # (a read would make it a "no From or recipients" skip) and a new file appears in every folder
    # (a listing would find it). An unchanged folder must be neither listed nor read.
    saved = mtimes(tmp_path)
    for dirpath, _, filenames in os.walk(tmp_path):
        for name in filenames:
            Path(dirpath, name).write_bytes(b"")
        if filenames:
            Path(dirpath, maildir_name(99)).write_bytes(message(99))
    restore_mtimes(saved)
    second = h.pull()
    assert items(second) == [] and reasons(second) == [] and all(not b.deleted for b in second)


def test_changed_folder_opens_only_new_files(tmp_path: Path) -> None:
    write_maildir(tmp_path, {".": [message(1), message(2)]})
    age(tmp_path)
    h = harness(tmp_path)
    h.pull()
    for path in (tmp_path / "cur").iterdir():
        path.write_bytes(b"")  # a re-read of a known file would be a skip
    (tmp_path / "new" / "1800000000.M9P1.host").write_bytes(message(9))
    age(tmp_path)
    batches = h.pull()
    assert [i.message_id for i in items(batches)] == ["m9@example.com"] and reasons(batches) == []
    assert batches[0].expected == 1


def test_flag_change_move_to_cur_and_deletion(tmp_path: Path) -> None:
    write_maildir(tmp_path, {".": [message(1), message(2)]})
    (tmp_path / "new" / "1800000000.M9P1.host").write_bytes(message(9))
    age(tmp_path)
    h = harness(tmp_path)
    h.pull()
    cur = tmp_path / "cur"
    first, second = sorted(cur.iterdir())
    first.rename(first.with_name(maildir_name(0, "RS")))  # a flag change
    (tmp_path / "new" / "1800000000.M9P1.host").rename(cur / "1800000000.M9P1.host:2,S")  # read by a client
    (tmp_path / "new" / "1800000001.M10P1.host").write_bytes(message(10))  # new mail
    second.unlink()  # a deletion
    age(tmp_path)
    batches = h.pull()
    assert [i.message_id for i in items(batches)] == ["m10@example.com"]
    assert [d for b in batches for d in b.deleted] == ["./1700000001.M1P1.host"]
    assert h.stored() == 3


def test_a_folder_that_vanishes_takes_its_messages_along(tmp_path: Path) -> None:
    write_maildir(tmp_path, {".": [message(1)], ".Old": [message(2), message(3)]})
    age(tmp_path)
    h = harness(tmp_path)
    h.pull()
    for part in ("cur", "new", "tmp"):
        for path in (tmp_path / ".Old" / part).iterdir():
            path.unlink()
        (tmp_path / ".Old" / part).rmdir()
    (tmp_path / ".Old").rmdir()
    batches = h.pull()
    assert sorted(d for b in batches for d in b.deleted) == [".Old/1700000000.M0P1.host", ".Old/1700000001.M1P1.host"]
    assert h.stored() == 1


def test_a_folder_changed_just_now_keeps_its_old_cursor(tmp_path: Path) -> None:
    """Within the mtime settling window a message could arrive in the same tick: list again next time."""
    write_maildir(tmp_path, {".": [message(1)]})
    h = harness(tmp_path)
    assert [b.cursor for b in h.pull()] == [None]
    (tmp_path / "cur" / maildir_name(2)).write_bytes(message(2))  # same tick, as far as the cursor knows
    age(tmp_path)
    batches = h.pull()
    assert [i.message_id for i in items(batches)] == ["m2@example.com"] and batches[-1].cursor is not None


def test_only_the_last_batch_of_a_folder_carries_its_cursor_and_a_kill_resumes(tmp_path: Path) -> None:
    count = maildir.BATCH_SIZE * 2 + 500
    write_maildir(tmp_path, {".": [message(n) for n in range(count)]})
    age(tmp_path)
    h = harness(tmp_path)
    killed = h.pull(limit=1)  # killed after the first batch was committed
    assert len(items(killed)) == maildir.BATCH_SIZE and killed[0].cursor is None
    assert killed[0].expected == count
    rest = h.pull()
    assert [b.cursor is not None for b in rest] == [False, True]
    assert len(items(rest)) == count - maildir.BATCH_SIZE and h.stored() == count


# ---- bad input ------------------------------------------------------------------------------------


BAD = {
    "no-from-or-date": b"Subject: hello\n\nbody\n",
    "no-date": b"From: Bob <bob@example.org>\nTo: me@example.com\n\nbody\n",
    "x500": b"From: me@example.com\nTo: /O=ENRON/OU=NA/CN=RECIPIENTS/CN=JDOE, Ann <ann@example.org>\n\n",
    "undisclosed": b"From: me@example.com\nTo: undisclosed-recipients:;\nCc: carl@example.org\n\n",
    "junk8bit": b"From: \xff\xfe J\xf6rg <joerg@example.de>\nTo: me@example.com\nSubject: \xe4\xf6\xfc\n\n",
    "truncated": b"From: Dana <dana@example.org>\nTo: me@exa",
    "empty": b"",
    "many": ("From: me@example.com\nTo: " + ", ".join(f"p{i}@example.org" for i in range(300)) + "\n\n").encode(),
    "crlf": b"From: Fay <fay@example.org>\r\nTo: me@example.com\r\n\r\nbody\r\n",
}


def test_bad_input_is_skipped_and_named(tmp_path: Path) -> None:
    write_plain(tmp_path, "inbox", [])
    for name, data in BAD.items():
        (tmp_path / "inbox" / name).write_bytes(data)
    batches = harness(tmp_path).pull()
    by_name = {i.provider_id.removeprefix("inbox/"): i for i in items(batches)}
    skipped = {s.what.removeprefix("inbox/"): s.why for b in batches for s in b.skipped}
    assert skipped == {"no-from-or-date": "no From or recipients", "empty": "no From or recipients",
                       "x500": "address without local@domain: '/O=ENRON/OU=NA/CN=RECIPIENTS/CN=JDOE'"}
    assert sorted(by_name) == sorted(set(BAD) - {"no-from-or-date", "empty"})
    assert by_name["no-date"].timestamp is None
    assert [p.address for p in by_name["undisclosed"].participants] == [ME, "carl@example.org"]
    assert by_name["junk8bit"].participants[0].address == "joerg@example.de"
    assert by_name["truncated"].participants[0].address == "dana@example.org"
    assert len(by_name["many"].participants) == 301  # parsed whole; the recipient cap is the engine's
    assert by_name["crlf"].participants[0].address == "fay@example.org"


@pytest.fixture
def refuse(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """Paths the kernel refuses to open or list (chmod 000 does not stop root, who may run the tests)."""
    refused: set[str] = set()
    real_open, real_os_open, real_scandir = builtins.open, os.open, os.scandir

    def guarded_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        if str(file) in refused:
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    def guarded_os_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        if str(file) in refused:
            raise PermissionError(13, "Permission denied", str(file))
        return real_os_open(file, *args, **kwargs)

    def guarded_scandir(path: Any = ".") -> Any:
        if str(path) in refused:
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(builtins, "open", guarded_open)
    monkeypatch.setattr(os, "open", guarded_os_open)
    monkeypatch.setattr(os, "scandir", guarded_scandir)
    return refused


def test_unreadable_file_is_skipped(tmp_path: Path, refuse: set[str]) -> None:
    write_maildir(tmp_path, {".": [message(1), message(2)]})
    victim = sorted((tmp_path / "cur").iterdir())[0]
    victim.chmod(0)
    refuse.add(str(victim))
    batches = harness(tmp_path).pull()
    assert len(items(batches)) == 1
    assert reasons(batches) == ["unreadable file: Permission denied"]


def test_unreadable_folder_is_skipped_and_keeps_its_messages(tmp_path: Path, refuse: set[str]) -> None:
    write_maildir(tmp_path, {"INBOX": [message(1)], ".Work": [message(2), message(3)]})
    write_plain(tmp_path / "tree", "inbox", [message(4)])
    age(tmp_path)
    h = harness(tmp_path)
    h.pull()
    (tmp_path / ".Work" / "cur" / maildir_name(7)).write_bytes(message(7))
    refuse.update({str(tmp_path / ".Work" / "cur"), str(tmp_path / "tree" / "inbox")})
    age(tmp_path)
    batches = h.pull()
    assert sorted(reasons(batches)) == ["unreadable folder: Permission denied"] * 2
    assert items(batches) == [] and all(not b.deleted for b in batches)
    assert h.stored() == 4
    refuse.clear()
    assert [i.message_id for i in items(h.pull())] == ["m7@example.com"]


# ---- the Enron corpus -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def enron_maildir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not ENRON.exists():
        pytest.skip(f"the Enron corpus is absent ({ENRON})")
    root = tmp_path_factory.mktemp("enron-maildir")
    with tarfile.open(ENRON) as archive:
        archive.extractall(root, filter="data")
    return next(root.rglob("maildir"))


@pytest.mark.slow
def test_enron_every_file_is_an_interaction_or_a_skip(enron_maildir: Path) -> None:
    files = interactions = skipped_messages = 0
    guesses: dict[str, list[str]] = {}
    harnesses = {}
    started = time.perf_counter()
    for mailbox in sorted(enron_maildir.iterdir()):
        files += sum(len(names) for _, _, names in os.walk(mailbox))
        h = harnesses[mailbox.name] = harness(mailbox, me=())
        batches = h.pull()
        interactions += len(items(batches))
        message_level = [s for b in batches for s in b.skipped if not s.why.startswith("address without")]
        assert all(s.why == "no From or recipients" for s in message_level), message_level[:3]
        skipped_messages += len(message_level)
        guesses[mailbox.name] = next((b.owner_addresses for b in batches if b.owner_addresses), [])
    first = time.perf_counter() - started
    assert files == 14378 and interactions + skipped_messages == files
    assert guesses["scholtes-d"] == ["diana.scholtes@enron.com"] and guesses["mckay-b"] == ["brad.mckay@enron.com"]
    started = time.perf_counter()
    for mailbox in sorted(enron_maildir.iterdir()):
        assert items(harnesses[mailbox.name].pull()) == []
    second = time.perf_counter() - started
    print(f"enron: {files} files, first pull {first:.2f} s, second pull {second:.3f} s")
