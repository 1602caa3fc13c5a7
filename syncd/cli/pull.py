"""``syncd pull`` (the whole job, once) and ``syncd plan`` (what it would write)."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import TYPE_CHECKING

import click

from syncd.cli.context import Context, as_of_option, pass_context
from syncd.errors import ExitCode

if TYPE_CHECKING:
    from syncd.pipeline import JobResult


@click.command()
@click.option("--account", help="Pull only this account.")
@click.option("--dry-run", is_flag=True, help="Pull, then print the follow-up plan instead of writing it.")
@click.option("--force", is_flag=True, help="Allow more than followups.max_deletes deletions.")
@as_of_option
@pass_context
def pull(ctx: Context, account: str | None, dry_run: bool, force: bool, as_of: date | None) -> None:
    """Pull every configured source, recompute, and update the follow-ups calendar."""
    from syncd import pipeline
    from syncd.paths import state_dir
    from syncd.service.lock import writer_lock
    from syncd.store import open_store

    config = ctx.config()
    # One writer at a time: wait briefly for another pull; the service holds the lock while it runs.
    wait = float(os.environ.get("SYNCD_LOCK_WAIT", "10"))
    with writer_lock(state_dir(), "pull", wait), open_store() as store, _progress() as progress:
        result = pipeline.run_job(
            store,
            config,
            as_of=as_of,
            only=account,
            dry_run=dry_run,
            force=force,
            progress=progress,
        )
    if not any(account.enabled for account in config.accounts.values()):
        what = "no accounts are configured" if not config.accounts else "every account has enabled = false"
        click.echo(f"nothing pulled: {what} in {config.path or 'the configuration'} (add an [accounts.NAME] "
                   "table; 'syncd init' shows one); follow-ups were planned from what is stored")
    _print_job(result, ctx.verbose, dry_run)
    if result.internal:
        # A bug stopped an account after the others were pulled and the follow-ups written.
        for text in result.internal if ctx.traceback else ():
            click.echo(text, err=True, nl=False)
        click.echo("syncd: internal error in an account (see its line above); run with --traceback and report it",
                   err=True)
        sys.exit(ExitCode.INTERNAL)
    if result.needs_login:
        sys.exit(ExitCode.NEEDS_LOGIN)
    if result.failed:
        sys.exit(ExitCode.PARTIAL)


def _print_job(result: JobResult, verbose: int, dry_run: bool) -> None:
    for summary in result.pulls:
        parts = [f"{summary.new} new, {summary.seen} read"] if summary.seen or not summary.cards else []
        if summary.cards:
            parts.append(f"{summary.cards} cards read ({summary.cards_changed} new or changed)")
        line = f"{summary.account}: {', '.join(parts)}, {summary.deleted} gone"
        if summary.skipped:
            line += f", {sum(summary.skipped.values())} skipped"
        line += f" ({summary.seconds:.1f}s)"
        if summary.error:
            line = f"{summary.account}: FAILED: {summary.error}"
        click.echo(line)
        for reason, count in summary.skipped.most_common():
            click.echo(f"  skipped {count}: {reason}")
            if verbose:  # every item, not a sample: `syncd status --skipped` lists what is still skipped
                for item in (line for why, line in summary.items if why == reason):
                    click.echo(f"    {item}")
        for resource in summary.resynced:
            click.echo(f"  {resource}: cursor expired, resynced from scratch")
        for resource, coverage in summary.coverage.items():
            click.echo(f"  {resource}: {coverage}")
        if summary.owner_guess:
            click.echo(
                f"  owner address guessed from sent folders: {', '.join(summary.owner_guess)} "
                "(set 'me' in the account to override)"
            )
    if result.refresh is not None:
        click.echo(result.refresh.describe())
    if result.target_error:
        click.echo(f"follow-ups: FAILED: {result.target_error}")
    elif result.followups is not None:
        for line in result.followups.describe(dry_run=dry_run):
            click.echo(line)
    for note in result.notes:
        click.echo(f"note: {note}")


@contextmanager
def _progress() -> Iterator[Callable[[str, int, int | None], None] | None]:
    """A live progress line on a terminal (count, rate, and a bar with an ETA when the source can tell
    how much there is); nothing when piped."""
    if not sys.stderr.isatty():
        yield None
        return
    started: dict[str, float] = {}
    last = [0.0]

    def update(account: str, seen: int, expected: int | None) -> None:
        now = time.monotonic()
        begun = started.setdefault(account, now)
        if now - last[0] < 0.2:
            return
        last[0] = now
        rate = seen / max(now - begun, 1e-6)
        click.echo(f"\r\033[K{progress_line(account, seen, expected, rate)}", nl=False, err=True)

    try:
        yield update
    finally:
        click.echo("\r\033[K", nl=False, err=True)


def progress_line(account: str, seen: int, expected: int | None, rate: float) -> str:
    if not expected:
        return f"{account}: {seen:,} read ({rate:,.0f}/s)"
    done = min(seen / expected, 1.0)
    bar = "#" * int(done * 20)
    left = (expected - seen) / rate if rate > 0 else 0
    return (f"{account}: [{bar:<20}] {seen:,}/{expected:,} ({rate:,.0f}/s, "
            f"ETA {int(left // 60)}:{int(left % 60):02d})")


@click.command()
@as_of_option
@pass_context
def plan(ctx: Context, as_of: date | None) -> None:
    """What the next pull would create, update and delete in the follow-ups calendar (writes nothing)."""
    from syncd import engine, pipeline
    from syncd.accounts import open_target
    from syncd.engine.due import due_followups
    from syncd.plan import reconcile
    from syncd.store import open_store

    config = ctx.config()
    with open_store(read_only_ok=True) as store:
        now, historical = pipeline.refreshed_now(store, config, as_of)
        statuses = engine.people(store, config, now, historical=historical)
        due = due_followups(statuses, store, config, now)
        result = reconcile.reconcile(due, store, open_target(config), now, config.followups, dry_run=True)
    for line in result.describe(dry_run=True):
        click.echo(line)
