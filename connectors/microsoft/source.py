"""A Microsoft 365 / Outlook.com account as one source: mail folders' metadata, then the calendar's meetings.

Each part is its own module with its own resources and cursors (``mail:<folder>``; ``calendar``), so an
expired delta token resyncs that folder alone.
"""

from __future__ import annotations

from connectors.base import ChainedSource


class MicrosoftSource(ChainedSource):
    provider = "microsoft"
    parts = (
        ("mail", True, "connectors.microsoft.mail:OutlookMailSource"),
        ("calendar", True, "connectors.microsoft.calendar:OutlookCalendarSource"),
    )
