"""The command line: thin commands over the pipeline, and one error boundary (``main``).

``main`` imports the commands when it is called, not when this package is imported: the console script
imports this package first, and an interrupt during the second or so that importing every command takes
would otherwise end in a Python traceback instead of syncd's sentence and exit code.
"""

from __future__ import annotations

import signal
import sys
from types import FrameType

from syncd.errors import ExitCode


class _StoppedEarly(BaseException):
    """SIGTERM while the commands were still being imported: nothing was started, so nothing is lost."""


def _stop_early(signum: int, frame: FrameType | None) -> None:
    raise _StoppedEarly


def main(argv: list[str] | None = None) -> None:
    previous = signal.signal(signal.SIGTERM, _stop_early)
    try:
        from syncd.cli.app import main as run_command
    except KeyboardInterrupt:
        print("syncd: interrupted before it started; nothing was changed", file=sys.stderr)
        sys.exit(ExitCode.INTERRUPTED)
    except _StoppedEarly:
        print("syncd: stopped before it started; nothing was changed", file=sys.stderr)
        sys.exit(ExitCode.OK)
    finally:
        signal.signal(signal.SIGTERM, previous)
    run_command(argv)


__all__ = ["main"]
