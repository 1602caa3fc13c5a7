"""The connector contract (tests/test_contract.py) for provider "google": a GoogleSource reading Gmail only,
on a started Gmail fake seeded with a handful of messages of the owner sam@example.com."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from connectors.base import Source
from connectors.google import GoogleSource
from tests.fakes.gmail import start_world

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
        yield GoogleSource("acct", {**world.settings, "calendars": []}, world.slot)
    finally:
        world.close()
