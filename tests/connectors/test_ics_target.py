"""The .ics follow-ups target: what it writes, what it leaves alone, and how it reads the user's edits."""

from __future__ import annotations

import os
import re
import shutil
import stat
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest

from connectors.base import ConnectorError
from connectors.local.ics_target import IcsFileTarget
from tests.support.followups import START, followup

DATA = Path(__file__).parent / "data" / "ics"
BERLIN = ZoneInfo("Europe/Berlin")


def calendar(path: Path) -> icalendar.Calendar:
    return icalendar.Calendar.from_ical(path.read_bytes())


def vevent(path: Path, key: str) -> icalendar.cal.Component:
    (event,) = [e for e in calendar(path).walk("VEVENT") if str(e.get("X-SYNCD-KEY")) == key]
    return event


def foreign_text(path: Path) -> bytes:
    """The file without syncd's own VEVENT blocks and the VTIMEZONEs it adds."""
    text = path.read_bytes()
    text = re.sub(rb"BEGIN:VEVENT\r?\n(?:(?!END:VEVENT).)*?X-SYNCD-KEY.*?END:VEVENT\r?\n", b"", text, flags=re.S)
    return re.sub(rb"BEGIN:VTIMEZONE\r?\n.*?END:VTIMEZONE\r?\n", b"", text, flags=re.S)


def test_round_trip_create_list_update_delete(tmp_path: Path) -> None:
    path = tmp_path / "followups.ics"
    target = IcsFileTarget("ics", {"path": path})
    assert target.list_own() == []
    target.create(followup("k1"))
    target.create(followup("k2", start=START + timedelta(days=1), person="bo.lind@example.org"))
    assert [e.key for e in target.list_own()] == ["k1", "k2"]  # this run's changes are visible before commit
    assert not path.exists()  # ... but nothing is written before commit
    target.commit()
    listed = IcsFileTarget("ics", {"path": path}).list_own()
    assert listed == [followup("k1"), followup("k2", start=START + timedelta(days=1), person="bo.lind@example.org")]
    assert vevent(path, "k1").decoded("SEQUENCE") == 0

    target = IcsFileTarget("ics", {"path": path})
    target.update(followup("k1", title="Reach out to Ann Berg-Lund", reminder=0))
    target.delete("k2")
    target.commit()
    (k1,) = IcsFileTarget("ics", {"path": path}).list_own()
    assert k1.title == "Reach out to Ann Berg-Lund" and k1.reminder_minutes == 0
    assert vevent(path, "k1").decoded("SEQUENCE") == 1


def test_the_vevent_has_every_property_a_calendar_app_needs(tmp_path: Path) -> None:
    path = tmp_path / "followups.ics"
    target = IcsFileTarget("ics", {"path": path, "calendar_name": "People to call"})
    target.create(followup("k1"))
    target.commit()
    cal = calendar(path)
    assert str(cal["PRODID"]) == "-//syncd//follow-ups//EN" and str(cal["VERSION"]) == "2.0"
    assert str(cal["X-WR-CALNAME"]) == "People to call"
    event = vevent(path, "k1")
    assert str(event["UID"]) == "k1@syncd"
    assert str(event["X-SYNCD-PERSON"]) == "ann.berg@example.org"
    assert str(event["X-SYNCD-PLANNED"]) == "20260303T083000Z"
    assert event["DTSTART"].params["TZID"] == "Europe/Berlin"
    assert [str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")] == ["Europe/Berlin"]
    assert cal.get_missing_tzids() == set()
    assert event.decoded("DURATION") == timedelta(minutes=15)
    assert str(event["TRANSP"]) == "TRANSPARENT" and "DTSTAMP" in event
    assert "ATTENDEE" not in event and "ORGANIZER" not in event
    assert str(event["DESCRIPTION"]) == "Last contact: 2026-01-05, meeting\nEvery 30 days"
    (alarm,) = event.walk("VALARM")
    assert str(alarm["ACTION"]) == "DISPLAY" and str(alarm["DESCRIPTION"]) == "Reach out to Ann Berg"
    assert alarm.decoded("TRIGGER") == timedelta(minutes=-10)
    assert b"TRIGGER:-PT10M" in path.read_bytes()


def test_a_start_without_a_zone_name_is_written_in_utc(tmp_path: Path) -> None:
    path = tmp_path / "followups.ics"
    target = IcsFileTarget("ics", {"path": path})
    odd = datetime(2026, 3, 3, 9, 30, tzinfo=timezone(timedelta(hours=2)))
    target.create(followup("k1", start=odd))
    target.create(followup("k2", start=datetime(2026, 3, 3, 9, 30, tzinfo=UTC)))
    target.commit()
    assert b"DTSTART:20260303T073000Z" in path.read_bytes() and b"DTSTART:20260303T093000Z" in path.read_bytes()
    assert calendar(path).walk("VTIMEZONE") == []
    assert [e.start for e in IcsFileTarget("ics", {"path": path}).list_own()] == [odd, datetime(2026, 3, 3, 9, 30, tzinfo=UTC)]


def test_create_of_an_existing_key_replaces_it(tmp_path: Path) -> None:
    path = tmp_path / "followups.ics"
    target = IcsFileTarget("ics", {"path": path})
    target.create(followup("k1"))
    target.create(followup("k1"))
    target.commit()
    target = IcsFileTarget("ics", {"path": path})
    target.create(followup("k1", title="Reach out to Ann"))  # a retried create after a crash
    target.commit()
    assert [e.title for e in IcsFileTarget("ics", {"path": path}).list_own()] == ["Reach out to Ann"]
    assert len(calendar(path).walk("VEVENT")) == 1


def test_foreign_events_are_kept_byte_for_byte(tmp_path: Path) -> None:
    # The user's event has an unquoted Outlook TZID with commas and an x-property with colons in a
    # parameter: icalendar would rewrite both if it re-serialised the file.
    path = tmp_path / "followups.ics"
    shutil.copy(DATA / "user-calendar.ics", path)
    original = path.read_bytes()
    target = IcsFileTarget("ics", {"path": path})
    target.create(followup("k1"))
    target.create(followup("k2", start=START + timedelta(days=1)))
    target.commit()
    assert foreign_text(path) == original
    target = IcsFileTarget("ics", {"path": path})
    target.update(followup("k1", title="Reach out to Ann B."))
    target.delete("k2")
    target.commit()
    assert foreign_text(path) == original
    assert b"\r\n" in path.read_bytes() and b"\n" not in path.read_bytes().replace(b"\r\n", b"")  # CRLF kept
    assert {e.key for e in IcsFileTarget("ics", {"path": path}).list_own()} == {"k1"}


def test_foreign_component_serialises_the_same_after_our_writes(tmp_path: Path) -> None:
    path = tmp_path / "followups.ics"
    target = IcsFileTarget("ics", {"path": path})
    target.create(followup("k1"))
    target.commit()
    cal = calendar(path)
    dentist = icalendar.Event()
    dentist.add("UID", "dentist-2")
    dentist.add("DTSTAMP", datetime(2026, 1, 1, tzinfo=UTC))
    dentist.add("DTSTART", datetime(2026, 3, 4, 8, tzinfo=BERLIN))
    dentist.add("SUMMARY", "Dentist")
    cal.add_component(dentist)
    path.write_bytes(cal.to_ical())
    before = dentist.to_ical()
    target = IcsFileTarget("ics", {"path": path})
    target.update(followup("k1", title="Reach out to Ann B."))
    target.create(followup("k3"))
    target.commit()
    (after,) = [e for e in calendar(path).walk("VEVENT") if str(e["UID"]) == "dentist-2"]
    assert after.to_ical() == before


def test_user_moved_event_comes_back_moved_and_update_writes_what_it_is_given(tmp_path: Path) -> None:
    path = tmp_path / "followups.ics"
    target = IcsFileTarget("ics", {"path": path})
    target.create(followup("k1"))
    target.commit()
    # The user drags it two days later in their calendar app, which rewrites DTSTART.
    path.write_bytes(path.read_bytes().replace(b"DTSTART;TZID=Europe/Berlin:20260303T093000",
                                               b"DTSTART;TZID=Europe/Berlin:20260305T141500"))
    (moved,) = IcsFileTarget("ics", {"path": path}).list_own()
    assert moved.start == datetime(2026, 3, 5, 14, 15, tzinfo=BERLIN)
    assert moved.planned_start == START and moved.start != moved.planned_start
    target = IcsFileTarget("ics", {"path": path})
    refreshed = followup("k1", title="Reach out to Ann B.")
    refreshed.start = moved.start  # the caller keeps the user's snooze
    target.update(refreshed)
    target.commit()
    (kept,) = IcsFileTarget("ics", {"path": path}).list_own()
    assert (kept.start, kept.planned_start, kept.title) == (moved.start, START, "Reach out to Ann B.")


def test_user_deleted_event_is_not_listed_and_deleting_it_again_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "followups.ics"
    target = IcsFileTarget("ics", {"path": path})
    target.create(followup("k1"))
    target.create(followup("k2"))
    target.commit()
    cal = calendar(path)
    cal.subcomponents = [c for c in cal.subcomponents if str(c.get("X-SYNCD-KEY")) != "k2"]
    path.write_bytes(cal.to_ical())
    os.utime(path, ns=(1, 1))
    target = IcsFileTarget("ics", {"path": path})
    assert [e.key for e in target.list_own()] == ["k1"]
    target.delete("k2")
    target.commit()
    assert path.stat().st_mtime_ns == 1


def test_commit_without_changes_does_not_touch_the_file(tmp_path: Path) -> None:
    path = tmp_path / "followups.ics"
    IcsFileTarget("ics", {"path": path}).commit()
    assert not path.exists()
    target = IcsFileTarget("ics", {"path": path})
    target.create(followup("k1"))
    target.commit()
    os.utime(path, ns=(1, 1))
    target.commit()  # nothing buffered since
    assert path.stat().st_mtime_ns == 1


def test_unparseable_file_raises_and_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "followups.ics"
    path.write_bytes(b"BEGIN:VCALENDAR\r\nthis is not right\r\n")
    target = IcsFileTarget("ics", {"path": path})
    with pytest.raises(ConnectorError, match=r"followups\.ics is not valid iCalendar"):
        target.list_own()
    target.create(followup("k1"))
    with pytest.raises(ConnectorError, match="not valid iCalendar"):
        target.commit()
    assert path.read_bytes() == b"BEGIN:VCALENDAR\r\nthis is not right\r\n"


V = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//EN\r\n"
EVENT = "BEGIN:VEVENT\r\nUID:u\r\nDTSTART:20260301T100000Z\r\nEND:VEVENT\r\n"


@pytest.mark.parametrize(("text", "why"), [
    (EVENT + V + "END:VCALENDAR\r\n", "is not valid iCalendar (line 1: VEVENT outside a VCALENDAR)"),
    (V + "END:VEVENT\r\nEND:VCALENDAR\r\n", "is not valid iCalendar (line 4: END:VEVENT closes nothing open)"),
    (V + "BEGIN:VEVENT\r\nUID:u\r\nEND:VCALENDAR\r\n", "is not valid iCalendar (line 6: END:VCALENDAR closes nothing "
                                                          "open)"),
    (V + EVENT, "is not valid iCalendar (VCALENDAR is never closed)"),
    (V + "END:VCALENDAR\r\n" + V + "END:VCALENDAR\r\n", "holds 2 VCALENDARs"),
    ("X-NOTE:a line of its own\r\n", "holds no VCALENDARs"),
])
def test_a_follow_ups_file_broken_in_its_structure_is_named_and_never_overwritten(tmp_path: Path, text: str,
                                                                                  why: str) -> None:
    path = tmp_path / "followups.ics"
    path.write_bytes(text.encode())
    target = IcsFileTarget("ics", {"path": path})
    with pytest.raises(ConnectorError) as failed:
        target.list_own()
    assert why in str(failed.value) and "\n" not in str(failed.value), str(failed.value)
    target.create(followup("k2"))
    with pytest.raises(ConnectorError):
        target.commit()
    assert path.read_bytes() == text.encode()


def test_a_follow_up_whose_date_the_user_broke_is_named(tmp_path: Path) -> None:
    path = tmp_path / "followups.ics"
    path.write_bytes((V + "BEGIN:VEVENT\r\nUID:mine\r\nX-SYNCD-KEY:k1\r\nDTSTART:not a date\r\nEND:VEVENT\r\n"
                      "END:VCALENDAR\r\n").encode())
    with pytest.raises(ConnectorError) as failed:
        IcsFileTarget("ics", {"path": path}).list_own()
    assert str(failed.value) == f"follow-up k1 in {path} has an unreadable date (not a date: 'not a date')"


def test_follow_ups_the_user_gave_an_end_no_length_an_odd_sequence_or_an_all_day_date(tmp_path: Path) -> None:
    path = tmp_path / "followups.ics"
    ours = "BEGIN:VEVENT\r\nUID:{k}\r\nX-SYNCD-KEY:{k}\r\n{rest}END:VEVENT\r\n"
    path.write_bytes((V + ours.format(k="k1", rest="DTSTART:20260303T093000Z\r\nDTEND:20260303T100000Z\r\n")
                      + ours.format(k="k2", rest="DTSTART:20260303T093000Z\r\nSEQUENCE:two\r\n")
                      + ours.format(k="k3", rest="DTSTART;VALUE=DATE:20260304\r\nX-SYNCD-PLANNED:garbled\r\n")
                      + "END:VCALENDAR\r\n").encode())
    target = IcsFileTarget("ics", {"path": path})
    listed = {e.key: e for e in target.list_own()}
    assert (listed["k1"].duration_minutes, listed["k2"].duration_minutes) == (30, 0)
    assert listed["k3"].start == datetime(2026, 3, 4, tzinfo=UTC) and listed["k3"].planned_start is None
    target.update(followup("k2"))
    target.commit()
    assert vevent(path, "k2")["SEQUENCE"] == 1  # an unreadable SEQUENCE starts again at 1


def test_edits_made_while_a_run_plans_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "followups.ics"
    target = IcsFileTarget("ics", {"path": path})
    target.create(followup("k1"))
    target.commit()
    target = IcsFileTarget("ics", {"path": path})
    target.list_own()
    target.create(followup("k2"))
    # Meanwhile the user adds an event of their own in their calendar app.
    path.write_bytes(path.read_bytes().replace(
        b"END:VCALENDAR", b"BEGIN:VEVENT\r\nUID:lunch-9\r\nDTSTAMP:20260101T000000Z\r\n"
        b"DTSTART:20260306T110000Z\r\nSUMMARY:Lunch\r\nEND:VEVENT\r\nEND:VCALENDAR"))
    target.commit()
    assert {str(e["UID"]) for e in calendar(path).walk("VEVENT")} == {"k1@syncd", "k2@syncd", "lunch-9"}


def test_commit_is_atomic_private_and_keeps_an_existing_mode(tmp_path: Path) -> None:
    path = tmp_path / "followups.ics"
    target = IcsFileTarget("ics", {"path": path})
    target.create(followup("k1"))
    target.commit()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["followups.ics"]  # no temp file left
    os.chmod(path, 0o640)
    inode = path.stat().st_ino
    target = IcsFileTarget("ics", {"path": path})
    target.update(followup("k1", title="Reach out to Ann B."))
    target.commit()
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert path.stat().st_ino != inode  # replaced by rename, not rewritten in place
    assert sorted(p.name for p in tmp_path.iterdir()) == ["followups.ics"]


def test_a_temporary_file_left_by_a_killed_write_is_removed_by_the_next_commit(tmp_path: Path) -> None:
    path = tmp_path / "followups.ics"
    stray = tmp_path / ".followups.ics.k9x2_a1.tmp"  # as tempfile.mkstemp names them in _write
    stray.write_bytes(b"BEGIN:VCALENDAR\r\n" * 100_000)  # half of a big write when the kill came
    mine = tmp_path / ".followups.ics.mine"  # not syncd's pattern: left alone
    mine.write_text("x")
    IcsFileTarget("ics", {"path": path}).commit()  # a run with nothing to write still cleans up
    assert not stray.exists() and mine.exists()


def test_a_symlinked_file_stays_a_symlink(tmp_path: Path) -> None:
    (tmp_path / "sync").mkdir()
    real = tmp_path / "sync" / "followups.ics"
    link = tmp_path / "followups.ics"
    link.symlink_to(real)
    target = IcsFileTarget("ics", {"path": link})
    target.create(followup("k1"))
    target.commit()
    assert link.is_symlink() and [e.key for e in IcsFileTarget("ics", {"path": real}).list_own()] == ["k1"]


def test_lf_only_file_gets_lf_only_lines(tmp_path: Path) -> None:
    path = tmp_path / "followups.ics"
    path.write_bytes((DATA / "user-calendar.ics").read_bytes().replace(b"\r\n", b"\n"))
    target = IcsFileTarget("ics", {"path": path})
    target.create(followup("k1"))
    target.commit()
    assert b"\r" not in path.read_bytes()
    assert [e.key for e in IcsFileTarget("ics", {"path": path}).list_own()] == ["k1"]
