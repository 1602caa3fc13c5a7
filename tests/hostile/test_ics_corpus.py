"""An .ics corpus from well-kept libraries' own test files, read where their wheels install them.

icalendar (BSD-2-Clause) ships ``icalendar/tests/**.ics`` and recurring-ical-events (LGPL-3.0-or-later)
ships ``recurring_ical_events/test/calendars/*.ics`` inside their wheels: several hundred calendars
written to break parsers (odd time zones, broken lines, RRULE corner cases, vendor quirks). They are read
in place, never copied into this repository. Every file must be read without an exception escaping, and
every event UID in it must end up as an interaction or as a named skip: nothing dropped in silence.
"""

from __future__ import annotations

import importlib.util
import warnings
from datetime import UTC, datetime
from pathlib import Path

import icalendar
import pytest
import recurring_ical_events

from connectors.local.ics import IcsSource, reading_window
from tests.support import hostile as harness

NOW = datetime(2026, 3, 4, 12, tzinfo=UTC)


def _package_folder(package: str, *parts: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations)), *parts)
    return folder if folder.is_dir() else None


FOLDERS = [f for f in (_package_folder("icalendar", "tests"),
                       _package_folder("recurring_ical_events", "test", "calendars")) if f is not None]
CORPUS = sorted(p for folder in FOLDERS for p in folder.rglob("*.ics"))


class _Nothing:
    def known_ids(self, resource: str) -> set[str]:
        return set()


def _uids(data: bytes) -> set[str]:
    """UIDs of top-level VEVENTs, as text (a line-level look, independent of any parser)."""
    uids: set[str] = set()
    depth, in_event = 0, False
    for line in data.splitlines():
        word = line.strip().upper()
        if word.startswith(b"BEGIN:"):
            depth += 1
            in_event = in_event or (word == b"BEGIN:VEVENT" and depth == 2)
        elif word.startswith(b"END:"):
            depth -= 1
            in_event = in_event and depth >= 2
        elif in_event and depth == 2 and word.startswith(b"UID:"):
            uids.add(line.split(b":", 1)[1].strip().decode("utf-8", "replace"))
    return uids


def test_the_corpus_is_there() -> None:
    if not FOLDERS:
        pytest.skip("icalendar and recurring-ical-events ship no test calendars in this installation")
    assert len(CORPUS) > 150


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_event_of_a_corpus_file_is_read_or_named(path: Path) -> None:
    batches = list(IcsSource("cal", {"path": path, "me": ("me@example.com",), "now": NOW}).pull({}, _Nothing()))
    read = {item.series_id or item.provider_id for batch in batches for item in batch.interactions}
    named = " ".join(f"{skip.what} {skip.why}" for batch in batches for skip in batch.skipped)
    if any(skip.what == path.name for batch in batches for skip in batch.skipped):
        return  # the whole file was refused, with its reason
    for uid in _uids(path.read_bytes()):
        if uid in read or uid in named or not uid.strip():
            continue
        # Not read and not named: only right when the reference expansion has no occurrence in the window
        # either (a series that ended long ago, a rule that never matches, every occurrence excluded).
        assert not _occurs_in_window(path, uid), uid


def _occurs_in_window(path: Path, uid: str) -> bool:
    """Whether recurring-ical-events itself finds an occurrence of ``uid`` within the source's window."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        calendar = icalendar.Calendar.from_ical(path.read_bytes())
        found = recurring_ical_events.of(calendar).between(*reading_window({"now": NOW}))
    return any(str(event.get("UID", "")).strip() == uid for event in found)


def test_the_whole_corpus_through_syncd_pull(tmp_path: Path) -> None:
    if not FOLDERS:
        pytest.skip("no test calendars installed")
    config = tmp_path / "config.toml"
    accounts = "".join(
        f'[accounts.corpus{n}]\nprovider = "ics"\npath = "{folder}"\nme = ["me@example.com"]\n'
        for n, folder in enumerate(FOLDERS)
    )
    config.write_text(accounts + f'[followups]\nics_path = "{tmp_path}/f.ics"\ntimezone = "UTC"\n')
    outcome = harness.run(["--config", str(config), "pull"], tmp_path / "state")
    assert outcome.code == 0, outcome.err
    again = harness.run(["--config", str(config), "pull"], tmp_path / "state")
    assert again.code == 0 and "0 new" in again.out
