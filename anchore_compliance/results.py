"""The results model: a status per check, combined into a status per requirement.

FAIL means the engine broke the requirement; ERROR means the suite could not judge it because its
own machinery failed. A requirement's status only moves to a worse one as its checks come in.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field

from anchore_compliance.catalog import Catalog

NOT_APPLICABLE_PREFIX = "not-applicable:"


class Status(enum.StrEnum):
    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"
    SKIP = "skip"
    NOT_APPLICABLE = "not-applicable"
    NOT_COVERED = "not-covered"


# Worse statuses win when a requirement has several checks.
_RANK = {
    Status.NOT_COVERED: 0,
    Status.NOT_APPLICABLE: 1,
    Status.PASS: 2,
    Status.SKIP: 3,
    Status.ERROR: 4,
    Status.FAIL: 5,
}


def worse(a: Status, b: Status) -> Status:
    return a if _RANK[a] >= _RANK[b] else b


@dataclass
class CheckResult:
    """One test item's outcome, as the controller saw it."""

    nodeid: str
    requirement: str
    scenario: str | None
    stacks: list[str]
    status: Status
    reason: str
    evidence: list[str]
    duration: float = 0.0


@dataclass
class RequirementResult:
    id: str
    level: str
    text: str
    stacks: list[str]
    status: Status = Status.NOT_COVERED
    reason: str = "no check for this requirement ran"
    tests: list[dict] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "level": self.level,
            "text": self.text,
            "stacks": self.stacks,
            "status": str(self.status),
            "reason": self.reason,
            "tests": self.tests,
            "evidence": self.evidence,
        }


def summarize(catalog: Catalog, checks: Iterable[CheckResult]) -> list[RequirementResult]:
    """Combine check results per catalog requirement; requirements no check judged stay not-covered."""
    by_id = {
        r.id: RequirementResult(id=r.id, level=r.level, text=r.text, stacks=list(r.stacks)) for r in catalog
    }
    for check in checks:
        result = by_id[check.requirement]
        first = not result.tests
        if first or (check.status != result.status and worse(check.status, result.status) is check.status):
            result.status, result.reason = check.status, check.reason
        result.tests.append(
            {
                "nodeid": check.nodeid,
                "scenario": check.scenario,
                "stacks": check.stacks,
                "status": str(check.status),
                "reason": check.reason,
                "duration": round(check.duration, 3),
            }
        )
        result.evidence.extend(f"{check.nodeid}: {line}" for line in check.evidence)
    for result in by_id.values():
        if result.tests and result.status is Status.PASS:
            result.reason = f"{len(result.tests)} check(s) passed"
    return list(by_id.values())


def counts(results: Iterable[RequirementResult]) -> dict[str, int]:
    tally = {str(status): 0 for status in Status}
    for result in results:
        tally[str(result.status)] += 1
    return tally
