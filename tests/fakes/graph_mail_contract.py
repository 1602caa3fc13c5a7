"""The connector contract's Microsoft source: MicrosoftSource (mail and the calendar) on the Graph fakes,
logged in through the fake Entra (see tests/connectors/test_contract.py)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from connectors.base import Source
from connectors.microsoft.auth import login
from connectors.microsoft.source import MicrosoftSource
from tests.fakes.entra import AUTHORITY, CLIENT_ID, FakeEntra
from tests.fakes.graph_calendar import GraphCalendarFake
from tests.fakes.graph_mail import GraphMailFake
from tests.fakes.server import FakeServer
from tests.fakes.slot import MemorySlot

OWNER = "sam@example.com"


def seed(fake: GraphMailFake) -> None:
    """A few messages: a thread with Alice both ways, a cc, a newsletter in Other, a draft."""
    day = datetime(2026, 2, 2, 9, 0, tzinfo=UTC)
    fake.add("sentitems", sender=OWNER, to=["alice@example.org"], cc=["bob@example.org"], when=day,
             names={"alice@example.org": "Alice Moreau"})
    fake.add("inbox", sender="alice@example.org", to=[OWNER], when=day.replace(day=3),
             names={"alice@example.org": "Alice Moreau"})
    fake.add("inbox", sender="news@shop.example", to=[OWNER], when=day.replace(day=4), inference="other")
    fake.add("sentitems", sender=OWNER, to=["carol@example.net"], when=day.replace(day=5))
    fake.add("sentitems", sender=OWNER, to=["dave@example.net"], when=day.replace(day=6), draft=True)


def settings(server: FakeServer, entra: FakeEntra, **extra: Any) -> dict[str, Any]:
    return {
        "client_id": CLIENT_ID, "authority": AUTHORITY, "graph_endpoint": server.base_url,
        "mail": True, "calendar": False, "folders": ("inbox", "sentitems"), "rate_limit": 10_000,
        "concurrency": 4, "me": (), "msal_http_client": entra, **extra,
    }


@contextlib.contextmanager
def contract_source(tmp_path: Path) -> Iterator[Source]:
    entra = FakeEntra(OWNER)
    with FakeServer(max_concurrent=4) as server:
        fake = GraphMailFake(server, owner=OWNER, auth=entra.guard)
        seed(fake)
        calendar = GraphCalendarFake(server, owner=OWNER)
        calendar.add_meeting("Review", datetime.now(UTC) - timedelta(days=10),
                             attendees=[("frank@example.org", "accepted")])
        slot = MemorySlot()
        config = settings(server, entra, calendar=True, window_past=timedelta(days=365),
                          window_future=timedelta(days=90))
        login("acct", config, slot, echo=lambda _: None, http_client=entra)
        yield MicrosoftSource("acct", config, slot)
