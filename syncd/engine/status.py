"""A person's standing, as the engine hands it to the CLI and the follow-ups: :class:`PersonStatus`.

Also its serialised form, which the engine keeps in the store between refreshes (``to_text`` and
``from_text``; the store holds the text without reading it).
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date, datetime
from typing import Any

from syncd.engine.strength import Parts


@dataclasses.dataclass(slots=True)
class Evidence:
    """The interaction that set one of a person's last-contact times (shown by ``syncd why``)."""

    interaction_id: int
    at: datetime
    kind: str  # outbound | inbound | meeting
    subject: str | None = None
    link: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class OneOff:
    """A one-off follow-up you asked for (``syncd remind PERSON --on DATE``)."""

    id: int
    on: date
    note: str | None = None


@dataclasses.dataclass(slots=True)
class PersonStatus:
    key: str  # the person's primary address; stable id used by decisions and follow-ups
    name: str
    addresses: tuple[str, ...]
    relationship: bool  # reciprocity met (an outbound contact or a meeting), or added by the user
    tier: str | None
    every_days: int | None  # the cadence; None when the person is never reminded
    cadence_rule: str  # which rule set the cadence, in words ("tier 'inner'", "learned rhythm: ...")
    last_contact: Evidence | None
    last_outbound: Evidence | None
    last_inbound: Evidence | None
    last_meeting: Evidence | None
    contact_days: int  # distinct days with a qualifying contact
    due: date | None  # last contact + cadence; None when no reminder applies
    remind: bool  # False for directory tier, ignored, dormant, meeting booked, not a relationship
    reason: str  # why due, or why not, in words
    note: str | None = None
    next_meeting: datetime | None = None
    ignored: bool = False
    dormant: bool = False
    parts: Parts = dataclasses.field(default_factory=Parts)  # the evidence behind ``strength``
    strength: float = 0.0  # 0..1 at the "now" it was read for (syncd.engine.strength)
    kept_warm: bool = True  # False: the small network, listed but not reminded (syncd.engine.network)
    group: bool = False  # a list, desk or shared mailbox: listed only with --all
    lapsed: bool = False  # overdue far past the rhythm: offered for review, few follow-ups a day
    one_offs: tuple[OneOff, ...] = ()  # your one-off reminders for the person (syncd remind)
    # From the user's address books (empty when no card holds any of their addresses):
    organisation: str | None = None
    groups: tuple[str, ...] = ()
    birthday: str | None = None  # 1970-04-12, or --04-12 without a year
    known_since: datetime | None = None  # when syncd first read one of their cards


# ---- the serialised form kept in the store ----------------------------------------------------------

_EVIDENCE = ("last_contact", "last_outbound", "last_inbound", "last_meeting")
_FIELDS = tuple(field.name for field in dataclasses.fields(PersonStatus))  # asked once, not once per person


def to_text(status: PersonStatus) -> str:
    # By hand: dataclasses.asdict deep-copies every value and was the slowest step of a full recompute.
    data: dict[str, Any] = {name: getattr(status, name) for name in _FIELDS}
    for name in _EVIDENCE:
        evidence = data[name]
        if evidence is not None:
            data[name] = {"interaction_id": evidence.interaction_id, "at": evidence.at.isoformat(),
                          "kind": evidence.kind, "subject": evidence.subject, "link": evidence.link}
    data["addresses"] = list(status.addresses)
    data["due"] = status.due.isoformat() if status.due else None
    data["next_meeting"] = status.next_meeting.isoformat() if status.next_meeting else None
    data["parts"] = status.parts.as_json()
    data["one_offs"] = [[o.id, o.on.isoformat(), o.note] for o in status.one_offs]
    data["groups"] = list(status.groups)
    data["known_since"] = status.known_since.isoformat() if status.known_since else None
    return json.dumps(data)


def from_text(text: str) -> PersonStatus:
    data = json.loads(text)
    for field in _EVIDENCE:
        if data[field] is not None:
            data[field] = Evidence(**{**data[field], "at": datetime.fromisoformat(data[field]["at"])})
    data["due"] = date.fromisoformat(data["due"]) if data["due"] else None
    data["next_meeting"] = datetime.fromisoformat(data["next_meeting"]) if data["next_meeting"] else None
    data["addresses"] = tuple(data["addresses"])
    data["parts"] = Parts(**data.get("parts", {}))
    data["one_offs"] = tuple(OneOff(i, date.fromisoformat(on), note) for i, on, note in data.get("one_offs", ()))
    data["groups"] = tuple(data.get("groups") or ())
    data["known_since"] = datetime.fromisoformat(data["known_since"]) if data.get("known_since") else None
    return PersonStatus(**data)
