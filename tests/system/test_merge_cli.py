"""``syncd merge --suggest``: likely duplicates listed, taken (--accept N) or turned down (--reject N), on a
real maildir archive through the command line (the rules: tests/unit/test_merge_suggestions.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import Run
from tests.support.mailfactory import message, write_plain


@pytest.fixture
def archive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "mail"
    sent = [message(1, to="Crandall, Sean <sean.crandall@x.com>", date="Mon, 2 Feb 2026 10:00:00 +0000"),
            message(2, to="Sean Crandall <sean@home.example>", date="Mon, 9 Feb 2026 10:00:00 +0000"),
            message(3, to="john.smith@x.com", date="Mon, 16 Feb 2026 10:00:00 +0000"),
            message(4, to="johnsmith@x.com", date="Mon, 23 Feb 2026 10:00:00 +0000")]
    write_plain(root, "sent", sent)
    write_plain(root, "inbox", [message(5, sender="Sean Crandall <sean.crandall@x.com>", to="me@example.com",
                                        date="Tue, 3 Feb 2026 10:00:00 +0000")], first=5)
    config = tmp_path / "config.toml"
    config.write_text(f'[accounts.mail]\nprovider = "maildir"\npath = "{root}"\nme = ["me@example.com"]\n'
                      f'[followups]\nics_path = "{tmp_path / "f.ics"}"\ntimezone = "UTC"\n')
    monkeypatch.setenv("SYNCD_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("SYNCD_CONFIG", str(config))
    return tmp_path


def test_merge_suggest_accept_and_reject(archive: Path, run: Run) -> None:
    assert run("pull", "--as-of", "2026-03-01")[0] == 0
    code, out, _ = run("merge", "--suggest", "--as-of", "2026-03-01")
    assert code == 0
    assert "1. Sean Crandall <sean.crandall@x.com> + Sean Crandall <sean@home.example>: both are named" in out
    assert "2. johnsmith@x.com <johnsmith@x.com> + john.smith@x.com <john.smith@x.com>" in out  # the later one
    listed = json.loads(run("merge", "--suggest", "--json", "--as-of", "2026-03-01")[1])
    assert [(s["n"], s["keep"], s["merge"]) for s in listed] == [
        (1, "sean.crandall@x.com", "sean@home.example"), (2, "johnsmith@x.com", "john.smith@x.com")]
    code, out, _ = run("merge", "--suggest", "--reject", "2", "--as-of", "2026-03-01")
    assert code == 0 and "will not be suggested again" in out
    code, out, _ = run("merge", "--suggest", "--accept", "1", "--as-of", "2026-03-01")
    assert code == 0 and out.startswith("merged sean@home.example into sean.crandall@x.com")
    assert run("merge", "--suggest", "--as-of", "2026-03-01")[1] == "no likely duplicates\n"
    people = json.loads(run("people", "--json", "--as-of", "2026-03-01")[1])
    sean = next(p for p in people if p["key"] == "sean.crandall@x.com")
    assert sean["addresses"] == ["sean.crandall@x.com", "sean@home.example"]


@pytest.mark.parametrize(("args", "says"), [
    (("merge", "--suggest", "--accept", "9"), "there is no suggestion 9"),
    (("merge", "--suggest", "--accept", "1", "--reject", "1"), "one suggestion at a time"),
    (("merge", "--accept", "1"), "go with --suggest"),
    (("merge", "a@x.org"), "name two people"),
    (("merge", "--suggest", "a@x.org"), "--suggest takes no people"),
])
def test_merge_misuse_is_one_sentence_and_exit_2(archive: Path, run: Run, args: tuple[str, ...], says: str) -> None:
    run("pull", "--as-of", "2026-03-01")
    code, _, err = run(*args)
    assert code == 2 and says in err and len(err.strip().splitlines()) == 1
