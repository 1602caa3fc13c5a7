"""Holding the state lock from another process, as a running service or pull would."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.paths import ROOT

HOLD = "import sys, time; from pathlib import Path; from syncd.service.lock import writer_lock\n" \
       "with writer_lock(Path(sys.argv[1]), sys.argv[2]):\n    print('held', flush=True); time.sleep(float(sys.argv[3]))\n"


def hold_lock(directory: Path, holder: str, seconds: float) -> subprocess.Popen[str]:
    """A process holding ``directory``'s lock as ``holder`` for ``seconds``; returns once it holds it."""
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(directory), holder, str(seconds)],
                               cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdout.readline() == "held\n"
    return process
