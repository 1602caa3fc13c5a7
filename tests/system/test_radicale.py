"""A real CalDAV server (Radicale, started here on loopback) accepts every follow-up syncd writes.

The .ics target's events are meant to be imported into, or synced to, any calendar: a strict CalDAV
server that validates each object (RFC 4791 §4.1: one UID per resource, every TZID defined) is a good
judge of that. Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import base64
import dataclasses
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest

from connectors.base import FollowupEvent
from connectors.local.ics_target import PRODID, IcsFileTarget
from tests.servers import shared


@dataclasses.dataclass
class Server:
    """A user's view of the shared Radicale (tests/servers): its base URL and Basic credentials."""

    base: str
    user: str
    auth: dict[str, str]

    def request(self, method: str, url: str, body: bytes | None = None,
                content_type: str = "text/calendar; charset=utf-8") -> tuple[int, bytes]:
        headers = {**self.auth, "Content-Type": content_type}
        request = urllib.request.Request(url, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return int(response.status), response.read()
        except urllib.error.HTTPError as exc:
            return int(exc.code), exc.read()


@pytest.fixture
def radicale() -> Server:
    server = shared.radicale()
    user, password = server.new_user("ics")
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return Server(server.url.rstrip("/"), user, {"Authorization": f"Basic {token}"})


def _followups(path: Path) -> icalendar.Calendar:
    """A follow-ups file as the target writes it: several zones, a reminder of 0, a text to escape."""
    target = IcsFileTarget("ics", {"path": path})
    starts = [
        datetime(2026, 3, 3, 9, 30, tzinfo=ZoneInfo("Europe/Berlin")),
        datetime(2026, 3, 4, 9, 30, tzinfo=ZoneInfo("America/New_York")),
        datetime(2026, 3, 5, 9, 30, tzinfo=UTC),
        datetime(2026, 10, 26, 9, 30, tzinfo=ZoneInfo("Europe/Berlin")),  # after the DST change
    ]
    for n, start in enumerate(starts):
        target.create(FollowupEvent(
            key=f"k{n}", person=f"person{n}@example.org", start=start, duration_minutes=15,
            title=f"Reach out to Person {n}", description="Last contact: 2026-01-05; notes: \"prefers calls\", ok?",
            reminder_minutes=n * 5, planned_start=start))
    target.commit()
    return icalendar.Calendar.from_ical(path.read_bytes())


def _single(event: icalendar.cal.Component, timezones: list[icalendar.cal.Component]) -> bytes:
    """One VCALENDAR per CalDAV object (RFC 4791 §4.1), with the VTIMEZONE its TZID needs."""
    single = icalendar.Calendar()
    single.add("PRODID", PRODID)
    single.add("VERSION", "2.0")
    tzid = event["DTSTART"].params.get("TZID")
    for tz in timezones:
        if str(tz["TZID"]) == tzid:
            single.add_component(tz)
    single.add_component(event)
    data: bytes = single.to_ical()
    return data


@pytest.mark.slow
def test_every_followup_is_accepted_by_a_caldav_server(radicale: Server, tmp_path: Path) -> None:
    calendar = _followups(tmp_path / "followups.ics")
    events = list(calendar.walk("VEVENT"))
    assert len(events) == 4
    timezones = list(calendar.walk("VTIMEZONE"))
    collection = f"{radicale.base}/{radicale.user}/followups/"
    # The user's principal collection first, then the calendar in it (RFC 4791 §5.3.1 needs a parent).
    assert radicale.request("MKCOL", f"{radicale.base}/{radicale.user}/", None, "application/xml")[0] in (201, 405)
    mkcalendar = (b'<?xml version="1.0" encoding="utf-8"?><C:mkcalendar xmlns:C="urn:ietf:params:xml:ns:caldav"'
                  b' xmlns:D="DAV:"><D:set><D:prop><D:displayname>Follow-ups</D:displayname></D:prop></D:set>'
                  b"</C:mkcalendar>")
    assert radicale.request("MKCALENDAR", collection, mkcalendar, "application/xml")[0] == 201
    for event in events:
        status, body = radicale.request("PUT", f"{collection}{event['X-SYNCD-KEY']}.ics", _single(event, timezones))
        assert status == 201, f"{event['SUMMARY']}: HTTP {status} {body[:300]!r}"
    # An update (the same UID again, SEQUENCE raised) replaces the object.
    target = IcsFileTarget("ics", {"path": tmp_path / "followups.ics"})
    (first, *_) = target.list_own()
    first.title = "Reach out to Person 0 (refreshed)"
    target.update(first)
    target.commit()
    updated = next(e for e in icalendar.Calendar.from_ical((tmp_path / "followups.ics").read_bytes()).walk("VEVENT")
                   if str(e["X-SYNCD-KEY"]) == first.key)
    status, _ = radicale.request("PUT", f"{collection}{first.key}.ics", _single(updated, timezones))
    assert status == 204
    for event in events:
        status, body = radicale.request("GET", f"{collection}{event['X-SYNCD-KEY']}.ics")
        assert status == 200
        (back,) = icalendar.Calendar.from_ical(body).walk("VEVENT")
        assert str(back["UID"]) == str(event["UID"])
        assert back.decoded("DTSTART") == event.decoded("DTSTART")
        assert str(back["X-SYNCD-KEY"]) == str(event["X-SYNCD-KEY"])
        assert [str(a["ACTION"]) for a in back.walk("VALARM")] == ["DISPLAY"]
    status, body = radicale.request("GET", f"{collection}{first.key}.ics")
    assert str(icalendar.Calendar.from_ical(body).walk("VEVENT")[0]["SUMMARY"]) == "Reach out to Person 0 (refreshed)"
