"""Outlook follow-ups target against the stateful Graph calendar fake, over real loopback HTTP, and driven
by syncd.plan.reconcile for the user's moves, deletions and crashes."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import unquote
from zoneinfo import ZoneInfo

import pytest

from connectors.base import ConnectorError, FollowupEvent
from connectors.microsoft.calendar import KEY_PROP, META_PROP, transaction_id
from connectors.microsoft.calendar_target import OutlookCalendarTarget
from connectors.throttle import RateBudget, RetryPolicy, Throttle
from syncd.config import FollowupsConfig
from syncd.engine.due import DueFollowup
from syncd.plan.actions import ApplyResult
from syncd.plan.occasions import followup_key
from syncd.plan.reconcile import reconcile
from syncd.store import Store
from tests.fakes.graph_calendar import PRIMARY, GraphCalendarFake
from tests.fakes.graph_calendar_contract import TOKEN, no_sleep_throttle, settings, written
from tests.fakes.server import DROP, TRUNCATE, FakeServer, Request, Response

BERLIN = ZoneInfo("Europe/Berlin")
CFG = FollowupsConfig(timezone=BERLIN, reminder=timedelta(minutes=10))
MONDAY = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)
START = datetime(2026, 3, 3, 9, 30, tzinfo=UTC)


def target(server: FakeServer, sleeps: list[float] | None = None, throttle: Throttle | None = None,
           **extra: Any) -> OutlookCalendarTarget:
    return OutlookCalendarTarget("acct", settings(server.base_url, **extra), None, token=lambda force: TOKEN,
                                 throttle=throttle or no_sleep_throttle(sleeps))


def followup(key: str, title: str = "Reach out to Alice", start: datetime = START, **kw: Any) -> FollowupEvent:
    values: dict[str, Any] = {"person": "alice@example.org", "duration_minutes": 15, "title": title,
                              "description": "Last contact: 2026-02-01 (mail)\nRhythm: every 30 days\n",
                              "reminder_minutes": 10, "planned_start": start}
    values.update(kw)
    return FollowupEvent(key=key, start=start, **values)



def writes_to(server: FakeServer, event_id: str) -> list[Request]:
    return [r for r in server.log if r.method in ("PATCH", "DELETE") and unquote(r.path).endswith("/" + event_id)]


def followups_calendar(fake: GraphCalendarFake) -> str:
    (calendar,) = fake.calendar_named("Follow-ups")
    return str(calendar["id"])


# ---- writing and reading -----------------------------------------------------------------------------


def test_create_list_update_delete_in_a_dedicated_calendar(server: FakeServer, fake: GraphCalendarFake) -> None:
    first = target(server)
    assert first.list_own() == [] and fake.calendar_named("Follow-ups") == []  # listing creates nothing
    first.create(followup("k1"))
    first.create(followup("k2", "Reach out to Bob", person="bob@example.org"))
    assert fake.live() == []  # held until commit
    first.commit()
    calendar = followups_calendar(fake)
    assert {s.calendar for s in fake.live()} == {calendar}
    again = target(server)
    listed = again.list_own()
    assert [e.key for e in listed] == ["k1", "k2"] and listed[0] == followup("k1")
    assert len(server.requests("POST", r"/me/calendars$")) == 1  # found again by name, not created twice
    again.update(followup("k1", "Reach out to Alice Moreau", description="new notes"))
    again.delete("k2")
    again.delete("never-existed")
    again.commit()
    listed = target(server).list_own()
    assert [(e.key, e.title, e.description) for e in listed] == [("k1", "Reach out to Alice Moreau", "new notes")]


def test_what_an_event_looks_like(server: FakeServer, fake: GraphCalendarFake) -> None:
    written(target(server), followup("abc123"))
    (post,) = server.requests("POST", r"/events$")
    body = post.json()
    assert body["showAs"] == "free" and "attendees" not in body
    assert body["isReminderOn"] is True and body["reminderMinutesBeforeStart"] == 10
    calendar = f"me/calendars/{followups_calendar(fake)}/events"
    assert body["transactionId"] == transaction_id("abc123", START, calendar)
    assert len({body["transactionId"], transaction_id("abc123", START + timedelta(days=1), calendar),
                transaction_id("abc123", START, "me/events")}) == 3  # another day, another calendar: another id
    assert body["body"] == {"contentType": "text", "content": followup("abc123").description}
    assert body["start"] == {"dateTime": "2026-03-03T09:30:00", "timeZone": "UTC"}
    assert body["end"] == {"dateTime": "2026-03-03T09:45:00", "timeZone": "UTC"}
    props = {p["id"]: p["value"] for p in body["singleValueExtendedProperties"]}
    assert props[KEY_PROP] == "abc123" and set(props) == {KEY_PROP, META_PROP}
    # Into a calendar made in this run: nothing to look up before creating.
    assert server.requests("GET", r"/events$") == []
    # The listing: the property filter and the expand of our two properties (docs/microsoft-graph.md#idempotency).
    target(server).list_own()
    (listing,) = server.requests("GET", r"/events$")
    assert listing.query["$filter"] == [f"singleValueExtendedProperties/Any(ep: ep/id eq '{KEY_PROP}')"]
    assert "singleValueExtendedProperties($filter=id eq" in listing.query["$expand"][0]


def test_primary_or_a_named_calendar_when_configured(server: FakeServer, fake: GraphCalendarFake) -> None:
    written(target(server, followups_calendar_id="primary"), followup("k1"))
    assert [s.calendar for s in fake.live()] == [PRIMARY]
    assert server.requests("POST", r"/me/calendars$") == []
    server.log.clear()
    chosen = fake._create_calendar(Request("POST", "/", {}, {}, b'{"name": "Mine"}')).body["id"]
    written(target(server, followups_calendar_id=chosen), followup("k2"))
    assert {s.calendar for s in fake.live()} == {PRIMARY, chosen}
    assert [e.key for e in target(server, followups_calendar_id=chosen).list_own()] == ["k2"]


def test_a_lost_create_answer_makes_no_duplicate(server: FakeServer, fake: GraphCalendarFake) -> None:
    # The POST landed, the batch's answer was lost: syncd looks for it by its property instead of posting
    # again (what Graph does with a repeated transactionId is undocumented, docs/microsoft-graph.md#idempotency).
    fake.drop_after(lambda r: r.method == "POST" and r.path.endswith("/events"))
    written(target(server), followup("k1"))
    assert len(server.requests("POST", r"/events$")) == 1 and len(fake.live()) == 1
    # Lost again, and the look-up failed too, so this run gave up: the next run finds it by the property.
    fake.drop_after(lambda r: r.method == "POST" and r.path.endswith("/events"))
    posted_before = len(server.requests("POST", r"/events$"))
    server.inject(lambda r: r.method == "GET" and r.path.endswith("/events")
                  and len(server.requests("POST", r"/events$")) > posted_before,  # the look-up after the POST
                  Response(503, {"error": {"code": "ServiceUnavailable", "message": "busy"}}))
    impatient = Throttle(RateBudget(10_000, 600), RetryPolicy(attempts=1), sleep=lambda s: None)
    with pytest.raises(ConnectorError):
        written(target(server, throttle=impatient), followup("k2"))
    posts = len(server.requests("POST", r"/events$"))
    written(target(server), followup("k2"))
    assert len(server.requests("POST", r"/events$")) == posts  # patched, not posted again
    assert sorted(e.key for e in target(server).list_own()) == ["k1", "k2"] and len(fake.live()) == 2


def test_a_lost_calendar_create_answer_makes_one_calendar(server: FakeServer, fake: GraphCalendarFake) -> None:
    fake.drop_after(lambda r: r.method == "POST" and r.path.endswith("/me/calendars"))
    written(target(server), followup("k1"))
    assert len(fake.calendar_named("Follow-ups")) == 1
    assert len(server.requests("POST", r"/me/calendars$")) == 1  # not blindly re-sent: listed, and found
    written(target(server), followup("k2"))
    assert len(fake.calendar_named("Follow-ups")) == 1


def test_deleting_what_the_user_already_deleted_is_done(server: FakeServer, fake: GraphCalendarFake) -> None:
    writer = written(target(server), followup("k1"))
    writer.list_own()
    (event,) = fake.live()
    fake.user_delete(event.data["id"])
    writer.delete("k1")  # 404 from the listed id: done
    writer.commit()
    writer.update(followup("k1"))  # listed, then deleted by the user: left deleted
    writer.commit()
    assert fake.live() == []


def test_events_without_the_property_are_never_touched(server: FakeServer, fake: GraphCalendarFake) -> None:
    store = Store(":memory:")
    writer = target(server)
    writer.create(followup("seed"))  # makes the dedicated calendar
    writer.delete("seed")
    writer.commit()
    calendar = followups_calendar(fake)
    foreign = [
        fake.add_event("Dentist", START, calendar=calendar),
        fake.add_event("Other app", START, calendar=calendar, **{"String {11111111-2222-3333-4444-555555555555} Name syncdKey": "x"}),
        fake.add_event("Primary thing", START),
    ]
    run(store, server, [due("a@x.com", date(2026, 3, 3))])
    run(store, server, [due("a@x.com", date(2026, 3, 20), cycle="c2")])  # deletes the first, creates none yet
    run(store, server, [])
    assert all(writes_to(server, f) == [] for f in foreign)
    assert {s.data["id"] for s in fake.live()} == set(foreign)


# ---- JSON batching ------------------------------------------------------------------------------------------


def batches(server: FakeServer) -> list[list[dict[str, Any]]]:
    """The requests of every JSON batch sent, in order."""
    return [r.json()["requests"] for r in server.requests("POST", r"/\$batch$")]


def events_in(fake: GraphCalendarFake) -> dict[str, int]:
    """Live follow-ups by key → how many events carry it (1 everywhere: no duplicates)."""
    counted: dict[str, int] = {}
    for stored in fake.live():
        if KEY_PROP in stored.props:
            counted[stored.props[KEY_PROP]] = counted.get(stored.props[KEY_PROP], 0) + 1
    return counted


def test_a_first_pull_into_a_new_calendar_looks_nothing_up_and_writes_20_at_a_time(
        server: FakeServer, fake: GraphCalendarFake) -> None:
    writer = target(server)
    assert writer.list_own() == []
    written(writer, *(followup(f"k{n:02d}") for n in range(45)))
    assert [f"{r.method} {r.path.split('/')[-1]}" for r in server.log if "/events" not in r.path] == [
        "GET calendars", "POST calendars", "POST $batch", "POST $batch", "POST $batch"]
    assert [len(b) for b in batches(server)] == [20, 20, 5] and server.requests("GET", r"/events$") == []
    assert events_in(fake) == {f"k{n:02d}": 1 for n in range(45)}
    first = batches(server)[0][0]
    assert first["method"] == "POST" and first["url"].startswith("/me/calendars/") and first["url"].endswith("/events")
    assert first["headers"] == {"Prefer": 'IdType="ImmutableId"', "Content-Type": "application/json"}


def test_a_calendar_holding_no_follow_up_is_listed_once_not_looked_up_per_write(
        server: FakeServer, fake: GraphCalendarFake) -> None:
    writer = target(server, followups_calendar_id="primary")
    fake.add_event("Dentist", START)
    assert writer.list_own() == []
    server.log.clear()
    written(writer, followup("k1"), followup("k2"))
    assert [r.path.split("/")[-1] for r in server.log if r.path.endswith("$batch")] == ["$batch"]
    assert server.requests("GET") == []
    # Without a listing first, one listing serves every write (an existing key is patched, not doubled).
    server.log.clear()
    written(target(server, followups_calendar_id="primary"), followup("k1", "again"), followup("k3"))
    assert len(server.requests("GET", r"/events$")) == 1
    assert [(c["method"], c["url"].split("/")[-2]) for b in batches(server) for c in b] == [
        ("PATCH", "events"), ("POST", "me")]
    assert events_in(fake) == {"k1": 1, "k2": 1, "k3": 1}


def test_a_batch_answer_with_mixed_statuses_retries_only_what_failed(server: FakeServer, fake: GraphCalendarFake) -> None:
    sleeps: list[float] = []
    writer = written(target(server, sleeps), followup("old"), followup("gone"), followup("bye"))
    writer.list_own()
    fake.user_delete(fake.by_key("gone", KEY_PROP)[0].data["id"])
    creates = fake.creates
    throttled = Response(429, {"error": {"code": "ApplicationThrottled", "message": "slow down"}}, {"Retry-After": "3"})
    busy = Response(503, {"error": {"code": "ServiceUnavailable", "message": "busy"}})
    server.inject(lambda r: r.method == "POST" and r.path.endswith("/events") and b"Reach out to Nina" in r.body,
                  throttled)
    server.inject(lambda r: r.method == "PATCH" and b"renamed" in r.body, busy)
    # A create that Outlook made and then answered 503 for: looked for before it is sent again.
    fake.drop_after(lambda r: r.method == "POST" and b"Reach out to Omar" in r.body, answer=busy)
    writer.create(followup("nina", "Reach out to Nina"))
    writer.create(followup("omar", "Reach out to Omar"))
    writer.create(followup("pia", "Reach out to Pia"))
    writer.update(followup("old", "renamed"))
    writer.update(followup("gone", "the user deleted it"))
    writer.delete("bye")
    server.log.clear()
    writer.commit()
    assert sleeps == [3.0]  # the 429's own Retry-After, once, for the one round of retries
    (first, second) = batches(server)
    assert len(first) == 6
    assert sorted(c["method"] for c in second) == ["PATCH", "POST"]  # Nina again and the 503 PATCH; not Omar
    assert len(server.requests("GET", r"/events$")) == 1  # the one look for Omar
    assert events_in(fake) == {"old": 1, "nina": 1, "omar": 1, "pia": 1}
    assert fake.creates == creates + 3
    assert [e.title for e in target(server).list_own() if e.key == "old"] == ["renamed"]


def test_a_batch_answer_cut_off_mid_body_loses_no_write_and_doubles_none(
        server: FakeServer, fake: GraphCalendarFake) -> None:
    writer = written(target(server), followup("k1"))
    writer.list_own()
    fake.drop_after(lambda r: r.method == "POST" and r.path.endswith("/events"), answer=TRUNCATE)
    writer.create(followup("k2"))
    writer.create(followup("k3"))
    writer.update(followup("k1", "changed"))
    writer.commit()
    # Everything in the batch was made; the answer was lost: looked for, the creates found, the update resent.
    assert events_in(fake) == {"k1": 1, "k2": 1, "k3": 1} and len(server.requests("POST", r"/events$")) == 3
    assert [len(b) for b in batches(server)] == [1, 3, 1]
    assert [e.title for e in target(server).list_own() if e.key == "k1"] == ["changed"]


def test_a_429_on_the_batch_itself_is_waited_out_and_sent_again(server: FakeServer, fake: GraphCalendarFake) -> None:
    sleeps: list[float] = []
    server.inject(lambda r: r.path.endswith("$batch"),
                  Response(429, {"error": {"code": "TooManyRequests", "message": "slow down"}}, {"Retry-After": "5"}))
    written(target(server, sleeps), followup("k1"), followup("k2"))
    assert sleeps == [5.0] and len(batches(server)) == 2 and events_in(fake) == {"k1": 1, "k2": 1}


def test_writes_that_keep_failing_fail_the_commit_in_one_sentence(server: FakeServer, fake: GraphCalendarFake) -> None:
    writer = target(server, followups_calendar_id="primary")
    server.inject(lambda r: r.method == "POST" and r.path.endswith("/events"),
                  Response(400, {"error": {"code": "ErrorInvalidRequest", "message": "bad body"}}))
    with pytest.raises(ConnectorError, match=r"creating an Outlook follow-up: Microsoft Graph answered HTTP 400 "
                                             r"ErrorInvalidRequest: bad body"):
        written(writer, followup("k1"), followup("k2"))
    assert events_in(fake) == {"k2": 1}  # the other write of the batch was made
    server.inject(lambda r: r.path.endswith("$batch"), DROP, times=99)
    with pytest.raises(ConnectorError, match=r"writing 1 Outlook follow-ups: no answer after 8 tries \(answer lost\)"):
        written(target(server, followups_calendar_id="primary"), followup("k3"))
    server.faults.clear()
    assert "k3" not in events_in(fake)


def test_the_fake_refuses_malformed_batches(server: FakeServer, fake: GraphCalendarFake) -> None:
    import requests

    def post(body: Any) -> requests.Response:
        return requests.post(f"{server.base_url}/v1.0/$batch", json=body, headers={"Authorization": f"Bearer {TOKEN}"},
                             timeout=5)

    many = [{"id": str(n), "method": "GET", "url": "/me/calendars"} for n in range(21)]
    assert post({"requests": many}).status_code == 400
    assert post({"requests": [{"id": "1", "method": "GET", "url": "/me/calendars"}] * 2}).status_code == 400
    answer = post({"requests": [{"id": "1", "method": "POST", "url": "/me/calendars", "body": {"name": "X"}},
                                {"id": "2", "method": "GET", "url": "/me/calendars"}]}).json()["responses"]
    assert [(a["id"], a["status"]) for a in answer] == [("2", 200), ("1", 400)]  # no Content-Type; any order


# ---- driven by the reconciler ---------------------------------------------------------------------------


def due(person: str, day: date, cycle: str = "c1", every: int = 30, description: str | None = None) -> DueFollowup:
    return DueFollowup(person, person.split("@")[0].title(), "cycle", cycle, day, every, 1,
                       description if description is not None else f"about {person}")


def key(person: str, cycle: str = "c1", n: int = 0) -> str:
    return followup_key(person, "cycle", cycle, n)


def run(store: Store, server: FakeServer, wanted: list[DueFollowup], now: datetime = MONDAY,
        writer: OutlookCalendarTarget | None = None) -> ApplyResult:
    return reconcile(wanted, store, writer or target(server), now, CFG)


def states(store: Store) -> dict[str, str]:
    return dict(store.db.execute("SELECT key, state FROM followups").fetchall())


def test_reconcile_round_trip_is_quiet(server: FakeServer, fake: GraphCalendarFake) -> None:
    store = Store(":memory:")
    first = run(store, server, [due("a@x.com", date(2026, 3, 3)), due("b@x.com", date(2026, 3, 4))])
    assert first.created == 2
    server.log.clear()
    second = run(store, server, [due("a@x.com", date(2026, 3, 3)), due("b@x.com", date(2026, 3, 4))])
    assert (second.created, second.updated, second.deleted) == (0, 0, 0)
    assert [r.method for r in server.log] == ["GET"]  # the tagged events of the remembered calendar: nothing written


# ---- the follow-ups calendar remembered, and listed whatever page size Graph serves ------------------------


def many(count: int) -> list[DueFollowup]:
    """``count`` people due over the next days (CFG places at most 3 a day)."""
    return [due(f"p{n:02d}@x.com", date(2026, 3, 3) + timedelta(days=n // 3)) for n in range(count)]


def places(store: Store) -> dict[str, str]:
    return dict(store.db.execute("SELECT what, place FROM target_places WHERE target = 'acct'").fetchall())


def events_path(calendar: str) -> str:
    return f"/v1.0/me/calendars/{calendar}/events"


def test_a_pull_with_nothing_changed_is_one_request(server: FakeServer, fake: GraphCalendarFake) -> None:
    store = Store(":memory:")
    assert run(store, server, many(12)).created == 12
    calendar = followups_calendar(fake)
    assert list(places(store).values()) == [calendar]  # the calendar made is remembered
    server.log.clear()
    quiet = run(store, server, many(12))
    assert (quiet.created, quiet.updated, quiet.deleted, quiet.dismissed) == (0, 0, 0, 0)
    # No list of calendars: straight to the remembered one's tagged events, one page for all of them.
    assert [(r.method, unquote(r.path)) for r in server.log] == [("GET", events_path(calendar))]
    assert server.log[0].query["$top"] == ["1000"]


def test_pages_smaller_than_asked_are_followed_to_the_end(server: FakeServer, fake: GraphCalendarFake) -> None:
    store = Store(":memory:")
    run(store, server, many(12))
    fake.max_page = 5  # Graph may serve fewer than $top asks
    server.log.clear()
    quiet = run(store, server, many(12))
    assert (quiet.created, quiet.updated, quiet.deleted, quiet.dismissed) == (0, 0, 0, 0)
    assert len(server.log) == 3  # 5 + 5 + 2, every follow-up seen: none taken for deleted
    assert [r.query.get("$skip") for r in server.log] == [None, ["5"], ["10"]]  # the next links, as given
    assert len(target(server).list_own()) == 12


def lost_after_writing(store: Store, server: FakeServer, fake: GraphCalendarFake, count: int) -> str:
    """``count`` follow-ups written into the calendar syncd makes, which the user then deletes; its id."""
    run(store, server, many(count))
    lost = followups_calendar(fake)
    fake.user_delete_calendar(lost)
    server.log.clear()
    return lost


def test_a_remembered_calendar_that_is_gone_is_looked_for_and_its_followups_written_again(
    server: FakeServer, fake: GraphCalendarFake
) -> None:
    store = Store(":memory:")
    lost = lost_after_writing(store, server, fake, 4)
    result = run(store, server, many(4))
    # Not a deletion of each follow-up by the user: the calendar is gone, so they are written again.
    assert result.created == 4 and result.dismissed == 0
    assert any("written again, not taken as dismissed" in note for note in result.plan.notes)
    made = followups_calendar(fake)
    assert made != lost and {s.calendar for s in fake.live()} == {made}
    # Gone: looked for by syncd's property on calendars first (renamed under a new id), then by name, then made.
    assert [(r.method, unquote(r.path)) for r in server.log[:4]] == [
        ("GET", events_path(lost)), ("GET", "/v1.0/me/calendars"), ("GET", "/v1.0/me/calendars"),
        ("POST", "/v1.0/me/calendars")]
    assert "$filter" in server.log[1].query and "$filter" not in server.log[2].query
    assert list(places(store).values()) == [made]
    server.log.clear()
    assert run(store, server, many(4)).created == 0 and len(server.log) == 1


def test_a_remembered_calendar_that_is_gone_finds_one_of_that_name(server: FakeServer, fake: GraphCalendarFake) -> None:
    store = Store(":memory:")
    lost_after_writing(store, server, fake, 2)
    mine = fake._create_calendar(Request("POST", "/", {}, {}, b'{"name": "Follow-ups"}')).body["id"]
    result = run(store, server, many(2))
    assert result.created == 2 and result.dismissed == 0 and {s.calendar for s in fake.live()} == {mine}
    assert list(places(store).values()) == [mine] and len(fake.calendars) == 2  # found, not made


def test_a_calendar_the_user_renamed_stays_the_followups_calendar(server: FakeServer, fake: GraphCalendarFake) -> None:
    store = Store(":memory:")
    run(store, server, many(3))
    calendar = followups_calendar(fake)
    fake.user_rename_calendar(calendar, "Keep in touch")
    quiet = run(store, server, many(3))
    assert (quiet.created, quiet.updated, quiet.deleted, quiet.dismissed) == (0, 0, 0, 0)
    assert fake.calendar_named("Follow-ups") == [] and len(fake.live(calendar)) == 3


def test_another_calendar_name_in_the_settings_is_looked_for_by_that_name(
    server: FakeServer, fake: GraphCalendarFake
) -> None:
    store = Store(":memory:")
    run(store, server, many(3))
    old = followups_calendar(fake)
    renamed = target(server, calendar_name="Nudges")
    result = run(store, server, many(3), writer=renamed)
    (nudges,) = fake.calendar_named("Nudges")
    assert result.created == 3 and result.dismissed == 0 and renamed.where() == events_path(nudges["id"])[6:]
    assert places(store) == {renamed.calendar._memory_key(): nudges["id"], target(server).calendar._memory_key(): old}
    # Made there, not answered with the old calendar's events (a transactionId may count mailbox-wide), so
    # the next run finds them and dismisses nothing.
    assert len(fake.live(nudges["id"])) == 3 and len(fake.live(old)) == 3
    quiet = run(store, server, many(3), writer=target(server, calendar_name="Nudges"))
    assert (quiet.created, quiet.updated, quiet.deleted, quiet.dismissed) == (0, 0, 0, 0)


def test_a_dry_run_remembers_and_forgets_nothing(server: FakeServer, fake: GraphCalendarFake) -> None:
    store = Store(":memory:")
    written(target(server), followup("k1"))  # a calendar an earlier install made
    reconcile(many(2), store, target(server), MONDAY, CFG, dry_run=True)
    assert places(store) == {}
    lost_after_writing(store, server, fake, 2)
    remembered = places(store)
    preview = reconcile(many(2), store, target(server), MONDAY, CFG, dry_run=True)
    assert preview.created == 2 and places(store) == remembered


def test_other_errors_on_the_remembered_calendar_keep_it(server: FakeServer, fake: GraphCalendarFake) -> None:
    store = Store(":memory:")
    run(store, server, many(2))
    remembered = places(store)
    server.inject(lambda r: r.method == "GET" and r.path.endswith("/events"),
                  Response(403, {"error": {"code": "ErrorAccessDenied", "message": "Access is denied."}}))
    with pytest.raises(ConnectorError, match="403"):
        run(store, server, many(2))
    assert places(store) == remembered and states(store) == dict.fromkeys(states(store), "active")


def test_a_user_move_is_a_snooze_never_moved_back(server: FakeServer, fake: GraphCalendarFake) -> None:
    store = Store(":memory:")
    run(store, server, [due("a@x.com", date(2026, 3, 3))])
    (event,) = fake.by_key(key("a@x.com"), KEY_PROP)
    fake.user_move(event.data["id"], timedelta(days=7, hours=2))
    moved = dict(event.data["start"])
    result = run(store, server, [due("a@x.com", date(2026, 3, 3), description="new notes")])
    assert result.updated == 1 and "stays where you moved it" in result.plan.actions[0].reason
    assert event.data["start"] == moved and "new notes" in event.data["body"]["content"]
    quiet = run(store, server, [due("a@x.com", date(2026, 3, 3), description="new notes")], now=MONDAY + timedelta(days=3))
    assert (quiet.created, quiet.updated, quiet.deleted) == (0, 0, 0) and event.data["start"] == moved


def test_a_user_deletion_is_a_dismissal(server: FakeServer, fake: GraphCalendarFake) -> None:
    store = Store(":memory:")
    wanted = [due("a@x.com", date(2026, 3, 3))]
    run(store, server, wanted)
    (event,) = fake.by_key(key("a@x.com"), KEY_PROP)
    fake.user_delete(event.data["id"])
    result = run(store, server, wanted)
    assert result.dismissed == 1 and result.created == 0 and fake.live() == []
    assert states(store) == {key("a@x.com"): "dismissed"}


class CrashAfterWrites(OutlookCalendarTarget):
    """The process dies after the calendar writes landed, before the records are settled."""

    def commit(self) -> None:
        super().commit()
        raise ConnectorError("killed")


def test_a_crash_between_calendar_write_and_store_commit(server: FakeServer, fake: GraphCalendarFake) -> None:
    store = Store(":memory:")
    wanted = [due("a@x.com", date(2026, 3, 3)), due("b@x.com", date(2026, 3, 3))]
    crashing = CrashAfterWrites("acct", settings(server.base_url), None, token=lambda force: TOKEN,
                                throttle=no_sleep_throttle())
    with pytest.raises(ConnectorError):
        run(store, server, wanted, writer=crashing)
    assert set(states(store).values()) == {"pending"} and len(fake.live()) == 2
    result = run(store, server, wanted)
    assert result.created == 0 and result.dismissed == 0 and len(fake.live()) == 2
    assert set(states(store).values()) == {"active"}
    assert fake.creates == 2


# ---- the service misbehaving ------------------------------------------------------------------------------


def test_429_waits_exactly_retry_after(server: FakeServer, fake: GraphCalendarFake) -> None:
    sleeps: list[float] = []
    server.inject(lambda r: r.method == "POST" and r.path.endswith("/events"),
                  Response(429, {"error": {"code": "ApplicationThrottled", "message": "slow down"}}, {"Retry-After": "7"}))
    written(target(server, sleeps), followup("k1"))
    assert sleeps == [7.0] and len(fake.live()) == 1


def test_5xx_is_retried_with_backoff(server: FakeServer, fake: GraphCalendarFake) -> None:
    sleeps: list[float] = []
    writer = written(target(server, sleeps), followup("k1"))
    server.inject(lambda r: r.method == "GET" and r.path.endswith("/events"),
                  Response(503, {"error": {"code": "ServiceUnavailable", "message": "busy"}}), times=2)
    server.inject(lambda r: r.method == "PATCH", DROP)
    assert [e.key for e in target(server, sleeps).list_own()] == ["k1"]
    writer.update(followup("k1", "changed"))
    writer.commit()
    assert sleeps == [1.0, 2.0, 1.0]  # exponential (no jitter in tests), then the batch with the PATCH dropped
    assert [e.title for e in target(server).list_own()] == ["changed"]


def test_never_more_than_four_requests_at_once() -> None:
    with FakeServer(max_concurrent=4, latency=0.05) as slow:
        graph = GraphCalendarFake(slow)
        graph.bearer_guard(TOKEN)
        writer = written(target(slow, followups_calendar_id="primary"), *(followup(f"k{n}") for n in range(3)))
        results: list[int] = []
        threads = [threading.Thread(target=lambda: results.append(len(writer.list_own()))) for _ in range(10)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert results == [3] * 10
        assert slow.peak_in_flight <= 4 and writer.client.throttle.retries == 0


def test_without_a_token_callable_the_login_comes_from_microsoft_auth(server: FakeServer, fake: GraphCalendarFake) -> None:
    from connectors.base import AuthRequired

    plain = OutlookCalendarTarget("acct", settings(server.base_url, client_id="app"), None)
    with pytest.raises(AuthRequired, match="syncd auth login acct"):
        plain.list_own()
    assert server.log == []  # asked for a token before sending anything
