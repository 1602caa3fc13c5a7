"""The command line: parse, call the functions that do the work, present the result.

``main`` is the single error boundary: every domain error becomes one sentence on stderr and a
documented exit code (see ``syncd.errors.ExitCode`` and the README); ``--traceback`` shows the rest.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import click

from syncd import auth_cli, service_cli
from syncd.errors import ExitCode, SyncdError, UsageError


class Context:
    def __init__(self, config_path: Path | None, verbose: int) -> None:
        self.config_path = config_path
        self.verbose = verbose

    def config(self) -> Any:
        from syncd.config import load_config
        from syncd.paths import find_config_path

        return load_config(find_config_path(self.config_path))


pass_context = click.make_pass_decorator(Context)


def _as_of_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--as-of", "as_of", metavar="DATE", help="Behave as if today were DATE (YYYY-MM-DD); ignore later interactions."
    )(func)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="Configuration file to use.")
@click.option("-v", "--verbose", count=True, help="Say more (repeat for even more).")
@click.option("--traceback", is_flag=True, help="Show the full traceback of an error (for developers).")
@click.version_option(package_name="syncd")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None, verbose: int, traceback: bool) -> None:
    """syncd keeps relationships from going cold: it reads whom you wrote to and met, and puts
    "reach out to X" follow-ups into your calendar when each relationship is due."""
    ctx.obj = Context(config_path, verbose)


# ---- configuration ----------------------------------------------------------------------------------


@cli.command()
@pass_context
def init(ctx: Context) -> None:
    """Write a starter configuration file (never overwrites one)."""
    from syncd.config import STARTER_CONFIG
    from syncd.paths import find_config_path

    path = find_config_path(ctx.config_path)
    if path.exists():
        raise UsageError(f"{path} already exists; edit it, or pass --config NEWPATH")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(STARTER_CONFIG, encoding="utf-8")
    click.echo(f"wrote {path}; add an account, then run 'syncd config check' and 'syncd pull'")


@cli.group(name="config")
def config_group() -> None:
    """Check the configuration or print its schema."""


@config_group.command(name="check")
@pass_context
def config_check(ctx: Context) -> None:
    """Validate the configuration and report every problem at once."""
    from syncd.config import load_config
    from syncd.paths import find_config_path

    config = load_config(find_config_path(ctx.config_path), check_paths=True)
    click.echo(f"{config.path}: OK ({len(config.accounts)} accounts, {len(config.tiers)} tiers)")


@config_group.command(name="schema")
def config_schema() -> None:
    """Print the configuration's JSON Schema."""
    from syncd.config import json_schema

    click.echo(json.dumps(json_schema(), indent=2))


# ---- the main job ------------------------------------------------------------------------------------


@cli.command()
@click.option("--account", help="Pull only this account.")
@click.option("--dry-run", is_flag=True, help="Pull, then print the follow-up plan instead of writing it.")
@click.option("--force", is_flag=True, help="Allow more than followups.max_deletes deletions.")
@_as_of_option
@pass_context
def pull(ctx: Context, account: str | None, dry_run: bool, force: bool, as_of: str | None) -> None:
    """Pull every configured source, recompute, and update the follow-ups calendar."""
    from syncd import job
    from syncd.lock import writer_lock
    from syncd.paths import state_dir

    config = ctx.config()
    # One writer at a time: wait briefly for another pull; the service holds the lock while it runs.
    wait = float(os.environ.get("SYNCD_LOCK_WAIT", "10"))
    with writer_lock(state_dir(), "pull", wait), job.open_store() as store, _progress() as progress:
        result = job.run_job(
            store,
            config,
            as_of=job.parse_day(as_of) if as_of else None,
            only=account,
            dry_run=dry_run,
            force=force,
            progress=progress,
        )
    _print_job(result, ctx.verbose, dry_run)
    if result.needs_login:
        sys.exit(ExitCode.NEEDS_LOGIN)
    if result.failed:
        sys.exit(ExitCode.PARTIAL)


def _print_job(result: Any, verbose: int, dry_run: bool) -> None:
    for summary in result.pulls:
        line = f"{summary.account}: {summary.new} new, {summary.seen} read, {summary.deleted} gone"
        if summary.skipped:
            line += f", {sum(summary.skipped.values())} skipped"
        line += f" ({summary.seconds:.1f}s)"
        if summary.error:
            line = f"{summary.account}: FAILED: {summary.error}"
        click.echo(line)
        for reason, count in summary.skipped.most_common():
            click.echo(f"  skipped {count}: {reason}")
            if verbose:
                for example in summary.examples.get(reason, []):
                    click.echo(f"    e.g. {example}")
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


@cli.command()
@pass_context
def status(ctx: Context) -> None:
    """Show each account: last successful pull, cursor age, last error, what was skipped."""
    from syncd import job
    from syncd.accounts import provider_of
    from syncd.store import utc_now_iso

    config = ctx.config()
    with job.open_store() as store:
        rows = {row["name"]: row for row in store.accounts()}
        for name, account in config.accounts.items():
            row = rows.get(name)
            if row is None:
                click.echo(f"{name} ({account.provider}): never pulled")
                continue
            summary = json.loads(row["last_summary"] or "{}")
            state = "needs attention" if row["last_error"] else "ok"
            if row["last_error"] and summary.get("needs_login"):
                state = f"needs login: run 'syncd auth login {name}'"
            click.echo(f"{name} ({account.provider}): {state}")
            click.echo(f"  last successful pull: {row['last_success'] or 'never'}")
            cursor_age = store.db.execute(
                "SELECT MAX(updated) FROM cursors WHERE account = ?", (name,)
            ).fetchone()[0]
            click.echo(f"  cursors last moved: {cursor_age or 'never'}")
            if row["last_error"]:
                click.echo(f"  last error: {row['last_error']}")
            for resource, coverage in summary.get("coverage", {}).items():
                click.echo(f"  {resource}: {coverage}")
            for reason, count in summary.get("skipped", {}).items():
                click.echo(f"  skipped {count}: {reason}")
            owners = json.loads(row["owner_addresses"] or "[]")
            if owners and provider_of(account).needs_secret:
                click.echo(f"  owner (from the provider): {', '.join(owners)}")
            elif owners and not account.me:
                click.echo(f"  owner (guessed): {', '.join(owners)}")
        active, next_start, dismissed = store.db.execute(
            "SELECT SUM(state = 'active'), "
            "MIN(CASE WHEN state = 'active' AND planned_start >= ? THEN planned_start END), "
            "SUM(state = 'dismissed') FROM followups",
            (utc_now_iso(),),
        ).fetchone()
        upcoming = f", next planned {next_start[:16].replace('T', ' ')} UTC" if next_start else ""
        click.echo(f"follow-ups: {active or 0} in the calendar{upcoming}; {dismissed or 0} dismissed by you")
        click.echo(f"state: {store.path}; {store.count('interactions'):,} interactions")


# ---- people and the plan -----------------------------------------------------------------------------

PEOPLE_FIELDS = [
    "name", "addresses", "last_contact", "last_outbound", "last_inbound", "last_meeting", "tier", "every_days",
    "due", "reason",
]


@cli.command()
@click.option("--due", "filter_", flag_value="due", help="Only people due now or within the horizon.")
@click.option("--overdue", "filter_", flag_value="overdue", help="Only people past their due date.")
@click.option("--dormant", "filter_", flag_value="dormant", help="Only dormant relationships.")
@click.option("--all", "filter_", flag_value="all", help="Everyone, relationships or not.")
@click.option("--tier", help="Only people in this tier.")
@click.option("--json", "fmt", flag_value="json", help="Print JSON (the public contract; see README).")
@click.option("--csv", "fmt", flag_value="csv", help="Print CSV.")
@_as_of_option
@pass_context
def people(ctx: Context, filter_: str | None, tier: str | None, fmt: str | None, as_of: str | None) -> None:
    """The people you keep in touch with: last contact, rhythm, when each is due."""
    from syncd import engine, job
    from syncd.peoplelist import person_record, select

    config = ctx.config()
    with job.open_store() as store:
        now, historical = job.refreshed_now(store, config, as_of)
        statuses = engine.people(store, config, now, as_of=historical)
    chosen = select(statuses, filter_, tier, now)
    records = [person_record(status) for status in chosen]
    if fmt == "json":
        click.echo(json.dumps(records, indent=2))
    elif fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=PEOPLE_FIELDS, extrasaction="ignore")
        writer.writeheader()
        for record in records:
            writer.writerow({**record, "addresses": " ".join(record["addresses"])})
        click.echo(out.getvalue(), nl=False)
    else:
        from syncd.peoplelist import table

        click.echo(table(records))


@cli.command()
@click.argument("person")
@_as_of_option
@pass_context
def why(ctx: Context, person: str, as_of: str | None) -> None:
    """The evidence for PERSON: last contact, the cadence rule, why a follow-up is or is not planned."""
    from syncd import job
    from syncd.people import resolve
    from syncd.why import explain

    config = ctx.config()
    with job.open_store() as store:
        now, historical = job.refreshed_now(store, config, as_of)
        key = resolve(store, config, person)
        for line in explain(store, config, key, now, as_of=historical):
            click.echo(line)


@cli.command()
@_as_of_option
@pass_context
def plan(ctx: Context, as_of: str | None) -> None:
    """What the next pull would create, update and delete in the follow-ups calendar (writes nothing)."""
    from syncd import engine, job, reconcile
    from syncd.accounts import open_target
    from syncd.due import due_followups

    config = ctx.config()
    with job.open_store() as store:
        now, historical = job.refreshed_now(store, config, as_of)
        statuses = engine.people(store, config, now, as_of=historical)
        due = due_followups(statuses, store, config, now)
        result = reconcile.reconcile(due, store, open_target(config), now, config.followups, dry_run=True)
    for line in result.describe(dry_run=True):
        click.echo(line)


# ---- the user's decisions ----------------------------------------------------------------------------


@cli.command(name="set")
@click.argument("person")
@click.option("--every", help="Keep in touch this often, e.g. 30d or 6w.")
@click.option("--tier", help="Put the person in this tier.")
@click.option("--note", help="A note shown in their follow-ups (their preferences).")
@click.option("--ignore/--unignore", default=None, help="Never remind about this person (or undo).")
@pass_context
def set_(ctx: Context, person: str, every: str | None, tier: str | None, note: str | None, ignore: bool | None) -> None:
    """Set PERSON's cadence, tier, note, or ignore them."""
    from connectors.settings import parse_duration
    from syncd import job
    from syncd.people import resolve, set_person

    config = ctx.config()
    if tier is not None and tier not in {t.name for t in config.tiers}:
        raise UsageError(f"no tier named '{tier}' in the configuration")
    try:
        every_td = parse_duration(every) if every else None
    except ValueError as exc:
        raise UsageError(f"--every: {exc}") from None
    with job.open_store() as store:
        key = resolve(store, config, person)
        set_person(store, key, every=every_td, tier=tier, note=note, ignore=ignore)
    click.echo(f"{key}: updated")


@cli.command()
@click.argument("a")
@click.argument("b")
@pass_context
def merge(ctx: Context, a: str, b: str) -> None:
    """Merge person B into person A (one person, several addresses)."""
    from syncd import job
    from syncd.people import merge as merge_people
    from syncd.people import resolve

    config = ctx.config()
    with job.open_store() as store:
        key_a, key_b = resolve(store, config, a), resolve(store, config, b)
        merge_people(store, key_a, key_b)
    click.echo(f"merged {key_b} into {key_a}")


@cli.command()
@click.argument("address")
@pass_context
def unmerge(ctx: Context, address: str) -> None:
    """Split ADDRESS off the person it was merged into."""
    from syncd import job
    from syncd.people import unmerge as unmerge_address

    ctx.config()
    with job.open_store() as store:
        unmerge_address(store, address)
    click.echo(f"{address}: now a person of its own")


@cli.command()
@click.argument("person")
@click.option("--on", "on", required=True, metavar="DATE", help="The day of the follow-up (YYYY-MM-DD).")
@click.option("--note", help="What it is about.")
@pass_context
def remind(ctx: Context, person: str, on: str, note: str | None) -> None:
    """A one-off follow-up with PERSON on DATE (e.g. after a project ends)."""
    from syncd import job
    from syncd.people import add_reminder, resolve

    config = ctx.config()
    day = job.parse_day(on)
    with job.open_store() as store:
        key = resolve(store, config, person)
        add_reminder(store, key, day, note)
    click.echo(f"{key}: follow-up on {day.isoformat()}; the next pull puts it in the calendar")


# ---- the sample ----------------------------------------------------------------------------------------


@cli.command()
@click.option("--dir", "directory", type=click.Path(path_type=Path), default=Path("syncd-sample"),
              show_default=True, help="Where the sample data, its state and its follow-ups go.")
@click.pass_context
def sample(click_ctx: click.Context, directory: Path) -> None:
    """Run the whole job on a bundled synthetic mailbox and calendar (no account needed)."""
    from syncd.sample import write_sample

    directory = directory.resolve()
    config_path = write_sample(directory)
    os.environ["SYNCD_STATE_DIR"] = str(directory / "state")
    ctx: Context = click_ctx.obj
    ctx.config_path = config_path
    click.echo(f"sample data and config in {directory}")
    anchor = date.fromisoformat((directory / "anchor").read_text().strip())
    as_of = None if anchor == date.today() else anchor.isoformat()
    click_ctx.invoke(pull, account=None, dry_run=False, force=False, as_of=as_of)
    click.echo("")
    click_ctx.invoke(people, filter_=None, tier=None, fmt=None, as_of=as_of)
    click.echo(f"\nfollow-ups written to {directory / 'followups.ics'} (import or subscribe in any calendar app)")
    click.echo(f"try: SYNCD_STATE_DIR={directory / 'state'} syncd --config {config_path} why alice")


# ---- the service ----------------------------------------------------------------------------------------

cli.add_command(auth_cli.auth)
cli.add_command(service_cli.run)
cli.add_command(service_cli.install_units)


# ---- the error boundary ------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    show_traceback = "--traceback" in args
    try:
        cli.main(args=args, prog_name="syncd", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("syncd: interrupted", err=True)
        sys.exit(ExitCode.INTERRUPTED)
    except click.ClickException as exc:
        exc.show()
        sys.exit(ExitCode.USAGE)
    except SyncdError as exc:
        if show_traceback:
            raise
        for line in str(exc).splitlines() or [type(exc).__name__]:
            click.echo(f"syncd: {line}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("syncd: interrupted; what was committed is kept, the next pull resumes", err=True)
        sys.exit(ExitCode.INTERRUPTED)
    except Exception as exc:  # the boundary: anything unexpected is still one sentence
        if show_traceback:
            raise
        click.echo(f"syncd: internal error: {type(exc).__name__}: {exc} (run with --traceback for details)", err=True)
        sys.exit(ExitCode.INTERNAL)

