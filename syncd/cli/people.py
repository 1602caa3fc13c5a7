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
    }


def select(statuses: list[PersonStatus], filter_: str | None, tier: str | None, now: datetime) -> list[PersonStatus]:
    today = now.date()
    chosen = [s for s in statuses if filter_ == "all" or s.relationship]
    if filter_ == "due":
        chosen = [s for s in chosen if s.remind and s.due is not None and s.due <= today]
    elif filter_ == "overdue":
        chosen = [s for s in chosen if s.remind and s.due is not None and s.due < today]
    elif filter_ == "dormant":
        chosen = [s for s in chosen if s.dormant]
    if tier is not None:
        chosen = [s for s in chosen if s.tier == tier]
    # Most overdue first, then by name: the order a person works through their list.
    return sorted(chosen, key=lambda s: (s.due is None, s.due or today, s.name.lower()))


def table(records: list[dict[str, Any]]) -> str:
    if not records:
        return "nobody matches"
    rows = [("NAME", "LAST CONTACT", "EVERY", "DUE", "WHY")]
    for record in records:
        last = (record["last_contact"] or "-")[:10]
        every = f"{record['every_days']}d" if record["every_days"] else "-"
        rows.append((record["name"][:28], last, every, record["due"] or "-", record["reason"]))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return "\n".join(
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:4])) + "  " + row[4] for row in rows
    )


PEOPLE_FIELDS = [
    "name", "addresses", "last_contact", "last_outbound", "last_inbound", "last_meeting", "tier", "every_days",
    "due", "reason",
]


@click.command()
@click.option("--due", "filter_", flag_value="due", help="Only people due now or within the horizon.")
@click.option("--overdue", "filter_", flag_value="overdue", help="Only people past their due date.")
@click.option("--dormant", "filter_", flag_value="dormant", help="Only dormant relationships.")
@click.option("--all", "filter_", flag_value="all", help="Everyone, relationships or not.")
@click.option("--tier", help="Only people in this tier.")
@click.option("--json", "fmt", flag_value="json", help="Print JSON (the public contract; see README).")
@click.option("--csv", "fmt", flag_value="csv", help="Print CSV.")
@as_of_option
@pass_context
def people(ctx: Context, filter_: str | None, tier: str | None, fmt: str | None, as_of: date | None) -> None:
    """The people you keep in touch with: last contact, rhythm, when each is due."""
    from syncd import engine, pipeline
    from syncd.store import open_store

    config = ctx.config()
    with open_store(read_only_ok=True) as store:
        now, historical = pipeline.refreshed_now(store, config, as_of)
        statuses = engine.people(store, config, now, historical=historical)
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
        click.echo(table(records))


@click.command()
@click.argument("person")
@as_of_option
@pass_context
def why(ctx: Context, person: str, as_of: date | None) -> None:
    """The evidence for PERSON: last contact, the cadence rule, why a follow-up is or is not planned."""
    from syncd import pipeline
    from syncd.engine.lookup import resolve
    from syncd.engine.why import explain
    from syncd.store import open_store

    config = ctx.config()
    with open_store(read_only_ok=True) as store:
        now, historical = pipeline.refreshed_now(store, config, as_of)
        key = resolve(store, config, person)
        for line in explain(store, config, key, now, historical=historical):
            click.echo(line)
