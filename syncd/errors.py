"""Domain errors and the exit codes the CLI maps them to (documented in the README)."""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    OK = 0
    PARTIAL = 1  # the command ran, but a whole source (or the target) failed; details in the summary
    USAGE = 2  # bad command line or bad configuration
    STATE = 3  # the state database is unusable (locked by another syncd, newer schema, corrupt)
    NEEDS_LOGIN = 4  # an account's login is missing, revoked or expired: `syncd auth login ACCOUNT`
    INTERNAL = 70  # a bug: please report it with --traceback output
    INTERRUPTED = 130


class SyncdError(Exception):
    """An error the CLI shows as one sentence, with an exit code."""

    exit_code: ExitCode = ExitCode.PARTIAL


class ConfigError(SyncdError):
    """The configuration is invalid. ``problems`` lists every one, each as ``file: key.path: message``."""

    exit_code = ExitCode.USAGE

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class UsageError(SyncdError):
    exit_code = ExitCode.USAGE


class StateError(SyncdError):
    exit_code = ExitCode.STATE
