"""Google Calendar as a source of meetings, against the stateful fake through the real client libraries."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from connectors.base import AuthRequired, Batch, ConnectorError, CursorExpired, Interaction, Source
from connectors.google.calendar import GoogleCalendarSource
from syncd.store import Store
from tests.fakes.gcal import OWNER
from tests.fakes.gcal_contract import Rig
from tests.fakes.known import StoreKnown as _Known
from tests.fakes.server import DROP, Response

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)
ANN, BOB, CAT = "ann@example.org", "bob@example.org", "cat@example.org"


def pull(store: Store, source: Source) -> list[Batch]:
    """What syncd.pull does: apply each batch, and on CursorExpired forget the cursor and pull again."""
    batches: list[Batch] = []
    for _ in range(3):
        try:
            for batch in source.pull(store.synced.cursors("acct"), _Known(store)):
                store.synced.apply_batch("acct", batch)
                batches.append(batch)
            return batches
        except CursorExpired as expired:
            store.synced.reset_cursor("acct", expired.resource)
    raise AssertionError("kept expiring")


def items(batches: list[Batch]) -> dict[str, Interaction]:
    return {item.provider_id: item for batch in batches for item in batch.interactions}


def source(rig: Rig, **extra: object) -> Source:
    return rig.source(**{"now": NOW, **extra})


def stored_ids(store: Store) -> set[str]:
    return {row[0] for row in store.db.execute("SELECT provider_id FROM sightings WHERE account = 'acct'")}


def test_full_then_incremental_pull(rig: Rig, store: Store) -> None:
    fake = rig.calendar
    one = fake.add_meeting(summary="Lunch", start=NOW - timedelta(days=3), organizer=ANN,
                           attendees=[(ANN, "accepted"), (OWNER, "accepted"), (BOB, "tentative")],
                           names={ANN: "Ann Berg"})
    fake.add_series(series_id="weekly1", starts=[NOW - timedelta(days=14), NOW - timedelta(days=7)],
                    summary="Weekly", attendees=[(OWNER, "accepted"), (CAT, "needsAction")])
    first = pull(store, source(rig))
    got = items(first)
    assert len(got) == 3
    lunch = got[f"primary/{one['id']}"]
    assert lunch.kind == "event" and lunch.subject == "Lunch"
    assert lunch.timestamp == NOW - timedelta(days=3) and lunch.end == NOW - timedelta(days=3, minutes=-30)
    assert lunch.link == one["htmlLink"] and lunch.owner_response == "accepted" and not lunch.all_day
    assert [(p.address, p.name, p.role, p.response) for p in lunch.participants] == [
        (ANN, "Ann Berg", "organizer", None), (ANN, "Ann Berg", "attendee", "accepted"),
        (OWNER, "", "attendee", "accepted"), (BOB, "", "attendee", "tentative")]
    weekly = [i for i in got.values() if i.series_id == "weekly1"]
    assert len(weekly) == 2 and {p.response for i in weekly for p in i.participants if p.address == CAT} == {
        "needs-action"}
    assert first[-1].full and first[-1].complete and first[-1].owner_addresses == [OWNER]
    cursor = json.loads(store.synced.cursors("acct")["calendar:primary"])
    assert cursor["sync"]
    full_call = fake.list_calls[0]
    assert "timeMin" in full_call and "syncToken" not in full_call and full_call["singleEvents"] == ["true"]

    # Nothing new: nothing re-read, nothing written.
    again = pull(store, source(rig))
    assert items(again) == {} and not any(b.deleted for b in again)
    incremental = fake.list_calls[-1]
    assert set(incremental) - {"alt"} == {"syncToken", "singleEvents", "maxResults"}  # docs/google-calendar.md#listing-events: nothing forbidden

    new = fake.add_meeting(summary="Coffee", start=NOW - timedelta(hours=2), attendees=[(OWNER, "accepted"),
                                                                                        (CAT, "accepted")])
    fake.user_edits("primary", one["id"], summary="Long lunch")
    changed = pull(store, source(rig))
    assert set(items(changed)) == {f"primary/{new['id']}", f"primary/{one['id']}"}
    assert not changed[-1].full and items(changed)[f"primary/{one['id']}"].subject == "Long lunch"
    assert store.count("sightings") == 4


def test_cancelled_events_and_occurrences_are_removed(rig: Rig, store: Store) -> None:
    fake = rig.calendar
    one = fake.add_meeting(start=NOW - timedelta(days=2), attendees=[(OWNER, "accepted"), (ANN, "accepted")])
    series = fake.add_series(series_id="daily", starts=[NOW - timedelta(days=d) for d in (3, 2, 1)],
                             attendees=[(OWNER, "accepted"), (BOB, "accepted")])
    pull(store, source(rig))
    assert store.count("sightings") == 4
    fake.user_deletes("primary", one["id"])  # the organizer cancelled it
    fake.user_deletes("primary", series[1]["id"])  # one occurrence cancelled
    batches = pull(store, source(rig))
    deleted = {pid for b in batches for pid in b.deleted}
    assert deleted == {f"primary/{one['id']}", f"primary/{series[1]['id']}"}
    assert stored_ids(store) == {f"primary/{series[0]['id']}", f"primary/{series[2]['id']}"}
    # Cancelled events never come back in a full sync either (showDeleted stays off).
    rig.calendar.expire_sync_tokens()
    pull(store, source(rig))
    assert stored_ids(store) == {f"primary/{series[0]['id']}", f"primary/{series[2]['id']}"}


def test_owner_declined_and_organised(rig: Rig, store: Store) -> None:
    fake = rig.calendar
    declined = fake.add_meeting(start=NOW - timedelta(days=1), organizer=ANN,
                                attendees=[(ANN, "accepted"), (OWNER, "declined")])
    mine = fake.add_meeting(start=NOW - timedelta(days=1), attendees=[(BOB, "accepted")])
    got = items(pull(store, source(rig)))
    assert got[f"primary/{declined['id']}"].owner_response == "declined"
    organised = got[f"primary/{mine['id']}"]
    assert organised.owner_response is None
    assert [(p.address, p.role) for p in organised.participants] == [(OWNER, "organizer"), (BOB, "attendee")]


def test_expired_sync_token_resyncs_without_duplicates(rig: Rig, store: Store) -> None:
    fake = rig.calendar
    keep = fake.add_meeting(start=NOW - timedelta(days=5), attendees=[(OWNER, "accepted"), (ANN, "accepted")])
    gone = fake.add_meeting(start=NOW - timedelta(days=4), attendees=[(OWNER, "accepted"), (BOB, "accepted")])
    pull(store, source(rig))
    fake.expire_sync_tokens()
    # While the token was lost, an event vanished without a trace for us (its tombstone is never listed).
    del fake.calendar("primary").events[gone["id"]]
    added = fake.add_meeting(start=NOW - timedelta(days=1), attendees=[(OWNER, "accepted"), (CAT, "accepted")])
    with pytest.raises(CursorExpired):
        list(source(rig).pull(store.synced.cursors("acct"), _Known(store)))
    batches = pull(store, source(rig))
    assert batches[-1].full and batches[-1].complete
    assert stored_ids(store) == {f"primary/{keep['id']}", f"primary/{added['id']}"}
    assert store.count("interactions") == 2
    assert store.count("sightings") == 2


def test_syncds_own_followups_are_never_meetings(rig: Rig, store: Store) -> None:
    fake = rig.calendar
    fake.add_meeting(start=NOW - timedelta(days=1), summary="Reach out to Ann", private={"syncd": "1", "syncd_key": "k"},
                     transparency="transparent")
    real = fake.add_meeting(start=NOW - timedelta(days=1), attendees=[(OWNER, "accepted"), (ANN, "accepted")])
    assert set(items(pull(store, source(rig)))) == {f"primary/{real['id']}"}
    # Incremental changes of a follow-up are filtered too (docs/google-calendar.md#sync-tokens).
    fake.add_meeting(start=NOW + timedelta(days=1), summary="Reach out to Bob", private={"syncd": "1"})
    assert items(pull(store, source(rig))) == {}


def test_window_filtering_full_and_incremental(rig: Rig, store: Store) -> None:
    fake = rig.calendar
    old = fake.add_meeting(start=NOW - timedelta(days=6 * 365), attendees=[(OWNER, "accepted"), (ANN, "accepted")])
    far = fake.add_meeting(start=NOW + timedelta(days=500), attendees=[(OWNER, "accepted"), (ANN, "accepted")])
    near = fake.add_meeting(start=NOW + timedelta(days=10), attendees=[(OWNER, "accepted"), (BOB, "accepted")])
    moved = fake.add_meeting(start=NOW - timedelta(days=10), attendees=[(OWNER, "accepted"), (CAT, "accepted")])
    assert set(items(pull(store, source(rig)))) == {f"primary/{near['id']}", f"primary/{moved['id']}"}
    # Incremental lists changes outside the window too: filtered here, and a known event moved out is gone.
    fake.user_edits("primary", old["id"], summary="renamed long ago")
    fake.user_edits("primary", far["id"], summary="renamed far ahead")
    fake.user_moves("primary", moved["id"], -timedelta(days=7 * 365))
    batches = pull(store, source(rig))
    assert items(batches) == {}
    assert {pid for b in batches for pid in b.deleted} == {f"primary/{moved['id']}"}
    assert stored_ids(store) == {f"primary/{near['id']}"}


def test_all_day_rooms_and_non_meetings(rig: Rig, store: Store) -> None:
    fake = rig.calendar
    offsite = fake.add_meeting(start=date(2026, 2, 20), summary="Offsite",
                               attendees=[(OWNER, "accepted"), (ANN, "accepted"),
                                          ("room-1@resource.calendar.google.com", "accepted")])
    fake.calendar("primary").events[offsite["id"]]["attendees"][2]["resource"] = True
    fake.add_meeting(start=NOW - timedelta(days=1), summary="Home", eventType="workingLocation")
    got = items(pull(store, source(rig)))
    assert list(got) == [f"primary/{offsite['id']}"]
    item = got[f"primary/{offsite['id']}"]
    assert item.all_day and item.timestamp == datetime(2026, 2, 20, tzinfo=UTC)
    assert item.end == datetime(2026, 2, 21, tzinfo=UTC)
    assert {p.address for p in item.participants} == {OWNER, ANN}


def test_pages_and_several_calendars(rig: Rig, store: Store) -> None:
    fake = rig.calendar
    fake.page_size = 2
    team = "team@group.calendar.google.com"
    fake.add_calendar(team, "Team")
    for day in range(5):
        fake.add_meeting(start=NOW - timedelta(days=day + 1), attendees=[(OWNER, "accepted"), (ANN, "accepted")])
    fake.add_meeting(team, start=NOW - timedelta(days=1), attendees=[(BOB, "accepted")])
    batches = pull(store, source(rig, calendars=("primary", team)))
    primary = [b for b in batches if b.resource == "calendar:primary"]
    assert len(primary) == 3 and [b.complete for b in primary] == [False, False, True]
    assert json.loads(primary[0].cursor or "{}") == {"partial": True}
    assert store.count("sightings") == 6
    owners = [b.owner_addresses for b in batches if b.resource == f"calendar:{team}"][-1]
    assert team not in owners  # a calendar's own id is no address of the user


def test_missing_calendar_is_skipped_and_others_are_read(rig: Rig, store: Store) -> None:
    rig.calendar.add_meeting(start=NOW - timedelta(days=1), attendees=[(OWNER, "accepted"), (ANN, "accepted")])
    batches = pull(store, source(rig, calendars=("gone@group.calendar.google.com", "primary")))
    skipped = [s for b in batches for s in b.skipped]
    assert len(skipped) == 1 and "not found" in skipped[0].why
    assert store.count("sightings") == 1


def test_rate_limit_storms_and_server_errors_are_retried(rig: Rig, store: Store) -> None:
    fake = rig.calendar
    fake.add_meeting(start=NOW - timedelta(days=1), attendees=[(OWNER, "accepted"), (ANN, "accepted")])
    fake.rate_limit(2, status=429, retry_after="3")
    fake.rate_limit(1, status=403)
    rig.server.inject(lambda r: "/events" in r.path, Response(503, {"error": {"code": 503, "message": "backendError"}}))
    rig.server.inject(lambda r: "/events" in r.path, DROP)
    assert len(items(pull(store, source(rig)))) == 1
    assert 3.0 in rig.sleeps  # Retry-After honoured, through the throttle's (fake) sleep


def test_persistent_failure_is_one_sentence_without_token(rig: Rig, store: Store) -> None:
    rig.calendar.rate_limit(50, status=500)
    with pytest.raises(ConnectorError) as failure:
        pull(store, source(rig))
    assert "after 6 tries" in str(failure.value)
    assert "at-" not in str(failure.value) and "rt-1" not in str(failure.value)


def test_expired_access_token_is_refreshed_and_saved(rig: Rig, store: Store) -> None:
    rig.calendar.add_meeting(start=NOW - timedelta(days=1), attendees=[(OWNER, "accepted"), (ANN, "accepted")])
    rig.oauth.expire_access_tokens()
    assert len(items(pull(store, source(rig)))) == 1
    assert rig.oauth.refreshes == 1 and rig.slot.writes == 1


def test_revoked_login_needs_login(rig: Rig, store: Store) -> None:
    rig.oauth.revoke("rt-1")
    rig.oauth.expire_access_tokens()
    with pytest.raises(AuthRequired, match="needs login"):
        pull(store, source(rig))
    with pytest.raises(AuthRequired):
        list(GoogleCalendarSource("acct", rig.settings(), None).pull({}, _Known(store)))  # never logged in


def test_no_calendars_reads_nothing(rig: Rig, store: Store) -> None:
    assert pull(store, source(rig, calendars=())) == []
    assert rig.server.log == []


def test_a_full_resync_once_the_last_one_is_old(rig: Rig, store: Store) -> None:
    fake = rig.calendar
    fake.add_meeting(start=NOW - timedelta(days=1), attendees=[(OWNER, "accepted"), (ANN, "accepted")])
    pull(store, source(rig))
    pull(store, source(rig, now=NOW + timedelta(days=10)))
    assert "syncToken" in fake.list_calls[-1]
    batches = pull(store, source(rig, now=NOW + timedelta(days=31)))
    assert "timeMin" in fake.list_calls[-1] and batches[-1].full and batches[-1].complete


def test_an_interrupted_full_sync_starts_over(rig: Rig, store: Store) -> None:
    fake = rig.calendar
    fake.page_size = 2
    for day in range(5):
        fake.add_meeting(start=NOW - timedelta(days=day + 1), attendees=[(OWNER, "accepted"), (ANN, "accepted")])
    rig.server.inject(lambda r: r.arg("pageToken") is not None and "/events" in r.path,
                      Response(400, {"error": {"code": 400, "message": "Invalid page token value."}}))
    first = source(rig).pull(store.synced.cursors("acct"), _Known(store))
    store.synced.apply_batch("acct", next(first))
    with pytest.raises(ConnectorError):
        next(first)
    assert json.loads(store.synced.cursors("acct")["calendar:primary"]) == {"partial": True}
    batches = pull(store, source(rig))
    assert "timeMin" in fake.list_calls[-3] and batches[-1].complete
    assert store.count("sightings") == 5


def test_times_with_a_zone_name_and_no_offset(rig: Rig, store: Store) -> None:
    fake = rig.calendar
    made = fake.add_meeting(start=NOW - timedelta(days=1), attendees=[(OWNER, "accepted"), (ANN, "accepted")])
    fake.user_edits("primary", made["id"], start={"dateTime": "2026-03-01T10:00:00", "timeZone": "Europe/Berlin"},
                    end={"dateTime": "2026-03-01T11:00:00", "timeZone": "Europe/Berlin"})
    (item,) = items(pull(store, source(rig))).values()
    assert item.timestamp == datetime(2026, 3, 1, 9, tzinfo=UTC) and item.end == datetime(2026, 3, 1, 10, tzinfo=UTC)


def test_a_deselected_calendar_is_forgotten_once(rig: Rig, store: Store) -> None:
    team = "team@group.calendar.google.com"
    rig.calendar.add_calendar(team, "Team")
    rig.calendar.add_meeting(team, start=NOW - timedelta(days=1), attendees=[(BOB, "accepted")])
    rig.calendar.add_meeting(start=NOW - timedelta(days=1), attendees=[(OWNER, "accepted"), (ANN, "accepted")])
    pull(store, source(rig, calendars=("primary", team)))
    assert store.count("sightings") == 2
    batches = pull(store, source(rig))
    assert [b.deleted for b in batches if b.resource == f"calendar:{team}"] == [[f"{team}/m00001"]]
    assert store.count("sightings") == 1 and f"calendar:{team}" not in store.synced.cursors("acct")
    assert all(b.resource == "calendar:primary" for b in pull(store, source(rig)))


def test_a_series_repeating_hourly_keeps_one_occurrence_a_day(rig: Rig, store: Store) -> None:
    """Google expands any RFC 5545 rule, FREQ=HOURLY too: one a day is kept, and that is said once."""
    hourly = [NOW - timedelta(days=3) + timedelta(hours=h) for h in range(72)]
    rig.calendar.add_series(series_id="hourly", starts=hourly, organizer=ANN, attendees=[(OWNER, "accepted")])
    batches = pull(store, source(rig))
    kept = sorted(i.timestamp for i in items(batches).values() if i.series_id == "hourly" and i.timestamp)
    assert [t.date() for t in kept] == sorted({t.date() for t in hourly})  # one a day, each day
    notes = [s for b in batches for s in b.skipped if s.why.startswith("recurrence thinned")]
    assert [s.what for s in notes] == ["primary/hourly"]
