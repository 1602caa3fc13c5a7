"""``syncd people`` and ``syncd why``: whom to list, how each person is printed (table, JSON, CSV), the evidence.

The JSON record is a public contract (README, "syncd people --json"): keys are only ever added.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from typing import Any

import click

from syncd.cli.context import Context, as_of_option, pass_context
from syncd.engine.status import Evidence, PersonStatus


def _iso(evidence: Evidence | None) -> str | None:
    return None if evidence is None else evidence.at.isoformat().replace("+00:00", "Z")


def person_record(status: PersonStatus) -> dict[str, Any]:
    return {
        "name": status.name,
        "key": status.key,
        "addresses": list(status.addresses),
        "last_contact": _iso(status.last_contact),
        "last_outbound": _iso(status.last_outbound),
        "last_inbound": _iso(status.last_inbound),
        "last_meeting": _iso(status.last_meeting),
        "tier": status.tier,
        "every_days": status.every_days,
        "cadence_rule": status.cadence_rule,
        "due": status.due.isoformat() if status.due else None,
        "remind": status.remind,
        "reason": status.reason,
        "relationship": status.relationship,
        "note": status.note,
        "strength": status.strength,
        "contact_days": status.contact_days,
        "kept_warm": status.kept_warm,
        "lapsed": status.lapsed,
        "group": status.group,
        "one_offs": [{"on": o.on.isoformat(), "note": o.note} for o in status.one_offs],
        "organisation": status.organisation,
        "groups": list(status.groups),
        "birthday": status.birthday,
    }


def fields() -> list[str]:
    """The keys of a record, in order (the CSV header, even for an empty list)."""
    blank = PersonStatus(
        key="", name="", addresses=(), relationship=False, tier=None, every_days=None, cadence_rule="",
        last_contact=None, last_outbound=None, last_inbound=None, last_meeting=None, contact_days=0, due=None,
        remind=False, reason="",
    )
    return list(person_record(blank))


def csv_row(record: dict[str, Any]) -> dict[str, Any]:
    """A JSON record as one CSV row: the same columns, addresses as space-separated text, one-offs as
    "DATE note" and groups (whose names may hold spaces) joined by "; "."""
    return {
        **record,
        "addresses": " ".join(record["addresses"]),
        "groups": "; ".join(record["groups"]),
        "one_offs": "; ".join(f"{o['on']} {o['note'] or ''}".strip() for o in record["one_offs"]),
    }


SORTS = ("due", "strength", "name")


def select(statuses: list[PersonStatus], filter_: str | None, tier: str | None, now: datetime,
           sort: str = "due", group: str | None = None) -> list[PersonStatus]:
    today = now.date()
    # Lists, desks and shared addresses only with --all (marked there), like people who only wrote to you.
    chosen = [s for s in statuses if filter_ == "all" or (s.relationship and not s.group)]
    if group is not None:  # address-book groups, in any case, as tiers match them
        chosen = [s for s in chosen if group.casefold() in {g.casefold() for g in s.groups}]
    if filter_ == "lapsed":
        chosen = [s for s in chosen if s.lapsed]
    elif filter_ == "due":
        chosen = [s for s in chosen if s.remind and s.due is not None and s.due <= today]
    elif filter_ == "overdue":
        chosen = [s for s in chosen if s.remind and s.due is not None and s.due < today]
    elif filter_ == "dormant":
        chosen = [s for s in chosen if s.dormant]
    if tier is not None:
        chosen = [s for s in chosen if s.tier == tier]
    if sort == "strength":
        return sorted(chosen, key=lambda s: (-s.strength, s.name.lower()))
    if sort == "name":
        return sorted(chosen, key=lambda s: (s.name.lower(), s.key))
    # Most overdue first, then by name: the order a person works through their list.
    return sorted(chosen, key=lambda s: (s.due is None, s.due or today, s.name.lower()))


def table(records: list[dict[str, Any]]) -> str:
    if not records:
        return "nobody matches"
    rows = [("NAME", "STRENGTH", "LAST CONTACT", "EVERY", "DUE", "WHY")]
    for record in records:
        last = (record["last_contact"] or "-")[:10]
        every = f"{record['every_days']}d" if record["every_days"] else "-"
        name = ("[group] " if record["group"] else "") + record["name"]
        why = "".join(f"one-off on {o['on']}; " for o in record["one_offs"]) + record["reason"]
        rows.append((name[:28], f"{record['strength']:.2f}", last, every, record["due"] or "-", why))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    return "\n".join(
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:5])) + "  " + row[5] for row in rows
    )


@click.command()
@click.option("--due", "filter_", flag_value="due", help="Only people due now or within the horizon.")
@click.option("--overdue", "filter_", flag_value="overdue", help="Only people past their due date.")
@click.option("--dormant", "filter_", flag_value="dormant", help="Only dormant relationships.")
@click.option("--lapsed", "filter_", flag_value="lapsed",
              help="Only relationships lapsed far past their rhythm: revive or let go.")
@click.option("--all", "filter_", flag_value="all", help="Everyone: people who only wrote to you, lists and desks too.")
@click.option("--tier", help="Only people in this tier.")
@click.option("--sort", type=click.Choice(SORTS), default="due", show_default=True, help="Order of the list.")
@click.option("--group", help="Only people in this address-book group (label, category, contact folder).")
@click.option("--json", "fmt", flag_value="json", help="Print JSON (the public contract; see README).")
@click.option("--csv", "fmt", flag_value="csv", help="Print CSV (the same columns as --json).")
@as_of_option
@pass_context
def people(
    ctx: Context, filter_: str | None, tier: str | None, sort: str, fmt: str | None, as_of: date | None,
    group: str | None = None,
) -> None:
    """The people you keep in touch with: strength, last contact, rhythm, when each is due."""
    from syncd import engine, pipeline
    from syncd.store import open_store

    config = ctx.config()
    with open_store(read_only_ok=True) as store:
        now, historical = pipeline.refreshed_now(store, config, as_of)
        statuses = engine.people(store, config, now, historical=historical)
    chosen = select(statuses, filter_, tier, now, sort, group)
    records = [person_record(status) for status in chosen]
    if fmt == "json":
        click.echo(json.dumps(records, indent=2))
    elif fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=fields())
        writer.writeheader()
        for record in records:
            writer.writerow(csv_row(record))
        click.echo(out.getvalue(), nl=False)
    else:
        click.echo(table(records))


@click.command()
@click.argument("person")
@as_of_option
@pass_context
def why(ctx: Context, person: str, as_of: date | None) -> None:
    """The evidence for PERSON: last contact, strength, the cadence rule, and what the plan does with their
    follow-ups (in the calendar when, written from when, waiting for room, dismissed)."""
    from syncd import pipeline
    from syncd.engine.lookup import resolve
    from syncd.engine.why import explain
    from syncd.plan import forecast
    from syncd.store import open_store

    config = ctx.config()
    with open_store(read_only_ok=True) as store:
        now, historical = pipeline.refreshed_now(store, config, as_of)
        key = resolve(store, config, person)
        found = explain(store, config, key, now, historical=historical)
        plan = forecast.lines(store, config, found.status, found.everyone, now) if found.status else []
    for line in [*found.lines, *plan, *found.notes]:
        click.echo(line)
