"""Likely duplicates of one person, for you to merge or not (docs/rules.md#merge-suggestions).

Never applied by syncd: ``syncd merge --suggest`` lists them with their evidence, ``--accept N`` merges
one, ``--reject N`` keeps it from being suggested again. The evidence, any of:

* the same display name (two words at least, compared without regard to case and word order);
* on one domain, local parts equal once punctuation and initials are set aside
  (``first.last`` / ``firstlast`` / ``first.m.last``), or the same last name with initials that fit
  (``m..last`` beside ``michael.last``);
* the same local part on two related domains: one a subdomain of the other (``ect.enron.com`` /
  ``enron.com``), or one name extending the other (``company.com`` / ``companyenergy.com``).

Only people are compared (lists and desks are not), and only pairs where at least one side is a
relationship: a duplicate of someone you never wrote to matters to nobody.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections import defaultdict
from collections.abc import Iterable
from typing import TypeVar

from connectors.displaynames import local_words, name_words
from syncd.engine.status import PersonStatus

T = TypeVar("T")
BUCKET_LIMIT = 40  # a bucket this large is a common word, not a person (every "smith" of a company)
MIN_LOCAL = 4  # shorter local parts ("al", "bob") say too little on their own


@dataclasses.dataclass(frozen=True)
class Suggestion:
    keep: PersonStatus  # the stronger one: its key stays the person's key
    other: PersonStatus
    evidence: tuple[str, ...]

    @property
    def pair(self) -> tuple[str, str]:
        return _key(self.keep, self.other)


def related_domains(a: str, b: str) -> bool:
    if a == b:
        return False
    if a.endswith("." + b) or b.endswith("." + a):
        return True
    label_a, label_b = a.split(".")[-2:][0], b.split(".")[-2:][0]
    shorter, longer = sorted((label_a, label_b), key=len)
    return len(shorter) >= 4 and longer.startswith(shorter) and a.rsplit(".", 1)[-1] == b.rsplit(".", 1)[-1]


def _compact(words: list[str]) -> str:
    return "".join(w for w in words if len(w) > 1)


def _initials_fit(short: list[str], long: list[str]) -> bool:
    """``short``'s first names are ``long``'s or their initials: m..last / michael.last."""
    return all(any(w == v or (len(w) == 1 and v.startswith(w)) for v in long) for w in short)


def address_evidence(a: str, b: str) -> str | None:
    """Why two addresses may be one person, or None."""
    local_a, _, domain_a = a.partition("@")
    local_b, _, domain_b = b.partition("@")
    words_a, words_b = local_words(a), local_words(b)
    if domain_a == domain_b:
        if len(_compact(words_a)) >= MIN_LOCAL and _compact(words_a) == _compact(words_b):
            return f"{local_a}@ and {local_b}@ are one name but for punctuation and initials"
        if (len(words_a) >= 2 and len(words_b) >= 2 and words_a[-1] == words_b[-1] and len(words_a[-1]) >= 3
                and (_initials_fit(words_a[:-1], words_b[:-1]) or _initials_fit(words_b[:-1], words_a[:-1]))):
            return f"{local_a}@ and {local_b}@ share the last name {words_a[-1]!r}, with initials that fit"
        return None
    if local_a == local_b and len(local_a) >= MIN_LOCAL and related_domains(domain_a, domain_b):
        return f"the same {local_a}@ on {domain_a} and {domain_b}"
    return None


def suggestions(statuses: Iterable[PersonStatus], rejected: set[tuple[str, str]]) -> list[Suggestion]:
    """Every likely duplicate pair, the strongest first."""
    people = [s for s in statuses if not s.group]
    found: dict[tuple[str, str], list[str]] = defaultdict(list)
    by_name: dict[tuple[str, ...], list[PersonStatus]] = defaultdict(list)
    for status in people:
        words = tuple(sorted(name_words(status.name)))
        if len(words) >= 2 and "@" not in status.name:
            by_name[words].append(status)
    for group in by_name.values():
        for one, two in _pairs(group):
            found[_key(one, two)].append(f"both are named '{one.name}'")
    owner_of = {address: status for status in people for address in status.addresses}
    buckets: dict[tuple[str, str], list[str]] = defaultdict(list)
    for address in owner_of:
        local = local_words(address)
        domain = address.partition("@")[2]
        buckets[("compact", _compact(local) + "@" + domain)].append(address)
        if len(local) >= 2:
            buckets[("last", local[-1] + "@" + domain)].append(address)
        buckets[("local", address.partition("@")[0])].append(address)
    for addresses in buckets.values():
        for a, b in _pairs(sorted(set(addresses))):
            one, two = owner_of[a], owner_of[b]
            why = address_evidence(a, b) if one.key != two.key else None
            if why and why not in found[_key(one, two)]:
                found[_key(one, two)].append(why)
    by_key = {status.key: status for status in people}
    out = []
    for (a, b), evidence in found.items():
        one, two = by_key[a], by_key[b]
        if not evidence or (a, b) in rejected or not (one.relationship or two.relationship):
            continue
        keep, other = sorted((one, two), key=lambda s: (-s.strength, -s.contact_days, s.key))
        out.append(Suggestion(keep, other, tuple(evidence)))
    return sorted(out, key=lambda s: (-max(s.keep.strength, s.other.strength), s.keep.key, s.other.key))


def _pairs(items: list[T]) -> Iterable[tuple[T, T]]:
    if len(items) > BUCKET_LIMIT:
        return ()
    return itertools.combinations(items, 2)


def _key(one: PersonStatus, two: PersonStatus) -> tuple[str, str]:
    return (one.key, two.key) if one.key < two.key else (two.key, one.key)
