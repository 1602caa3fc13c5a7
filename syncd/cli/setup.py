"""Setting up: ``syncd init``, ``syncd config check|schema`` and ``syncd sample``."""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path

import click

from syncd.cli.context import Context, pass_context
from syncd.errors import UsageError


@click.command()
@pass_context
def init(ctx: Context) -> None:
    """Write a starter configuration file (never overwrites one)."""
    from syncd.config.starter import STARTER_CONFIG
    from syncd.paths import find_config_path

    path = find_config_path(ctx.config_path)
    if path.exists():
        raise UsageError(f"{path} already exists; edit it, or pass --config NEWPATH")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(STARTER_CONFIG, encoding="utf-8")
    click.echo(f"wrote {path}; add an account, then run 'syncd config check' and 'syncd pull'")


@click.group(name="config")
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
    from syncd.config.schema import json_schema

    click.echo(json.dumps(json_schema(), indent=2))


@click.command()
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
    as_of = None if anchor == date.today() else anchor
    from syncd.cli.people import people
    from syncd.cli.pull import pull

    click_ctx.invoke(pull, account=None, dry_run=False, force=False, as_of=as_of)
    click.echo("")
    click_ctx.invoke(people, filter_=None, tier=None, sort="due", fmt=None, as_of=as_of)
    click.echo(f"\nfollow-ups written to {directory / 'followups.ics'} (import or subscribe in any calendar app)")
    click.echo(f"try: SYNCD_STATE_DIR={directory / 'state'} syncd --config {config_path} why alice")
