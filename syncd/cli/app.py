"""The command line: the ``syncd`` group, its commands, and the single error boundary.

``main`` is the single error boundary: every domain error becomes one sentence on stderr and a
documented exit code (see ``syncd.errors.ExitCode`` and the README); ``--traceback`` shows the rest.
Each command lives in its own module and imports what it needs when it runs, so ``syncd --help``
stays fast.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from types import FrameType
from typing import NoReturn

import click

from syncd.cli import auth, decisions, people, pull, service, setup, status
from syncd.cli.context import Context
from syncd.errors import ExitCode, SyncdError
from syncd.store.bytenames import shown


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="Configuration file to use.")
@click.option("-v", "--verbose", count=True, help="Say more (repeat for even more).")
@click.option("--traceback", is_flag=True, help="Show the full traceback of an error (for developers).")
@click.version_option(package_name="syncd")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None, verbose: int, traceback: bool) -> None:
    """syncd keeps relationships from going cold: it reads whom you wrote to and met, and puts
    "reach out to X" follow-ups into your calendar when each relationship is due."""
    ctx.obj = Context(config_path, verbose, traceback)


for command in (
    setup.init, setup.config_group, setup.sample,
    pull.pull, status.status, people.people, people.why, pull.plan,
    decisions.set_, decisions.merge, decisions.unmerge, decisions.remind,
    auth.auth, service.run, service.install_units,
):
    cli.add_command(command)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    show_traceback = "--traceback" in args
    previous = signal.signal(signal.SIGTERM, _stop)  # the service puts its own in place once it runs
    try:
        # Without standalone mode click returns --help's and --version's exit code (0) instead of raising it.
        cli.main(args=args, prog_name="syncd", standalone_mode=False)
    except click.exceptions.Abort:  # Ctrl-C anywhere (click turns KeyboardInterrupt into it), or no input at a prompt
        click.echo("syncd: interrupted; what was committed is kept, the next pull resumes", err=True)
        sys.exit(ExitCode.INTERRUPTED)
    except click.ClickException as exc:
        exc.show()
        sys.exit(ExitCode.USAGE)
    except SyncdError as exc:
        if show_traceback:
            raise
        _say(exc)
    except Stopped:
        click.echo("syncd: stopped; what was committed is kept, the next pull resumes", err=True)
        sys.exit(ExitCode.OK)
    except Exception as exc:  # the boundary: a fault of the state is its sentence, anything else one too
        from syncd.store import state_fault

        fault = state_fault(exc)
        if show_traceback:
            raise
        if fault is not None:
            _say(fault)
        click.echo(f"syncd: internal error: {type(exc).__name__}: {shown(str(exc))} (run with --traceback for "
                   "details)", err=True)
        sys.exit(ExitCode.INTERNAL)
    finally:
        if argv is None:
            # This process is ending with syncd's own exit code: a stop that arrives now (after the work is
            # done, or while the interpreter shuts down, which restores the default actions) waits blocked
            # instead of killing the process and turning that code into "killed by SIGTERM/SIGINT".
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
        else:  # called in-process (tests): leave the caller's handling as it was
            signal.signal(signal.SIGTERM, previous)


def _say(exc: SyncdError) -> NoReturn:
    for line in str(exc).splitlines() or [type(exc).__name__]:
        click.echo(f"syncd: {line}", err=True)
    sys.exit(exc.exit_code)


class Stopped(BaseException):
    """SIGTERM (systemd stopping the unit, a shutdown): end now; every committed batch is kept.

    A BaseException, like KeyboardInterrupt, so that no ``except Exception`` on the way swallows it.
    """


def _stop(signum: int, frame: FrameType | None) -> None:
    raise Stopped
