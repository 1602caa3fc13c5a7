"""The Outlook follow-ups calendar carries syncd's own property, so it is found again when Graph gives it another
id after the user renamed it (docs/microsoft-graph.md#listing-follow-ups); against the stateful Graph calendar
fake over real loopback HTTP, driven by syncd.plan.reconcile."""

from __future__ import annotations

from urllib.parse import unquote

import pytest

from connectors.base import ConnectorError
from connectors.microsoft.calendar import CALENDAR_PROP
from syncd.plan.actions import ApplyResult
from syncd.plan.reconcile import reconcile
from syncd.store import Store
from tests.connectors.test_graph_calendar_target import (
    CFG,
    MONDAY,
    events_in,
    events_path,
    followups_calendar,
    many,
    places,
    run,
    states,
    target,
)
from tests.fakes.graph_calendar import PRIMARY, GraphCalendarFake
from tests.fakes.server import FakeServer, Request, Response

NEW_ID = "AAMkChangedId="


def quiet(result: ApplyResult) -> bool:
    return (result.created, result.updated, result.deleted, result.dismissed) == (0, 0, 0, 0)


def hand_made(fake: GraphCalendarFake, name: str = "Follow-ups") -> str:
    """A calendar the user made in Outlook, without syncd's property."""
    body = f'{{"name": "{name}"}}'.encode()
    return str(fake._create_calendar(Request("POST", "/", {}, {}, body)).body["id"])


def tag_patches(server: FakeServer) -> list[Request]:
    return server.requests("PATCH", r"/me/calendars/[^/]+$")


def test_the_calendar_syncd_makes_carries_its_property(server: FakeServer, fake: GraphCalendarFake) -> None:
    store = Store(":memory:")
    run(store, server, many(2))
    (made,) = server.requests("POST", r"/me/calendars$")
    (prop,) = made.json()["singleValueExtendedProperties"]
    assert prop["id"] == CALENDAR_PROP and fake.calendar_props[followups_calendar(fake)] == {CALENDAR_PROP: prop["value"]}
    assert tag_patches(server) == []  # made with it: no second request
    # Another calendar_name is another calendar, with another value: neither is taken for the other.
    run(store, server, many(2), writer=target(server, calendar_name="Nudges"))
    (nudges,) = fake.calendar_named("Nudges")
    assert fake.calendar_props[nudges["id"]][CALENDAR_PROP] != prop["value"]


@pytest.mark.parametrize("renamed", [False, True])
def test_a_calendar_whose_id_changed_is_found_by_its_property(
    server: FakeServer, fake: GraphCalendarFake, renamed: bool
) -> None:
    store = Store(":memory:")
    assert run(store, server, many(4)).created == 4
    calendar = followups_calendar(fake)
    if renamed:
        fake.user_rename_calendar(calendar, "Keep in touch")
    fake.change_calendar_id(calendar, NEW_ID)
    server.log.clear()
    result = run(store, server, many(4))
    # The same calendar, under its new id: nothing made, nothing written again, nothing taken as dismissed.
    assert quiet(result) and server.requests("POST") == []
    assert set(fake.calendars) == {PRIMARY, NEW_ID} and len(fake.live(NEW_ID)) == 4
    assert events_in(fake) == dict.fromkeys(events_in(fake), 1)  # no duplicates
    assert [(r.method, unquote(r.path)) for r in server.log] == [
        ("GET", events_path(calendar)), ("GET", "/v1.0/me/calendars"), ("GET", events_path(NEW_ID))]
    assert server.log[1].query["$filter"] == [
        f"singleValueExtendedProperties/Any(ep: ep/id eq '{CALENDAR_PROP}' "
        f"and ep/value eq '{fake.calendar_props[NEW_ID][CALENDAR_PROP]}')"]
    assert list(places(store).values()) == [NEW_ID] and set(states(store).values()) == {"active"}
    server.log.clear()
    assert quiet(run(store, server, many(4))) and len(server.log) == 1  # remembered: straight there again


def test_a_404_with_another_code_keeps_the_calendar(server: FakeServer, fake: GraphCalendarFake) -> None:
    store = Store(":memory:")
    run(store, server, many(3))
    calendar = followups_calendar(fake)
    fake.user_rename_calendar(calendar, "Keep in touch")
    remembered = places(store)
    server.log.clear()
    server.inject(lambda r: r.method == "GET" and r.path.endswith("/events"),
                  Response(404, {"error": {"code": "ResourceNotFound", "message": "Resource not found."}}))
    with pytest.raises(ConnectorError, match=r"HTTP 404 ResourceNotFound .* keeps the calendar") as caught:
        run(store, server, many(3))
    assert "\n" not in str(caught.value)
    # Not taken for gone: nothing looked up or made, nothing forgotten, nothing written, no state changed.
    assert server.requests("GET", r"/me/calendars$") == [] and server.requests("POST") == []
    assert places(store) == remembered and set(states(store).values()) == {"active"}
    assert len(fake.calendars) == 2 and len(fake.live(calendar)) == 3
    assert quiet(run(store, server, many(3)))  # the next run finds it as it was


def test_a_calendar_found_by_name_is_tagged_once_with_the_first_writes(
    server: FakeServer, fake: GraphCalendarFake
) -> None:
    store = Store(":memory:")
    mine = hand_made(fake)
    # A dry run, and a run with nothing to write, change nothing in Outlook: no property, nothing remembered.
    assert reconcile(many(2), store, target(server), MONDAY, CFG, dry_run=True).created == 2
    assert quiet(run(store, server, []))
    assert tag_patches(server) == [] and fake.calendar_props[mine] == {} and places(store) == {}
    assert run(store, server, many(2)).created == 2
    (patch,) = tag_patches(server)
    assert unquote(patch.path) == f"/v1.0/me/calendars/{mine}" and set(fake.calendar_props[mine]) == {CALENDAR_PROP}
    assert list(places(store).values()) == [mine]
    run(store, server, many(3))
    assert len(tag_patches(server)) == 1  # once: the next runs go to the remembered calendar
    # Tagged, it survives what the calendar syncd made survives: renamed, then given another id.
    fake.user_rename_calendar(mine, "Keep in touch")
    fake.change_calendar_id(mine, NEW_ID)
    assert quiet(run(store, server, many(3))) and len(fake.live(NEW_ID)) == 3 and fake.calendar_named("Follow-ups") == []


def test_a_refused_tag_writes_nothing_and_is_tried_again(server: FakeServer, fake: GraphCalendarFake) -> None:
    store = Store(":memory:")
    mine = hand_made(fake)
    server.inject(lambda r: r.method == "PATCH" and "/me/calendars/" in r.path,
                  Response(403, {"error": {"code": "ErrorAccessDenied", "message": "Access is denied."}}))
    with pytest.raises(ConnectorError, match=r"marking the Outlook calendar 'Follow-ups' as syncd's .*403 ErrorAccessDenied.*nothing was written"):
        run(store, server, many(2))
    assert fake.live(mine) == [] and places(store) == {}
    result = run(store, server, many(2))
    assert result.created == 2 and result.dismissed == 0 and list(places(store).values()) == [mine]
    assert events_in(fake) == dict.fromkeys(events_in(fake), 1) and len(events_in(fake)) == 2


def test_a_calendar_remembered_before_calendars_were_tagged_is_tagged_with_the_next_writes(
    server: FakeServer, fake: GraphCalendarFake
) -> None:
    store = Store(":memory:")
    run(store, server, many(3))
    calendar = followups_calendar(fake)
    # As an earlier syncd left it: remembered under the older key, the calendar without the property.
    writer = target(server)
    store.places.put("acct", writer.calendar._memory_key(), None)
    store.places.put("acct", writer.calendar._untagged_key(), calendar)
    fake.calendar_props[calendar] = {}
    fake.user_rename_calendar(calendar, "Keep in touch")
    server.log.clear()
    assert quiet(run(store, server, many(3)))  # renamed, still found by its id: nothing to write, nothing tagged
    assert [(r.method, unquote(r.path)) for r in server.log] == [("GET", events_path(calendar))]
    assert run(store, server, many(4)).created == 1
    (patch,) = tag_patches(server)
    assert unquote(patch.path) == f"/v1.0/me/calendars/{calendar}" and set(fake.calendar_props[calendar]) == {CALENDAR_PROP}
    assert places(store) == {writer.calendar._memory_key(): calendar}  # the older key forgotten
    fake.change_calendar_id(calendar, NEW_ID)
    assert quiet(run(store, server, many(4))) and len(fake.live(NEW_ID)) == 4 and fake.calendar_named("Follow-ups") == []
    assert len(tag_patches(server)) == 1
