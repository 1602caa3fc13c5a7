"""Outlook calendar source against the stateful Graph calendar fake, over real loopback HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connectors.base import Batch, CursorExpired, FollowupEvent, Interaction
from connectors.microsoft.calendar import OutlookCalendarSource, is_own, transaction_id
from connectors.microsoft.calendar_target import OutlookCalendarTarget
from syncd.store import Store
from tests.fakes.graph_calendar import GraphCalendarFake
from tests.fakes.graph_calendar_contract import TOKEN, no_sleep_throttle, settings
from tests.fakes.known import StoreKnown as Known
from tests.fakes.known import pull_into
from tests.fakes.server import FakeServer

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
ALICE, BOB, CAROL = "alice@example.org", "bob@example.org", "carol@example.org"


def source(server: FakeServer, now: datetime = NOW, **extra: Any) -> OutlookCalendarSource:
    return OutlookCalendarSource("acct", settings(server.base_url, now=now, page_size=2, **extra), None,
                                 token=lambda force: TOKEN, throttle=no_sleep_throttle())


def pull(store: Store, src: OutlookCalendarSource) -> list[Batch]:
    return pull_into(store, src)


def items(batches: list[Batch]) -> dict[str, Interaction]:
    return {i.provider_id: i for b in batches for i in b.interactions}


def test_full_then_incremental_delta(server: FakeServer, fake: GraphCalendarFake, store: Store) -> None:
    ids = [fake.add_meeting(f"m{n}", NOW - timedelta(days=n + 1), attendees=[(ALICE, "accepted")]) for n in range(5)]
    first = pull(store, source(server))
    assert set(items(first)) == set(ids)
    assert len(first) == 3 and all(b.full for b in first) and [b.complete for b in first] == [False, False, True]
    # The window goes on the first call only; later calls replay the links verbatim (docs/microsoft-graph.md#calendar-delta).
    calls = server.requests("GET", r"/calendarView/delta$")
    assert calls[0].arg("startDateTime") == "2025-03-02T12:00:00Z" and calls[0].arg("endDateTime") == "2026-08-29T12:00:00Z"
    assert all(c.arg("startDateTime") is None for c in calls[1:])
    assert all("odata.maxpagesize=2" in c.headers["prefer"] and 'IdType="ImmutableId"' in c.headers["prefer"] for c in calls)
    assert not any(k in c.query for c in calls for k in ("$select", "$filter", "$orderby", "$expand"))

    new = fake.add_meeting("new", NOW - timedelta(hours=2), attendees=[(BOB, "accepted")])
    fake.user_update(ids[0], subject="renamed")
    second = pull(store, source(server))
    assert set(items(second)) == {new, ids[0]}
    assert items(second)[ids[0]].subject == "renamed"
    assert not any(b.full for b in second)
    assert store.count("interactions") == 6
    again = pull(store, source(server))
    assert sum(len(b.interactions) + len(b.deleted) for b in again) == 0


def test_meeting_fields_and_responses(server: FakeServer, fake: GraphCalendarFake, store: Store) -> None:
    start = NOW - timedelta(days=3)
    event = fake.add_meeting(
        "Review", start, 45, organizer=ALICE, response="tentativelyAccepted",
        attendees=[(ALICE, "organizer"), (BOB, "declined"), (CAROL, "notResponded"), ("sam@example.com", "tentativelyAccepted"),
                   ("dan@example.org", "none"), ("eve@example.org", "accepted")],
        resources=["room-4@example.org"],
    )
    got = items(pull(store, source(server)))[event]
    assert got.kind == "event" and got.timestamp == start and got.end == start + timedelta(minutes=45)
    assert got.subject == "Review" and got.link and got.link.startswith("https://outlook.example/")
    assert got.owner_response == "tentative" and not got.cancelled and got.series_id is None
    people = {(p.address, p.role, p.response) for p in got.participants}
    assert people == {
        (ALICE, "organizer", None), (BOB, "attendee", "declined"), (CAROL, "attendee", "needs-action"),
        ("sam@example.com", "attendee", "tentative"), ("dan@example.org", "attendee", "needs-action"),
        ("eve@example.org", "attendee", "accepted"),
    }  # the room is no person
    assert all(p.timestamp is None or p.timestamp.utcoffset() == timedelta(0) for p in [got])


def test_cancelled_declined_and_all_day(server: FakeServer, fake: GraphCalendarFake, store: Store) -> None:
    cancelled = fake.add_meeting("off", NOW - timedelta(days=1), organizer=ALICE, cancelled=True, attendees=[(ALICE, "organizer")])
    declined = fake.add_meeting("no", NOW - timedelta(days=2), organizer=BOB, response="declined", attendees=[(BOB, "organizer")])
    mine = fake.add_meeting("mine", NOW - timedelta(days=2), attendees=[(CAROL, "accepted")])
    allday = fake.add_meeting("offsite", datetime(2026, 2, 20, tzinfo=UTC), all_day=True, attendees=[(CAROL, "accepted")])
    got = items(pull(store, source(server)))
    assert got[cancelled].cancelled
    assert got[declined].owner_response == "declined"
    assert got[mine].owner_response == "accepted"  # the owner organised it
    assert got[allday].all_day and got[allday].end == datetime(2026, 2, 21, tzinfo=UTC)


def test_occurrences_count_and_the_series_master_does_not(server: FakeServer, fake: GraphCalendarFake, store: Store) -> None:
    master = fake.add_meeting("weekly", NOW - timedelta(days=21), type="seriesMaster", attendees=[(ALICE, "accepted")])
    occurrences = [
        fake.add_meeting("weekly", NOW - timedelta(days=21 - 7 * n), type="occurrence", series_master_id=master,
                         attendees=[(ALICE, "accepted")])
        for n in range(3)
    ]
    exception = fake.add_meeting("weekly (moved)", NOW - timedelta(days=-1), type="exception", series_master_id=master,
                                 attendees=[(ALICE, "accepted")])
    got = items(pull(store, source(server)))
    assert set(got) == {*occurrences, exception}
    assert {i.series_id for i in got.values()} == {master}


def test_removed_events_and_the_window(server: FakeServer, fake: GraphCalendarFake, store: Store) -> None:
    keep = fake.add_meeting("keep", NOW - timedelta(days=5), attendees=[(ALICE, "accepted")])
    drop = fake.add_meeting("drop", NOW - timedelta(days=6), attendees=[(ALICE, "accepted")])
    leaves = fake.add_meeting("leaves", NOW - timedelta(days=7), attendees=[(ALICE, "accepted")])
    pull(store, source(server))
    fake.user_delete(drop)
    fake.user_move(leaves, timedelta(days=400))  # now beyond the window's end: Graph reports it @removed
    far = fake.add_meeting("far", NOW + timedelta(days=300), attendees=[(BOB, "accepted")])  # outside: @removed too
    fake.user_delete(fake.add_meeting("brief", NOW - timedelta(days=400)))
    batches = pull(store, source(server))
    removed_ids = {e["id"] for entries in fake.rounds.values() for e in entries if "@removed" in e}
    assert {drop, leaves, far} <= removed_ids  # the fake does send them
    deleted = [d for b in batches for d in b.deleted]
    assert sorted(deleted) == sorted([drop, leaves])  # only ids this account holds; "far" was never ours
    assert store.synced.known_ids("acct", "calendar") == {keep}


def test_replays_are_harmless(server: FakeServer, fake: GraphCalendarFake, store: Store) -> None:
    pull(store, source(server))
    fake.add_meeting("a", NOW - timedelta(days=1), attendees=[(ALICE, "accepted")])
    fake.add_meeting("b", NOW - timedelta(days=2), attendees=[(BOB, "accepted")])
    fake.replay_next_round()
    batches = pull(store, source(server))
    assert sum(len(b.interactions) for b in batches) == 4
    assert store.count("interactions") == 2


def test_expired_delta_resyncs_without_duplicates(server: FakeServer, fake: GraphCalendarFake, store: Store) -> None:
    ids = [fake.add_meeting(f"m{n}", NOW - timedelta(days=n + 1), attendees=[(ALICE, "accepted")]) for n in range(3)]
    pull(store, source(server))
    fake.user_delete(ids[0])
    fake.expire_delta()
    with pytest.raises(CursorExpired) as expired:
        pull(store, source(server))
    assert expired.value.resource == "calendar"
    store.synced.reset_cursor("acct", "calendar")  # what syncd.pull does on CursorExpired
    batches = pull(store, source(server))
    assert batches[0].full and batches[-1].complete
    assert store.synced.known_ids("acct", "calendar") == {ids[1], ids[2]}  # the full round's sweep drops the deleted one
    assert store.count("sightings") == 2  # each meeting once: the resync re-read them under the same ids


def test_a_killed_pull_resumes_from_the_next_link(server: FakeServer, fake: GraphCalendarFake, store: Store) -> None:
    ids = {fake.add_meeting(f"m{n}", NOW - timedelta(days=n + 1), attendees=[(ALICE, "accepted")]) for n in range(5)}
    generator = source(server).pull(store.synced.cursors("acct"), Known(store))
    store.synced.apply_batch("acct", next(generator))  # killed after the first committed page
    rest = pull(store, source(server))
    assert rest[0].full and rest[-1].complete
    assert store.synced.known_ids("acct", "calendar") == ids
    first_call = [c for c in server.requests("GET", r"/calendarView/delta$") if c.arg("startDateTime")]
    assert len(first_call) == 1  # resumed from the stored link, not restarted


def test_an_aging_window_starts_a_fresh_full_round(server: FakeServer, fake: GraphCalendarFake, store: Store) -> None:
    fake.add_meeting("now", NOW - timedelta(days=1), attendees=[(ALICE, "accepted")])
    pull(store, source(server))
    later = NOW + timedelta(days=100)  # half the 180-day look-ahead has passed
    ahead = fake.add_meeting("ahead", NOW + timedelta(days=250), attendees=[(BOB, "accepted")])
    batches = pull(store, source(server, now=later))
    assert batches[0].full and ahead in items(batches)


def test_own_follow_ups_are_never_meetings(server: FakeServer, fake: GraphCalendarFake, store: Store) -> None:
    base = settings(server.base_url, followups_calendar_id="primary")
    target = OutlookCalendarTarget("acct", base, None, token=lambda force: TOKEN, throttle=no_sleep_throttle())
    start = NOW - timedelta(hours=3)
    target.create(FollowupEvent("k1", ALICE, start, 15, "Reach out to Alice", "x", 10, start))
    target.commit()
    dedicated = OutlookCalendarTarget("acct", settings(server.base_url), None, token=lambda force: TOKEN,
                                      throttle=no_sleep_throttle())
    dedicated.create(FollowupEvent("k2", BOB, start, 15, "Reach out to Bob", "x", 10, start))
    dedicated.commit()
    meeting = fake.add_meeting("real", NOW - timedelta(days=1), attendees=[(ALICE, "accepted")])
    # Another app's event with a transactionId of its own is still a meeting.
    other = fake.add_meeting("other app", NOW - timedelta(days=2), attendees=[(BOB, "accepted")],
                             transaction_id="7E163156-7762-4BEB-A1C6-729EA81755A7")
    got = items(pull(store, source(server)))
    assert set(got) == {meeting, other}
    assert transaction_id("k1").startswith("5d0c0f0e-") and transaction_id("K1") == transaction_id("k1")
    assert is_own({"transactionId": transaction_id("k1")}) and not is_own({"transactionId": "7E163156-7762"})
    # An own follow-up changed later (a snooze) is still not read in the incremental round.
    own_id = fake.by_key("k1", "String {8f3b6a52-1d7c-4c3e-9b15-5e2f0d6a9c41} Name syncdKey")[0].data["id"]
    fake.user_move(own_id, timedelta(days=1))
    assert items(pull(store, source(server))) == {}


def test_refused_token_is_refreshed_once_and_never_shown(server: FakeServer, fake: GraphCalendarFake, store: Store) -> None:
    fake.add_meeting("m", NOW - timedelta(days=1), attendees=[(ALICE, "accepted")])
    asked: list[bool] = []
    current = ["stale-secret-token"]

    def token(force: bool) -> str:  # like a real provider: a forced refresh replaces the cached token
        asked.append(force)
        if force:
            current[0] = TOKEN
        return current[0]

    src = OutlookCalendarSource("acct", settings(server.base_url, now=NOW), None, token=token,
                                throttle=no_sleep_throttle())
    assert len(items(pull(store, src))) == 1
    assert asked.count(True) == 1
    broken = OutlookCalendarSource("acct", settings(server.base_url, now=NOW), None,
                                   token=lambda force: "stale-secret-token", throttle=no_sleep_throttle())
    with pytest.raises(Exception) as failed:
        pull(Store(":memory:"), broken)
    assert "stale-secret-token" not in str(failed.value)


def test_without_a_token_callable_the_login_comes_from_microsoft_auth(server: FakeServer, fake: GraphCalendarFake,
                                                                      store: Store) -> None:
    from connectors.base import AuthRequired
    from tests.fakes.slot import MemorySlot

    src = OutlookCalendarSource("acct", settings(server.base_url, client_id="app", now=NOW), MemorySlot())
    with pytest.raises(AuthRequired, match="needs login"):
        pull(store, src)
    assert server.log == []


def test_one_microsoft_account_reads_mail_and_meetings_with_a_real_login(store: Store) -> None:
    from connectors.microsoft.auth import login
    from connectors.microsoft.source import MicrosoftSource
    from tests.fakes.entra import AUTHORITY, CLIENT_ID, FakeEntra
    from tests.fakes.graph_mail import GraphMailFake
    from tests.fakes.slot import MemorySlot

    entra = FakeEntra("sam@example.com")
    with FakeServer(max_concurrent=4) as shared:
        mail = GraphMailFake(shared, owner="sam@example.com", auth=entra.guard)
        mail.add("sentitems", sender="sam@example.com", to=[ALICE], when=NOW - timedelta(days=3))
        calendar = GraphCalendarFake(shared)  # the mail fake's guard (Entra's tokens) covers every route
        meeting = calendar.add_meeting("sync", NOW - timedelta(days=1), attendees=[(BOB, "accepted")])
        config = {**settings(shared.base_url, now=NOW), "client_id": CLIENT_ID, "authority": AUTHORITY,
                  "mail": True, "calendar": True, "folders": ("inbox", "sentitems"), "msal_http_client": entra}
        slot = MemorySlot()
        login("acct", config, slot, echo=lambda _: None, http_client=entra)
        batches = list(MicrosoftSource("acct", config, slot).pull({}, Known(store)))
    assert {b.resource for b in batches} >= {"calendar"}
    assert meeting in items(batches)
    assert any(b.resource.startswith("mail") and b.interactions for b in batches)


def test_links_of_another_graph_root_start_over(server: FakeServer, fake: GraphCalendarFake, store: Store) -> None:
    meeting = fake.add_meeting("m", NOW - timedelta(days=1), attendees=[(ALICE, "accepted")])
    pull(store, source(server))
    cursor = store.synced.cursors("acct")["calendar"]
    elsewhere = cursor.replace(server.base_url, "https://graph.microsoft.us")
    store.synced.apply_batch("acct", Batch("calendar", elsewhere))
    batches = pull(store, source(server))
    assert batches[0].full and meeting in items(batches)
    assert all(r.headers.get("host", "").startswith("127.0.0.1") for r in server.log)
