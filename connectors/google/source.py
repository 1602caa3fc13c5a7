"""A Google account as one source: Gmail message metadata, then the selected calendars' meetings.

Each part is its own module with its own resources and cursors (``gmail``; ``calendar:<id>``), so an
expired Gmail history id resyncs Gmail alone.
"""

from __future__ import annotations

from connectors.base import ChainedSource


class GoogleSource(ChainedSource):
    provider = "google"
    parts = (
        ("gmail", True, "connectors.google.gmail:GmailSource"),
        ("calendars", ("primary",), "connectors.google.calendar:GoogleCalendarSource"),
    )
