"""The user's decisions: ``syncd set``, ``merge`` (and its suggestions), ``unmerge`` and ``remind``."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import TYPE_CHECKING

import click

from syncd.cli.context import Context, as_of_option, day_option, duration_option, pass_context
from syncd.errors import UsageError

if TYPE_CHECKING:
    from syncd.config import Config
    from syncd.engine.status import PersonStatus


@click.command(name="set")
@click.argument("person")
@click.option("--every", callback=duration_option, help="Keep in touch this often, e.g. 30d or 6w.")
@click.option("--tier", help="Put the person in this tier.")
@click.option("--note", help="A note shown in their follow-ups (their preferences).")
@click.option("--name", help="The name to show for them (instead of the one their mail gives).")
@click.option("--ignore/--unignore", default=None, help="Never remind about this person (or undo).")
@as_of_option
@pass_context
def set_(
    ctx: Context, person: str, every: timedelta | None, tier: str | None, note: str | None, name: str | None,
    ignore: bool | None, as_of: date | None,
) -> None:
    """Set PERSON's cadence, tier, note or name, or ignore them; says when they are due next."""
    from syncd import engine, pipeline
    from syncd.engine.lookup import resolve
    from syncd.store import open_store

    config = ctx.config()
    if tier is not None and tier not in {t.name for t in config.tiers}:
        raise UsageError(f"no tier named '{tier}' in the configuration")
    with open_store() as store:
        key = resolve(store, config, person)
        store.decisions.set_person(key, every=every, tier=tier, note=note, ignore=ignore, name=name or None)
        now, historical = pipeline.refreshed_now(store, config, as_of)
        status = next((s for s in engine.people(store, config, now, historical=historical) if s.key == key), None)
    click.echo(f"{key}: updated; {_standing(status)}")


def _standing(status: PersonStatus | None) -> str:
    """What a decision leaves: the rhythm and the next due date, or why there is none."""
    if status is None:
        return "not listed (no qualifying contact)"
    rhythm = f"every {status.every_days} d ({status.cadence_rule})" if status.every_days else "no rhythm"
    if status.remind and status.due is not None:
        return f"{rhythm}; next follow-up due {status.due.isoformat()}"
    return f"{rhythm}; no follow-up: {status.reason}"


@click.command()
@click.argument("people", nargs=-1, metavar="[A B]")
@click.option("--suggest", is_flag=True, help="List likely duplicates with their evidence (nothing is merged).")
@click.option("--accept", type=int, metavar="N", help="With --suggest: merge suggestion N.")
@click.option("--reject", type=int, metavar="N", help="With --suggest: never suggest N again.")
@click.option("--json", "as_json", is_flag=True, help="With --suggest: print JSON.")
@as_of_option
@pass_context
def merge(ctx: Context, people: tuple[str, ...], suggest: bool, accept: int | None, reject: int | None,
          as_json: bool, as_of: date | None) -> None:
    """Merge person B into person A (one person, several addresses); or, with --suggest, see likely
    duplicates and take one (--accept N) or turn one down (--reject N). Nothing is merged without you."""
    from syncd.engine.lookup import resolve
    from syncd.store import open_store

    if not suggest:
        if accept is not None or reject is not None or as_json:
            raise UsageError("--accept, --reject and --json go with --suggest")
        if len(people) != 2:
            raise UsageError("name two people: syncd merge A B (or see suggestions: syncd merge --suggest)")
        config = ctx.config()
        with open_store() as store:
            key_a, key_b = resolve(store, config, people[0]), resolve(store, config, people[1])
            store.decisions.merge(key_a, key_b)
        click.echo(f"merged {key_b} into {key_a}")
        return
    if people:
        raise UsageError("--suggest takes no people; it lists them")
    if accept is not None and reject is not None:
        raise UsageError("take one suggestion at a time: --accept N or --reject N")
    _suggestions(ctx.config(), accept, reject, as_json, as_of)


def _suggestions(config: Config, accept: int | None, reject: int | None, as_json: bool, as_of: date | None) -> None:
    from syncd import engine, pipeline
    from syncd.engine.suggest import suggestions
    from syncd.store import open_store

    with open_store() as store:
        now, historical = pipeline.refreshed_now(store, config, as_of)
        found = suggestions(engine.people(store, config, now, historical=historical),
                            store.decisions.rejected_suggestions())
        chosen = accept if accept is not None else reject
        if chosen is not None:
            if not 1 <= chosen <= len(found):
                raise UsageError(f"there is no suggestion {chosen} (see 'syncd merge --suggest': 1..{len(found)})")
            picked = found[chosen - 1]
            if accept is not None:
                store.decisions.merge(picked.keep.key, picked.other.key)
                click.echo(f"merged {picked.other.key} into {picked.keep.key} ({picked.keep.name})")
            else:
                store.decisions.reject_suggestion(*picked.pair)
                click.echo(f"{picked.keep.key} and {picked.other.key} will not be suggested again")
            return
    if as_json:
        click.echo(json.dumps([
            {"n": n, "keep": s.keep.key, "merge": s.other.key, "names": [s.keep.name, s.other.name],
             "strength": [s.keep.strength, s.other.strength], "evidence": list(s.evidence)}
            for n, s in enumerate(found, 1)
        ], indent=2))
        return
    if not found:
        click.echo("no likely duplicates")
    for n, s in enumerate(found, 1):
        click.echo(f"{n}. {s.keep.name} <{s.keep.key}> + {s.other.name} <{s.other.key}>: {'; '.join(s.evidence)}")
    if found:
        click.echo("take one: syncd merge --suggest --accept N (or --reject N); nothing is merged without you")


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
@as_of_option
@pass_context
def remind(ctx: Context, person: str, on: date, note: str | None, as_of: date | None) -> None:
    """A one-off follow-up with PERSON on DATE (e.g. after a project ends): it lands on that day
    (the next working day), whatever else is due, and stands in for a regular one due within 14 days."""
    from syncd import pipeline
    from syncd.engine.lookup import resolve
    from syncd.plan.placement import landing
    from syncd.store import open_store

    config = ctx.config()
    now, _ = pipeline.resolve_now(as_of)
    with open_store() as store:
        key = resolve(store, config, person)
        store.decisions.add_reminder(key, on, note)
    click.echo(f"{key}: one-off on {on.isoformat()}; {landing(on, now, config.followups)}")
