"""A Google account for the command-line tests: its fakes on one loopback server, and a config naming them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.fakes.gcal import GoogleCalendarFake
from tests.fakes.gmail import GmailFake
from tests.fakes.google_oauth import GoogleOAuthFake
from tests.fakes.server import FakeServer

ME = "sam@example.com"
GMAIL = "https://www.googleapis.com/auth/gmail.metadata"
CAL = ["https://www.googleapis.com/auth/calendar.events.readonly", "https://www.googleapis.com/auth/calendar.app.created",
       "https://www.googleapis.com/auth/calendar.calendarlist.readonly"]
CONFIG = """
[accounts.gmail]
provider = "google"
token_store = "file"
gmail_endpoint = "{gmail}"
calendar_endpoint = "{calendar}"
token_uri = "{token}"

[accounts.archive]
provider = "maildir"
path = "{tmp}/mail"
me = ["{me}"]

[followups]
target = "gmail"
timezone = "UTC"
"""


class World:
    def __init__(self, server: FakeServer, tmp_path: Path) -> None:
        self.server = server
        self.oauth = GoogleOAuthFake(server)
        self.gmail = GmailFake(server, self.oauth, email=ME)
        self.calendar = GoogleCalendarFake(server, self.oauth, owner=ME)
        self.tmp = tmp_path
        self.now = datetime.now(UTC)

    def ms(self, days_ago: float) -> int:
        return int((self.now - timedelta(days=days_ago)).timestamp() * 1000)

    def followups(self) -> list[dict]:
        ours = [c for c in self.calendar.calendars.values() if c.summary == "Follow-ups"]
        return [e for c in ours for e in self.calendar.live(c.id)]

    def writes(self) -> int:
        return len([r for r in self.server.requests() if r.method in ("POST", "PATCH", "PUT", "DELETE")
                    and r.path.startswith("/calendar/")])


def configure(world: World, monkeypatch: pytest.MonkeyPatch, gmail_options: str = "") -> None:
    """Write the config naming ``world``'s fakes (``gmail_options``: more lines for the Google account) and
    point syncd at it and at a state folder beside it."""
    tmp = world.tmp
    (tmp / "mail" / "cur").mkdir(parents=True, exist_ok=True)
    config = tmp / "config.toml"
    text = CONFIG.format(gmail=world.gmail.endpoint, calendar=world.calendar.endpoint, token=world.oauth.token_uri,
                         tmp=tmp, me=ME)
    config.write_text(text.replace('token_store = "file"', f'token_store = "file"\n{gmail_options}'.rstrip()))
    monkeypatch.setenv("SYNCD_CONFIG", str(config))
    monkeypatch.setenv("SYNCD_STATE_DIR", str(tmp / "state"))
