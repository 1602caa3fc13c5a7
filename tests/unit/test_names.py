"""Display names (docs/rules.md#display-names): how headers' names are read, paired with addresses
(X-From / X-To / X-cc), turned round, stored at ingestion with who wrote them, and chosen."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from connectors.displaynames import display_name, looks_like_group, name_fits, shown_name
from connectors.mailparse import parse_headers
from connectors.xheaders import entries, pair
from syncd.config import PersonConfig
from syncd.engine.names import choose
from syncd.store import Store
from syncd.store.schema import MIGRATIONS, statements
from tests.support.world import ME, NOW, World, ago, config, mail

DATE = b"Date: Mon, 2 Mar 2026 10:00:00 +0000\n"


@pytest.mark.parametrize(("raw", "shown"), [
    ("Scholtes, Diana", "Diana Scholtes"),
    ("Diana Scholtes/HOU/ECT@ECT", "Diana Scholtes"),
    ("Hall, Steve C. (Legal)", "Steve C. Hall"),
    ("Hackney, Mark W(Z39911)", "Mark W Hackney"),
    ("Williams III, Bill", "Bill Williams III"),
    ('"Woertz, Byron"', "Byron Woertz"),
    ("Richard Ring/HOU/EES@EES", "Richard Ring"),
    ("Sean Crandall", "Sean Crandall"),
    ("  Ann   Lee ", "Ann Lee"),
])
def test_names_are_shown_first_name_first(raw: str, shown: str) -> None:
    assert display_name(raw) == shown


@pytest.mark.parametrize("raw", [
    "", "lisa.will@powerex.com", "'premierpumpcompany@home.com'", "webmaster@cera.com@ENRON",
    "/O=ENRON/OU=NA/CN=RECIPIENTS/CN=DSCHOLT", "Crandall, Sean, Scholtes, Diana", "All Enron Worldwide",
    "DL-Portland Real Time Shift", "ISO Market Participants", "IPayIt Distribution Group@ENRON",
    "Outlook Migration Team", "Facilities Help Desk 1", "12345", ",",
])
def test_what_names_no_single_person(raw: str) -> None:
    assert display_name(raw) is None


def test_group_names_are_recognised_by_their_words() -> None:
    assert looks_like_group("Enron Transportation Services Everyone")
    assert looks_like_group("Sales Team") and looks_like_group("all staff")
    assert not looks_like_group("Diana Scholtes") and not looks_like_group("Tom Allen")


@pytest.mark.parametrize(("name", "address", "fits"), [
    ("Sean Crandall", "sean.crandall@enron.com", True),
    ("Sean Crandall", "scrandall@enron.com", True),
    ("Sean Crandall", "crandall.sean@enron.com", True),
    ("Sean Crandall", "seancrandall@x.org", True),
    ("Michael M. Driscoll", "m..driscoll@enron.com", True),
    ("John M Forney", "john_m_forney@enron.com", True),
    ("Sean Crandall", "diana.scholtes@enron.com", False),
    ("Sean Crandall", "crandall@enron.com", False),  # the last name alone could be anyone's
    ("Sean", "sean@enron.com", False),
])
def test_a_name_fits_an_address_it_spells(name: str, address: str, fits: bool) -> None:
    assert name_fits(name, address) is fits


# ---- X- headers -----------------------------------------------------------------------------------------


def test_exchange_entries_keep_the_comma_inside_last_first_names() -> None:
    value = ("'lisa.will@powerex.com', Crandall, Sean </O=ENRON/OU=NA/CN=RECIPIENTS/CN=Scranda>, "
             '"Woertz, Byron" <BWoertz@caiso.com>, Kilmer III, Robert </O=ENRON/OU=NA/CN=X>')
    assert entries(value) == [("", "lisa.will@powerex.com"), ("Crandall, Sean", None),
                              ('"Woertz, Byron"'.strip('"'), "bwoertz@caiso.com"), ("Kilmer III, Robert", None)]
    assert entries("Julie McCoy, Steve Klimesh") == [("Julie McCoy", None), ("Steve Klimesh", None)]


def test_pairing_by_carried_address_then_by_spelling_then_by_position() -> None:
    addresses = ["bwoertz@caiso.com", "x9@enron.com", "sean.crandall@enron.com", "kevin@other.org"]
    value = ("Crandall, Sean </O=ENRON/CN=S>, \"Woertz, Byron\" <BWoertz@caiso.com>, Hyatt, Kevin </O=ENRON/CN=K>, "
             "Nobody, Known </O=ENRON/CN=N>")
    named = pair(value, addresses)
    assert named[0] == "Woertz, Byron"  # its own address
    assert named[2] == "Crandall, Sean"  # spells sean.crandall
    # Two names and two addresses are left, in the same order: they pair by position.
    assert named[1] == "Hyatt, Kevin" and named[3] == "Nobody, Known"


def test_as_many_entries_as_addresses_pair_by_position() -> None:
    assert pair("Lee, Ann </O=X/CN=A>, Hyatt, Kevin </O=X/CN=K>", ["a@x.org", "k@x.org"]) == {
        0: "Lee, Ann", 1: "Hyatt, Kevin"}
    # ... unless an entry carries an address that is not the one at its place: then by the three steps.
    assert pair('Lee, Ann <k@x.org>, Hyatt, Kevin </O=X/CN=K>', ["a@x.org", "k@x.org"]) == {
        1: "Lee, Ann", 0: "Hyatt, Kevin"}


def test_no_pairing_by_position_when_the_counts_differ() -> None:
    named = pair("Hyatt, Kevin </O=ENRON/CN=K>, Lee, Ann </O=ENRON/CN=A>", ["k@x.org", "a@x.org", "c@x.org"])
    assert named == {}
    one = pair("Hyatt, Kevin </O=ENRON/CN=K>", ["k@x.org"])
    assert one == {0: "Hyatt, Kevin"}


def test_mail_gets_the_names_its_x_headers_carry() -> None:
    raw = (b"From: diana.scholtes@enron.com\nTo: sean.crandall@enron.com, hyatt@other.org\nCc: legal <.hall@enron.com>\n"
           b"X-From: Scholtes, Diana </O=ENRON/OU=NA/CN=RECIPIENTS/CN=DSCHOLT>\n"
           b"X-To: Crandall, Sean </O=ENRON/CN=S>, Hyatt, Kevin </O=ENRON/CN=K>\n"
           b"X-cc: Hall, Steve C. </O=ENRON/CN=H>\n" + DATE)
    interaction, _ = parse_headers(raw, "f/1")
    assert interaction is not None
    names = {p.address: p.name for p in interaction.participants}
    assert names == {"diana.scholtes@enron.com": "Scholtes, Diana", "sean.crandall@enron.com": "Crandall, Sean",
                     "hyatt@other.org": "Hyatt, Kevin", ".hall@enron.com": "Hall, Steve C."}


def test_a_header_name_of_two_words_beats_the_x_header() -> None:
    raw = b"From: Steve Hall <steve@x.org>\nTo: me@example.com\nX-From: Hall, Steven C.\n" + DATE
    interaction, _ = parse_headers(raw, "f/1")
    assert interaction is not None and interaction.participants[0].name == "Steve Hall"


# ---- stored at ingestion, chosen at recompute ------------------------------------------------------------


def test_names_are_stored_as_shown_with_who_wrote_them_and_never_for_group_or_role_addresses() -> None:
    world = World()
    names = {"sean@x.org": "Crandall, Sean", "team@x.org": "Sean's Team", "noreply@x.org": "Robot"}
    sent = mail(ME, ["sean@x.org", "team@x.org", "noreply@x.org"], ago(3), names=names)
    world.add(sent, mail("sean@x.org", [ME], ago(2), name="Sean C."))
    rows = set(world.store.db.execute("SELECT address, name, named_by, seen FROM address_names"))
    assert rows == {("sean@x.org", "Sean Crandall", ME, 1), ("sean@x.org", "Sean C.", "sean@x.org", 1)}
    assert shown_name("sean@x.org", "sean") is None  # a bare local part is no name


def test_your_own_spelling_wins_over_the_one_used_most() -> None:
    world = World()
    for days in range(1, 6):  # they call themselves "Bob" five times
        world.add(mail("bob@x.org", [ME], ago(days), name="Bob Builder"))
    world.add(mail(ME, ["bob@x.org"], ago(1), names={"bob@x.org": "Builder, Robert"}))
    assert world.person("bob@x.org").name == "Robert Builder"
    assert choose({"A B": [0, 9], "C D": [1, 1]}) == "C D"
    assert choose({}) is None


def test_your_decision_wins_over_every_header() -> None:
    world = World(config(people=(PersonConfig(("bob@x.org",), "Bobby"),)))
    world.add(mail(ME, ["bob@x.org"], ago(2)), mail("bob@x.org", [ME], ago(1), name="Bob Builder"))
    assert world.person("bob@x.org").name == "Bobby"
    world.store.decisions.set_person("bob@x.org", name="Robert")
    assert world.person("bob@x.org").name == "Robert"


def test_names_cost_nothing_at_recompute_they_are_not_read_from_participants() -> None:
    world = World()
    world.add(mail("bob@x.org", [ME], ago(2), name="Bob Builder"), mail(ME, ["bob@x.org"], ago(1)))
    world.store.db.execute("UPDATE participants SET name = NULL")  # the recompute must not need them
    assert world.full()["bob@x.org"].name == "Bob Builder"


def test_version_2_names_are_rebuilt_shown_and_with_their_writers(tmp_path: Path) -> None:
    path = tmp_path / "v2.sqlite3"
    db = sqlite3.connect(path)
    for script in MIGRATIONS[:2]:
        for statement in statements(script):
            db.execute(statement)
    db.execute("PRAGMA user_version = 2")
    db.execute("INSERT INTO interactions(id, kind, message_id, ts) VALUES (1, 'mail', 'm1', 1700000000)")
    db.executemany("INSERT INTO participants(interaction_id, address, name, role) VALUES (1, ?, ?, ?)", [
        (ME, "Me Myself", "from"), ("sean@x.org", "Crandall, Sean", "to"), ("team@x.org", "The Team", "cc"),
    ])
    db.execute("INSERT INTO engine_state(key, value) VALUES ('fingerprint', 'old')")
    db.commit()
    db.close()
    with Store(path) as store:
        rows = set(store.db.execute("SELECT address, name, named_by, seen FROM address_names"))
        assert rows == {(ME, "Me Myself", ME, 1), ("sean@x.org", "Sean Crandall", ME, 1)}
        assert store.db.execute("SELECT value FROM engine_state WHERE key = 'fingerprint'").fetchone() is None


def test_a_person_seen_only_later_still_gets_the_name(tmp_path: Path) -> None:
    world = World()
    world.add(mail(ME, ["ann@x.org"], NOW - timedelta(days=9)))
    assert world.person("ann@x.org").name == "ann@x.org"
    world.add(mail("ann@x.org", [ME], ago(1), name="Lee, Ann"))
    assert world.person("ann@x.org").name == "Ann Lee"
