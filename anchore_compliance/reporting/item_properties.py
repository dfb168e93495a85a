"""Worker side: stamp every check's report with its requirement, scenario and evidence.

Everything a controller-side writer needs travels in `report.user_properties` (xdist serialises
it, JUnit turns it into <property> elements) and `report.extras` (pytest-html). Text is redacted
here, before it leaves the worker.
"""

from __future__ import annotations

import json

import pytest

from anchore_compliance.engine_api import EngineApiUnreachable
from anchore_compliance.errors import InfrastructureError
from anchore_compliance.evidence import EVIDENCE_KEY
from anchore_compliance.redaction import REDACTOR

# Exceptions that mean the suite's machinery failed, wherever they are raised.
MACHINERY_ERRORS = (InfrastructureError, EngineApiUnreachable)


def requirement_of(item: pytest.Item) -> str | None:
    marker = item.get_closest_marker("requirement")
    return str(marker.args[0]) if marker and marker.args else None


def scenario_of(item: pytest.Item) -> str | None:
    callspec = getattr(item, "callspec", None)
    return callspec.params.get("scenario") if callspec else None


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    requirement = requirement_of(item)
    if requirement is None:
        return
    item.user_properties.append(("requirement", requirement))
    scenario = scenario_of(item)
    if scenario:
        item.user_properties.append(("scenario", scenario))


def _redact_report(report: pytest.TestReport) -> None:
    if report.longrepr is not None:
        text = str(report.longrepr)
        redacted = REDACTOR.redact(text)
        if redacted != text:
            report.longrepr = redacted
    report.sections = [(title, REDACTOR.redact(content)) for title, content in report.sections]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report: pytest.TestReport = yield
    _redact_report(report)
    if requirement_of(item) is None:
        return report
    if call.excinfo is not None and call.excinfo.errisinstance(MACHINERY_ERRORS):
        report.user_properties.append(("machinery_error", f"{call.when}: {call.excinfo.typename}"))
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        evidence = item.stash.get(EVIDENCE_KEY, None)
        lines = list(evidence.lines) if evidence else []
        stacks = sorted(evidence.stacks) if evidence else []
        report.user_properties.append(("stacks", ",".join(stacks)))
        report.user_properties.append(("evidence", json.dumps(lines)))
        if lines:
            from pytest_html import extras

            report.extras = [*getattr(report, "extras", []), extras.text("\n".join(lines), name="evidence")]
    return report
