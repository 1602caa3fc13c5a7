"""The command line: thin commands over the pipeline, and one error boundary (``main``)."""

from __future__ import annotations

from syncd.cli.main import cli, main

__all__ = ["cli", "main"]
