"""Statuses combine to the worst; FAIL and ERROR stay apart."""

from __future__ import annotations

import pytest

from anchore_compliance.catalog import load_catalog
from anchore_compliance.results import CheckResult, Status, summarize


def _check(requirement: str, status: Status, nodeid: str = "t") -> CheckResult:
    return CheckResult(nodeid, requirement, "direct", ["go"], status, f"{status} reason", [])


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([Status.PASS, Status.PASS], Status.PASS),
        ([Status.PASS, Status.SKIP], Status.SKIP),
        ([Status.PASS, Status.ERROR], Status.ERROR),
        ([Status.ERROR, Status.FAIL], Status.FAIL),
        ([Status.FAIL, Status.PASS], Status.FAIL),
        ([Status.NOT_APPLICABLE, Status.PASS], Status.PASS),
    ],
    ids=lambda v: "-".join(map(str, v)) if isinstance(v, list) else str(v),
)
def test_a_requirement_takes_its_worst_check(statuses, expected):
    checks = [_check("REG-1", s, f"t{i}") for i, s in enumerate(statuses)]
    result = next(r for r in summarize(load_catalog(), checks) if r.id == "REG-1")
    assert result.status is expected
    assert len(result.tests) == len(statuses)


def test_requirements_without_checks_are_not_covered():
    results = summarize(load_catalog(), [_check("REG-1", Status.PASS)])
    statuses = {r.id: r.status for r in results}
    assert statuses["REG-1"] is Status.PASS
    assert statuses["FEED-1"] is Status.NOT_COVERED
