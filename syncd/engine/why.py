"""``syncd why PERSON``: the evidence behind a person's standing, in words."""

from __future__ import annotations

from datetime import datetime

from syncd.config import Config
from syncd.engine.refresh import people
from syncd.engine.status import Evidence
from syncd.store import Store


def _where(store: Store, evidence: Evidence) -> str:
    seen = store.synced.where_seen(evidence.interaction_id)
    return f" [{seen[0]}: {seen[1]}]" if seen else ""


def _line(store: Store, label: str, evidence: Evidence | None) -> str:
    if evidence is None:
        return f"  {label}: none"
    subject = f' "{evidence.subject}"' if evidence.subject else ""
    return f"  {label}: {evidence.at.strftime('%Y-%m-%d %H:%M')} UTC, {evidence.kind}{subject}{_where(store, evidence)}"


def explain(store: Store, config: Config, key: str, now: datetime, historical: bool = False) -> list[str]:
    statuses = {s.key: s for s in people(store, config, now, historical=historical)}
    status = statuses.get(key)
    if status is None:
        return [f"{key}: no qualifying contact (bulk, role address, over the recipient cap, or only cc'd)"]
    lines = [f"{status.name} <{status.key}>", f"  addresses: {', '.join(status.addresses)}"]
    lines.append(
        "  relationship: yes (you wrote to them or met them, or added them)"
        if status.relationship
        else "  relationship: no (they only wrote to you)"
    )
    lines.append(_line(store, "last contact", status.last_contact))
    lines.append(_line(store, "last outbound", status.last_outbound))
    lines.append(_line(store, "last inbound", status.last_inbound))
    lines.append(_line(store, "last meeting", status.last_meeting))
    lines.append(f"  distinct contact days: {status.contact_days}")
    if status.tier:
        lines.append(f"  tier: {status.tier}")
    lines.append(f"  cadence: every {status.every_days} d — {status.cadence_rule}")
    if status.next_meeting:
        lines.append(f"  next meeting: {status.next_meeting.strftime('%Y-%m-%d %H:%M')} UTC")
    if status.note:
        lines.append(f"  note: {status.note}")
    due = f"due {status.due.isoformat()}" if status.due else "no due date"
    verdict = "a follow-up is planned" if status.remind else "no follow-up"
    lines.append(f"  {due}: {verdict} — {status.reason}")
    suggestions = _same_name(store, status.name, set(status.addresses))
    if suggestions:
        lines.append(f"  same name on other addresses (merge with 'syncd merge'): {', '.join(suggestions)}")
    return lines


def _same_name(store: Store, name: str, own: set[str]) -> list[str]:
    """Addresses with the same display name: suggested merges, never applied by themselves."""
    if not name or "@" in name:
        return []
    return sorted(store.synced.addresses_named(name) - own)
