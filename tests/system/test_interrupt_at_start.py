"""An interrupt in the first second of a run, while the commands are still being imported, ends like any other:
one sentence, syncd's exit code, no traceback. The interrupt is delivered at that exact moment by an import
hook in the child process, so the test does not depend on timing."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support.paths import ROOT

HOOK = """
import os, signal, sys

class Interrupt:
    def find_spec(self, name, path=None, target=None):
        if name == "syncd.cli.app":
            {action}
        return None

sys.meta_path.insert(0, Interrupt())
from syncd.cli import main
main()
"""


@pytest.mark.parametrize(("action", "code", "said"), [
    ("raise KeyboardInterrupt", 130, "syncd: interrupted before it started; nothing was changed"),
    ("os.kill(os.getpid(), signal.SIGTERM)", 0, "syncd: stopped before it started; nothing was changed"),
])
def test_an_interrupt_while_starting_is_one_sentence(action: str, code: int, said: str) -> None:
    done = subprocess.run([sys.executable, "-c", HOOK.format(action=action), "--version"], capture_output=True,
                          text=True, timeout=60, cwd=ROOT)
    assert (done.returncode, done.stderr.strip()) == (code, said)
    assert done.stdout == ""
