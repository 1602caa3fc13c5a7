"""The .ics source (exports of Google, Outlook, Apple) and the .ics follow-ups target."""

from __future__ import annotations

import os
import shutil
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import icalendar
import pytest

from connectors.base import ConnectorError, FollowupEvent, Interaction, SourceUnavailable
from connectors.local.ics import IcsSource
from connectors.local.ics_target import IcsFileTarget
from tests.support.mailfactory import Harness, items, reasons

DATA = Path(__file__).parent / "data"
NOW = datetime(2026, 3, 1, tzinfo=UTC)


def source(path: Path) -> IcsSource:
    return IcsSource("cal", {"path": path, "me": ("me@example.com",), "now": NOW, "window_future": timedelta(days=200)})


def by_id(path: Path) -> dict[str, Interaction]:
    return {i.provider_id: i for i in items(Harness(source(path)).pull())}


def test_outlook_windows_zone_exdate_override_and_cancelled() -> None:
    found = by_id(DATA / "outlook.ics")
    weekly = sorted(k for k in found if k.startswith("outlook-weekly-1/"))
    # 6 weekly occurrences, one removed by EXDATE (12 Jan).
    assert weekly == [f"outlook-weekly-1/202601{d}T090000Z" for d in ("05", "19", "26")] + [
        "outlook-weekly-1/20260202T090000Z", "outlook-weekly-1/20260209T090000Z"]
    moved = found["outlook-weekly-1/20260119T090000Z"]
    assert moved.timestamp == datetime(2026, 1, 20, 14, 0, tzinfo=UTC)  # the override, W. Europe time
    assert moved.series_id == "outlook-weekly-1"
    assert found["outlook-weekly-1/20260126T090000Z"].cancelled
    first = found["outlook-weekly-1/20260105T090000Z"]
    assert [(p.address, p.role, p.response) for p in first.participants] == [
        ("ola@example.no", "organizer", None), ("me@example.com", "attendee", "accepted"),
        ("ola@example.no", "attendee", "accepted")]
    assert found["declined-1"].owner_response == "declined"


def test_google_export_all_day_unknown_zone_broken_rrule_and_own_followups() -> None:
    batches = Harness(source(DATA / "google.ics")).pull()
    found = {i.provider_id: i for i in items(batches)}
    assert found["g-single@google.com"].timestamp == datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    assert found["g-single@google.com"].owner_response == "tentative"
    allday = found["g-allday@google.com"]
    assert allday.all_day and allday.timestamp == datetime(2026, 3, 10, tzinfo=UTC)
    assert "g-unknown-tz@google.com" in found  # an unknown TZID does not lose the event
    assert "abc" not in found and "abc@syncd" not in found  # syncd's own follow-up is never a meeting
    assert [s for s in reasons(batches) if "broken event" in s]
    assert batches[-1].full and batches[-1].complete


def test_apple_vtimezone_across_dst_and_window() -> None:
    found = by_id(DATA / "apple.ics")
    march, april = found["apple-monthly/20260301T080000Z"].timestamp, found["apple-monthly/20260401T070000Z"].timestamp
    assert march is not None and march.hour == 8  # CET
    assert april is not None and april.hour == 7  # CEST
    assert max(found) <= "apple-monthly/20260918"  # expanded only up to now + window_future


def test_unchanged_file_is_not_opened_and_changes_resync(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "cal.ics"
    shutil.copy(DATA / "outlook.ics", path)
    harness = Harness(source(tmp_path))  # a folder of exports
    harness.pull()
    before = harness.store.count("interactions")
    real = Path.read_bytes

    def refuse(self: Path) -> bytes:
        raise AssertionError(f"{self} was read")

    monkeypatch.setattr(Path, "read_bytes", refuse)
    assert items(harness.pull()) == []
    monkeypatch.setattr(Path, "read_bytes", real)
    text = path.read_text().replace("EXDATE;TZID=W. Europe Standard Time:20260112T100000\n", "")
    path.write_text(text.replace("UID:declined-1", "UID:declined-2"))
    os.utime(path, ns=(1, 1))
    harness.pull()
    ids = harness.store.synced.known_ids("a", "cal.ics")
    assert "outlook-weekly-1/20260112T090000Z" in ids and "declined-2" in ids and "declined-1" not in ids
    assert harness.store.count("interactions") == before + 1
    path.unlink()
    harness.pull()
    assert harness.store.count("interactions") == 0


def test_broken_file_is_skipped_and_retried(tmp_path: Path) -> None:
    path = tmp_path / "broken.ics"
    path.write_text("BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:garbage\n")
    harness = Harness(source(path))
    batches = harness.pull()
    assert [s for s in reasons(batches) if s.startswith("not a valid .ics file")]
    assert harness.store.synced.cursors("a") == {}  # not advanced: a fixed file is read next time


def test_missing_path_fails_the_source(tmp_path: Path) -> None:
    with pytest.raises(SourceUnavailable, match="does not exist"):
        list(source(tmp_path / "none.ics").pull({}, Harness(source(DATA / "apple.ics"))))


# ---- target ---------------------------------------------------------------------------------------

START = datetime(2026, 3, 3, 9, 30, tzinfo=UTC)


def followup(key: str, start: datetime = START, title: str = "Reach out to Ann") -> FollowupEvent:
    return FollowupEvent(key, "ann@example.org", start, 15, title, "last contact 2026-01-01", 10, start)


def test_target_writes_a_calendar_any_app_can_read(tmp_path: Path) -> None:
    path = tmp_path / "followups.ics"
    target = IcsFileTarget("ics", {"path": path})
    target.create(followup("k1"))
    target.commit()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["followups.ics"]  # no temp file left
    calendar = icalendar.Calendar.from_ical(path.read_bytes())
    (event,) = calendar.walk("VEVENT")
    assert str(event["UID"]) == "k1@syncd" and str(event["X-SYNCD-KEY"]) == "k1"
    assert str(event["TRANSP"]) == "TRANSPARENT" and "ATTENDEE" not in event
    (alarm,) = event.walk("VALARM")
    assert str(alarm["ACTION"]) == "DISPLAY" and alarm.decoded("TRIGGER") == timedelta(minutes=-10)


def test_target_keeps_foreign_events_and_sees_user_moves_and_deletes(tmp_path: Path) -> None:
    path = tmp_path / "followups.ics"
    target = IcsFileTarget("ics", {"path": path})
    target.create(followup("k1"))
    target.create(followup("k2"))
    target.commit()
    # The user adds their own event, moves k1 and deletes k2, by editing the file.
    calendar = icalendar.Calendar.from_ical(path.read_bytes())
    foreign = icalendar.Event()
    foreign.add("UID", "dentist-1")
    foreign.add("SUMMARY", "Dentist")
    foreign.add("DTSTART", datetime(2026, 3, 4, 8, 0, tzinfo=UTC))
    calendar.add_component(foreign)
    for event in list(calendar.walk("VEVENT")):
        if str(event.get("X-SYNCD-KEY")) == "k1":
            start = event["DTSTART"]
            assert isinstance(start, icalendar.vDDDTypes)
            start.dt = START + timedelta(days=2)
        if str(event.get("X-SYNCD-KEY")) == "k2":
            calendar.subcomponents.remove(event)
    path.write_bytes(calendar.to_ical())
    foreign_before = foreign.to_ical()
    target = IcsFileTarget("ics", {"path": path})
    (k1,) = target.list_own()
    assert k1.start == START + timedelta(days=2) and k1.planned_start == START
    target.update(followup("k1", start=k1.start, title="Reach out to Ann Lee"))
    target.create(followup("k3"))
    target.delete("k2")
    target.commit()
    calendar = icalendar.Calendar.from_ical(path.read_bytes())
    (dentist,) = [e for e in calendar.walk("VEVENT") if str(e["UID"]) == "dentist-1"]
    assert dentist.to_ical() == foreign_before
    assert {e.key for e in IcsFileTarget("ics", {"path": path}).list_own()} == {"k1", "k3"}


def test_target_refuses_to_overwrite_a_file_it_cannot_read(tmp_path: Path) -> None:
    path = tmp_path / "followups.ics"
    path.write_text("BEGIN:VCALENDAR\nthis is not right")
    target = IcsFileTarget("ics", {"path": path})
    with pytest.raises(ConnectorError, match="not valid iCalendar"):
        target.list_own()
    assert path.read_text() == "BEGIN:VCALENDAR\nthis is not right"


def test_commit_without_changes_does_not_rewrite(tmp_path: Path) -> None:
    path = tmp_path / "followups.ics"
    target = IcsFileTarget("ics", {"path": path})
    target.create(followup("k1"))
    target.commit()
    os.utime(path, ns=(1, 1))
    target = IcsFileTarget("ics", {"path": path})
    target.list_own()
    target.delete("absent")
    target.commit()
    assert path.stat().st_mtime_ns == 1
