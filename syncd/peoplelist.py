"""``syncd people``: choosing whom to list and how each person is printed (table, JSON, CSV).

The JSON record is a public contract (README, "syncd people --json"): keys are only ever added.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from syncd.model import Evidence, PersonStatus


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
