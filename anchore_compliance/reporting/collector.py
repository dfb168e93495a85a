"""Controller side: turn pytest's reports into one CheckResult per check."""

from __future__ import annotations

import json

import pytest

from anchore_compliance.results import NOT_APPLICABLE_PREFIX, CheckResult, Status, worse


def _status_of(report: pytest.TestReport, properties: dict[str, str]) -> Status:
    if report.passed:
        return Status.PASS
    if report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        return Status.NOT_APPLICABLE if NOT_APPLICABLE_PREFIX in reason else Status.SKIP
    if report.when != "call" or "machinery_error" in properties:
        return Status.ERROR
    return Status.FAIL


def _reason_of(report: pytest.TestReport, status: Status) -> str:
    if status is Status.PASS:
        return "passed"
    if isinstance(report.longrepr, tuple):  # skip: (path, line, reason)
        return report.longrepr[2].removeprefix("Skipped: ")
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(report.longrepr)
    lines = [line for line in text.splitlines() if line.strip()]
    summary = lines[0] if lines else text
    if status is Status.ERROR:
        return f"suite error during {report.when}: {summary}"
    return summary


class ResultCollector:
    """Collects results from local or xdist-worker reports, keyed by node id."""

    def __init__(self) -> None:
        self.checks: dict[str, CheckResult] = {}
        self.engine_info: dict[str, str] = {}

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        properties = {key: str(value) for key, value in report.user_properties}
        requirement = properties.get("requirement")
        if requirement is None:
            return
        for key in ("engine_version", "engine_images", "engine_profile"):
            if key in properties:
                self.engine_info[key] = properties[key]
        status = _status_of(report, properties)
        existing = self.checks.get(report.nodeid)
        if report.when == "teardown" and status is Status.PASS and existing is not None:
            existing.duration += report.duration
            return
        evidence = json.loads(properties.get("evidence", "[]"))
        stacks = [s for s in properties.get("stacks", "").split(",") if s]
        if existing is None:
            self.checks[report.nodeid] = CheckResult(
                nodeid=report.nodeid,
                requirement=requirement,
                scenario=properties.get("scenario"),
                stacks=stacks,
                status=status,
                reason=_reason_of(report, status),
                evidence=evidence,
                duration=report.duration,
            )
            return
        existing.duration += report.duration
        existing.evidence = existing.evidence or evidence
        existing.stacks = existing.stacks or stacks
        if worse(status, existing.status) is status and status is not existing.status:
            existing.status, existing.reason = status, _reason_of(report, status)
