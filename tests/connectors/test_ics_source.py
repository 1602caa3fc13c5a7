"""The .ics source: exports of Google, Outlook, Apple and Thunderbird, broken input, incremental pulls.

Fixtures in tests/connectors/data/ics are hand-written after real exports (synthetic people only). Pulls go into a
real in-memory store, as `syncd pull` does, so deletions and cursors are checked where they land.
"""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from connectors.base import Batch, Interaction, SourceUnavailable
from connectors.local.ics import IcsSource
from connectors.local.ics_target import IcsFileTarget
from syncd.store import Store
from tests.support.followups import followup

DATA = Path(__file__).parent / "data" / "ics"
NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
OUTLOOK_UID = "040000008200E00074C5B7101A82E00800000000A1B2C3D4E5F60718"


class Pulled:
    """An IcsSource pulled into a real store."""

    def __init__(self, path: Path, **settings: Any) -> None:
        options = {"path": path, "me": ("me@example.com",), "now": NOW, "window_future": timedelta(days=200)}
        self.source = IcsSource("cal", {**options, **settings})
        self.store = Store(":memory:")
        self.store.accounts.ensure("cal", "ics")

    def known_ids(self, resource: str) -> set[str]:
        return self.store.synced.known_ids("cal", resource)

    def pull(self) -> list[Batch]:
        batches = list(self.source.pull(self.store.synced.cursors("cal"), self))
        for batch in batches:
            self.store.synced.apply_batch("cal", batch)
        return batches


def found(batches: list[Batch]) -> dict[str, Interaction]:
    return {item.provider_id: item for batch in batches for item in batch.interactions}


def skipped(batches: list[Batch]) -> list[tuple[str, str]]:
    return [(skip.what, skip.why) for batch in batches for skip in batch.skipped]


def pull(name: str, **settings: Any) -> list[Batch]:
    return Pulled(DATA / name, **settings).pull()


# ---- exports ---------------------------------------------------------------------------------------


def test_outlook_windows_zone_exdate_moved_override_and_cancelled_occurrence() -> None:
    batches = pull("outlook.ics")
    items = found(batches)
    series = sorted(k for k in items if k.startswith(OUTLOOK_UID))
    # COUNT=6 Mondays from 5 Jan; 12 Jan is an EXDATE. W. Europe Standard Time = CET: 10:00 is 09:00Z.
    assert series == [f"{OUTLOOK_UID}/{day}T090000Z" for day in ("20260105", "20260119", "20260126", "20260202", "20260209")]
    moved = items[f"{OUTLOOK_UID}/20260119T090000Z"]  # keeps its RECURRENCE-ID identity
    assert moved.timestamp == datetime(2026, 1, 20, 14, 0, tzinfo=UTC)
    assert moved.end == datetime(2026, 1, 20, 14, 30, tzinfo=UTC)
    assert moved.subject == "Project sync (moved to Tuesday)"
    assert items[f"{OUTLOOK_UID}/20260126T090000Z"].cancelled
    assert not items[f"{OUTLOOK_UID}/20260202T090000Z"].cancelled
    assert {item.series_id for key, item in items.items() if key in series} == {OUTLOOK_UID}
    first = items[f"{OUTLOOK_UID}/20260105T090000Z"]
    assert [(p.address, p.name, p.role, p.response) for p in first.participants] == [
        ("ola.nordmann@example.no", "Nordmann, Ola", "organizer", None),
        ("me@example.com", "Me", "attendee", "accepted"),
        ("maria.rossi@example.it", "Rossi, Maria", "attendee", "tentative"),
    ]
    assert first.owner_response == "accepted" and not first.all_day
    # A Windows zone name with no VTIMEZONE in the file: Eastern Standard Time, 09:00 EST = 14:00Z.
    pitch = items["outlook-declined-1"]
    assert pitch.timestamp == datetime(2026, 2, 10, 14, 0, tzinfo=UTC)
    assert pitch.series_id is None
    assert pitch.owner_response == "declined"  # matched case-insensitively, MAILTO: stripped
    assert skipped(batches) == []
    assert batches[-1].full and batches[-1].complete


def test_google_export_x_wr_timezone_all_day_declined_and_own_followups_ignored() -> None:
    batches = pull("google.ics")
    items = found(batches)
    standup = sorted(k for k in items if k.startswith("weekly-standup@google.com/"))
    # Written in UTC, meant in X-WR-TIMEZONE (Europe/Berlin): after the DST switch on 29 March the
    # meeting stays at 10:00 local, which is 08:00Z, not 09:00Z.
    assert standup[-2:] == ["weekly-standup@google.com/20260330T080000Z", "weekly-standup@google.com/20260406T080000Z"]
    assert items["weekly-standup@google.com/20260302T090000Z"].timestamp == datetime(2026, 3, 2, 9, tzinfo=UTC)
    coffee = items["coffee-zoe@google.com"]
    assert coffee.owner_response == "declined"
    assert [(p.address, p.response) for p in coffee.participants if p.role == "attendee"] == [
        ("zoe.adams@example.org", "accepted"), ("me@example.com", "declined"),
        ("yuki.tanaka@example.jp", "needs-action")]
    offsite = items["offsite@google.com"]
    assert offsite.all_day
    assert offsite.timestamp == datetime(2026, 3, 10, tzinfo=UTC)  # 00:00 UTC of the date written
    assert offsite.end == datetime(2026, 3, 12, tzinfo=UTC)
    assert not any("syncd" in key or "k-zoe" in key for key in items)  # our follow-up is no meeting
    assert skipped(batches) == []


def test_apple_custom_vtimezone_rdate_and_open_series_bounded_by_window() -> None:
    items = found(pull("apple.ics"))
    uid = "8F3C2A10-5B7E-4C1D-9A2B-3E4F5A6B7C8D"
    # "Office Time" exists only as the file's VTIMEZONE: CET in winter, CEST in summer.
    assert items[f"{uid}/20260301T080000Z"].timestamp == datetime(2026, 3, 1, 8, tzinfo=UTC)
    assert items[f"{uid}/20260401T070000Z"].timestamp == datetime(2026, 4, 1, 7, tzinfo=UTC)
    assert f"{uid}/20260315T080000Z" in items  # the RDATE
    # No end: only occurrences up to now + window_future (17 Sep 2026), future ones included.
    assert max(items) == f"{uid}/20260901T070000Z"
    assert items[f"{uid}/20260301T080000Z"].owner_response == "accepted"
    assert items[f"{uid}/20260301T080000Z"].participants[0].role == "organizer"


def test_window_past_drops_old_occurrences_of_a_series() -> None:
    items = found(pull("apple.ics", window_past=timedelta(days=45)))
    assert min(items).endswith("/20260201T080000Z")


def test_thunderbird_duplicate_uid_takes_the_newest_and_legacy_zone_ids() -> None:
    items = found(pull("thunderbird.ics"))
    assert items["tb-lunch-1"].subject == "Lunch with Priya"  # SEQUENCE 1 wins over 0
    assert items["tb-lunch-1"].timestamp == datetime(2026, 1, 20, 11, 30, tzinfo=UTC)
    # TZID=/mozilla.org/20050126_1/Europe/Berlin is old Lightning's way of naming Europe/Berlin.
    assert items["tb-legacy-zone"].timestamp == datetime(2026, 1, 21, 8, tzinfo=UTC)


def test_unknown_zone_is_read_as_utc_and_broken_events_are_skipped_alone() -> None:
    batches = pull("broken-events.ics")
    items = found(batches)
    # Decision: a TZID nobody knows keeps the event, its wall time read as UTC; it is not a skip.
    assert items["unknown-zone"].timestamp == datetime(2026, 2, 11, 10, tzinfo=UTC)
    assert "fine" in items
    problems = dict(skipped(batches))
    assert set(problems) == {"broken-events.ics: broken-rrule (Broken series)", "broken-events.ics: broken-date (Broken date)"}
    assert "FREQ=SOMETIMES" in problems["broken-events.ics: broken-rrule (Broken series)"]
    assert "DTSTART is not a date" in problems["broken-events.ics: broken-date (Broken date)"]
    assert batches[-1].complete and batches[-1].cursor is not None  # the file as a whole was read


@pytest.mark.parametrize("content", [(DATA / "truncated.ics").read_bytes(), b"\x89PNG\r\n\x1a\n\x00garbage", b""])
def test_a_file_that_does_not_parse_is_skipped_and_its_cursor_stays(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "cal.ics"
    path.write_bytes(content)
    pulled = Pulled(tmp_path)
    batches = pulled.pull()
    assert [what for what, _ in skipped(batches)] == ["cal.ics"]
    assert all(why.startswith("not a valid .ics file") for _, why in skipped(batches))
    assert found(batches) == {}
    assert pulled.store.synced.cursors("cal") == {}  # a fixed file is read on the next pull
    shutil.copy(DATA / "outlook.ics", path)
    assert "outlook-declined-1" in found(pulled.pull())


def test_a_broken_file_keeps_what_an_earlier_pull_read(tmp_path: Path) -> None:
    path = tmp_path / "cal.ics"
    shutil.copy(DATA / "thunderbird.ics", path)
    pulled = Pulled(path)
    pulled.pull()
    cursors = pulled.store.synced.cursors("cal")
    path.write_bytes(path.read_bytes()[:300])  # an export cut off while being written
    assert skipped(pulled.pull())
    assert pulled.known_ids("cal.ics") == {"tb-lunch-1", "tb-legacy-zone"}
    assert pulled.store.synced.cursors("cal") == cursors


def test_missing_path_fails_the_whole_source_naming_it(tmp_path: Path) -> None:
    with pytest.raises(SourceUnavailable, match=r"nowhere\.ics does not exist"):
        Pulled(tmp_path / "nowhere.ics").pull()


def test_syncd_followups_file_yields_no_meetings(tmp_path: Path) -> None:
    target = IcsFileTarget("ics", {"path": tmp_path / "followups.ics"})
    target.create(followup("k1"))
    target.create(followup("k2"))
    target.commit()
    batches = Pulled(tmp_path).pull()
    assert found(batches) == {} and skipped(batches) == []
    assert batches[-1].complete


def test_several_calendars_in_one_file_are_all_read(tmp_path: Path) -> None:
    path = tmp_path / "both.ics"
    path.write_bytes((DATA / "thunderbird.ics").read_bytes() + (DATA / "broken-events.ics").read_bytes())
    items = found(Pulled(path).pull())
    assert {"tb-lunch-1", "fine"} <= set(items)


# ---- folders and incremental pulls -------------------------------------------------------------------


def test_folder_is_searched_recursively_with_relative_resource_names(tmp_path: Path) -> None:
    (tmp_path / "work" / "2026").mkdir(parents=True)
    shutil.copy(DATA / "outlook.ics", tmp_path / "work" / "2026" / "Outlook.ICS")
    shutil.copy(DATA / "google.ics", tmp_path / "google.ics")
    (tmp_path / "notes.txt").write_text("not a calendar")
    batches = Pulled(tmp_path).pull()
    assert {batch.resource for batch in batches} == {"google.ics", "work/2026/Outlook.ICS"}


def test_unchanged_file_is_not_opened(tmp_path: Path) -> None:
    path = tmp_path / "cal.ics"
    shutil.copy(DATA / "outlook.ics", path)
    pulled = Pulled(tmp_path)
    pulled.pull()
    before = pulled.known_ids("cal.ics")
    # Same size, same mtime, garbage inside: if the second pull opened the file it would report it.
    stat = path.stat()
    path.write_bytes(b"x" * stat.st_size)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert pulled.pull() == []
    assert pulled.known_ids("cal.ics") == before


def test_changed_file_is_resynced_and_vanished_occurrences_removed(tmp_path: Path) -> None:
    path = tmp_path / "cal.ics"
    shutil.copy(DATA / "outlook.ics", path)
    pulled = Pulled(tmp_path)
    pulled.pull()
    text = path.read_bytes()
    text = text.replace(b"EXDATE;TZID=W. Europe Standard Time:20260112T100000\r\n", b"")
    path.write_bytes(text.replace(b"UID:outlook-declined-1", b"UID:outlook-declined-2"))
    batches = pulled.pull()
    assert batches[0].full and batches[-1].complete
    ids = pulled.known_ids("cal.ics")
    assert f"{OUTLOOK_UID}/20260112T090000Z" in ids  # the EXDATE is gone: the occurrence is back
    assert "outlook-declined-2" in ids and "outlook-declined-1" not in ids


def test_deleted_file_takes_its_rows_with_it(tmp_path: Path) -> None:
    shutil.copy(DATA / "outlook.ics", tmp_path / "a.ics")
    shutil.copy(DATA / "apple.ics", tmp_path / "b.ics")
    pulled = Pulled(tmp_path)
    pulled.pull()
    (tmp_path / "a.ics").unlink()
    batches = pulled.pull()
    assert [batch.resource for batch in batches] == ["a.ics"]
    assert pulled.known_ids("a.ics") == set() and pulled.known_ids("b.ics")
    assert pulled.pull() == []  # said once, not on every pull


def test_file_deleted_after_an_interrupted_full_sync_leaves_nothing(tmp_path: Path) -> None:
    path = tmp_path / "daily.ics"
    # A daily series over the whole window: more occurrences than one batch holds.
    path.write_text(
        "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//Example//EN\nBEGIN:VEVENT\nUID:daily\nDTSTAMP:20200101T000000Z\n"
        "DTSTART:20200101T080000Z\nDURATION:PT15M\nRRULE:FREQ=DAILY\nSUMMARY:Check-in\n"
        "ATTENDEE:mailto:ana.silva@example.pt\nEND:VEVENT\nEND:VCALENDAR\n"
    )
    pulled = Pulled(tmp_path, max_occurrences=5000)
    batches = list(pulled.source.pull({}, pulled))
    assert len(batches) >= 2 and not batches[0].complete
    pulled.store.synced.apply_batch("cal", batches[0])  # the pull is killed after its first batch
    assert pulled.known_ids("daily.ics")
    path.unlink()
    pulled.pull()
    assert pulled.known_ids("daily.ics") == set()


def _meeting(uid: str, extra: str = "", attendee: str = "mailto:ann@example.org") -> str:
    return (f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260210T100000Z\r\n"
            f"DURATION:PT1H\r\nSUMMARY:Meeting {uid}\r\nORGANIZER:mailto:me@example.com\r\n{extra}"
            f"ATTENDEE;PARTSTAT=ACCEPTED:{attendee}\r\nEND:VEVENT\r\n")


def test_a_file_cut_short_copies_with_odd_sequences_and_an_attendee_without_an_address(tmp_path: Path) -> None:
    path = tmp_path / "cal.ics"
    path.write_bytes((
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//EN\r\n"
        + _meeting("copied", "SEQUENCE:two\r\nSUMMARY;X=1:old\r\n")
        + _meeting("copied", "SEQUENCE:2\r\n").replace("Meeting copied", "Meeting copied, newer")
        + _meeting("blank", attendee="") + "END:VCALENDAR\r\n"
        + "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//EN\r\n" + _meeting("last")  # a second, cut short
    ).encode())
    items = found(Pulled(path).pull())
    assert sorted(items) == ["blank", "copied", "last"]
    assert items["copied"].subject == "Meeting copied, newer"  # an unreadable SEQUENCE counts as 0
    assert [p.address for p in items["blank"].participants] == ["me@example.com"]  # the empty ATTENDEE is no one


@pytest.mark.parametrize("provider", ["ics", "vcard", "mbox"])
def test_a_path_that_is_a_fifo_is_named_and_never_opened(tmp_path: Path, provider: str) -> None:
    from connectors.local.mbox import MboxSource
    from connectors.local.vcard import VcardBook

    path = tmp_path / f"export.{provider}"
    os.mkfifo(path)  # a read would wait for a writer forever
    source: Any = {"ics": IcsSource, "vcard": VcardBook, "mbox": MboxSource}[provider]  # each reads a path
    batches = list(source("acct", {"path": path, "me": (), "now": NOW}).pull({}, Pulled(path)))
    assert [(s.what, s.why) for b in batches for s in b.skipped] == [
        (f"export.{provider}", "not a regular file: a FIFO")]
