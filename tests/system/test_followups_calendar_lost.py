"""A lost follow-ups calendar is not a dismissal of everything in it (docs/rules.md#user-edits).

Deleting the follow-ups .ics or pointing ``ics_path`` elsewhere leaves syncd's records with no events; the
next pull writes them again (and says why) instead of counting each as "dismissed by you". Deleting one
event stays what it always was: a dismissal of that one.
"""

from __future__ import annotations

import re
from pathlib import Path

import icalendar

from tests.support.cli import Run
from tests.system.conftest import SAMPLE_ANCHOR

ANCHOR = SAMPLE_ANCHOR
AS_OF = ("--as-of", ANCHOR.isoformat())


def _titles(path: Path) -> list[str]:
    calendar = icalendar.Calendar.from_ical(path.read_bytes())
    return sorted(str(event["SUMMARY"]) for event in calendar.walk("VEVENT"))


def _dismissed(run: Run) -> int:
    _, out, _ = run("status")
    found = re.search(r"(\d+) dismissed by you", out)
    assert found, out
    return int(found.group(1))


def test_a_deleted_followups_file_is_written_again_not_dismissed(run: Run, sample: Path) -> None:
    assert run("pull", *AS_OF)[0] == 0
    ics = sample / "followups.ics"
    before = _titles(ics)
    assert before
    ics.unlink()
    code, out, _ = run("pull", *AS_OF)
    assert code == 0
    assert f"{len(before)} created" in out and "written again, not taken as dismissed" in out
    assert _titles(ics) == before
    assert _dismissed(run) == 0
    code, out, _ = run("pull", *AS_OF)  # and then it is settled: nothing more to do
    assert code == 0 and "0 created, 0 updated, 0 deleted" in out and "written again" not in out


def test_a_new_ics_path_receives_the_followups(run: Run, sample: Path) -> None:
    assert run("pull", *AS_OF)[0] == 0
    old = sample / "followups.ics"
    before, old_bytes = _titles(old), old.read_bytes()
    config = sample / "config.toml"
    new = sample / "elsewhere" / "reminders.ics"
    new.parent.mkdir()
    config.write_text(config.read_text().replace(str(old), str(new)))
    code, out, _ = run("pull", *AS_OF)
    assert code == 0 and "written again" in out
    assert _titles(new) == before
    assert old.read_bytes() == old_bytes  # the old file is the user's now: untouched
    assert _dismissed(run) == 0


def test_an_empty_new_file_at_the_new_path_also_receives_them(run: Run, sample: Path) -> None:
    """The new path already exists (the user made it): still another calendar, so nothing is dismissed."""
    assert run("pull", *AS_OF)[0] == 0
    old = sample / "followups.ics"
    before = _titles(old)
    new = sample / "mine.ics"
    new.write_bytes(b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//me//EN\r\nEND:VCALENDAR\r\n")
    config = sample / "config.toml"
    config.write_text(config.read_text().replace(str(old), str(new)))
    assert run("pull", *AS_OF)[0] == 0
    assert _titles(new) == before and _dismissed(run) == 0


def test_deleting_one_event_is_still_a_dismissal_of_that_one(run: Run, sample: Path) -> None:
    assert run("pull", *AS_OF)[0] == 0
    ics = sample / "followups.ics"
    calendar = icalendar.Calendar.from_ical(ics.read_bytes())
    events = list(calendar.walk("VEVENT"))
    assert len(events) >= 2
    calendar.subcomponents.remove(events[0])
    ics.write_bytes(calendar.to_ical())
    code, out, _ = run("pull", *AS_OF)
    assert code == 0 and "written again" not in out
    assert _dismissed(run) == 1
    assert len(_titles(ics)) == len(events) - 1
