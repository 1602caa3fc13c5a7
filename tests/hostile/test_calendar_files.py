"""Hostile calendar folders: a broken VTIMEZONE, a broken VEVENT, and entries named .ics that are no file."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

from connectors.base import Batch
from connectors.local.ics import IcsSource
from syncd.store import Store

NOW = datetime(2026, 3, 4, 12, tzinfo=UTC)
ME = "me@example.com"
BAD_ZONE = """BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//test//hostile//EN\r
BEGIN:VTIMEZONE\r
TZID:Bad/Zone\r
BEGIN:STANDARD\r
DTSTART:19700101T000000\r
TZOFFSETFROM:+5328\r
TZOFFSETTO:+0100\r
END:STANDARD\r
END:VTIMEZONE\r
BEGIN:VEVENT\r
UID:in-the-bad-zone\r
DTSTART;TZID=Bad/Zone:20260301T100000\r
DTEND;TZID=Bad/Zone:20260301T110000\r
SUMMARY:Meet\r
ORGANIZER:mailto:bob@example.org\r
ATTENDEE;PARTSTAT=ACCEPTED:mailto:me@example.com\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:in-utc\r
DTSTART:20260302T100000Z\r
DTEND:20260302T110000Z\r
SUMMARY:Meet again\r
ORGANIZER:mailto:carol@example.org\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:broken-duration\r
DTSTART:20260303T100000Z\r
DURATION:forever\r
END:VEVENT\r
END:VCALENDAR\r
"""


class _Store:
    def __init__(self) -> None:
        self.store = Store(":memory:")
        self.store.accounts.ensure("cal", "ics")

    def known_ids(self, resource: str) -> set[str]:
        return self.store.synced.known_ids("cal", resource)

    def pull(self, path: Path) -> list[Batch]:
        source = IcsSource("cal", {"path": path, "me": (ME,), "now": NOW})
        number = self.store.accounts.begin_pull("cal")
        batches = list(source.pull(self.store.synced.cursors("cal"), self))
        for batch in batches:
            self.store.synced.apply_batch("cal", batch, number)
        return batches


def test_a_broken_time_zone_costs_only_its_zone_not_the_file(tmp_path: Path) -> None:
    path = tmp_path / "export.ics"
    path.write_text(BAD_ZONE)
    batches = _Store().pull(path)
    found = {item.provider_id: item for batch in batches for item in batch.interactions}
    # Its times are read as UTC, with a warning; the other events of the file are read as ever.
    assert found["in-the-bad-zone"].timestamp == datetime(2026, 3, 1, 10, tzinfo=UTC)
    assert "in-utc" in found
    reasons = {skip.what: skip.why for batch in batches for skip in batch.skipped}
    assert reasons["export.ics: time zone Bad/Zone"].startswith("broken time zone:")
    assert "read as UTC" in reasons["export.ics: time zone Bad/Zone"]
    assert "broken-duration" in " ".join(reasons)


def test_entries_named_ics_that_are_no_file_are_counted_until_they_go(tmp_path: Path) -> None:
    folder = tmp_path / "calendars"
    folder.mkdir()
    (folder / "good.ics").write_text(BAD_ZONE)
    os.mkfifo(folder / "pipe.ics")
    (folder / "folder.ics").mkdir()
    os.symlink(folder / "nowhere.ics", folder / "dangling.ics")
    os.symlink(folder, folder / "loop")  # a folder symlinked into itself is walked once
    world = _Store()
    batches = world.pull(folder)
    odd = {skip.what: skip.why for batch in batches for skip in batch.skipped if batch.resource == "."}
    assert odd == {
        "dangling.ics": "not a regular file: a broken or looping symlink",
        "folder.ics": "not a regular file: a folder",
        "pipe.ics": "not a regular file: a FIFO",
    }
    listed = [item for resource, item, _, _ in world.store.synced.skipped_items("cal") if resource == "."]
    assert listed == ["dangling.ics", "folder.ics", "pipe.ics"]
    (folder / "pipe.ics").unlink()
    shutil.rmtree(folder / "folder.ics")
    (folder / "dangling.ics").unlink()
    world.pull(folder)
    assert [item for resource, item, _, _ in world.store.synced.skipped_items("cal") if resource == "."] == []
