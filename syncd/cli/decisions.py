"""The user's decisions: ``syncd set``, ``merge``, ``unmerge`` and ``remind``."""

from __future__ import annotations

from datetime import date, timedelta

import click

from syncd.cli.context import Context, day_option, duration_option, pass_context
from syncd.errors import UsageError


@click.command(name="set")
@click.argument("person")
@click.option("--every", callback=duration_option, help="Keep in touch this often, e.g. 30d or 6w.")
@click.option("--tier", help="Put the person in this tier.")
@click.option("--note", help="A note shown in their follow-ups (their preferences).")
@click.option("--ignore/--unignore", default=None, help="Never remind about this person (or undo).")
@pass_context
def set_(
    ctx: Context, person: str, every: timedelta | None, tier: str | None, note: str | None, ignore: bool | None
) -> None:
    """Set PERSON's cadence, tier, note, or ignore them."""
    from syncd.engine.lookup import resolve
    from syncd.store import open_store

    config = ctx.config()
    if tier is not None and tier not in {t.name for t in config.tiers}:
        raise UsageError(f"no tier named '{tier}' in the configuration")
    with open_store() as store:
        key = resolve(store, config, person)
        store.decisions.set_person(key, every=every, tier=tier, note=note, ignore=ignore)
    click.echo(f"{key}: updated")


@click.command()
@click.argument("a")
@click.argument("b")
@pass_context
def merge(ctx: Context, a: str, b: str) -> None:
    """Merge person B into person A (one person, several addresses)."""
    from syncd.engine.lookup import resolve
    from syncd.store import open_store

    config = ctx.config()
    with open_store() as store:
        key_a, key_b = resolve(store, config, a), resolve(store, config, b)
        store.decisions.merge(key_a, key_b)
    click.echo(f"merged {key_b} into {key_a}")


@click.command()
@click.argument("address")
@pass_context
def unmerge(ctx: Context, address: str) -> None:
    """Split ADDRESS off the person it was merged into."""
    from syncd.store import open_store

    ctx.config()
    with open_store() as store:
        store.decisions.unmerge(address)
    click.echo(f"{address}: now a person of its own")


@click.command()
@click.argument("person")
@click.option("--on", "on", required=True, metavar="DATE", callback=day_option,
              help="The day of the follow-up (YYYY-MM-DD).")
@click.option("--note", help="What it is about.")
@pass_context
def remind(ctx: Context, person: str, on: date, note: str | None) -> None:
    """A one-off follow-up with PERSON on DATE (e.g. after a project ends)."""
    from syncd.engine.lookup import resolve
    from syncd.store import open_store

    config = ctx.config()
    with open_store() as store:
        key = resolve(store, config, person)
        store.decisions.add_reminder(key, on, note)
    click.echo(f"{key}: follow-up on {on.isoformat()}; the next pull puts it in the calendar")
