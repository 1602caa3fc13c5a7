"""A Fastmail-like setup end to end through the CLI, on real servers on loopback: IMAP mail on Dovecot and a
CalDAV calendar on Radicale. `syncd auth login` asks each password (no echo) → `syncd pull` → the follow-ups
are events with a display alarm in a calendar syncd made; moving one in another client is a snooze, deleting
one a dismissal; a wrong password stops that account alone with exit 4."""

from __future__ import annotations

import getpass
import imaplib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import icalendar
import pytest

from syncd.store import Store
from tests.servers import dav, shared
from tests.servers.dovecot import PASSWORD, Dovecot
from tests.servers.walkthrough import CONFIG
from tests.support.cli import Run

pytestmark = pytest.mark.slow
ME = "sam@example.com"


def _mail(server: Dovecot, user: str, now: datetime) -> None:
    def message(sender: str, to: str, days: int, subject: str, n: int) -> bytes:
        return (f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{n}@example.com>\r\n"
                f"Date: {format_datetime(now - timedelta(days=days))}\r\n\r\nA body syncd never reads.\r\n").encode()

    with server.admin(user) as admin:
        stamp = imaplib.Time2Internaldate((now - timedelta(days=120)).timestamp())
        admin.append("Sent", "(\\Seen)", stamp, message(ME, "Alice Moreau <alice@example.org>", 120, "Proposal", 1))
        admin.append("INBOX", None, stamp, message("alice@example.org", ME, 119, "Re: Proposal", 2))
        admin.append("INBOX", None, None, message("carol@example.net", ME, 10, "Cold pitch", 3))


class World:
    def __init__(self, tmp_path: Path) -> None:
        self.now = datetime.now(UTC)
        self.dovecot = shared.dovecot()
        self.user = self.dovecot.new_user("e2e")
        self.dav = dav.radicale_account(shared.radicale())
        self.tmp = tmp_path

    def followups(self) -> list[Any]:
        calendar = next(c for c in self.dav.client().principal().get_calendars()
                        if str(c.url).rstrip("/").endswith("syncd-followups"))
        return list(calendar.get_events())

    def records(self) -> dict[str, str]:
        with Store(self.tmp / "state" / "syncd.sqlite3") as store:
            return {person: state for person, state in store.db.execute("SELECT person, state FROM followups")}


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    w = World(tmp_path)
    _mail(w.dovecot, w.user, w.now)
    dav.load(w.dav.calendar("Work"), _meeting(w.now - timedelta(days=100)))
    config = tmp_path / "config.toml"
    config.write_text(CONFIG.format(port=w.dovecot.plain_port, user=w.user, ca_file=w.dovecot.cert, me=ME,
                                    url=w.dav.url, dav_user=w.dav.username) + 'timezone = "UTC"\n')
    monkeypatch.setenv("SYNCD_CONFIG", str(config))
    monkeypatch.setenv("SYNCD_STATE_DIR", str(tmp_path / "state"))
    yield w


def _meeting(start: datetime) -> bytes:
    return (f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//tests//EN\r\nBEGIN:VEVENT\r\nUID:kickoff\r\n"
            f"DTSTAMP:20260101T000000Z\r\nDTSTART:{start:%Y%m%dT%H%M%SZ}\r\nDURATION:PT1H\r\nSUMMARY:Kick-off\r\n"
            f"ORGANIZER:mailto:{ME}\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:{ME}\r\n"
            "ATTENDEE;PARTSTAT=ACCEPTED;CN=Bob Okafor:mailto:bob@example.com\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
            ).encode()


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    return Run(capsys)


def _login(run: Run, monkeypatch: pytest.MonkeyPatch, account: str, secret: str) -> tuple[int, str]:
    asked: list[str] = []

    def ask(prompt: str) -> str:
        asked.append(prompt)
        return secret

    monkeypatch.setattr(getpass, "getpass", ask)
    code, out, err = run("auth", "login", account)
    assert asked and "(not shown)" in asked[0]
    assert secret not in out + err
    return code, out + err


def test_login_pull_and_the_calendar_is_the_control(run: Run, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _login(run, monkeypatch, "mail", PASSWORD)[0] == 0
    assert _login(run, monkeypatch, "calendar", world.dav.password)[0] == 0
    code, out, err = run("pull")
    assert code == 0, out + err
    events = {str(e.icalendar_component["SUMMARY"]): e for e in world.followups()}
    assert sorted(events) == ["Reach out to Alice Moreau", "Reach out to Bob Okafor"], out
    for event in events.values():
        component = event.icalendar_component
        assert [str(a["ACTION"]) for a in component.walk("VALARM")] == ["DISPLAY"]  # a native pop-up
        assert str(component["TRANSP"]) == "TRANSPARENT" and "ATTENDEE" not in component
    assert all("body_count=0" in line for line in world.dovecot.logouts(world.user))
    code, out, _ = run("pull")  # nothing new: nothing written
    assert code == 0 and "0 created, 0 updated, 0 deleted" in out, out

    # Another client moves Alice's follow-up three days on (a snooze) and deletes Bob's (a dismissal).
    alice, bob = events["Reach out to Alice Moreau"], events["Reach out to Bob Okafor"]
    moved = alice.icalendar_component.decoded("DTSTART") + timedelta(days=3)
    alice.icalendar_component["DTSTART"].dt = moved
    alice.save()
    bob.delete()
    code, out, _ = run("pull")
    assert code == 0 and "1 dismissed by you" in out, out
    after = {str(e.icalendar_component["SUMMARY"]): e.icalendar_component for e in world.followups()}
    assert list(after) == ["Reach out to Alice Moreau"]  # Bob's is not written again
    assert after["Reach out to Alice Moreau"].decoded("DTSTART") == moved  # never moved back
    assert world.records() == {"alice@example.org": "active", "bob@example.com": "dismissed"}
    code, out, _ = run("status")
    assert "mail (imap): ok" in out and "calendar (caldav): ok" in out
    code, out, _ = run("auth", "status")
    assert "mail (imap): password stored; kept in an unencrypted file" in out and PASSWORD not in out
    config = world.tmp / "config.toml"
    config.write_text(config.read_text().replace(
        'token_store = "file"\nme', f'token_store = "file"\npassword_command = ["echo", "{PASSWORD}"]\nme', 1))
    code, out, _ = run("auth", "status")
    assert "mail (imap): the password comes from password_command (nothing stored)" in out
    stored = (world.tmp / "state" / "tokens" / "mail.json").read_bytes()  # from the login above
    code, out, _ = run("auth", "login", "mail")  # checks what the command prints; asks nothing, stores nothing
    assert code == 0 and f"mail: logged in ({world.user} at 127.0.0.1:" in out, out
    assert out.endswith("); nothing is stored\n") and (world.tmp / "state" / "tokens" / "mail.json").read_bytes() == stored


def test_a_wrong_password_stops_that_account_alone_with_exit_4(run: Run, world: World,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    code, out = _login(run, monkeypatch, "mail", "not-the-password")
    assert code != 0 and "the server refused the password; nothing was stored" in out
    _login(run, monkeypatch, "calendar", world.dav.password)
    token = world.tmp / "state" / "tokens" / "mail.json"
    token.write_text(json.dumps({"password": "changed-on-the-server"}))
    code, out, _ = run("pull")
    assert code == 4, out
    assert "mail: FAILED: account 'mail' needs login (the server refused the password): run 'syncd auth login mail'" \
        in out
    assert "changed-on-the-server" not in out
    assert "calendar: " in out and "calendar: FAILED" not in out  # the other account was pulled
    code, out, _ = run("status")
    assert "mail (imap): needs login: run 'syncd auth login mail'" in out


def test_the_walkthrough_calendar_holds_one_object_per_followup(run: Run, world: World,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    _login(run, monkeypatch, "mail", PASSWORD)
    _login(run, monkeypatch, "calendar", world.dav.password)
    assert run("pull")[0] == 0
    for event in world.followups():
        parsed = icalendar.Calendar.from_ical(event.data)
        assert len(list(parsed.walk("VEVENT"))) == 1  # RFC 4791 §4.1: one UID per resource
        assert str(event.url).endswith(f"{parsed.walk('VEVENT')[0]['X-SYNCD-KEY']}.ics")


def test_an_address_book_account_logs_in_and_pulls_like_the_calendar(run: Run, world: World,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.servers.cards import CardClient, card

    book = CardClient.make_book(world.dav, f"{world.dav.url}{world.dav.username}/", "Contacts")
    book.put("anna", card("anna", "Anna Berg", "anna@example.org"))
    config = world.tmp / "config.toml"
    config.write_text(config.read_text() + f'\n[accounts.contacts]\nprovider = "carddav"\nurl = "{world.dav.url}"\n'
                                           f'username = "{world.dav.username}"\ntoken_store = "file"\n')
    code, out = _login(run, monkeypatch, "contacts", "not-the-password")
    assert code != 0 and "the server refused the password; nothing was stored" in out, out
    assert not (world.tmp / "state" / "tokens" / "contacts.json").exists()
    code, out = _login(run, monkeypatch, "contacts", world.dav.password)
    assert code == 0 and f"{world.dav.username} at 127.0.0.1, 1 address books" in out, out
    code, out, err = run("pull")
    assert "contacts: 1 cards read (1 new or changed), 0 gone" in out, out + err
