"""The CalDAV follow-ups target on real servers (Radicale and Xandikos, on loopback): the calendar syncd makes and
what it holds, conditional writes that never overwrite another client's edit (412: read again, a move is a
snooze, a deletion a dismissal), a create that finds its own event, no space left (507), a calendar the user
names; and through the reconciler, a move in another client kept as a snooze and a deletion as a dismissal."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import icalendar
import pytest

from connectors.base import ConnectorError, FollowupEvent
from connectors.caldav.target import CalDavTarget
from syncd.store import Store
from tests.servers import dav, shared
from tests.servers.faults import HttpProxy, Rule
from tests.unit.test_reconcile import CFG, MONDAY, due, key, states

pytestmark = pytest.mark.slow
START = datetime(2026, 3, 3, 9, 30, tzinfo=UTC)
_names = itertools.count(1)


def followup(k: str, title: str = "Reach out to Alice", start: datetime = START) -> FollowupEvent:
    return FollowupEvent(key=k, person="alice@example.org", start=start, duration_minutes=15, title=title,
                         description="last contact 2026-02-01", reminder_minutes=10, planned_start=start)


class World:
    def __init__(self, account: dav.DavAccount) -> None:
        self.account = account

    def target(self, **extra: Any) -> CalDavTarget:
        return CalDavTarget("acct", self.account.settings(calendar_name="Follow-ups", **extra), self.account.slot)

    def calendar(self) -> Any:
        return next(c for c in self.account.client().principal().get_calendars()
                    if str(c.url).rstrip("/").endswith("syncd-followups"))

    def objects(self) -> dict[str, Any]:
        """Tagged VEVENTs by key, as another client reads them."""
        out = {}
        for obj in self.calendar().get_events():
            vevent = obj.icalendar_component
            out[str(vevent["X-SYNCD-KEY"])] = obj
        return out


@pytest.fixture(params=["radicale", "xandikos"])
def world(request: pytest.FixtureRequest) -> Iterator[World]:
    if request.param == "radicale":
        yield World(dav.radicale_account(shared.radicale()))
        return
    with shared.fresh_xandikos() as server:  # one home per test: syncd's calendar has a fixed name
        yield World(dav.xandikos_account(server))


def test_the_calendar_syncd_makes_and_what_each_follow_up_is(world: World) -> None:
    target = world.target()
    assert target.list_own() == []  # a listing never makes the calendar
    target.create(followup("k1"))
    target.create(followup("k2", "Reach out to Bob"))
    calendar = world.calendar()
    assert calendar.get_display_name() == "Follow-ups"
    objects = world.objects()
    assert sorted(objects) == ["k1", "k2"]
    for k, obj in objects.items():
        assert str(obj.url).endswith(f"/{k}.ics")
        parsed = icalendar.Calendar.from_ical(obj.data)
        (vevent,) = parsed.walk("VEVENT")  # one follow-up per resource
        assert str(vevent["TRANSP"]) == "TRANSPARENT" and "ATTENDEE" not in vevent
        (alarm,) = vevent.walk("VALARM")
        assert str(alarm["ACTION"]) == "DISPLAY" and alarm.decoded("TRIGGER") == timedelta(minutes=-10)
    listed = world.target().list_own()
    assert [(e.key, e.title, e.start, e.planned_start) for e in listed] == [
        ("k1", "Reach out to Alice", START, START), ("k2", "Reach out to Bob", START, START)]


def test_a_move_made_meanwhile_is_kept_and_only_the_text_refreshed(world: World) -> None:
    world.target().create(followup("k1"))
    target = world.target()
    (listed,) = target.list_own()
    obj = world.objects()["k1"]  # another client moves it after syncd listed it: the next write meets a 412
    obj.icalendar_component["DTSTART"].dt = START + timedelta(days=2)
    obj.save()
    target.update(followup("k1", title="Reach out to Alice Moreau", start=listed.start))
    (after,) = world.target().list_own()
    assert after.title == "Reach out to Alice Moreau"
    assert after.start == START + timedelta(days=2) and after.planned_start == START  # still a snooze


def test_a_deletion_made_meanwhile_is_respected(world: World) -> None:
    world.target().create(followup("k1"))
    target = world.target()
    target.list_own()
    world.objects()["k1"].delete()
    target.update(followup("k1", title="Reach out to Alice Moreau"))
    assert world.target().list_own() == []  # not written back


def test_a_create_that_finds_its_own_event_does_not_double_it(world: World) -> None:
    world.target().create(followup("k1"))
    again = world.target()  # a retried create from a run that did not see the first one's answer
    again.create(followup("k1", title="Reach out to Alice Moreau"))
    listed = world.target().list_own()
    assert [(e.key, e.title) for e in listed] == [("k1", "Reach out to Alice Moreau")]


def test_a_delete_after_another_clients_edit_still_deletes(world: World) -> None:
    world.target().create(followup("k1"))
    target = world.target()
    target.list_own()
    obj = world.objects()["k1"]
    obj.icalendar_component["SUMMARY"] = "Reach out to Alice (call!)"
    obj.save()
    target.delete("k1")
    target.delete("never-made")
    assert world.target().list_own() == []


def test_no_space_left_is_one_sentence_and_changes_nothing_else() -> None:
    world = World(dav.radicale_account(shared.radicale()))
    world.target().create(followup("k1"))
    proxy = HttpProxy(int(world.account.url.rsplit(":", 1)[1].strip("/")))
    proxy.add(Rule(lambda method, path, body: method == "PUT", status=507, body=b"quota exceeded", times=None))
    try:
        full = CalDavTarget("acct", {**world.account.settings(calendar_name="Follow-ups"), "url": proxy.url},
                            world.account.slot)
        with pytest.raises(ConnectorError) as failed:
            full.create(followup("k2"))
    finally:
        proxy.stop()
    assert str(failed.value).startswith("account 'acct': the server is out of space for this account (HTTP 507)")
    assert "\n" not in str(failed.value)
    assert [e.key for e in world.target().list_own()] == ["k1"]


def test_a_calendar_the_user_names_holds_them_and_a_missing_one_is_said() -> None:
    world = World(dav.radicale_account(shared.radicale()))
    world.account.calendar("Personal").save_event(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//EN\r\nBEGIN:VEVENT\r\nUID:dentist\r\nDTSTAMP:20260101T000000Z\r\n"
        "DTSTART:20260303T080000Z\r\nDURATION:PT1H\r\nSUMMARY:Dentist\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
    target = world.target(followups_calendar="Personal")
    target.create(followup("k1"))
    assert [e.key for e in world.target(followups_calendar="Personal").list_own()] == ["k1"]  # the user's event: untouched
    assert len(world.account.calendar("Personal").get_events()) == 2
    with pytest.raises(ConnectorError, match="there is no calendar 'Privat' \\(followups_calendar\\)"):
        world.target(followups_calendar="Privat").list_own()


def test_through_the_reconciler_a_move_is_a_snooze_and_a_deletion_a_dismissal(world: World) -> None:
    store = Store(":memory:")
    wanted = [due("a@x.com", date(2026, 3, 1)), due("b@x.com", date(2026, 3, 1))]
    from syncd.plan.reconcile import reconcile

    assert reconcile(wanted, store, world.target(), MONDAY, CFG).created == 2
    objects = world.objects()
    moved = objects[key("a@x.com")].icalendar_component.decoded("DTSTART") + timedelta(days=4)
    objects[key("a@x.com")].icalendar_component["DTSTART"].dt = moved
    objects[key("a@x.com")].save()
    objects[key("b@x.com")].delete()
    changed = [due("a@x.com", date(2026, 3, 1), description="new notes"), wanted[1]]
    result = reconcile(changed, store, world.target(), MONDAY, CFG)
    assert result.dismissed == 1 and result.created == 0 and result.updated == 1
    assert states(store) == {key("a@x.com"): "active", key("b@x.com"): "dismissed"}
    (kept,) = world.target().list_own()
    assert kept.start == moved and kept.description == "new notes"  # never moved back; its text refreshed
    quiet = reconcile(changed, store, world.target(), MONDAY + timedelta(days=1), CFG)
    assert (quiet.created, quiet.updated, quiet.deleted) == (0, 0, 0)


def test_a_followups_calendar_deleted_in_another_client_is_made_again_and_filled(world: World) -> None:
    """Deleting the whole calendar is not a dismissal of each follow-up in it (docs/rules.md#user-edits)."""
    from syncd.plan.reconcile import reconcile

    store = Store(":memory:")
    wanted = [due("a@x.com", date(2026, 3, 1)), due("b@x.com", date(2026, 3, 1))]
    assert reconcile(wanted, store, world.target(), MONDAY, CFG).created == 2
    world.calendar().delete()
    result = reconcile(wanted, store, world.target(), MONDAY, CFG)
    assert (result.created, result.dismissed) == (2, 0)
    assert any("written again" in message for message in result.messages)
    assert sorted(world.objects()) == sorted([key("a@x.com"), key("b@x.com")])
    assert states(store) == {key("a@x.com"): "active", key("b@x.com"): "active"}


def test_an_account_that_is_one_calendar_needs_followups_calendar_and_deletes_nothing_before_any() -> None:
    world = World(dav.radicale_account(shared.radicale()))
    fresh = world.target()
    fresh.delete("never-made")  # no follow-ups calendar yet: nothing to delete, none made for it
    assert fresh.list_own() == []
    work = str(world.account.calendar("Work").url)
    one = CalDavTarget("acct", {**world.account.settings(calendar_name="Follow-ups"), "url": work}, world.account.slot)
    with pytest.raises(ConnectorError) as failed:
        one.create(followup("k1"))
    assert str(failed.value) == (f"account 'acct': the account is one calendar ({work}); set followups_calendar to "
                                 "hold the follow-ups in it")
    assert not [c for c in world.account.client().principal().get_calendars()
                if str(c.url).rstrip("/").endswith("syncd-followups")]


def _proxied(world: World, *rules: Rule) -> tuple[HttpProxy, CalDavTarget]:
    proxy = HttpProxy(int(world.account.url.rsplit(":", 1)[1].strip("/")))
    for rule in rules:
        proxy.add(rule)
    settings = {**world.account.settings(calendar_name="Follow-ups"), "url": proxy.url}
    return proxy, CalDavTarget("acct", settings, world.account.slot)


def test_a_follow_up_that_exists_but_cannot_be_read_is_one_sentence_and_not_doubled() -> None:
    world = World(dav.radicale_account(shared.radicale()))
    world.target().create(followup("k1"))
    proxy, target = _proxied(world, Rule(lambda method, path, body: method == "PUT", status=412, times=None),
                             Rule(lambda method, path, body: method == "GET", status=404, times=None))
    try:
        with pytest.raises(ConnectorError) as failed:
            target.create(followup("k2"))
    finally:
        proxy.stop()
    assert str(failed.value) == "account 'acct': follow-up k2 exists and cannot be read; tried again next run"
    assert [e.key for e in world.target().list_own()] == ["k1"]


@pytest.mark.parametrize(("status", "page"), [(207, b"<html>a web page</html>"), (200, b"<html>a web page</html>"),
                                              (200, b"")])
def test_a_listing_that_is_no_multistatus_is_one_sentence_not_every_follow_up_gone(status: int, page: bytes) -> None:
    world = World(dav.radicale_account(shared.radicale()))
    store = Store(":memory:")
    from syncd.plan.reconcile import reconcile

    wanted = [due("a@x.com", date(2026, 3, 1))]
    assert reconcile(wanted, store, world.target(), MONDAY, CFG).created == 1
    proxy, target = _proxied(world, Rule(lambda method, path, body: method == "REPORT", status=status, body=page,
                                         times=None))
    try:
        with pytest.raises(ConnectorError) as failed:
            reconcile(wanted, store, target, MONDAY, CFG)
    finally:
        proxy.stop()
    assert str(failed.value) == "account 'acct': the server's listing of the follow-ups calendar is not valid CalDAV"
    assert states(store) == {key("a@x.com"): "active"}  # not taken for a dismissal
    assert len(world.objects()) == 1


def test_an_update_of_a_follow_up_deleted_meanwhile_writes_nothing() -> None:
    world = World(dav.radicale_account(shared.radicale()))
    world.target().create(followup("k1"))
    world.objects()["k1"].delete()  # the user deletes it in another client
    world.target().update(followup("k1", title="Reach out to Alice again"))  # a run that never listed it
    assert world.objects() == {} and world.target().list_own() == []
