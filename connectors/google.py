"""A Google account as one source: Gmail message metadata, then the selected calendars' meetings.

Each part is its own module with its own resources and cursors (``gmail``; ``calendar:<id>``), so an
expired Gmail history id resyncs Gmail alone. This class only chains them for the account.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from connectors.base import Batch, KnownIds, Source


class GoogleSource(Source):
    provider = "google"

    def pull(self, cursors: Mapping[str, str], known: KnownIds) -> Iterator[Batch]:
        if self.settings.get("gmail", True):
            from connectors.gmail import GmailSource

            yield from GmailSource(self.name, self.settings, self.secret).pull(cursors, known)
        if self.settings.get("calendars", ("primary",)):
            from connectors.gcal import GoogleCalendarSource

            yield from GoogleCalendarSource(self.name, self.settings, self.secret).pull(cursors, known)
