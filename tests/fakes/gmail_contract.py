"""The connector contract (tests/connectors/test_contract.py) for provider "google": a GoogleSource reading Gmail and the
primary calendar, on started fakes seeded with a handful of messages and meetings of the owner sam@example.com."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from connectors.base import Source
from connectors.google.auth import CALENDAR_READ, GMAIL_METADATA
from connectors.google.source import GoogleSource
from tests.fakes.gcal import GoogleCalendarFake
from tests.fakes.gmail import start_world
from tests.fakes.slot import MemorySlot

OWNER = "sam@example.com"


@contextlib.contextmanager
def contract_source(tmp_path: Path) -> Iterator[Source]:
    del tmp_path  # the fake keeps its state in memory
    os.environ.setdefault("no_proxy", "127.0.0.1,localhost")
    world = start_world(email=OWNER, me=(OWNER,))
    try:
        now = int(datetime.now(UTC).timestamp() * 1000)
        day = 86_400_000
        gmail = world.gmail
        gmail.add("Ann Lee <ann@example.org>", [OWNER], when_ms=now - 1 * day, subject="Lunch?")
        gmail.add(OWNER, ["Ann Lee <ann@example.org>"], when_ms=now - 2 * day, labels=["SENT"], subject="Re: Lunch?")
        gmail.add(OWNER, ["bob@example.net"], cc=["carol@example.com"], when_ms=now - 5 * day, labels=["SENT"])
        gmail.add("news@shop.example", [OWNER], when_ms=now - 3 * day, labels=["INBOX", "CATEGORY_PROMOTIONS"],
                  extra=[("List-Unsubscribe", "<mailto:u@shop.example>")])
        gmail.add("dave@example.org", [OWNER], when_ms=now - 40 * day, thread="t-dave")
        gmail.add("eve@example.org", [OWNER], when_ms=now - 4 * day, labels=["SPAM"])  # not listed
        calendar = GoogleCalendarFake(world.server, world.oauth, owner=OWNER)
        start = datetime.now(UTC).replace(microsecond=0)
        calendar.add_meeting(start=start - timedelta(days=10), summary="Review",
                             attendees=[(OWNER, "accepted"), ("frank@example.org", "accepted")])
        calendar.add_meeting(start=start - timedelta(days=3), summary="Cancelled", status="cancelled",
                             attendees=[(OWNER, "accepted"), ("gina@example.org", "accepted")])
        world.oauth.add_refresh_token("rt-1", [GMAIL_METADATA, CALENDAR_READ])
        settings = {**world.settings, "calendars": ("primary",), "calendar_endpoint": calendar.endpoint,
                    "calendar_quota": 600}
        yield GoogleSource("acct", settings, MemorySlot(world.oauth.authorized_user_json("rt-1")))
    finally:
        world.close()
