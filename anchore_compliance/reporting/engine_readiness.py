"""An engine that never became ready ends the run with ENGINE_NOT_READY (18) and one line.

Its launch failed, not a requirement: the scenario's checks are ERROR, the run goes on (other
scenarios may launch), and results.json is written as usual. Where the check ran (an xdist
worker, or the only process) the engine's output goes to a file in the report directory, and the
check's report carries what happened in its `engine_not_ready` attribute, which xdist sends to
the controller with the report. The controller (EngineReadiness) sets the exit status at the end
of the session and prints one line per cause, naming every scenario it stopped.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from anchore_compliance.errors import EngineNotReady, ExitCode
from anchore_compliance.redaction import REDACTOR
from anchore_compliance.state import SETTINGS_KEY

REPORT_ATTRIBUTE = "engine_not_ready"
OUTPUT_DIR = "engine-output"  # under the report directory: <scenario>.log


def _scenario(item: pytest.Item) -> str:
    callspec = getattr(item, "callspec", None)
    return str(callspec.params.get("scenario", "engine")) if callspec else "engine"


def _write_output(item: pytest.Item, scenario: str, error: EngineNotReady) -> Path:
    """Write the engine's output once per scenario (each of its checks gets the same error)."""
    name = re.sub(r"[^\w.-]", "_", scenario)
    path = item.config.stash[SETTINGS_KEY].report_dir / OUTPUT_DIR / f"{name}.log"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        text = "".join(f"== {container}\n{output}\n" for container, output in error.output.items())
        path.write_text(REDACTOR.redact(text))
    return path


def _line(scenarios: list[str], detail: str, output: str, hint: str) -> str:
    which = "scenario" if len(scenarios) == 1 else "scenarios"
    return REDACTOR.redact(
        f"engine never became ready ({which} {', '.join(scenarios)}): {detail}; "
        f"its output is in {output}; {hint}"
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report: pytest.TestReport = yield
    error = call.excinfo.value if call.excinfo is not None else None
    if isinstance(error, EngineNotReady) and SETTINGS_KEY in item.config.stash:
        scenario = _scenario(item)
        output = _write_output(item, scenario, error)
        outcome = {"scenario": scenario, "detail": error.detail, "hint": error.hint, "output": str(output)}
        setattr(report, REPORT_ATTRIBUTE, outcome)
        # The line says all there is to say: no traceback of the suite's wait loop.
        report.longrepr = _line([scenario], error.detail, str(output), error.hint)
    return report


class EngineReadiness:
    """Controller: collects what the reports say; ends the run with ENGINE_NOT_READY."""

    def __init__(self) -> None:
        self.outcomes: dict[str, dict[str, str]] = {}  # scenario -> what its report said

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        outcome = getattr(report, REPORT_ATTRIBUTE, None)
        if outcome:
            self.outcomes.setdefault(outcome["scenario"], outcome)

    def lines(self) -> list[str]:
        """One line per cause (what did not answer, and what to do), naming its scenarios."""
        causes: dict[tuple[str, str], list[dict[str, str]]] = {}
        for outcome in self.outcomes.values():
            causes.setdefault((outcome["detail"], outcome["hint"]), []).append(outcome)
        lines = []
        for (detail, hint), outcomes in causes.items():
            files = [o["output"] for o in outcomes]
            output = files[0] if len(files) == 1 else f"{Path(files[0]).parent}/ (one file per scenario)"
            lines.append(_line([o["scenario"] for o in outcomes], detail, output, hint))
        return lines

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        # An interruption or a usage error says more; a failed check does not.
        if self.outcomes and session.exitstatus in (ExitCode.OK, ExitCode.TESTS_FAILED):
            session.exitstatus = ExitCode.ENGINE_NOT_READY

    def pytest_terminal_summary(self, terminalreporter) -> None:
        for line in self.lines():
            terminalreporter.write_line(line, red=True, bold=True)
