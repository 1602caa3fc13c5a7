"""The system tier: the CLI run in-process (``run``), the service and real servers in subprocesses."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from syncd.sample import write_sample
from tests.support.cli import Run

SAMPLE_ANCHOR = date(2026, 3, 2)  # the day the bundled sample is written around


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    return Run(capsys)


@pytest.fixture
def sample(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The bundled sample (mail, a calendar, a config writing follow-ups to followups.ics) as of
    ``SAMPLE_ANCHOR``, with its own state folder; returns the sample's folder."""
    config = write_sample(tmp_path / "sample", anchor=SAMPLE_ANCHOR)
    monkeypatch.setenv("SYNCD_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("SYNCD_CONFIG", str(config))
    return tmp_path / "sample"
