"""Running the command line in-process, through its single error boundary, as a user would."""

from __future__ import annotations

import pytest

from syncd import cli


class Run:
    """``run("people", "--json")`` → (exit code, stdout, stderr); a traceback anywhere fails the test."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys

    def __call__(self, *args: str) -> tuple[int, str, str]:
        code = 0
        try:
            cli.main(list(args))
        except SystemExit as exc:
            code = int(exc.code or 0)
        out, err = self.capsys.readouterr()
        assert "Traceback" not in out + err
        return code, out, err
