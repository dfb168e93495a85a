"""Exit codes and the errors that end a run with one clear line.

pytest owns 0-5; the suite's own codes start at 10 so CI can tell them apart.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    # pytest's own codes, repeated here so the README has one table.
    OK = 0
    TESTS_FAILED = 1
    INTERRUPTED = 2
    INTERNAL_ERROR = 3
    USAGE_ERROR = 4
    NO_TESTS_COLLECTED = 5
    # The suite's codes.
    BAD_CONFIG = 10  # malformed or unknown engine profile, bad option value
    UNKNOWN_REQUIREMENT = 11  # a check or an option names an ID the catalog lacks
    CONTAINER_ENGINE_UNREACHABLE = 12  # no Docker or Podman API answered
    IMAGE_MISSING = 13  # an image the run needs is neither present nor buildable
    ENGINE_UNREACHABLE = 14  # attach mode: the engine's API did not answer
    DEPLOYMENT_INPUT = 15  # --deployment: path missing, not YAML, unknown kind
    CERTIFICATION_INCOMPLETE = 16  # --certification and something was not judged
    ENGINE_CREDENTIALS_REJECTED = 17  # attach mode: the engine's API answered 401/403
    ENGINE_NOT_READY = 18  # a launched engine never became ready (within --ready-timeout)


class SuiteUsageError(Exception):
    """Bad input from the user: reported as one line, the run ends with `exit_code`."""

    exit_code: ExitCode = ExitCode.BAD_CONFIG

    def __init__(self, message: str, exit_code: ExitCode | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class InfrastructureError(Exception):
    """The suite's own machinery failed (container, network, image, port).

    Raised from fixtures, so pytest reports the affected checks as ERROR, never as the engine
    failing a requirement.
    """


class EngineNotReady(InfrastructureError):
    """An engine the suite launched never became ready: its launch failed, no requirement did.

    `output` holds each engine container's last output, for the user to see why; `hint` says what
    to do. The run goes on (other scenarios may launch), its checks are ERROR, and the run ends
    with ENGINE_NOT_READY (reporting/engine_readiness.py).
    """

    def __init__(self, detail: str, *, hint: str, output: dict[str, str]) -> None:
        super().__init__(f"engine never became ready: {detail}")
        self.detail = detail
        self.hint = hint
        self.output = output
