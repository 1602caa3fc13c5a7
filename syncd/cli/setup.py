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
@click.option("--groups", "groups_only", is_flag=True,
              help="Print a starter tier for each address-book group found by the last pull (writes nothing).")
@pass_context
def init(ctx: Context, groups_only: bool) -> None:
    """Write a starter configuration file (never overwrites one), with a starter tier offered for each
    group of your address books once they have been pulled."""
    from syncd.config.starter import STARTER_CONFIG
    from syncd.paths import find_config_path

    path = find_config_path(ctx.config_path)
    if groups_only:
        offered, groups = _group_tiers(ctx, path)
        if offered:
            click.echo(offered, nl=False)
        elif groups:
            click.echo(f"every group of your address books ({', '.join(sorted(groups))}) is named by a tier already")
        else:
            click.echo("no address-book groups yet: add an address book (provider = \"vcard\" or \"carddav\", or "
                       "contacts = true on a google or microsoft account) and pull")
        return
    if path.exists():
        raise UsageError(f"{path} already exists; edit it, or pass --config NEWPATH "
                         "('syncd init --groups' prints starter tiers for your address-book groups)")
    path.parent.mkdir(parents=True, exist_ok=True)
    offered, _ = _group_tiers(ctx, None)
    path.write_text(STARTER_CONFIG + (f"\n{offered}" if offered else ""), encoding="utf-8")
    click.echo(f"wrote {path}; add an account, then run 'syncd config check' and 'syncd pull'")
    if not offered:
        click.echo("once an address book is pulled, 'syncd init --groups' offers a starter tier for each of its groups")


def _group_tiers(ctx: Context, config_path: Path | None) -> tuple[str, dict[str, int]]:
    """Starter tiers for the address-book groups the state knows that the configuration (if any) names in no
    tier, and every group found (name → cards)."""
    from syncd.config.starter import starter_tiers
    from syncd.paths import state_dir
    from syncd.store import DB_NAME, open_store

    if not (state_dir() / DB_NAME).exists():
        return "", {}
    named: list[str] = []
    tiers: list[str] = []
    if config_path is not None and config_path.exists():
        config = ctx.config()
        named = [group for tier in config.tiers for group in tier.groups]
        tiers = [tier.name for tier in config.tiers]
    with open_store() as store:
        groups = store.cards.group_sizes()
    return starter_tiers(groups, named, tiers), groups


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
