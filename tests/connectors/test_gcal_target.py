"""Google Calendar as the follow-ups target, against the stateful fake through the real client libraries.

The reconciler runs on it as in tests/unit/test_reconcile.py: the user's moves and deletions are controls,
foreign events are never touched, and an interrupted run makes no duplicate.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from connectors.base import AuthRequired, ConnectorError, FollowupEvent
from connectors.google.auth import CALENDAR_APP_CREATED, CALENDAR_READ
from connectors.google.calendar import MARKER, event_id
from connectors.google.calendar_target import GoogleCalendarTarget
from syncd.config import FollowupsConfig
from syncd.engine.due import DueFollowup
from syncd.plan.actions import ApplyResult
from syncd.plan.occasions import followup_key
from syncd.plan.reconcile import reconcile
from syncd.store import Store
from tests.fakes.gcal import OWNER, GoogleCalendarFake
from tests.fakes.gcal_contract import Rig, calendar_rig
from tests.fakes.server import Request, Response

BERLIN = ZoneInfo("Europe/Berlin")
CFG = FollowupsConfig(timezone=BERLIN, reminder=timedelta(minutes=10))
MONDAY = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)  # 08:00 in Berlin, before the 09:30 slot
START = datetime(2026, 3, 3, 9, 30, tzinfo=BERLIN)


def followup(key: str = "k1", start: datetime = START, title: str = "Reach out to Ann", reminder: int = 10,
             description: str = "Last contact: 2026-01-05, meeting") -> FollowupEvent:
    return FollowupEvent(key, "ann@example.org", start, 15, title, description, reminder, start)


def dedicated(fake: GoogleCalendarFake) -> str:
    (found,) = [c.id for c in fake.calendars.values() if MARKER in c.description]
    return found


def event(fake: GoogleCalendarFake, key: str) -> dict[str, Any]:
    return fake.event(dedicated(fake), event_id(key))


def instant(value: dict[str, str]) -> datetime:
    return datetime.fromisoformat(value["dateTime"].replace("Z", "+00:00"))


def requests(rig: Rig, method: str, path: str = "") -> list[Request]:
    return rig.server.requests(method, path)


# ---- writing ---------------------------------------------------------------------------------------------


def test_create_writes_a_quiet_tagged_event_into_a_dedicated_calendar(rig: Rig) -> None:
    target = rig.target()
    assert target.list_own() == []
    assert requests(rig, "POST", r"/calendars\Z") == []  # listing never creates the calendar
    target.create(followup())
    calendar = rig.calendar.calendar(dedicated(rig.calendar))
    assert calendar.summary == "Follow-ups"
    stored = event(rig.calendar, "k1")
    assert stored["id"] == event_id("k1") and len(stored["id"]) == 52
    assert "attendees" not in stored and stored["transparency"] == "transparent"
    assert stored["reminders"] == {"useDefault": False, "overrides": [{"method": "popup", "minutes": 10}]}
    assert stored["start"] == {"dateTime": "2026-03-03T09:30:00+01:00", "timeZone": "Europe/Berlin"}
    private = stored["extendedProperties"]["private"]
    assert private["syncd"] == "1" and private["syncd_key"] == "k1" and all(len(k) <= 44 for k in private)
    (insert,) = requests(rig, "POST", "/events")
    assert insert.arg("sendUpdates") == "none"
    listed = rig.target().list_own()  # a new instance (a new run) finds the calendar again
    assert listed == [followup()]
    assert len(requests(rig, "POST", r"/calendars\Z")) == 1


def test_update_and_delete_round_trip(rig: Rig) -> None:
    target = rig.target()
    target.create(followup("k1"))
    target.create(followup("k2", START + timedelta(days=1)))
    again = rig.target()
    assert [e.key for e in again.list_own()] == ["k1", "k2"]
    again.update(followup("k1", title="Reach out to Ann Berg", reminder=30, description="new\ntext"))
    again.delete("k2")
    again.delete("never-existed")
    (k1,) = rig.target().list_own()
    assert (k1.title, k1.reminder_minutes, k1.description, k1.start) == ("Reach out to Ann Berg", 30, "new\ntext", START)
    assert event(rig.calendar, "k2")["status"] == "cancelled"
    (patch,) = requests(rig, "PATCH")
    assert patch.arg("sendUpdates") == "none" and "status" not in patch.json()


def test_listing_follows_pages(rig: Rig) -> None:
    target = rig.target()
    for day in range(5):
        target.create(followup(f"k{day}", START + timedelta(days=day)))
    rig.calendar.page_size = 2
    assert [e.key for e in rig.target().list_own()] == [f"k{day}" for day in range(5)]
    assert len(requests(rig, "GET", r"/events\Z")) == 3


def test_a_renamed_dedicated_calendar_is_found_and_a_users_own_namesake_is_not_taken(rig: Rig) -> None:
    rig.calendar.add_calendar("mine@group.calendar.google.com", "Follow-ups", description="my own")
    rig.target().create(followup())
    ours = dedicated(rig.calendar)
    assert ours != "mine@group.calendar.google.com"
    rig.calendar.calendar(ours).summary = "Reach-outs"  # the user renamed it
    assert [e.key for e in rig.target().list_own()] == ["k1"]
    assert rig.calendar.calendar("mine@group.calendar.google.com").events == {}


def test_lost_answers_make_no_second_calendar_and_no_second_event(rig: Rig) -> None:
    rig.calendar.lose_answer("POST", r"/calendar/v3/calendars\Z")
    rig.calendar.lose_answer("POST", r"/events\Z")
    target = rig.target()
    target.create(followup())
    assert len([c for c in rig.calendar.calendars.values() if MARKER in c.description]) == 1
    assert len(rig.calendar.live(dedicated(rig.calendar))) == 1
    # httplib2 resent the calendar insert on its own: the empty duplicate was removed again.
    assert len(requests(rig, "POST", r"/calendars\Z")) == 2 and len(requests(rig, "DELETE", r"/calendars/")) == 1
    inserts = requests(rig, "POST", r"/events\Z")
    assert len(inserts) == 2  # the resend met 409 "duplicate": ours already, nothing else to do
    assert requests(rig, "PATCH") == [] and target.list_own() == [followup()]


def test_create_over_our_own_tombstone_revives_it(rig: Rig) -> None:
    rig.target().create(followup())
    rig.calendar.user_deletes(dedicated(rig.calendar), event_id("k1"))
    assert rig.target().list_own() == []
    rig.target().create(followup(title="Reach out to Ann again"))
    stored = event(rig.calendar, "k1")
    assert stored["status"] == "confirmed" and stored["summary"] == "Reach out to Ann again"
    (patch,) = requests(rig, "PATCH")
    assert patch.json()["status"] == "confirmed"


def test_deleting_what_the_user_deleted_meanwhile_answers_410_and_is_done(rig: Rig) -> None:
    rig.target().create(followup())
    target = rig.target()
    assert len(target.list_own()) == 1
    rig.calendar.user_deletes(dedicated(rig.calendar), event_id("k1"))  # between listing and deleting
    target.delete("k1")
    (delete,) = requests(rig, "DELETE")
    assert delete.path.endswith(event_id("k1"))
    assert rig.target().list_own() == []


def test_update_of_a_follow_up_the_user_deleted_leaves_it_deleted(rig: Rig) -> None:
    rig.target().create(followup())
    rig.calendar.user_deletes(dedicated(rig.calendar), event_id("k1"))
    rig.target().update(followup(title="changed"))
    assert requests(rig, "PATCH") == [] and event(rig.calendar, "k1")["status"] == "cancelled"


def test_into_an_existing_calendar_when_configured(rig: Rig) -> None:
    mine = rig.calendar.add_meeting(start=START, summary="Dentist")
    target = rig.target(followups_calendar_id="primary")
    target.create(followup())
    assert [e.key for e in target.list_own()] == ["k1"]
    assert rig.calendar.event("primary", event_id("k1"))["transparency"] == "transparent"
    assert requests(rig, "GET", "calendarList") == [] and requests(rig, "POST", r"/calendars\Z") == []
    assert rig.calendar.event("primary", mine["id"])["summary"] == "Dentist"


def test_a_login_made_before_the_account_held_follow_ups_needs_login() -> None:
    # The token predates `followups.target = <this account>`: it may read, not write, nor find the calendar.
    with calendar_rig(scopes=[CALENDAR_READ]) as rig:
        with pytest.raises(AuthRequired, match=r"lacks the permission calendar\.app\.created, calendar\.calendarlist") as failure:
            rig.target().list_own()
        assert "at-" not in str(failure.value)
        assert requests(rig, "POST") == [] and requests(rig, "GET") == []


def test_without_calendar_list_access_the_error_says_what_to_do() -> None:
    # A token whose scopes are not recorded (imported from elsewhere): the fake refuses calendarList.list.
    with calendar_rig(scopes=[CALENDAR_READ, CALENDAR_APP_CREATED]) as rig:
        info = json.loads(rig.slot.value or "{}")
        rig.slot.value = json.dumps({**info, "scopes": []})
        with pytest.raises(ConnectorError, match="followups_calendar_id") as failure:
            rig.target().list_own()
        assert "at-" not in str(failure.value)
        assert requests(rig, "POST") == []


# ---- only our own events ---------------------------------------------------------------------------------


def test_foreign_events_are_never_touched(rig: Rig) -> None:
    target = rig.target()
    target.create(followup("k1"))
    calendar = dedicated(rig.calendar)
    fake = rig.calendar
    # A user's event whose id happens to be the one syncd would use for "k2", without the tag.
    lookalike = fake.add_meeting(calendar, start=START, summary="mine", event_id=event_id("k2"))
    # The user's copy of a follow-up: the tag and key copied, but another id.
    copied = fake.add_meeting(calendar, start=START, summary="copy", event_id="copy00001",
                              private={"syncd": "1", "syncd_key": "k1"})
    # A spoofed tag on another calendar, even with the right id.
    other = fake.add_meeting("primary", start=START, summary="spoof", event_id=event_id("k3"),
                             private={"syncd": "1", "syncd_key": "k3"})
    # The tag's key pointing at another key's id.
    crossed = fake.add_meeting(calendar, start=START, summary="crossed", event_id=event_id("k4"),
                               private={"syncd": "1", "syncd_key": "k5"})
    fresh = rig.target()
    assert [e.key for e in fresh.list_own()] == ["k1"]
    for key in ("k2", "k3", "k4", "k5"):
        fresh.update(followup(key, title="overwritten?"))
        fresh.delete(key)
    with pytest.raises(ConnectorError, match="did not make"):
        fresh.create(followup("k2"))  # 409 on the lookalike: left alone, said so
    for foreign in (lookalike, copied, other, crossed):
        assert [r.method for r in fake.writes(foreign["id"])] == [], foreign["summary"]
    assert {"copy00001", event_id("k2"), event_id("k4")} <= {e["id"] for e in fake.live(calendar)}
    assert fake.event("primary", other["id"])["status"] == "confirmed"


def test_server_side_filter_is_rechecked(rig: Rig) -> None:
    """Even if Google's privateExtendedProperty filter let more through (docs/google-calendar.md#extended-properties), only tagged events count."""
    rig.target().create(followup())
    calendar = dedicated(rig.calendar)
    rig.calendar.add_meeting(calendar, start=START, summary="untagged")
    original = rig.server.routes[:]
    listed: list[str] = []

    def unfiltered(request: Request) -> Response:
        request.query.pop("privateExtendedProperty", None)
        listed.append(request.path)
        handler = next(h for m, p, h in original if m == "GET" and p.pattern.endswith(r"/events\Z"))
        return handler(request)

    rig.server.routes.insert(0, ("GET", next(p for m, p, _ in original if m == "GET" and p.pattern.endswith(r"/events\Z")),
                                 unfiltered))
    assert [e.key for e in rig.target().list_own()] == ["k1"] and listed


# ---- failures --------------------------------------------------------------------------------------------


def test_429_storms_and_5xx_are_waited_out(rig: Rig) -> None:
    rig.calendar.rate_limit(3, status=429, retry_after="2")
    rig.calendar.rate_limit(2, status=403)
    rig.server.inject(lambda r: r.method == "POST", Response(500, {"error": {"code": 500, "message": "backendError"}}))
    target = rig.target()
    target.create(followup())
    assert target.list_own() == [followup()]
    assert rig.sleeps.count(2.0) == 3
    assert len(rig.calendar.live(dedicated(rig.calendar))) == 1


def test_a_calendar_that_keeps_failing_is_one_sentence(rig: Rig) -> None:
    rig.target().create(followup())
    rig.calendar.rate_limit(100, status=503)
    with pytest.raises(ConnectorError, match="kept failing") as failure:
        rig.target().list_own()
    assert "at-" not in str(failure.value)


def test_bad_request_is_not_retried(rig: Rig) -> None:
    rig.target().create(followup())
    rig.server.inject(lambda r: r.method == "POST" and r.path.endswith("/events"),
                      Response(400, {"error": {"code": 400, "message": "Too many reminders specified.",
                                               "errors": [{"reason": "invalid"}]}}))
    with pytest.raises(ConnectorError, match="400"):
        rig.target().create(followup("k2"))
    assert len(requests(rig, "POST", r"/events\Z")) == 2 and rig.sleeps == []


# ---- the reconciler on Google Calendar ---------------------------------------------------------------------


def due(person: str, day: date, cycle: str = "c1") -> DueFollowup:
    return DueFollowup(person, person.split("@")[0].title(), "cycle", cycle, day, 30, 1, f"about {person}")


def key(person: str, cycle: str = "c1", n: int = 0) -> str:
    return followup_key(person, "cycle", cycle, n)


def states(store: Store) -> dict[str, str]:
    return dict(store.db.execute("SELECT key, state FROM followups").fetchall())


def run(store: Store, target: GoogleCalendarTarget, wanted: list[DueFollowup], now: datetime = MONDAY) -> ApplyResult:
    return reconcile(wanted, store, target, now, CFG)


def test_reconcile_creates_then_a_second_run_writes_nothing(rig: Rig) -> None:
    store = Store(":memory:")
    wanted = [due("a@x.com", date(2026, 3, 1)), due("b@x.com", date(2026, 3, 3))]
    assert run(store, rig.target(), wanted).created == 2
    writes = len(rig.calendar.writes())
    second = run(store, rig.target(), wanted)
    assert (second.created, second.updated, second.deleted) == (0, 0, 0)
    assert len(rig.calendar.writes()) == writes
    assert states(store) == {key("a@x.com"): "active", key("b@x.com"): "active"}


def test_reconcile_honours_a_user_move_and_only_refreshes_text(rig: Rig) -> None:
    store = Store(":memory:")
    run(store, rig.target(), [due("a@x.com", date(2026, 3, 1))])
    calendar, eid = dedicated(rig.calendar), event_id(key("a@x.com"))
    rig.calendar.user_moves(calendar, eid, timedelta(days=3))  # a snooze
    moved = rig.calendar.event(calendar, eid)["start"]
    changed = DueFollowup("a@x.com", "Ann", "cycle", "c1", date(2026, 3, 1), 30, 1, "new notes")
    result = run(store, rig.target(), [changed], now=MONDAY + timedelta(days=1))
    assert (result.created, result.updated, result.deleted) == (0, 1, 0)
    stored = rig.calendar.event(calendar, eid)
    assert stored["description"] == "new notes"
    assert instant(stored["start"]) == instant(moved) == instant({"dateTime": "2026-03-05T09:30:00+01:00"})
    (patch,) = requests(rig, "PATCH")
    assert instant(json.loads(patch.body)["start"]) == instant(moved)  # the text refreshed where the user put it


def test_reconcile_leaves_an_event_the_user_made_all_day(rig: Rig) -> None:
    store = Store(":memory:")
    wanted = [due("a@x.com", date(2026, 3, 1))]
    run(store, rig.target(), wanted)
    calendar, eid = dedicated(rig.calendar), event_id(key("a@x.com"))
    rig.calendar.user_edits(calendar, eid, start={"date": "2026-03-06"}, end={"date": "2026-03-07"})
    quiet = run(store, rig.target(), wanted)
    assert (quiet.created, quiet.updated, quiet.deleted) == (0, 0, 0)
    changed = [DueFollowup("a@x.com", "Ann", "cycle", "c1", date(2026, 3, 1), 30, 1, "new notes")]
    assert run(store, rig.target(), changed).updated == 1
    stored = rig.calendar.event(calendar, eid)
    assert stored["start"] == {"date": "2026-03-06"} and stored["description"] == "new notes"


def test_reconcile_reads_a_user_deletion_as_dismissal(rig: Rig) -> None:
    store = Store(":memory:")
    wanted = [due("a@x.com", date(2026, 3, 1))]
    run(store, rig.target(), wanted)
    calendar, eid = dedicated(rig.calendar), event_id(key("a@x.com"))
    rig.calendar.user_deletes(calendar, eid)
    result = run(store, rig.target(), wanted)
    assert states(store)[key("a@x.com")] == "dismissed"
    assert rig.calendar.event(calendar, eid)["status"] == "cancelled"  # not revived
    assert result.created == 0 and requests(rig, "PATCH") == []


def test_crash_between_calendar_write_and_store_commit_makes_no_duplicate(rig: Rig) -> None:
    store = Store(":memory:")
    wanted = [due("a@x.com", date(2026, 3, 1))]

    class Crashing(GoogleCalendarTarget):
        def commit(self) -> None:  # the write landed; the process dies before the records are settled
            raise ConnectorError("killed")

    crashing = Crashing("acct", rig.settings(), rig.slot, throttle=rig.throttle())
    with pytest.raises(ConnectorError, match="killed"):
        run(store, crashing, wanted)
    assert states(store) == {key("a@x.com"): "pending"}
    result = run(store, rig.target(), wanted)
    assert result.created == 0
    assert states(store) == {key("a@x.com"): "active"}
    assert len(rig.calendar.live(dedicated(rig.calendar))) == 1
    assert len(requests(rig, "POST", r"/events\Z")) == 1


def test_crash_mid_create_is_retried_into_the_same_event(rig: Rig) -> None:
    """The insert landed but its answer was lost and the run died: the next run's create meets 409."""
    store = Store(":memory:")
    wanted = [due("a@x.com", date(2026, 3, 1))]
    rig.calendar.lose_answer("POST", r"/events\Z", times=100)  # every retry too: the run gives up
    with pytest.raises(ConnectorError):
        run(store, rig.target(), wanted)
    result = run(store, rig.target(), wanted)
    assert result.created == 0 and states(store) == {key("a@x.com"): "active"}
    assert len(rig.calendar.live(dedicated(rig.calendar))) == 1
    assert rig.calendar.event(dedicated(rig.calendar), event_id(key("a@x.com")))["start"]["timeZone"] == "Europe/Berlin"
    assert OWNER in rig.calendar.calendars


# ---- the fake itself keeps Google's rules (docs/google-calendar.md), so the tests above mean something ------------------


def test_fake_enforces_googles_rules(rig: Rig) -> None:
    from googleapiclient.errors import HttpError

    from connectors.google import auth as google_auth

    creds = google_auth.load_credentials("acct", rig.settings(), rig.slot)
    events = google_auth.build_service("calendar", "v3", rig.calendar.endpoint,
                                       google_auth.authorized_http(creds)).events()

    def status(request: Any) -> tuple[int, str]:
        try:
            request.execute()
        except HttpError as exc:
            return int(exc.resp.status), google_auth.http_error_reason(exc)
        return 200, ""

    body = {"start": {"dateTime": "2026-03-03T09:30:00Z"}, "end": {"dateTime": "2026-03-03T09:45:00Z"}}
    first = events.list(calendarId="primary").execute()
    token = first["nextSyncToken"]
    assert status(events.list(calendarId="primary", syncToken=token, timeMin="2026-01-01T00:00:00Z"))[0] == 400
    assert status(events.list(calendarId="primary", syncToken=token, showDeleted=False))[0] == 400
    assert status(events.list(calendarId="primary", timeMin="2026-01-01T00:00:00"))[0] == 400  # no offset
    assert status(events.insert(calendarId="primary", body={**body, "id": "UPPER12"})) == (400, "invalid")
    assert status(events.insert(calendarId="primary", body={**body, "id": "abcw1"})) == (400, "invalid")  # w: not base32hex
    assert status(events.insert(calendarId="primary", body={**body, "id": "abc"})) == (400, "invalid")  # too short
    six = {"useDefault": False, "overrides": [{"method": "popup", "minutes": m} for m in range(6)]}
    assert status(events.insert(calendarId="primary", body={**body, "id": "abcde", "reminders": six}))[0] == 400
    long_key = "k" * 45
    made = events.insert(calendarId="primary", body={**body, "id": "abcde", "extendedProperties": {
        "private": {long_key: "x", "v": "y" * 2000}}}).execute()
    assert made["extendedProperties"]["private"] == {"v": "y" * 1024}  # dropped, truncated, silently
    assert status(events.delete(calendarId="primary", eventId="abcde")) == (200, "")
    assert status(events.delete(calendarId="primary", eventId="abcde")) == (410, "deleted")
    assert status(events.insert(calendarId="primary", body={**body, "id": "abcde"})) == (409, "duplicate")
    assert events.get(calendarId="primary", eventId="abcde").execute()["status"] == "cancelled"
    changes = events.list(calendarId="primary", syncToken=token).execute()
    assert changes["items"] == [{"kind": "calendar#event", "id": "abcde", "status": "cancelled",
                                 "etag": changes["items"][0]["etag"]}]
    rig.calendar.expire_sync_tokens()
    assert status(events.list(calendarId="primary", syncToken=changes["nextSyncToken"])) == (410, "fullSyncRequired")
    rig.oauth.revoke("rt-1")
    rig.oauth.expire_access_tokens()
    from connectors.base import AuthRequired

    with pytest.raises(AuthRequired):
        events.list(calendarId="primary").execute()


def test_calendar_app_created_cannot_write_into_a_calendar_the_app_did_not_make() -> None:
    # The login's scopes are not recorded (imported), so only Google's answer tells: 403, one sentence.
    with calendar_rig(scopes=[CALENDAR_READ, CALENDAR_APP_CREATED]) as rig:
        info = json.loads(rig.slot.value or "{}")
        rig.slot.value = json.dumps({**info, "scopes": []})
        with pytest.raises(ConnectorError, match="insufficientPermissions") as failure:
            rig.target(followups_calendar_id="primary").create(followup())
        assert "at-" not in str(failure.value)
        assert rig.calendar.live("primary") == []
