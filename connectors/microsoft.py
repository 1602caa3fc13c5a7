"""A Microsoft 365 / Outlook.com account as one source: mail folders' metadata, then the calendar's meetings.

Each part is its own module with its own resources and cursors (``mail:<folder>``; ``calendar``), so an
expired delta token resyncs that folder alone. This class only chains them for the account.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from connectors.base import Batch, KnownIds, Source


class MicrosoftSource(Source):
    provider = "microsoft"

    def pull(self, cursors: Mapping[str, str], known: KnownIds) -> Iterator[Batch]:
        if self.settings.get("mail", True):
            from connectors.graph_mail import OutlookMailSource

            yield from OutlookMailSource(self.name, self.settings, self.secret).pull(cursors, known)
        if self.settings.get("calendar", True):
            from connectors.graph_calendar import OutlookCalendarSource

            yield from OutlookCalendarSource(self.name, self.settings, self.secret).pull(cursors, known)
