"""Which addresses are the owner (docs/rules.md#owner-addresses): variants found in the mail, and a `me`
set on an archive that replaces its guess entirely."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from syncd import engine
from syncd.config import AccountConfig, Config
from syncd.engine import owners
from syncd.pull import pull_account
from syncd.store import Store
from tests.support.mailfactory import message, write_plain
from tests.support.world import ME, World, ago, config, mail

OWNER = "diana.scholtes@x.com"


def test_spellings_with_other_punctuation_on_the_same_domain_are_the_owner() -> None:
    assert owners.same_but_punctuation("diana_scholtes@x.com", OWNER)
    assert owners.same_but_punctuation("dianascholtes@x.com", OWNER)
    assert not owners.same_but_punctuation("diana.scholtes@y.com", OWNER)  # another domain
    assert not owners.same_but_punctuation("diana.schultes@x.com", OWNER)
    assert not owners.same_but_punctuation(OWNER, OWNER)


def test_a_variant_is_never_a_person_and_its_mail_is_yours() -> None:
    world = World(owners=(OWNER,))
    world.add(mail("diana_scholtes@x.com", ["bob@x.org"], ago(3)), mail("ann@x.org", ["dianascholtes@x.com"], ago(2)))
    found = world.people()
    assert "diana_scholtes@x.com" not in found and "dianascholtes@x.com" not in found
    assert found["bob@x.org"].last_outbound is not None  # sent from a variant: outbound
    assert found["ann@x.org"].last_inbound is not None  # written to a variant: inbound


def test_an_address_named_with_your_own_name_is_you() -> None:
    world = World(owners=(OWNER,))
    mine = mail(OWNER, ["bob@x.org"], ago(5), name="Scholtes, Diana")
    to_other = mail("bob@x.org", ["dscholt@old.example"], ago(4), names={"dscholt@old.example": "Diana Scholtes"})
    world.add(mine, to_other)
    you = owners.find(world.store, world.config)
    assert "dscholt@old.example" in you.addresses
    assert "Diana Scholtes" in you.why["dscholt@old.example"]
    assert world.person("bob@x.org").last_inbound is not None


def test_a_one_word_name_of_yours_makes_nobody_you() -> None:
    world = World(owners=(ME,))
    world.add(mail(ME, ["bob@x.org"], ago(5), name="Me"), mail("other@x.org", [ME], ago(4), name="Me"))
    assert owners.find(world.store, world.config).addresses == {ME}


def test_a_new_variant_is_said_once_in_the_summary() -> None:
    world = World(owners=(OWNER,))
    world.add(mail(OWNER, ["bob@x.org"], ago(5)))
    assert world.refresh().owner_variants == {}
    world.add(mail("diana_scholtes@x.com", ["bob@x.org"], ago(3)))
    stats = world.refresh()
    assert stats.full and set(stats.owner_variants) == {"diana_scholtes@x.com"}
    assert "counted as you from now on: diana_scholtes@x.com" in stats.describe()
    world.add(mail(OWNER, ["bob@x.org"], ago(1)))
    assert world.refresh().owner_variants == {}


def test_a_me_you_set_replaces_the_guess_and_gives_what_a_fresh_state_gives(tmp_path: Path) -> None:
    """The archive's sent folder is mostly the assistant's: the guess is wrong; then `me` is set."""
    root = tmp_path / "mail"
    assistant, owner = "Ann Assistant <ann@x.com>", f"Diana Scholtes <{OWNER}>"
    sent = [message(n, sender=assistant, to=f"Guest {n} <g{n}@y.org>") for n in range(1, 5)]
    sent += [message(n, sender=owner, to="Bob <bob@y.org>", date=f"Mon, {n - 3} Mar 2026 10:00:00 +0000")
             for n in range(5, 8)]
    write_plain(root, "sent", sent)
    write_plain(root, "inbox", [message(n, sender="Bob <bob@y.org>", to=owner,
                                        date=f"Tue, {n - 7} Mar 2026 11:00:00 +0000") for n in range(8, 10)])
    now = datetime(2026, 3, 10, tzinfo=UTC)

    def people(store: Store, account: AccountConfig) -> dict[str, object]:
        config = Config(accounts={"a": account})
        assert pull_account(store, account).error is None
        engine.refresh(store, config, now)
        return {s.key: (s.relationship, s.remind, s.last_contact) for s in engine.people(store, config, now)}

    guessed = Store(tmp_path / "guessed.sqlite3")
    before = people(guessed, AccountConfig("a", "maildir", root, (), True, {}))
    assert guessed.accounts.owner_addresses("a") == ["ann@x.com"]  # the wrong guess: the assistant's guests
    assert "g1@y.org" in before and "bob@y.org" not in before
    after = people(guessed, AccountConfig("a", "maildir", root, (OWNER,), True, {}))
    assert guessed.accounts.owner_addresses("a") == []  # dropped, not added to `me`
    fresh = people(Store(tmp_path / "fresh.sqlite3"), AccountConfig("a", "maildir", root, (OWNER,), True, {}))
    assert after == fresh and "bob@y.org" in fresh and "g1@y.org" not in fresh


@pytest.mark.parametrize("provider", ["google", "microsoft"])
def test_what_a_provider_reports_stays_whatever_me_says(provider: str) -> None:
    world = World(config(me=("alias@example.com",)), owners=())
    world.store.accounts.ensure("online", provider)
    world.store.accounts.set_owner_addresses("online", [ME])
    account = AccountConfig("online", provider, None, ("alias@example.com",), True, {})
    cfg = Config(accounts={"online": account})
    assert owners.find(world.store, cfg).why == {
        "alias@example.com": "'me' of account online", ME: "reported by the provider (account online)",
    }
