"""The CLI's error boundary on the branches a pull rarely takes: Ctrl-C (exit 130, what was committed kept, the
next pull resumes), a command line click refuses (exit 2), and ``--traceback`` showing what the sentence hides."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from syncd import cli
from syncd.errors import SyncdError
from syncd.store import DB_NAME, Store
from tests.support import hostile
from tests.support.mailtree import ME, mail

# A password manager that is asked for the password as the user presses Ctrl-C: SIGINT to syncd, its parent.
CTRL_C = [sys.executable, "-c", "import os, signal; os.kill(os.getppid(), signal.SIGINT)"]


def _config(tmp_path: Path, *, interrupted: bool) -> Path:
    mail_root = tmp_path / "mail"
    for part in ("cur", "new", "tmp"):
        (mail_root / part).mkdir(parents=True, exist_ok=True)
    (mail_root / "cur" / "1:2,S").write_bytes(mail("Ann <ann@example.org>"))
    command = ", ".join(f'"{part}"' for part in CTRL_C)
    imap = (f'[accounts.work]\nprovider = "imap"\nhost = "127.0.0.1"\nusername = "sam"\nsecurity = "plain"\n'
            f'token_store = "file"\npassword_command = [{command}]\n') if interrupted else ""
    config = tmp_path / ("interrupted.toml" if interrupted else "config.toml")
    config.write_text(f'[accounts.mail]\nprovider = "maildir"\npath = "{mail_root}"\nme = ["{ME}"]\n{imap}\n'
                      f'[followups]\nics_path = "{tmp_path}/f.ics"\ntimezone = "UTC"\n')
    return config


def test_ctrl_c_during_a_pull_is_exit_130_and_keeps_what_was_committed(tmp_path: Path) -> None:
    state = tmp_path / "state"
    stopped = hostile.run(["--config", str(_config(tmp_path, interrupted=True)), "pull"], state)
    assert stopped.code == 130, stopped.err
    assert stopped.sentence() == "syncd: interrupted; what was committed is kept, the next pull resumes"
    assert Store(state / DB_NAME).count("interactions") == 1  # the first account, pulled before Ctrl-C
    again = hostile.run(["--config", str(_config(tmp_path, interrupted=False)), "pull"], state)
    assert again.code == 0, again.err
    assert Store(state / DB_NAME).count("interactions") == 1  # nothing doubled


def test_a_command_line_click_refuses_is_exit_2(tmp_path: Path) -> None:
    refused = hostile.run(["pull", "--no-such-option"], tmp_path / "state")
    assert refused.code == 2 and "Error: No such option '--no-such-option'." in refused.err
    assert not (tmp_path / "state").exists()  # nothing was started


def test_help_is_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    cli.main(["--help"])  # returns: no SystemExit, so the process ends with 0
    assert "Usage: syncd" in capsys.readouterr().out


def test_traceback_shows_the_error_the_sentence_stands_for(tmp_path: Path) -> None:
    with pytest.raises(SyncdError, match=r"no-such\.toml"):
        cli.main(["--traceback", "--config", str(tmp_path / "no-such.toml"), "pull"])
