"""Google Calendar's error branches, each driven the way it happens: through googleapiclient, google-auth and
httplib2 against the loopback fakes, asserting the one sentence the user reads and what was (not) written.
"""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from connectors.base import AuthRequired, Batch, ConnectorError, CursorExpired, FollowupEvent
from connectors.google.auth import CALENDAR_EVENTS, CALENDAR_LIST_READ, CALENDAR_READ
from connectors.google.calendar import MARKER, PLANNED, event_id
from connectors.google.calendar_target import GoogleCalendarTarget
from syncd.store import Store
from tests.fakes.gcal import OWNER, GoogleCalendarFake, error
from tests.fakes.gcal_contract import Rig
from tests.fakes.known import StoreKnown, pull_into
from tests.fakes.server import DROP, FakeServer, Request, Response
from tests.fakes.slot import assert_no_secret
from tests.fakes.tls import self_signed

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)
ANN, BOB = "ann@example.org", "bob@example.org"
BERLIN = ZoneInfo("Europe/Berlin")
START = datetime(2026, 3, 3, 9, 30, tzinfo=BERLIN)
# Google's 401 for a token it no longer accepts, even a freshly refreshed one (account suspended, API access
# withdrawn by the admin): google-auth refreshes, is refused again, and gives up.
REFUSED = Response(401, {"error": {"code": 401, "message": "Request had invalid authentication credentials.",
                                   "errors": [{"reason": "authError", "domain": "global"}],
                                   "status": "UNAUTHENTICATED"}})
BACKEND = error(503, "backendError", "Backend Error")


def pull(store: Store, rig: Rig, **extra: Any) -> list[Batch]:
    return pull_into(store, rig.source(**{"now": NOW, **extra}))


def no_secret(text: str, rig: Rig) -> None:
    assert_no_secret(text, rig.slot.value)


def events_list(request: Request) -> bool:
    return request.method == "GET" and request.path.endswith("/events")


def marked(fake: GoogleCalendarFake) -> list[str]:
    return sorted(c.id for c in fake.calendars.values() if MARKER in c.description)


def followup(key: str = "k1", title: str = "Reach out to Ann") -> FollowupEvent:
    return FollowupEvent(key, ANN, START, 15, title, "Last contact: 2026-01-05, meeting", 10, START)


# ---- the source: login, transport and answers ------------------------------------------------------------


def test_a_401_that_survives_the_refresh_is_needs_login(rig: Rig, store: Store) -> None:
    rig.calendar.add_meeting(start=NOW - timedelta(days=1), attendees=[(OWNER, "accepted"), (ANN, "accepted")])
    rig.server.inject(events_list, REFUSED, times=100)
    with pytest.raises(AuthRequired) as failure:
        pull(store, rig)
    assert str(failure.value) == ("account 'acct' needs login (Google refused the login): "
                                  "run 'syncd auth login acct'")
    no_secret(str(failure.value), rig)
    assert rig.oauth.refreshes >= 1  # google-auth did try a new access token first
    assert store.synced.cursors("acct") == {} and store.count("sightings") == 0
    assert rig.sleeps == []  # a refused login is not retried


def test_a_non_json_answer_fails_the_pull_in_one_sentence_and_stores_nothing(rig: Rig, store: Store) -> None:
    # A captive portal or a misconfigured proxy answers 200 with a web page.
    rig.calendar.add_meeting(start=NOW - timedelta(days=1), attendees=[(OWNER, "accepted"), (ANN, "accepted")])
    pull(store, rig)
    cursor = store.synced.cursors("acct")["calendar:primary"]
    rig.server.inject(events_list, Response(200, "<html>Sign in to the hotel wifi</html>",
                                            {"Content-Type": "text/html"}), times=1)
    try:
        with pytest.raises(ConnectorError) as failure:
            pull(store, rig)
    finally:
        assert store.synced.cursors("acct")["calendar:primary"] == cursor and store.count("sightings") == 1
    assert str(failure.value).startswith("Google Calendar primary: ")
    assert "attribute" not in str(failure.value) and "Expecting value" not in str(failure.value)
    no_secret(str(failure.value), rig)


def test_a_tls_intercepting_proxy_is_one_sentence(rig: Rig, store: Store, tmp_path: Path) -> None:
    # Something on the way presents a certificate no CA vouches for: not retried, said once, nothing stored.
    with FakeServer(tls=self_signed(tmp_path)) as intercepting:
        GoogleCalendarFake(intercepting)
        with pytest.raises(ConnectorError) as failure:
            pull(store, rig, calendar_endpoint=intercepting.base_url + "/calendar/v3/")
        assert intercepting.log == []
    text = str(failure.value)
    assert text.startswith("Google Calendar primary: ") and "CERTIFICATE_VERIFY_FAILED" in text
    no_secret(text, rig)
    assert rig.sleeps == [] and store.synced.cursors("acct") == {}


def test_an_unknown_host_is_one_sentence_naming_the_endpoint(rig: Rig, store: Store,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    real = socket.getaddrinfo

    def resolve(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "calendar.invalid":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    with pytest.raises(ConnectorError) as failure:
        pull(store, rig, calendar_endpoint="http://calendar.invalid/calendar/v3/")
    text = str(failure.value)
    assert text.startswith("Google Calendar primary: cannot reach Google (") and "calendar.invalid" in text
    assert text.endswith("; check the network or the configured endpoint")
    no_secret(text, rig)
    assert rig.sleeps == []  # a name that does not resolve is not waited out 6 times


def test_a_410_to_a_full_sync_is_an_error_not_an_endless_resync(rig: Rig, store: Store) -> None:
    rig.server.inject(events_list, error(410, "fullSyncRequired", "Sync token is no longer valid."), times=1)
    with pytest.raises(ConnectorError) as failure:
        pull(store, rig)
    assert not isinstance(failure.value, CursorExpired)  # syncd.pull would reset and ask again, forever
    assert str(failure.value) == "Google Calendar primary: Google answered HTTP 410 fullSyncRequired"


def test_events_google_sends_without_a_readable_start_are_skips(rig: Rig, store: Store) -> None:
    fake = rig.calendar
    good = fake.add_meeting(start=NOW - timedelta(days=1), attendees=[(OWNER, "accepted"), (ANN, "accepted")])
    none = fake.add_meeting(start=NOW - timedelta(days=2), attendees=[(OWNER, "accepted"), (BOB, "accepted")])
    zoned = fake.add_meeting(start=NOW - timedelta(days=3), attendees=[(OWNER, "accepted"), (BOB, "accepted")])
    garbled = fake.add_meeting(start=NOW - timedelta(days=4), attendees=[(OWNER, "accepted"), (BOB, "accepted")])
    fake.user_edits("primary", none["id"], start=None)
    fake.user_edits("primary", zoned["id"], start={"timeZone": "Europe/Berlin"})  # neither dateTime nor date
    fake.user_edits("primary", garbled["id"], start={"dateTime": "next tuesday"})
    batches = pull(store, rig)
    skips = {s.what: s.why for b in batches for s in b.skipped}
    assert skips == {f"primary/{none['id']}": "unreadable event: ValueError: no start",
                     f"primary/{zoned['id']}": "unreadable event: ValueError: no start",
                     f"primary/{garbled['id']}": skips[f"primary/{garbled['id']}"]}
    assert skips[f"primary/{garbled['id']}"].startswith("unreadable event: ValueError: ")
    assert {row[0] for row in store.db.execute("SELECT provider_id FROM sightings")} == {f"primary/{good['id']}"}
    assert batches[-1].complete and json.loads(store.synced.cursors("acct")["calendar:primary"])["sync"]


@pytest.mark.parametrize("cursor", ["{not json", "[1, 2]", '{"sync": "sync-old", "at": "last tuesday"}',
                                    '{"sync": "sync-old", "at": "2026-03-01T00:00:00"}', '{"sync": "sync-old", "at": 5}'])
def test_an_unreadable_cursor_is_a_full_sync(rig: Rig, store: Store, cursor: str) -> None:
    # An older syncd's cursor, or one edited by hand: read again from scratch, never a crash, never sent as is.
    made = rig.calendar.add_meeting(start=NOW - timedelta(days=1), attendees=[(OWNER, "accepted"), (ANN, "accepted")])
    batches = list(rig.source(now=NOW).pull({"calendar:primary": cursor}, StoreKnown(store)))
    (call,) = rig.calendar.list_calls
    assert "timeMin" in call and "syncToken" not in call
    assert batches[-1].full and batches[-1].complete
    assert [i.provider_id for i in batches[-1].interactions] == [f"primary/{made['id']}"]
    fresh = json.loads(batches[-1].cursor or "{}")
    assert fresh["sync"].startswith("sync-") and fresh["at"] == "2026-03-02T12:00:00Z"


def test_a_calendar_named_by_its_address_is_an_owner_address(rig: Rig, store: Store) -> None:
    batches = pull(store, rig, calendars=(OWNER,))
    assert batches[-1].owner_addresses == [OWNER]  # known without a single event naming the owner


def test_on_a_shared_calendar_me_says_which_answer_is_the_owners(rig: Rig, store: Store) -> None:
    team = "team@group.calendar.google.com"
    rig.calendar.add_calendar(team, "Team")
    made = rig.calendar.add_meeting(team, start=NOW - timedelta(days=1), organizer=ANN,
                                    attendees=[(ANN, "accepted"), (OWNER, "declined")])
    (item,) = [i for b in pull(store, rig, calendars=(team,), me=(OWNER.upper(),)) for i in b.interactions]
    assert item.provider_id == f"{team}/{made['id']}" and item.owner_response == "declined"


# ---- the target: the dedicated calendar ------------------------------------------------------------------


def imported_login(rig: Rig, scopes: list[str]) -> None:
    """A login whose scopes are not recorded (imported from elsewhere): only Google's answers tell."""
    rig.oauth.refresh_tokens["rt-1"] = list(scopes)
    info = json.loads(rig.slot.value or "{}")
    rig.slot.value = json.dumps({**info, "scopes": []})


def test_creating_the_calendar_without_permission_is_one_sentence(rig: Rig) -> None:
    imported_login(rig, [CALENDAR_READ, CALENDAR_LIST_READ])  # may list calendars, not create one
    with pytest.raises(ConnectorError) as failure:
        rig.target().create(followup())
    assert str(failure.value) == ("Google Calendar: creating the follow-ups calendar: Google refused access "
                                  "(insufficientPermissions); check the login's permissions")
    no_secret(str(failure.value), rig)
    assert marked(rig.calendar) == [] and rig.server.requests("POST", r"/events\Z") == []
    assert len(rig.server.requests("POST", r"/calendars\Z")) == 1 and rig.sleeps == []


def test_a_login_revoked_while_creating_the_calendar_is_needs_login(rig: Rig) -> None:
    def revoked_now(request: Request) -> bool:
        if request.method == "POST" and request.path.endswith("/calendars"):
            rig.oauth.revoke("rt-1")  # the user removes syncd's access right now
        return False

    rig.server.inject(revoked_now, DROP, times=1)
    with pytest.raises(AuthRequired, match=r"needs login \(the token was revoked or has expired\)") as failure:
        rig.target().create(followup())
    no_secret(str(failure.value), rig)
    assert marked(rig.calendar) == [] and rig.sleeps == []
    assert len(rig.server.requests("POST", r"/calendars\Z")) == 1  # never retried blindly


def test_a_calendar_create_that_keeps_failing_looks_before_each_retry_and_gives_up(rig: Rig) -> None:
    rig.server.inject(lambda r: r.method == "POST" and r.path.endswith("/calendars"), BACKEND, times=100)
    target = GoogleCalendarTarget("acct", rig.settings(), rig.slot, throttle=rig.throttle(attempts=3))
    with pytest.raises(ConnectorError) as failure:
        target.create(followup())
    assert str(failure.value) == ("Google Calendar: creating the follow-ups calendar: Google kept failing "
                                  "(HTTP 503 backendError); try again later")
    assert len(rig.server.requests("POST", r"/calendars\Z")) == 3
    assert len(rig.server.requests("GET", "calendarList")) == 3  # once first, then after each failed try
    assert len(rig.sleeps) == 2 and marked(rig.calendar) == []


def test_a_create_whose_answer_was_lost_is_found_by_looking(rig: Rig) -> None:
    calendars = r"/calendar/v3/calendars\Z"
    # httplib2 resends a request whose connection dropped once: the first send is dropped unread, the
    # resend is carried out and its answer lost too. syncd then looks before creating again.
    rig.server.inject(lambda r: r.method == "POST" and r.path.endswith("/calendars"), DROP, times=1)
    rig.calendar.lose_answer("POST", calendars)
    target = rig.target()
    target.create(followup())
    (ours,) = marked(rig.calendar)
    assert len(rig.server.requests("POST", calendars)) == 2 and len(rig.sleeps) == 1
    assert [e["id"] for e in rig.calendar.live(ours)] == [event_id("k1")]
    assert rig.target().list_own() == [followup()]


def test_a_create_landed_twice_and_lost_leaves_one_calendar(rig: Rig) -> None:
    # Both sends of the insert land, both answers are lost (httplib2's own resend, then the failure).
    rig.calendar.lose_answer("POST", r"/calendar/v3/calendars\Z", times=2)
    rig.target().create(followup())
    assert len(rig.server.requests("POST", r"/calendar/v3/calendars\Z")) == 2
    assert len(marked(rig.calendar)) == 1


def test_a_calendar_list_that_lags_behind_the_insert_still_uses_the_new_calendar(rig: Rig) -> None:
    stale = Response(200, {"kind": "calendar#calendarList", "items": []})
    rig.server.inject(lambda r: r.path.endswith("/calendarList"), stale, times=2)  # before and after the insert
    rig.target().create(followup())
    (ours,) = marked(rig.calendar)
    assert [e["id"] for e in rig.calendar.live(ours)] == [event_id("k1")]
    assert rig.server.requests("DELETE") == []


def other_machine_creates(rig: Rig, *, with_followup: bool) -> str:
    """Another syncd of the same account makes its calendar between our look and our insert (a race)."""
    other = "zzzzzzzz@group.calendar.google.com"  # sorts after ours: ours is kept, the other is the duplicate

    def race(request: Request) -> bool:
        if request.method == "POST" and request.path.endswith("/calendars") and other not in rig.calendar.calendars:
            made = rig.calendar.add_calendar(other, "Follow-ups", description=f"Follow-ups written by syncd. {MARKER}")
            made.app_created = True
            if with_followup:
                rig.calendar.add_meeting(other, start=START, summary="theirs", event_id=event_id("k9"),
                                         private={"syncd": "1", "syncd_key": "k9"})
        return False

    rig.server.inject(race, DROP, times=1)
    return other


def test_a_duplicate_calendar_holding_events_is_never_removed(rig: Rig) -> None:
    other = other_machine_creates(rig, with_followup=True)
    rig.target().create(followup())
    (ours,) = [c for c in marked(rig.calendar) if c != other]
    assert marked(rig.calendar) == sorted([ours, other])
    assert rig.server.requests("DELETE") == []
    assert [e["summary"] for e in rig.calendar.live(other)] == ["theirs"]
    assert [e["id"] for e in rig.calendar.live(ours)] == [event_id("k1")]


def test_a_duplicate_calendar_gone_before_it_is_checked_is_left_alone(rig: Rig) -> None:
    other = other_machine_creates(rig, with_followup=False)

    def removed_by_the_other_machine(request: Request) -> bool:
        if request.method == "GET" and "zzzzzzzz" in request.path and request.path.endswith("/events"):
            rig.calendar.calendars.pop(other, None)
        return False

    rig.server.inject(removed_by_the_other_machine, DROP, times=1)
    rig.target().create(followup())
    (ours,) = marked(rig.calendar)
    assert ours != other and rig.server.requests("DELETE") == []  # a 404 is not retried as a delete
    assert [e["id"] for e in rig.calendar.live(ours)] == [event_id("k1")]


# ---- the target: events --------------------------------------------------------------------------------


def dedicated(rig: Rig) -> str:
    (found,) = marked(rig.calendar)
    return found


def test_an_own_event_without_a_readable_start_is_not_listed_and_a_create_repairs_it(rig: Rig) -> None:
    rig.target().create(followup())
    calendar = dedicated(rig)
    rig.calendar.user_edits(calendar, event_id("k1"), start={"timeZone": "Europe/Berlin"})
    assert rig.target().list_own() == []
    rig.target().create(followup())  # 409: ours, but unreadable, so not the same: rewritten
    assert rig.calendar.event(calendar, event_id("k1"))["start"] == {"dateTime": START.isoformat(),
                                                                     "timeZone": "Europe/Berlin"}
    assert rig.target().list_own() == [followup()]


def test_an_unreadable_planned_time_is_no_planned_time(rig: Rig) -> None:
    rig.target().create(followup())
    calendar = dedicated(rig)
    rig.calendar.user_edits(calendar, event_id("k1"), extendedProperties={"private": {
        **rig.calendar.event(calendar, event_id("k1"))["extendedProperties"]["private"], PLANNED: "someday"}})
    (listed,) = rig.target().list_own()
    assert listed.key == "k1" and listed.planned_start is None and listed.start == START


def test_an_event_that_exists_but_cannot_be_read_is_left_for_the_next_run(rig: Rig) -> None:
    rig.target().create(followup())
    eid = event_id("k1")
    rig.server.inject(lambda r: r.method == "GET" and r.path.endswith("/events/" + eid),
                      error(404, "notFound", "Not Found"), times=1)
    with pytest.raises(ConnectorError) as failure:
        rig.target().create(followup(title="changed"))
    assert str(failure.value) == "Google Calendar: follow-up k1 exists yet cannot be read; trying next run"
    assert rig.server.requests("PATCH") == []
    assert rig.calendar.event(dedicated(rig), eid)["summary"] == "Reach out to Ann"


@pytest.mark.parametrize("answer", ["purged", error(403, "forbidden", "Forbidden")])
def test_an_update_of_a_follow_up_gone_meanwhile_is_respected(rig: Rig, answer: Any) -> None:
    rig.target().create(followup())
    calendar, eid = dedicated(rig), event_id("k1")
    target = rig.target()
    assert target.list_own() == [followup()]
    if answer == "purged":
        del rig.calendar.calendar(calendar).events[eid]  # gone for good between the listing and the update
    else:  # deleted in the web UI: Google refuses the write with a plain 403 forbidden (docs/google-calendar.md#duplicates-and-tombstones)
        rig.server.inject(lambda r: r.method == "PATCH", answer, times=1)
    target.update(followup(title="changed"))  # no error: the user's deletion wins
    assert len(rig.server.requests("PATCH")) == 1 and rig.server.requests("POST", r"/events\Z")[1:] == []
    assert all(e["summary"] != "changed" for e in rig.calendar.live(calendar))


def test_an_update_the_login_may_not_make_is_one_sentence(rig: Rig) -> None:
    rig.target(followups_calendar_id="primary").create(followup())
    imported_login(rig, [CALENDAR_READ])  # logged in again with read access only
    rig.oauth.expire_access_tokens()
    with pytest.raises(ConnectorError) as failure:
        rig.target(followups_calendar_id="primary").update(followup(title="changed"))
    assert str(failure.value) == ("Google Calendar: updating a follow-up: Google refused access "
                                  "(insufficientPermissions); check the login's permissions")
    no_secret(str(failure.value), rig)
    assert rig.calendar.event("primary", event_id("k1"))["summary"] == "Reach out to Ann"
    assert CALENDAR_EVENTS not in rig.oauth.refresh_tokens["rt-1"]


def test_update_and_delete_before_any_follow_up_calendar_exists_write_nothing(rig: Rig) -> None:
    target = rig.target()
    target.update(followup())
    target.delete("k1")
    assert marked(rig.calendar) == []
    # A look at the calendar list each, nothing else.
    assert [(r.method, r.path.rsplit("/", 1)[-1]) for r in rig.server.log] == [("GET", "calendarList")] * 2


def test_a_used_up_daily_quota_is_said_as_such_not_as_a_refused_calendar(rig: Rig, store: Store) -> None:
    rig.server.inject(lambda r: r.path.endswith("/events"),
                      error(403, "dailyLimitExceeded", "Calendar usage limits exceeded."))
    with pytest.raises(ConnectorError, match="daily quota for your project is used up") as raised:
        pull(store, rig)
    assert "refused" not in str(raised.value)
