"""The system tier: the CLI run in-process (``run``), the service and real servers in subprocesses."""

from __future__ import annotations

import pytest

from tests.support.cli import Run


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    return Run(capsys)
