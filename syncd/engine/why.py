"""``syncd why PERSON``: the evidence behind a person's standing, in words (strength and its parts, the
network they are in, the rhythm, why a follow-up is or is not due)."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from syncd.config import Config
from syncd.engine import owners, strength
from syncd.engine.refresh import people
from syncd.engine.status import Evidence, PersonStatus
from syncd.store import Store


def _where(store: Store, evidence: Evidence) -> str:
    seen = store.synced.where_seen(evidence.interaction_id)
    return f" [{seen[0]}: {seen[1]}]" if seen else ""


def _line(store: Store, label: str, evidence: Evidence | None) -> str:
    if evidence is None:
        return f"  {label}: none"
    subject = f' "{evidence.subject}"' if evidence.subject else ""
    return f"  {label}: {evidence.at.strftime('%Y-%m-%d %H:%M')} UTC, {evidence.kind}{subject}{_where(store, evidence)}"


@dataclasses.dataclass
class Explanation:
    """``syncd why``'s evidence: the lines about the person, then (after what the plan does with their
    follow-ups, which the planner adds: ``syncd.plan.forecast``) the closing notes."""

    lines: list[str]
    status: PersonStatus | None = None  # None: not a listed person
    everyone: list[PersonStatus] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)


def explain(store: Store, config: Config, key: str, now: datetime, historical: bool = False) -> Explanation:
    you = owners.find(store, config)
    if key in you.why:
        return Explanation([f"{key} is one of your own addresses: {you.why[key]}"])
    everyone = people(store, config, now, historical=historical)
    status = next((s for s in everyone if s.key == key), None)
    if status is None:
        return Explanation([f"{key}: no qualifying contact (bulk, role address, over the recipient cap, or only cc'd)"])
    lines = [f"{status.name} <{status.key}>", f"  addresses: {', '.join(status.addresses)}"]
    if status.known_since is not None:
        lines.append(_address_book(status))
    lines.append(
        "  relationship: yes (you wrote to them or met them, or added them)"
        if status.relationship
        else "  relationship: no (they only wrote to you)" if status.last_inbound is not None
        else "  relationship: no (only in your address book)"
    )
    lines.append(_line(store, "last contact", status.last_contact))
    lines.append(_line(store, "last outbound", status.last_outbound))
    lines.append(_line(store, "last inbound", status.last_inbound))
    lines.append(_line(store, "last meeting", status.last_meeting))
    lines.append(f"  distinct contact days: {status.contact_days}")
    lines.append(f"  strength {status.strength:.2f}: {strength.explain(status.parts, now)}")
    lines.append(f"  network: {_network(status)}")
    if status.tier:
        lines.append(f"  tier: {status.tier}")
    lines.append(f"  cadence: every {status.every_days} d — {status.cadence_rule}")
    if status.next_meeting:
        lines.append(f"  next meeting: {status.next_meeting.strftime('%Y-%m-%d %H:%M')} UTC")
    if status.note:
        lines.append(f"  note: {status.note}")
    for one_off in status.one_offs:
        lines.append(f"  one-off on {one_off.on.isoformat()}" + (f": {one_off.note}" if one_off.note else ""))
    due = f"due {status.due.isoformat()}" if status.due else "no due date"
    lines.append(f"  {due}: {'reminded' if status.remind else 'no follow-up'} — {status.reason}")
    notes = []
    suggestions = _same_name(store, status.name, set(status.addresses))
    if suggestions:
        notes.append(f"  same name on other addresses (see 'syncd merge --suggest'): {', '.join(suggestions)}")
    return Explanation(lines, status, everyone, notes)


def _network(status: PersonStatus) -> str:
    if status.group:
        return "a list, desk or shared address: listed with --all, never reminded"
    if not status.kept_warm:
        return "small network: listed and findable, not reminded"
    if status.lapsed:
        return "kept warm, but lapsed far past the rhythm (syncd people --lapsed)"
    return "kept warm: reminded when due"


def _address_book(status: PersonStatus) -> str:
    parts = [f"card first read {status.known_since.date() if status.known_since else '?'}"]
    if status.organisation:
        parts.append(f"organisation {status.organisation}")
    if status.groups:
        parts.append(f"groups {', '.join(status.groups)}")
    if status.birthday:
        parts.append(f"birthday {status.birthday}")
    return f"  address book: {'; '.join(parts)}"


def _same_name(store: Store, name: str, own: set[str]) -> list[str]:
    """Addresses with the same display name: suggested merges, never applied by themselves."""
    if not name or "@" in name:
        return []
    return sorted(store.synced.addresses_named(name) - own)
