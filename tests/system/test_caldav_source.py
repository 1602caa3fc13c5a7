"""The CalDAV source on real servers (Radicale and Xandikos, on loopback): meetings and recurrences, an idle pull
of one request, changes and deletions made in another client, the CTag/ETag fallback, a forgotten sync token,
a connection dropped mid-REPORT, a non-CalDAV page, garbage, an object that does not parse, a wrong password,
an untrusted certificate, discovery through /.well-known, and where the password may go."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from connectors.base import AuthRequired, Batch, ConnectorError, SourceUnavailable
from connectors.caldav.account import DavAccount as Connection
from connectors.caldav.source import CalDavSource
from connectors.throttle import RetryPolicy, Throttle
from syncd.store import Store
from tests.fakes.known import StoreKnown, pull_into
from tests.fakes.slot import MemorySlot
from tests.servers import dav, shared
from tests.servers.faults import GarbageServer, HttpProxy, Rule
from tests.servers.xandikos import Xandikos

pytestmark = pytest.mark.slow
ME = "sam@example.com"
NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)
_names = itertools.count(1)


def event(uid: str, start: str, summary: str = "Meeting", extra: str = "", partstat: str = "ACCEPTED") -> bytes:
    return (f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//another client//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\n"
            f"DTSTAMP:20260101T000000Z\r\nDTSTART:{start}\r\nDURATION:PT1H\r\nSUMMARY:{summary}\r\n{extra}"
            f"ORGANIZER:mailto:ann@example.org\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:ann@example.org\r\n"
            f"ATTENDEE;PARTSTAT={partstat}:mailto:{ME}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n").encode()


class World:
    """A CalDAV account with one calendar of its own, syncd's source for it, and a store."""

    def __init__(self, account: dav.DavAccount, calendar: str) -> None:
        self.account = account
        self.name = calendar
        self.calendar = account.calendar(calendar)
        self.store = Store(":memory:")
        self.store.accounts.ensure("acct", "caldav")
        self.sleeps: list[float] = []

    def put(self, data: bytes) -> Any:
        return self.calendar.save_event(data.decode())

    def source(self, url: str | None = None, **extra: Any) -> CalDavSource:
        settings = self.account.settings(**{"me": (ME,), "now": NOW, "calendars": (self.name,), **extra})
        if url is not None:
            settings["url"] = url
        throttle = Throttle(None, RetryPolicy(attempts=3, base=0.0, cap=0.0, jitter=0.0), sleep=self.sleeps.append)
        return CalDavSource("acct", settings, self.account.slot, throttle=throttle)

    def pull(self, source: CalDavSource) -> list[Batch]:
        return pull_into(self.store, source)

    def ids(self) -> set[str]:
        return {pid.split("#", 1)[1] for pid in StoreKnown(self.store).known_ids(self.calendar_path())}

    def calendar_path(self) -> str:
        from urllib.parse import unquote, urlsplit

        return unquote(urlsplit(str(self.calendar.url)).path)


@pytest.fixture(scope="module")
def xandikos() -> Iterator[Xandikos]:
    with shared.fresh_xandikos() as server:
        yield server


@pytest.fixture(params=["radicale", "xandikos"])
def world(request: pytest.FixtureRequest) -> World:
    if request.param == "radicale":
        return World(dav.radicale_account(shared.radicale()), f"Work {next(_names)}")
    server: Xandikos = request.getfixturevalue("xandikos")
    return World(dav.xandikos_account(server), f"Work {next(_names)}")


@pytest.fixture
def radicale_world() -> World:
    return World(dav.radicale_account(shared.radicale()), "Work")


def test_meetings_recurrences_and_an_idle_pull_of_one_request(world: World) -> None:
    world.put(event("single", "20260210T100000Z", "Review"))
    world.put(event("weekly", "20260105T090000Z", "Standup", "RRULE:FREQ=WEEKLY;COUNT=4\r\n"))
    world.put(event("declined", "20260212T100000Z", "Offsite", partstat="DECLINED"))
    batches = world.pull(world.source())
    items = {i.provider_id.split("#", 1)[1]: i for b in batches for i in b.interactions}
    assert set(items) == {"single", "declined", "weekly/20260105T090000Z", "weekly/20260112T090000Z",
                          "weekly/20260119T090000Z", "weekly/20260126T090000Z"}
    assert items["declined"].owner_response == "declined" and items["single"].owner_response == "accepted"
    assert items["weekly/20260112T090000Z"].series_id == "weekly"
    idle = world.source()  # a new pull: a new session, as `syncd pull` makes one
    assert world.pull(idle) == [] and idle.account.requests == 1  # the home listing, nothing more


def test_changes_and_deletions_made_in_another_client(world: World) -> None:
    world.put(event("single", "20260210T100000Z", "Review"))
    world.put(event("weekly", "20260105T090000Z", "Standup", "RRULE:FREQ=WEEKLY;COUNT=4\r\n"))
    world.put(event("gone", "20260211T100000Z", "Lunch"))
    world.pull(world.source())
    world.put(event("weekly", "20260105T090000Z", "Standup", "RRULE:FREQ=WEEKLY;COUNT=4\r\nEXDATE:20260119T090000Z\r\n"))
    world.put(event("single", "20260217T100000Z", "Review (moved)"))
    world.calendar.get_event_by_uid("gone").delete()
    batches = world.pull(world.source())
    deleted = sorted(d.split("#", 1)[1] for b in batches for d in b.deleted)
    assert deleted == ["gone", "weekly/20260119T090000Z"]
    assert world.ids() == {"single", "weekly/20260105T090000Z", "weekly/20260112T090000Z", "weekly/20260126T090000Z"}
    moved = [i for b in batches for i in b.interactions if i.provider_id.endswith("#single")]
    assert [(i.subject, i.timestamp) for i in moved] == [("Review (moved)", datetime(2026, 2, 17, 10, tzinfo=UTC))]


def test_a_forgotten_sync_token_reads_the_calendar_whole(world: World) -> None:
    world.put(event("a", "20260210T100000Z"))
    world.pull(world.source())
    cursors = world.store.synced.cursors("acct")
    (resource, cursor), = cursors.items()
    state = json.loads(cursor)
    state["token"] = state["token"].rsplit("/", 1)[0] + "/forgotten-token-0000" if "/" in state["token"] else "zz"
    world.store.db.execute("UPDATE cursors SET cursor = ? WHERE resource = ?", (json.dumps(state), resource))
    world.put(event("b", "20260211T100000Z"))
    world.pull(world.source())
    assert world.ids() == {"a", "b"} and world.store.count("interactions") == 2


def _without_sync_collection(proxy: HttpProxy) -> None:
    """A server that knows neither DAV:sync-token nor the sync-collection REPORT (CTag and ETags only)."""
    proxy.add(Rule(lambda method, path, body: method == "REPORT" and b"sync-collection" in body, status=403,
                   body=b"<error/>", times=None))
    proxy.add(Rule(lambda method, path, body: method == "PROPFIND",
                   rewrite=lambda data: re.sub(rb"<[A-Za-z0-9]*:?sync-token>[^<]*</[A-Za-z0-9]*:?sync-token>", b"", data),
                   times=None))


def test_without_sync_collection_ctags_and_etags_are_compared(radicale_world: World) -> None:
    world = radicale_world
    proxy = HttpProxy(int(world.account.url.rsplit(":", 1)[1].strip("/")))
    _without_sync_collection(proxy)
    try:
        world.put(event("a", "20260210T100000Z"))
        world.put(event("b", "20260211T100000Z"))
        world.pull(world.source(url=proxy.url))
        assert world.ids() == {"a", "b"}
        idle = world.source(url=proxy.url)
        assert world.pull(idle) == [] and idle.account.requests == 1  # the CTag was unchanged
        world.put(event("a", "20260212T100000Z", "A moved"))
        world.calendar.get_event_by_uid("b").delete()
        batches = world.pull(world.source(url=proxy.url))
        assert [i.subject for b in batches for i in b.interactions] == ["A moved"]
        assert world.ids() == {"a"}
    finally:
        proxy.stop()


def test_a_connection_dropped_mid_report_is_retried_and_else_resumed(radicale_world: World) -> None:
    world = radicale_world
    proxy = HttpProxy(int(world.account.url.rsplit(":", 1)[1].strip("/")))
    try:
        for n in range(5):
            world.put(event(f"e{n}", f"2026021{n}T100000Z"))
        multiget = lambda method, path, body: method == "REPORT" and b"calendar-multiget" in body  # noqa: E731
        truncated = proxy.add(Rule(multiget, truncate=True, times=1))
        world.pull(world.source(url=proxy.url))
        assert truncated.times == 0 and world.sleeps  # met once, retried after a backoff
        assert len(world.ids()) == 5 and world.store.count("interactions") == 5
        for n in range(5, 8):
            world.put(event(f"e{n}", f"2026022{n}T100000Z"))
        proxy.add(Rule(multiget, drop=True, times=None))
        with pytest.raises(ConnectorError) as failed:
            world.pull(world.source(url=proxy.url))
        assert "kept failing" in str(failed.value) and "\n" not in str(failed.value)
        assert len(world.ids()) == 5  # nothing half-stored
        proxy.rules.clear()
        world.pull(world.source(url=proxy.url))
        assert len(world.ids()) == 8 and world.store.count("interactions") == 8  # resumed, nothing doubled
    finally:
        proxy.stop()


def test_an_object_that_does_not_parse_is_named_and_the_rest_goes_on(radicale_world: World) -> None:
    world = radicale_world
    world.put(event("fine", "20260210T100000Z"))
    world.put(event("broken", "20260211T100000Z"))
    proxy = HttpProxy(int(world.account.url.rsplit(":", 1)[1].strip("/")))
    proxy.add(Rule(lambda method, path, body: b"calendar-multiget" in body,
                   rewrite=lambda data: re.sub(rb"(UID:broken.*?)END:VCALENDAR", rb"\1", data, flags=re.DOTALL),
                   times=1))
    try:
        batches = world.pull(world.source(url=proxy.url))
    finally:
        proxy.stop()
    assert world.ids() == {"fine"}
    (skip,) = [s for b in batches for s in b.skipped]
    assert skip.what.endswith(".ics") and skip.why.startswith("unparseable calendar object: ")


def test_a_page_that_is_not_caldav_and_garbage_are_one_sentence(radicale_world: World) -> None:
    page = GarbageServer(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 24\r\n\r\n<html>Welcome!</html>\r\n\r\n")
    try:
        with pytest.raises(SourceUnavailable) as refused:
            list(radicale_world.source(url=f"http://127.0.0.1:{page.port}/").pull({}, StoreKnown(Store(":memory:"))))
    finally:
        page.stop()
    assert str(refused.value) == (f"account 'acct': http://127.0.0.1:{page.port}/ is not a CalDAV server (it names no "
                                 "principal); set accounts.acct.url to your provider's CalDAV address")
    world = radicale_world
    world.put(event("a", "20260210T100000Z"))
    proxy = HttpProxy(int(world.account.url.rsplit(":", 1)[1].strip("/")))
    proxy.add(Rule(lambda method, path, body: method == "REPORT",
                   rewrite=lambda data: data[: len(data) // 3], times=None))
    try:
        with pytest.raises(ConnectorError) as failed:
            world.pull(world.source(url=proxy.url))
    finally:
        proxy.stop()
    assert "is not CalDAV" in str(failed.value) or "not valid CalDAV" in str(failed.value)
    assert "\n" not in str(failed.value)


def test_a_wrong_password_needs_login(radicale_world: World) -> None:
    source = CalDavSource("acct", radicale_world.account.settings(calendars=("Work",)),
                          MemorySlot(json.dumps({"password": "wrong"})))
    with pytest.raises(AuthRequired, match=r"needs login \(the server refused the password\)"):
        list(source.pull({}, StoreKnown(Store(":memory:"))))


def test_an_untrusted_certificate_is_refused_with_the_fix() -> None:
    account = dav.radicale_account(shared.radicale_tls())
    account.calendar("Work")
    untrusted = CalDavSource("acct", account.settings(ca_file=None), account.slot)
    with pytest.raises(SourceUnavailable) as failed:
        list(untrusted.pull({}, StoreKnown(Store(":memory:"))))
    assert "is not trusted" in str(failed.value) and 'set ca_file = "' in str(failed.value)
    trusted = CalDavSource("acct", account.settings(), account.slot)
    assert [b.resource for b in trusted.pull({}, StoreKnown(Store(":memory:")))] == [
        f"/{account.username}/{str(account.calendar('Work').url).rstrip('/').rsplit('/', 1)[-1]}/"]


def test_a_missing_calendar_is_named_and_one_given_by_url_is_read_alone(radicale_world: World) -> None:
    world = radicale_world
    world.put(event("a", "20260210T100000Z"))
    other = world.account.calendar("Private")
    other.save_event(event("private", "20260210T100000Z").decode())
    batches = world.pull(world.source(calendars=("Work", "Holidays")))
    assert [(s.what, s.why.split(":")[0]) for b in batches for s in b.skipped] == [("Holidays", "calendar missing")]
    alone = Store(":memory:")
    alone.accounts.ensure("acct", "caldav")
    batches = pull_into(alone, world.source(url=str(world.calendar.url), calendars=()))
    assert [i.provider_id.split("#")[1] for b in batches for i in b.interactions] == ["a"]


def test_discovery_goes_through_the_well_known_address(radicale_world: World) -> None:
    world = radicale_world
    world.put(event("a", "20260210T100000Z"))
    proxy = HttpProxy(int(world.account.url.rsplit(":", 1)[1].strip("/")))
    # The root names no principal (as Nextcloud's does not); /.well-known/caldav leads to one.
    proxy.add(Rule(lambda method, path, body: method == "PROPFIND" and path == "/", status=200,
                   body=b"<html>a web site</html>", times=1))
    try:
        world.pull(world.source(url=proxy.url))
    finally:
        proxy.stop()
    assert world.ids() == {"a"}
    assert ("PROPFIND", "/.well-known/caldav") in proxy.seen


def test_the_password_goes_only_where_it_may() -> None:
    connection = Connection("acct", {"url": "https://caldav.icloud.com/", "username": "u"}, MemorySlot())
    assert connection.allowed("https://caldav.icloud.com/123/calendars/")
    assert connection.allowed("https://p42-caldav.icloud.com/123/calendars/")  # the calendar host of the same domain
    assert not connection.allowed("http://p42-caldav.icloud.com/")  # never in the clear
    assert not connection.allowed("https://caldav.example.net/")
    with pytest.raises(ConnectorError, match="sends the password nowhere else"):
        connection.request("PROPFIND", "https://evil.example.net/", what="testing")
    with pytest.raises(SourceUnavailable, match="is not https"):
        _ = Connection("acct", {"url": "http://dav.example.org/", "username": "u"}, MemorySlot()).client


def test_a_calendar_of_someone_elses_tasks_is_no_source_of_meetings(radicale_world: World) -> None:
    world = radicale_world
    world.put(event("a", "20260210T100000Z", extra=""))
    todo = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//EN\r\nBEGIN:VTODO\r\nUID:task\r\nDTSTAMP:20260101T000000Z\r\n"
            "SUMMARY:Do it\r\nEND:VTODO\r\nEND:VCALENDAR\r\n")
    world.calendar.save_todo(todo)
    batches = world.pull(world.source())
    assert world.ids() == {"a"} and not [s for b in batches for s in b.skipped]


def test_a_server_that_refuses_sync_collection_is_listed_by_etags(radicale_world: World) -> None:
    world = radicale_world
    world.put(event("a", "20260210T100000Z"))
    proxy = HttpProxy(int(world.account.url.rsplit(":", 1)[1].strip("/")))
    proxy.add(Rule(lambda method, path, body: method == "REPORT" and b"sync-collection" in body, status=403,
                   body=b"<error/>", times=None))
    try:
        world.pull(world.source(url=proxy.url))
        assert world.ids() == {"a"}
        world.put(event("b", "20260211T100000Z"))
        world.pull(world.source(url=proxy.url))
    finally:
        proxy.stop()
    assert world.ids() == {"a", "b"} and world.store.count("interactions") == 2


def test_nothing_listening_is_retried_then_one_sentence(radicale_world: World) -> None:
    from tests.servers.base import free_port

    source = radicale_world.source(url=f"http://127.0.0.1:{free_port()}/")
    with pytest.raises(ConnectorError) as failed:
        list(source.pull({}, StoreKnown(Store(":memory:"))))
    assert "kept failing (no answer" in str(failed.value) and radicale_world.sleeps


@pytest.mark.parametrize("scheme", ['Bearer realm="calendar"', "Negotiate", 'NTLM, Bearer error="invalid_token"'])
def test_a_server_that_wants_another_login_method_is_one_sentence(radicale_world: World, scheme: str) -> None:
    proxy = HttpProxy(int(radicale_world.account.url.rsplit(":", 1)[1].strip("/")))
    proxy.add(Rule(lambda method, path, body: True, status=401, headers={"WWW-Authenticate": scheme}, times=None))
    try:
        with pytest.raises(SourceUnavailable) as failed:
            list(radicale_world.source(url=proxy.url).pull({}, StoreKnown(Store(":memory:"))))
    finally:
        proxy.stop()
    assert str(failed.value) == (f"account 'acct': {proxy.url} asks for a login method syncd does not know "
                                 "(only Basic and Digest)")
    assert radicale_world.sleeps == []  # not retried: asking again changes nothing


def test_https_to_a_server_without_tls_is_one_sentence(radicale_world: World) -> None:
    url = radicale_world.account.url.replace("http://", "https://")  # to a server that speaks plain http
    with pytest.raises(SourceUnavailable) as failed:
        list(radicale_world.source(url=url).pull({}, StoreKnown(Store(":memory:"))))
    assert str(failed.value) == (f"account 'acct': TLS with {url} failed while looking for the calendars "
                                 "(WRONG_VERSION_NUMBER); check accounts.acct.url")
    assert radicale_world.sleeps == []


def _through(world: World, rule: Rule) -> tuple[HttpProxy, Any]:
    """Pull ``world`` through a proxy that applies ``rule``; returns the proxy and the error the pull raised."""
    proxy = HttpProxy(int(world.account.url.rsplit(":", 1)[1].strip("/")))
    proxy.add(rule)
    try:
        with pytest.raises(ConnectorError) as failed:
            world.pull(world.source(url=proxy.url))
    finally:
        proxy.stop()
    return proxy, failed.value


def test_a_principal_without_a_calendar_home_and_a_home_that_cannot_be_listed_are_one_sentence(
        radicale_world: World) -> None:
    world = radicale_world
    world.put(event("a", "20260210T100000Z"))
    user = world.account.username
    _, failed = _through(world, Rule(lambda method, path, body: b"calendar-home-set" in body, status=404, times=None))
    assert str(failed) == "account 'acct': the server names no calendar home for this user"
    listing = Rule(lambda method, path, body: path == f"/{user}/" and b"supported-calendar-component-set" in body,
                   status=404, times=None)  # Radicale's principal is its home: only the listing fails
    proxy, failed = _through(world, listing)
    assert str(failed) == f"account 'acct': the calendar home {proxy.url}{user}/ cannot be listed"
    assert world.ids() == set()


@pytest.mark.parametrize(("status", "said"), [
    (404, "does not exist on the server (HTTP 404) while syncing Work; check accounts.acct.url"),
    (500, "the server answered HTTP 500 while syncing Work"),
])
def test_a_calendar_that_answers_an_error_status_is_one_sentence_and_nothing_is_stored(
        radicale_world: World, status: int, said: str) -> None:
    world = radicale_world
    world.put(event("a", "20260210T100000Z"))
    _, failed = _through(world, Rule(lambda method, path, body: method == "REPORT", status=status, times=None))
    assert str(failed).startswith("account 'acct': ") and str(failed).endswith(said), str(failed)
    assert world.ids() == set()
    world.pull(world.source())  # the server answers again: the next pull reads it
    assert world.ids() == {"a"}


def test_an_answer_that_is_no_multistatus_is_one_sentence_and_deletes_nothing(radicale_world: World) -> None:
    world = radicale_world
    world.put(event("a", "20260210T100000Z"))
    world.pull(world.source())
    world.put(event("a", "20260210T100000Z", summary="Moved"))  # changed: the next pull reads it again
    page = Rule(lambda method, path, body: b"calendar-multiget" in body, status=200, body=b"<html>a portal</html>",
                times=None)
    _, failed = _through(world, page)
    assert str(failed) == ("account 'acct': the server's answer about Work is not valid CalDAV; what was read so "
                           "far is kept and the next pull tries again")
    assert world.ids() == {"a"}  # not taken for "gone between the listing and the multiget"
    world.pull(world.source())
    assert world.ids() == {"a"} and world.store.count("interactions") == 1


def test_cursors_that_do_not_read_mean_reading_the_calendar_whole() -> None:
    from connectors.caldav.source import CalendarState

    for unreadable in (None, "", "{not json", "[1, 2]", '"text"', "7", '{"partial": true}'):
        assert CalendarState.load(unreadable) is None, unreadable
    assert CalendarState.load('{"token": "t1", "from an older version": 1}') == CalendarState(token="t1")
    today = datetime(2026, 3, 2).date()
    assert CalendarState(expanded="not a day").stale(today) and CalendarState().stale(today)
    assert not CalendarState(expanded="2026-03-01").stale(today)


def test_a_server_that_asks_to_slow_down_is_waited_out_as_it_says(radicale_world: World) -> None:
    world = radicale_world
    world.put(event("a", "20260210T100000Z"))
    proxy = HttpProxy(int(world.account.url.rsplit(":", 1)[1].strip("/")))
    proxy.add(Rule(lambda method, path, body: method == "REPORT", status=429, headers={"Retry-After": "7"}))
    try:
        world.pull(world.source(url=proxy.url))
    finally:
        proxy.stop()
    assert world.ids() == {"a"} and world.sleeps == [7.0]


def test_a_server_that_redirects_in_a_loop_is_one_sentence(radicale_world: World) -> None:
    proxy = HttpProxy(int(radicale_world.account.url.rsplit(":", 1)[1].strip("/")))
    proxy.add(Rule(lambda method, path, body: True, status=301, headers={"Location": proxy.url}, times=None))
    try:
        with pytest.raises(ConnectorError) as failed:
            list(radicale_world.source(url=proxy.url).pull({}, StoreKnown(Store(":memory:"))))
    finally:
        proxy.stop()
    assert str(failed.value) == ("account 'acct': the connection to 127.0.0.1 failed while looking for the calendars "
                                 "(Exceeded 30 redirects.)")


def test_a_calendar_deleted_upstream_takes_its_meetings_with_it(radicale_world: World) -> None:
    world = radicale_world
    world.put(event("a", "20260210T100000Z"))
    world.pull(world.source(calendars=()))  # every calendar of the account
    assert world.ids() == {"a"}
    world.calendar.delete()
    batches = world.pull(world.source(calendars=()))
    assert world.store.count("interactions") == 0 and not [s for b in batches for s in b.skipped]


def test_an_object_deleted_between_the_listing_and_the_multiget_is_gone_without_a_word(radicale_world: World) -> None:
    world = radicale_world
    world.put(event("a", "20260210T100000Z"))
    world.put(event("b", "20260211T100000Z"))
    world.pull(world.source())
    world.put(event("a", "20260210T100000Z", summary="Moved"))  # listed as changed by the next sync
    deleted: list[str] = []

    def delete_first(method: str, path: str, body: bytes) -> bool:
        if b"calendar-multiget" in body and not deleted:  # another client deletes it just now
            world.calendar.event_by_uid("a").delete()
            deleted.append("a")
        return False  # the server answers, as it is now

    proxy = HttpProxy(int(world.account.url.rsplit(":", 1)[1].strip("/")))
    proxy.add(Rule(delete_first, times=None))
    try:
        batches = world.pull(world.source(url=proxy.url))
    finally:
        proxy.stop()
    assert deleted == ["a"] and world.ids() == {"b"} and not [s for b in batches for s in b.skipped]
