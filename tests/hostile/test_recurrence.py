"""Endless recurrences of every frequency: expansion stays inside the window, capped, and what is cut is counted.

One invitation with ``RRULE:FREQ=MINUTELY`` and no end once took a pull past 240 s and 5.9 GB. Here every
frequency, an ancient start, a rule that can never match and a configurable cap are expanded by the .ics
source itself, and once more through ``syncd pull`` under the harness's memory ceiling and time-out.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from connectors.base import Batch, Interaction
from connectors.local.ics import IcsSource
from tests.support import hostile as harness

NOW = datetime(2026, 3, 4, 12, tzinfo=UTC)
FREQUENCIES = ["SECONDLY", "MINUTELY", "HOURLY", "DAILY", "WEEKLY", "MONTHLY", "YEARLY"]
ME = "me@example.com"


def _event(uid: str, rule: str, start: str = "20230301T090000Z") -> str:
    return (f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTART:{start}\r\nDURATION:PT30M\r\nRRULE:{rule}\r\n"
            f"SUMMARY:{uid}\r\nORGANIZER:mailto:boss@example.org\r\n"
            f"ATTENDEE;PARTSTAT=ACCEPTED:mailto:{ME}\r\nEND:VEVENT\r\n")


def _calendar(*events: str) -> bytes:
    return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//endless//EN\r\n" + "".join(events)
            + "END:VCALENDAR\r\n").encode()


class _Nothing:
    def known_ids(self, resource: str) -> set[str]:
        return set()


def _pull(path: Path, **settings: Any) -> list[Batch]:
    source = IcsSource("cal", {"path": path, "me": (ME,), "now": NOW, **settings})
    return list(source.pull({}, _Nothing()))


def _occurrences(batches: list[Batch]) -> list[Interaction]:
    return [item for batch in batches for item in batch.interactions]


def _reasons(batches: list[Batch]) -> Counter[str]:
    return Counter(skip.why.split(":", 1)[0] for batch in batches for skip in batch.skipped)


@pytest.mark.parametrize("frequency", FREQUENCIES)
def test_an_endless_rule_is_bounded_and_keeps_the_occurrences_nearest_today(tmp_path: Path, frequency: str) -> None:
    path = tmp_path / "endless.ics"
    path.write_bytes(_calendar(_event("endless", f"FREQ={frequency}")))
    batches = _pull(path)
    found = _occurrences(batches)
    assert 0 < len(found) <= 1000
    starts = sorted(item.timestamp for item in found if item.timestamp)
    assert max(Counter(start.date() for start in starts).values()) == 1, "more than one a day"
    past = [start for start in starts if start <= NOW]
    period = {"WEEKLY": timedelta(days=7), "MONTHLY": timedelta(days=31), "YEARLY": timedelta(days=366)}
    assert NOW - past[-1] <= period.get(frequency, timedelta(days=1)), "the latest occurrence is kept"
    assert starts[-1] > NOW, "a series that runs on has a future occurrence"
    reasons = _reasons(batches)
    if frequency in ("SECONDLY", "MINUTELY", "HOURLY"):
        assert reasons["recurrence thinned"] == 1
    if frequency in ("SECONDLY", "MINUTELY", "HOURLY", "DAILY"):
        assert reasons["recurrence cut"] == 1  # over 1,000 days in the window
    else:
        assert not reasons


def test_the_cap_is_a_setting(tmp_path: Path) -> None:
    path = tmp_path / "weekly.ics"
    path.write_bytes(_calendar(_event("weekly", "FREQ=WEEKLY")))
    batches = _pull(path, max_occurrences=10)
    found = _occurrences(batches)
    assert len(found) == 10
    assert _reasons(batches)["recurrence cut"] == 1
    assert any(item.timestamp and item.timestamp > NOW for item in found)


def test_a_rule_that_never_matches_and_an_ancient_start_cost_nothing(tmp_path: Path) -> None:
    path = tmp_path / "odd.ics"
    path.write_bytes(_calendar(
        _event("never", "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30"),
        _event("never-hourly", "FREQ=HOURLY;BYMONTH=4;BYMONTHDAY=31"),
        _event("ancient", "FREQ=DAILY", start="00010101T090000Z"),
        _event("counted", "FREQ=MINUTELY;COUNT=1000000000"),
    ))
    found = _occurrences(_pull(path))
    by_series = Counter(item.series_id for item in found)
    assert "never" not in by_series and "never-hourly" not in by_series
    assert 0 < by_series["ancient"] <= 1000 and 0 < by_series["counted"] <= 1000


def test_a_sub_daily_rule_on_chosen_weekdays_and_one_of_all_day_events_are_thinned_to_days(tmp_path: Path) -> None:
    path = tmp_path / "thinned.ics"
    path.write_bytes(_calendar(
        _event("weekdays", "FREQ=HOURLY;BYDAY=MO,WE;UNTIL=20260301T000000Z"),
        _event("all-day", "FREQ=HOURLY;INTERVAL=24;COUNT=20", start="20260101").replace(
            "DTSTART:20260101", "DTSTART;VALUE=DATE:20260101").replace("DURATION:PT30M", "DURATION:P1D"),
        _event("thirty-hours", "FREQ=HOURLY;COUNT=30", start="20260101T090000Z"),  # the last at 14:00 next day
    ))
    batches = _pull(path)
    found = _occurrences(batches)
    weekdays = [item.timestamp for item in found if item.series_id == "weekdays" and item.timestamp]
    assert weekdays and {start.strftime("%a") for start in weekdays} == {"Mon", "Wed"}
    assert max(Counter(start.date() for start in weekdays).values()) == 1
    all_day = sorted(item.timestamp.date() for item in found if item.series_id == "all-day" and item.timestamp)
    assert all_day[0].isoformat() == "2026-01-01" and len(all_day) == 20  # COUNT=20 hours-of-24: 20 days
    hours = sorted(item.timestamp.date() for item in found if item.series_id == "thirty-hours" and item.timestamp)
    assert [day.isoformat() for day in hours] == ["2026-01-01", "2026-01-02"]
    assert _reasons(batches)["recurrence thinned"] == 3


def test_a_pull_of_every_endless_rule_stays_within_memory_and_time(tmp_path: Path) -> None:
    calendar = tmp_path / "endless.ics"
    calendar.write_bytes(_calendar(*(_event(f"endless-{f.lower()}", f"FREQ={f}") for f in FREQUENCIES)))
    config = tmp_path / "config.toml"
    config.write_text(f'[accounts.cal]\nprovider = "ics"\npath = "{calendar}"\nme = ["{ME}"]\n'
                      f'[followups]\nics_path = "{tmp_path}/f.ics"\ntimezone = "UTC"\n')
    state = tmp_path / "state"
    outcome = harness.run(["--config", str(config), "pull"], state, timeout=90)
    assert outcome.code == 0, outcome.err
    assert "recurrence cut" in outcome.out and "recurrence thinned" in outcome.out
    db = sqlite3.connect(state / harness.DB_NAME)
    per_series = dict(db.execute("SELECT series_id, COUNT(*) FROM interactions GROUP BY series_id").fetchall())
    assert set(per_series) == {f"endless-{f.lower()}" for f in FREQUENCIES}
    assert max(per_series.values()) <= 1000
