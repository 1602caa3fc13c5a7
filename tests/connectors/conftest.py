"""The connectors tier: each provider's loopback fake, started per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.gcal_contract import Rig, calendar_rig
from tests.fakes.gmail import GmailWorld, start_world
from tests.fakes.google_oauth import GoogleOAuthFake
from tests.fakes.graph_calendar import GraphCalendarFake
from tests.fakes.graph_calendar_contract import TOKEN
from tests.fakes.server import FakeServer


@pytest.fixture
def rig() -> Iterator[Rig]:
    """Google Calendar's fake with its OAuth fake, and a source and target wired to them."""
    with calendar_rig() as started:
        yield started


@pytest.fixture
def world() -> Iterator[GmailWorld]:
    """Gmail's fake with its OAuth fake and a logged-in account."""
    started = start_world()
    yield started
    started.close()


@pytest.fixture
def oauth(monkeypatch: pytest.MonkeyPatch) -> Iterator[GoogleOAuthFake]:
    # oauthlib refuses a token endpoint over plain http; Google's is https, the fake's is not.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    with FakeServer() as server:
        yield GoogleOAuthFake(server)


@pytest.fixture
def server() -> Iterator[FakeServer]:
    """A loopback server allowing 4 requests at once, as Outlook does per mailbox."""
    with FakeServer(max_concurrent=4) as running:
        yield running


@pytest.fixture
def fake(server: FakeServer) -> GraphCalendarFake:
    """Microsoft Graph's calendar fake, accepting the contract token."""
    graph = GraphCalendarFake(server)
    graph.bearer_guard(TOKEN)
    return graph
