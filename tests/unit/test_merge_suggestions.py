"""Merge suggestions (docs/rules.md#merge-suggestions): likely duplicates with their evidence, never merged
without the user (the command line around them: tests/system/test_merge_cli.py)."""

from __future__ import annotations

import pytest

from connectors.base import Interaction
from syncd.engine.suggest import address_evidence, related_domains, suggestions
from tests.support.world import ME, World, ago, mail


@pytest.mark.parametrize(("a", "b"), [
    ("john.smith@x.com", "johnsmith@x.com"),
    ("john.smith@x.com", "john.m.smith@x.com"),
    ("m..driscoll@enron.com", "michael.driscoll@enron.com"),
    ("hall@enron.com", "c..hall@enron.com"),
    ("kimlee@company.com", "kimlee@companyenergy.com"),
    ("dscholt@ect.enron.com", "dscholt@enron.com"),
])
def test_evidence_that_two_addresses_are_one_person(a: str, b: str) -> None:
    assert address_evidence(a, b) is not None and address_evidence(b, a) is not None


@pytest.mark.parametrize(("a", "b"), [
    ("john.smith@x.com", "mary.smith@x.com"),  # the same last name, another first name
    ("j.smith@x.com", "mary.smith@x.com"),
    ("john.smith@x.com", "johnsmith@y.com"),  # unrelated domains
    ("kim@company.com", "kim@other.com"),
    ("bob@x.com", "bob@xy.com"),  # too short to mean anything
    ("kim@company.com", "kim@companyenergy.org"),  # another top-level domain
])
def test_no_evidence(a: str, b: str) -> None:
    assert address_evidence(a, b) is None


def test_related_domains() -> None:
    assert related_domains("ect.enron.com", "enron.com") and related_domains("company.com", "companyenergy.com")
    assert not related_domains("enron.com", "enron.com") and not related_domains("abc.com", "abcd.com")


def _named(sender: str, to: str, name: str, days: float) -> Interaction:
    return mail(sender, [to], ago(days), names={to: name})


def test_suggestions_list_duplicates_with_evidence_strongest_first_and_skip_what_you_turned_down() -> None:
    world = World()
    world.add(
        _named(ME, "sean.crandall@x.com", "Crandall, Sean", 5), mail("sean.crandall@x.com", [ME], ago(4)),
        _named(ME, "scrandall@home.example", "Sean Crandall", 30),
        mail(ME, ["john.smith@x.com"], ago(8)), mail(ME, ["johnsmith@x.com"], ago(9)),
        mail(ME, ["team@x.com"], ago(7)), mail(ME, ["team@x.com.example"], ago(6)),
        mail("kim@company.com", [ME], ago(3)), mail("kim@companyenergy.com", [ME], ago(2)),  # neither a relationship
    )
    people = list(world.people().values())
    found = suggestions(people, set())
    pairs = [(s.keep.key, s.other.key) for s in found]
    assert pairs == [("sean.crandall@x.com", "scrandall@home.example"), ("john.smith@x.com", "johnsmith@x.com")]
    assert found[0].evidence == ("both are named 'Sean Crandall'",)
    assert "one name but for punctuation" in found[1].evidence[0]
    assert suggestions(people, {("scrandall@home.example", "sean.crandall@x.com")})[0].keep.key == "john.smith@x.com"
