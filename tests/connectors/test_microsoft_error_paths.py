"""The Outlook connectors' error branches, each taken the way a real mailbox or Graph would take it.

Everything goes over loopback HTTP to the Graph mail and calendar fakes (faults injected with
``FakeServer.inject``, the user played through the fakes' own methods); time conversion is checked as the
pure helper it is. Each test asserts what the user gets: one sentence without a token, what the store
holds, what was or was not written to the calendar.
"""

from __future__ import annotations

import json
import queue as queue_module
import threading
import types
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

import pytest

from connectors.base import AuthRequired, Batch, ConnectorError, FollowupEvent
from connectors.microsoft import mail as graph_mail
from connectors.microsoft.auth import login, token_provider
from connectors.microsoft.calendar import KEY_PROP, META_PROP, OutlookCalendarSource, graph_time
from connectors.microsoft.calendar_target import OutlookCalendarTarget
from connectors.microsoft.graph import GraphClient, GraphError
from connectors.microsoft.mail import SELECT, OutlookMailSource
from connectors.throttle import RetryPolicy, Throttle
from syncd.store import Store
from tests.fakes.clock import FakeClock
from tests.fakes.entra import AUTHORITY, CLIENT_ID, FakeEntra
from tests.fakes.graph_calendar import PRIMARY, GraphCalendarFake, stamp
from tests.fakes.graph_calendar_contract import TOKEN, no_sleep_throttle, settings, written
from tests.fakes.graph_mail import GraphMailFake
from tests.fakes.graph_mail_contract import settings as mail_settings
from tests.fakes.known import StoreKnown, pull_into
from tests.fakes.server import FakeServer, Request, Response
from tests.fakes.slot import MemorySlot

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
START = datetime(2026, 3, 3, 9, 30, tzinfo=UTC)
OWNER = "sam@example.com"
ALICE, BOB = "alice@example.org", "bob@example.org"
DAY = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def graph_error(status: int, code: str, message: str) -> Response:
    return Response(status, {"error": {"code": code, "message": message}})


def one_sentence(text: str) -> None:
    assert text and "\n" not in text and "Traceback" not in text and "Bearer" not in text


# ==== the Outlook mail source =============================================================================


@pytest.fixture
def mail(server: FakeServer) -> Iterator[tuple[GraphMailFake, Store, MemorySlot, FakeEntra]]:
    entra = FakeEntra(OWNER)
    fake = GraphMailFake(server, owner=OWNER, auth=entra.guard, page_cap=3)
    slot = MemorySlot()
    login("work", mail_settings(server, entra), slot, echo=lambda _: None, http_client=entra)
    store = Store(":memory:")
    store.accounts.ensure("work", "microsoft")
    yield fake, store, slot, entra


def mail_source(server: FakeServer, entra: FakeEntra, slot: MemorySlot, clock: FakeClock | None = None,
                **extra: Any) -> OutlookMailSource:
    config = mail_settings(server, entra, **extra)
    throttle = Throttle(None, RetryPolicy(attempts=3, base=0.001, cap=0.004, jitter=0.0),
                        sleep=(clock or FakeClock()).sleep)
    client = GraphClient(server.base_url, token_provider("work", config, slot, http_client=entra), throttle=throttle)
    return OutlookMailSource("work", config, slot, client=client)


def pull_mail(store: Store, source: OutlookMailSource, cursors: dict[str, str] | None = None) -> list[Batch]:
    return pull_into(store, source, "work", cursors=cursors)


def test_mail_page_without_any_link_fails_the_folder_and_commits_nothing(server: FakeServer, mail: Any) -> None:
    fake, store, slot, entra = mail
    fake.add("inbox", sender=ALICE, to=[OWNER], when=DAY)
    # A 200 that is no delta page (a proxy's or a broken gateway's answer): neither nextLink nor deltaLink.
    server.inject(lambda r: r.path.endswith("/inbox/messages/delta"), Response(200, {"value": []}))
    with pytest.raises(ConnectorError) as raised:
        pull_mail(store, mail_source(server, entra, slot, prefetch=False))
    assert str(raised.value) == ("Outlook folder inbox: Graph answered a page with neither a next nor a delta link")
    assert store.synced.cursors("work") == {} and store.count("interactions") == 0  # nothing taken as "empty folder"


def test_mail_folder_refused_with_403_is_a_graph_error_sentence(server: FakeServer, mail: Any) -> None:
    fake, store, slot, entra = mail
    fake.add("inbox", sender=ALICE, to=[OWNER], when=DAY)
    server.inject(lambda r: r.path.endswith("/sentitems/messages/delta"),
                  graph_error(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again."))
    with pytest.raises(GraphError) as raised:
        pull_mail(store, mail_source(server, entra, slot))
    assert raised.value.status == 403
    assert str(raised.value) == ("Microsoft Graph answered HTTP 403 ErrorAccessDenied: Access is denied. Check "
                                 "credentials and try again.")
    one_sentence(str(raised.value))
    assert "mail:inbox" in store.synced.cursors("work")  # the folder read before it stays committed
    assert "mail:sentitems" not in store.synced.cursors("work")


def test_mail_profile_without_an_address_is_refused(server: FakeServer, mail: Any) -> None:
    _, store, slot, entra = mail
    server.inject(lambda r: r.path == "/v1.0/me",
                  Response(200, {"id": "x", "userPrincipalName": "sam#EXT#", "mail": None}))
    with pytest.raises(ConnectorError, match=r"^Microsoft Graph returned a profile without an email address$"):
        pull_mail(store, mail_source(server, entra, slot))
    assert store.synced.cursors("work") == {} and server.requests("GET", r"/delta$") == []  # no folder read as nobody's


@pytest.mark.parametrize("broken", ["{not json", json.dumps({"v": 0, "link": "x"}), json.dumps(["a"]),
                                    json.dumps({"v": 1, "link": ""})])
def test_an_unreadable_mail_cursor_means_a_full_round(server: FakeServer, mail: Any, broken: str) -> None:
    fake, store, slot, entra = mail
    fake.add("inbox", sender=ALICE, to=[OWNER], when=DAY)
    batches = pull_mail(store, mail_source(server, entra, slot),
                        cursors={"mail:inbox": broken, "mail:sentitems": broken})
    firsts = [r for r in fake.delta_requests() if "$skiptoken" not in r.query and "$deltatoken" not in r.query]
    assert [r.arg("$select") for r in firsts] == [SELECT, SELECT]  # both folders from scratch
    assert all(b.full for b in batches) and store.synced.known_ids("work", "mail:inbox") == set(fake.messages(["inbox"]))


def test_mail_dates_that_do_not_parse_fall_back_or_stay_unknown(server: FakeServer, mail: Any) -> None:
    fake, store, slot, entra = mail
    fallback = fake.add("inbox", sender=ALICE, to=[OWNER], when=DAY)
    undated = fake.add("inbox", sender=BOB, to=[OWNER], when=DAY)
    with server.lock:
        fake.folders["inbox"][fallback]["receivedDateTime"] = "yesterday-ish"  # unreadable: sentDateTime instead
        fake.folders["inbox"][undated].update(receivedDateTime=None, sentDateTime="")
    items = {i.provider_id: i for b in pull_mail(store, mail_source(server, entra, slot)) for i in b.interactions}
    assert items[fallback].timestamp == DAY
    assert items[undated].timestamp is None  # kept (the contact is real), its time unknown; no crash
    assert store.synced.known_ids("work", "mail:inbox") == {fallback, undated}


def _delta_link(server: FakeServer, folder: str) -> str:
    return f"{server.base_url}/v1.0/me/mailFolders/{folder}/messages/delta?$deltatoken=none"


def test_mail_entry_without_id_is_left_out(server: FakeServer, mail: Any) -> None:
    _, store, slot, entra = mail
    message = {"id": "AAMkAD1=", "from": {"emailAddress": {"address": ALICE}}, "toRecipients": [],
               "receivedDateTime": "2026-01-05T09:00:00Z", "isDraft": False}
    server.inject(lambda r: r.path.endswith("/inbox/messages/delta"),
                  Response(200, {"value": [{"from": message["from"]}, message],
                                 "@odata.deltaLink": _delta_link(server, "inbox")}))
    batches = pull_mail(store, mail_source(server, entra, slot))
    assert [i.provider_id for b in batches for i in b.interactions] == ["AAMkAD1="]
    assert store.synced.known_ids("work", "mail:inbox") == {"AAMkAD1="}


def test_mail_entry_without_id_is_named_in_the_summary(server: FakeServer, mail: Any) -> None:
    _, store, slot, entra = mail
    server.inject(lambda r: r.path.endswith("/inbox/messages/delta"),
                  Response(200, {"value": [{"from": {"emailAddress": {"address": ALICE}}}],
                                 "@odata.deltaLink": _delta_link(server, "inbox")}))
    batches = pull_mail(store, mail_source(server, entra, slot))
    assert [s.why for b in batches for s in b.skipped]  # "unreadable entry", like the calendar's


class _SlowSlot(queue_module.Queue):
    """The prefetch slot, where a put that finds the slot taken times out once (the consumer is busy
    committing) without waiting the real 0.1 s for it."""

    full_seen = threading.Event()

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        if timeout is not None and self.full() and not self.full_seen.is_set():
            self.full_seen.set()
            raise queue_module.Full
        super().put(item, block, timeout)


def test_prefetch_waits_for_a_slow_commit_and_loses_no_page(server: FakeServer, mail: Any,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    fake, store, slot, entra = mail
    for i in range(8):  # three pages of three in the inbox
        fake.add("inbox", sender=f"p{i}@example.org", to=[OWNER], when=DAY + timedelta(hours=i))
    _SlowSlot.full_seen = threading.Event()
    monkeypatch.setattr(graph_mail, "queue", types.SimpleNamespace(
        Queue=_SlowSlot, Full=queue_module.Full, Empty=queue_module.Empty))
    batches: list[Batch] = []
    source = mail_source(server, entra, slot)
    for batch in source.pull({}, StoreKnown(store, "work")):
        if not batches:
            # The first commit is slow: the worker fetches on and finds the one-page slot still taken.
            assert _SlowSlot.full_seen.wait(10)
        store.synced.apply_batch("work", batch)
        batches.append(batch)
    inbox = [b for b in batches if b.resource == "mail:inbox"]
    assert len(inbox) == 3 and [b.complete for b in inbox] == [False, False, True]
    assert store.synced.known_ids("work", "mail:inbox") == set(fake.messages(["inbox"]))


# ==== the Outlook calendar source =========================================================================


@pytest.fixture
def calendar(server: FakeServer) -> GraphCalendarFake:
    graph = GraphCalendarFake(server)
    graph.bearer_guard(TOKEN)
    return graph


def cal_source(server: FakeServer, **extra: Any) -> OutlookCalendarSource:
    return OutlookCalendarSource("acct", settings(server.base_url, now=NOW, page_size=10, **extra), None,
                                 token=lambda force: TOKEN, throttle=no_sleep_throttle())


def pull_cal(store: Store, source: OutlookCalendarSource, cursors: dict[str, str] | None = None) -> list[Batch]:
    return pull_into(store, source, cursors=cursors)


def is_delta(request: Request) -> bool:
    return request.path.endswith("/calendarView/delta")


def delta_link(server: FakeServer, calendar: GraphCalendarFake) -> str:
    """A deltaLink the fake honours: what it would hand out after a round that covers everything so far."""
    token = calendar._token(gen=calendar.generation, since=calendar.seq, start="2025-03-02T12:00:00Z",
                            end="2026-08-29T12:00:00Z")
    return f"{server.base_url}/v1.0/me/calendarView/delta?$deltatoken={token}"


def test_graph_time_reads_offsets_zones_and_refuses_garbage() -> None:
    assert graph_time(None) is None and graph_time({"timeZone": "UTC"}) is None
    assert graph_time({"dateTime": "not a time", "timeZone": "UTC"}) is None
    assert graph_time({"dateTime": "2026-03-03T10:00:00+01:00"}) == datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
    assert graph_time({"dateTime": "2026-07-01T10:00:00.0000000", "timeZone": "Europe/Berlin"}) == \
        datetime(2026, 7, 1, 8, 0, tzinfo=UTC)
    # A zone name ZoneInfo does not know (a Windows name, never asked for): read as UTC rather than dropped.
    assert graph_time({"dateTime": "2026-07-01T10:00:00", "timeZone": "W. Europe Standard Time"}) == \
        datetime(2026, 7, 1, 10, 0, tzinfo=UTC)


def test_a_delta_page_without_links_fails_the_pull_and_keeps_the_cursor(server: FakeServer, calendar: GraphCalendarFake,
                                                                       store: Store) -> None:
    calendar.add_meeting("m", NOW - timedelta(days=1), attendees=[(ALICE, "accepted")])
    pull_cal(store, cal_source(server))
    before = store.synced.cursors("acct")
    server.inject(is_delta, Response(200, {"value": []}))
    with pytest.raises(ConnectorError, match=r"^Outlook calendar: a delta page had neither a next nor a delta link$"):
        pull_cal(store, cal_source(server))
    assert store.synced.cursors("acct") == before and store.count("interactions") == 1


def test_an_unreadable_calendar_cursor_starts_a_full_round(server: FakeServer, calendar: GraphCalendarFake,
                                                          store: Store) -> None:
    meeting = calendar.add_meeting("m", NOW - timedelta(days=1), attendees=[(ALICE, "accepted")])
    for broken in ("{oops", json.dumps({"link": "x"}), json.dumps([1])):
        server.log.clear()
        batches = pull_cal(store, cal_source(server), cursors={"calendar": broken})
        (call,) = server.requests("GET", r"/calendarView/delta$")
        assert call.arg("startDateTime") == "2025-03-02T12:00:00Z"  # from scratch, with the window
        assert [i.provider_id for b in batches for i in b.interactions] == [meeting] and batches[-1].complete


def test_odd_entries_are_skipped_or_deleted_and_named(server: FakeServer, calendar: GraphCalendarFake,
                                                     store: Store) -> None:
    becomes_series = calendar.add_meeting("weekly soon", NOW - timedelta(days=2), attendees=[(ALICE, "accepted")])
    moves_away = calendar.add_meeting("moves", NOW - timedelta(days=3), attendees=[(BOB, "accepted")])
    pull_cal(store, cal_source(server))
    assert store.synced.known_ids("acct", "calendar") == {becomes_series, moves_away}
    # The user turned a single meeting into a series (same id, now the master); another one was moved far
    # out of the window and Graph sends the event itself rather than @removed; plus entries no event can be
    # made of: no id, no readable start, and a new event already beyond the window.
    calendar.user_update(becomes_series, type="seriesMaster")
    far = stamp(NOW + timedelta(days=400))
    server.inject(is_delta, Response(200, {"value": [
        {"subject": "no id at all"},
        {"id": "AAMkNoStart=", "subject": "Broken start", "start": {"dateTime": "garbage", "timeZone": "UTC"},
         "end": {}, "attendees": []},
        {"id": moves_away, "subject": "moves", "start": far, "end": far, "type": "singleInstance"},
        {"id": "AAMkFar=", "subject": "far", "start": far, "end": far, "type": "singleInstance"},
        {"id": becomes_series, "subject": "weekly soon", "type": "seriesMaster",
         "start": stamp(NOW - timedelta(days=2)), "end": stamp(NOW - timedelta(days=2))},
    ], "@odata.deltaLink": delta_link(server, calendar)}))
    batches = pull_cal(store, cal_source(server))
    skipped = [(s.what, s.why) for b in batches for s in b.skipped]
    assert skipped == [("calendar event without an id", "unreadable entry"),
                       ("calendar event 'Broken start'", "no readable start")]
    assert sorted(d for b in batches for d in b.deleted) == sorted([moves_away, becomes_series])
    assert store.synced.known_ids("acct", "calendar") == set()  # "far" was never ours to add
    assert not any(i.provider_id == "AAMkFar=" for b in batches for i in b.interactions)


def test_attendees_without_address_and_the_organizer_twice(server: FakeServer, calendar: GraphCalendarFake,
                                                          store: Store) -> None:
    meeting = calendar.add_meeting("Review", NOW - timedelta(days=1), organizer=ALICE,
                                   attendees=[(ALICE, "accepted"), (BOB, "declined")])
    with server.lock:
        calendar.events[meeting].data["attendees"].append(
            {"type": "required", "emailAddress": {"name": "Distribution list gone"}, "status": {"response": "none"}})
    calendar.user_update(meeting, start={"dateTime": "2026-03-01T13:00:00.0000000", "timeZone": "Europe/Berlin"},
                         end={"dateTime": "2026-03-01T14:00:00.0000000", "timeZone": "Europe/Berlin"})
    (got,) = [i for b in pull_cal(store, cal_source(server)) for i in b.interactions]
    assert {(p.address, p.role, p.response) for p in got.participants} == {
        (ALICE, "organizer", None), (BOB, "attendee", "declined")}  # Alice once, as the organizer
    assert got.timestamp == datetime(2026, 3, 1, 12, 0, tzinfo=UTC)  # Berlin's 13:00 in winter


# ==== the Outlook follow-ups target =======================================================================


def target(server: FakeServer, sleeps: list[float] | None = None, **extra: Any) -> OutlookCalendarTarget:
    return OutlookCalendarTarget("acct", settings(server.base_url, **extra), None, token=lambda force: TOKEN,
                                 throttle=no_sleep_throttle(sleeps))


def followup(key: str, title: str = "Reach out to Alice", start: datetime = START, **kw: Any) -> FollowupEvent:
    values: dict[str, Any] = {"person": ALICE, "duration_minutes": 15, "title": title,
                              "description": "Last contact: 2026-02-01 (mail)\n", "reminder_minutes": 10,
                              "planned_start": start}
    values.update(kw)
    return FollowupEvent(key=key, start=start, **values)



def posts(server: FakeServer, path: str = r"/events$") -> list[Request]:
    return server.requests("POST", path)


def is_post(suffix: str) -> Any:
    return lambda r: r.method == "POST" and r.path.endswith(suffix)


def test_a_calendar_create_answered_without_an_id_fails_before_any_event(server: FakeServer,
                                                                         calendar: GraphCalendarFake) -> None:
    server.inject(is_post("/me/calendars"), Response(201, {}))
    with pytest.raises(ConnectorError) as raised:
        written(target(server), followup("k1"))
    assert str(raised.value) == "Outlook did not say which calendar it made for 'Follow-ups'"
    assert posts(server) == [] and calendar.live() == []


def test_a_calendar_made_meanwhile_elsewhere_is_used_after_409(server: FakeServer, calendar: GraphCalendarFake) -> None:
    # Between syncd's look for "Follow-ups" and its create, another syncd (or the user) made it: Graph
    # answers 409 and the calendar found then is used, not a second one.
    def another_device_first(request: Request) -> bool:
        if request.method == "POST" and request.path.endswith("/me/calendars") and not calendar.calendar_named("Follow-ups"):
            calendar._create_calendar(Request("POST", "/", {}, {}, b'{"name": "Follow-ups"}'))
        return False

    server.inject(another_device_first, Response(500), times=1)
    written(target(server), followup("k1"))
    (made,) = calendar.calendar_named("Follow-ups")
    assert len(posts(server, r"/me/calendars$")) == 1  # answered 409, not sent again
    assert [s.calendar for s in calendar.live()] == [made["id"]]


def test_a_shared_calendar_with_the_name_makes_every_create_fail_with_a_sentence(
        server: FakeServer, calendar: GraphCalendarFake) -> None:
    # Someone shared a read-only "Follow-ups" with the user: it is not syncd's, and its name is taken.
    with server.lock:
        calendar.calendars["AAMkShared="] = {"id": "AAMkShared=", "name": "Follow-ups", "canEdit": False}
    sleeps: list[float] = []
    with pytest.raises(ConnectorError) as raised:
        written(target(server, sleeps), followup("k1"))
    one_sentence(str(raised.value))
    assert "syncd cannot write to; rename it" in str(raised.value) and sleeps == []  # answered: no waiting
    assert calendar.live() == [] and posts(server) == []  # nothing written to the shared calendar


def test_a_name_taken_by_a_calendar_syncd_cannot_use_says_what_to_change(
        server: FakeServer, calendar: GraphCalendarFake) -> None:
    with server.lock:
        calendar.calendars["AAMkShared="] = {"id": "AAMkShared=", "name": "Follow-ups", "canEdit": False}
    with pytest.raises(ConnectorError) as raised:
        written(target(server), followup("k1"))
    assert "no answer" not in str(raised.value) and "calendar_name" in str(raised.value)
    assert len(posts(server, r"/me/calendars$")) == 1


def test_a_create_refused_with_403_is_sent_once_and_raised(server: FakeServer, calendar: GraphCalendarFake) -> None:
    # A login made before the account held the follow-ups carries Calendars.Read only.
    writer = target(server, followups_calendar_id="primary")
    server.inject(is_post("/events"), graph_error(403, "ErrorAccessDenied", "Access is denied. Check credentials "
                                                                            "and try again."), times=5)
    with pytest.raises(ConnectorError) as raised:
        written(writer, followup("k1"))
    assert str(raised.value) == ("creating an Outlook follow-up: Microsoft Graph answered HTTP 403 ErrorAccessDenied: "
                                 "Access is denied. Check credentials and try again.")
    assert len(posts(server)) == 1 and calendar.live() == []


def test_a_create_that_never_gets_an_answer_gives_up_with_a_sentence(server: FakeServer,
                                                                     calendar: GraphCalendarFake) -> None:
    sleeps: list[float] = []
    writer = target(server, sleeps, followups_calendar_id="primary")
    attempts = writer.client.throttle.policy.attempts
    server.inject(is_post("/events"), graph_error(503, "ServiceUnavailable", "busy"), times=attempts)
    with pytest.raises(ConnectorError) as raised:
        written(writer, followup("k1"))
    assert str(raised.value) == (f"writing 1 Outlook follow-ups: no answer after {attempts} tries "
                                 "(HTTP 503 ServiceUnavailable); try again later")
    one_sentence(str(raised.value))
    assert len(posts(server)) == attempts and calendar.live() == []
    assert len(sleeps) == attempts - 1  # backed off between tries, never slept for real
    # Listed once, then looked for a landed create after each 503, so nothing doubles when Graph comes back.
    lookups = [r for r in server.requests("GET", r"/events$") if "$filter" in r.query]
    assert len(lookups) == attempts + 1


def test_a_create_answered_without_an_id_is_looked_up_again_next_time(server: FakeServer,
                                                                      calendar: GraphCalendarFake) -> None:
    writer = target(server, followups_calendar_id="primary")
    server.inject(is_post("/events"), Response(202))  # accepted, no body: syncd does not know the id
    written(writer, followup("k1"))
    assert calendar.live() == []  # (this answer came from a proxy; nothing was made)
    writer.update(followup("k1", "Reach out to Alice again"))  # not known: listed again, then made
    writer.commit()
    (made,) = calendar.live()
    assert made.props[KEY_PROP] == "k1" and made.data["subject"] == "Reach out to Alice again"


def test_an_update_of_a_key_never_written_creates_it(server: FakeServer, calendar: GraphCalendarFake) -> None:
    writer = target(server)
    writer.update(followup("k1"))
    writer.commit()
    assert len(posts(server)) == 1 and [s.props[KEY_PROP] for s in calendar.live()] == ["k1"]


def test_an_update_after_the_user_deleted_it_is_left_deleted(server: FakeServer, calendar: GraphCalendarFake) -> None:
    writer = written(target(server), followup("k1"))
    writer.list_own()
    (event,) = calendar.live()
    calendar.user_delete(event.data["id"])
    writer.update(followup("k1", "changed"))  # the id listed earlier answers 404
    writer.commit()
    patches = server.requests("PATCH")
    assert len(patches) == 1 and unquote(patches[0].path).endswith(event.data["id"])
    assert calendar.live() == [] and len(posts(server)) == 1  # not made again: the deletion is the user's
    assert "k1" not in writer._ids


def test_an_update_or_delete_refused_with_403_raises(server: FakeServer, calendar: GraphCalendarFake) -> None:
    writer = written(target(server), followup("k1"))
    denied = graph_error(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
    server.inject(lambda r: r.method in ("PATCH", "DELETE"), denied, times=2)
    writer.update(followup("k1", "changed"))
    with pytest.raises(ConnectorError, match="updating an Outlook follow-up: Microsoft Graph answered HTTP 403"):
        writer.commit()
    writer.delete("k1")
    with pytest.raises(ConnectorError, match="deleting an Outlook follow-up: Microsoft Graph answered HTTP 403"):
        writer.commit()
    (event,) = calendar.live()
    assert event.data["subject"] == "Reach out to Alice"


def test_deleting_before_any_calendar_exists_makes_none(server: FakeServer, calendar: GraphCalendarFake) -> None:
    writer = target(server)
    writer.delete("k1")
    writer.commit()
    assert calendar.calendar_named("Follow-ups") == [] and server.requests("POST") == []
    assert [r.method for r in server.log] == ["GET"]  # only the calendars were listed


def test_tagged_events_with_an_unreadable_start_are_not_listed_but_never_doubled(
        server: FakeServer, calendar: GraphCalendarFake) -> None:
    written(target(server), followup("k1"), followup("k2", "Reach out to Bob", person=BOB))
    (broken,) = calendar.by_key("k1", KEY_PROP)
    with server.lock:
        broken.data["start"] = {"dateTime": None, "timeZone": "UTC"}
    again = target(server)
    assert [e.key for e in again.list_own()] == ["k2"]
    written(again, followup("k1"))  # the reconciler thinks it is missing: the listing has it, PATCH repairs it
    assert len(posts(server)) == 2 and len(calendar.live()) == 2
    assert [e.key for e in target(server).list_own()] == ["k1", "k2"]


def test_a_tagged_event_without_meta_and_with_an_html_body_is_read(server: FakeServer,
                                                                 calendar: GraphCalendarFake) -> None:
    written(target(server), followup("seed"))
    cal_id = str(calendar.calendar_named("Follow-ups")[0]["id"])
    # Tagged by an older syncd (no syncdMeta) and edited in Outlook on the web (an HTML body).
    calendar.add_event("Call Alice", START, calendar=cal_id, **{KEY_PROP: "k-old"})
    listed = {e.key: e for e in target(server).list_own()}
    old = listed["k-old"]
    assert old.person == "" and old.planned_start is None
    assert old.description == "agenda" and old.start == START  # tags stripped; no hash to match, so trimmed
    assert META_PROP in calendar.by_key("seed", KEY_PROP)[0].props


def test_a_login_revoked_just_before_the_create_needs_login_and_posts_once(server: FakeServer) -> None:
    calendar = GraphCalendarFake(server)
    entra = FakeEntra(OWNER)  # the real MSAL token provider, against the fake Entra
    server.guards.append(lambda r: entra.guard(r) if r.path.startswith("/v1.0/") else None)
    slot = MemorySlot()
    config = {**settings(server.base_url, followups_calendar_id="primary"), "client_id": CLIENT_ID,
              "authority": AUTHORITY, "msal_http_client": entra}
    login("acct", {**config, "followups_target": True}, slot, echo=lambda _: None, http_client=entra)
    writer = OutlookCalendarTarget("acct", config, slot, throttle=no_sleep_throttle())

    def revoked_now(request: Request) -> bool:
        if request.method == "POST":
            entra.revoke()  # the user removed syncd's consent while it was looking the key up
        return False

    server.inject(revoked_now, Response(500), times=1)
    with pytest.raises(AuthRequired) as raised:
        written(writer, followup("k1"))
    assert "run 'syncd auth login acct'" in str(raised.value)
    one_sentence(str(raised.value))
    assert len(server.requests("POST")) == 1 and calendar.live() == []  # the batch, refused whole, sent once
    assert [c for c in calendar.calendars] == [PRIMARY]
