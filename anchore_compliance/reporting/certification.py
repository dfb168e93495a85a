"""Certification mode: the vendor's declaration and the verdict on a run.

A certification run is `certified` only when every catalog requirement was judged and passed.
Any check that failed, errored or was skipped, and any requirement no check judged, makes it
`partial` and is listed. A `not-applicable` check does not block when it says why the
requirement does not apply (text after `not-applicable:` in its skip reason); one that gives no
reason is treated as a skip. docs/certification.md explains this to vendors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from anchore_compliance.errors import ExitCode, SuiteUsageError
from anchore_compliance.results import NOT_APPLICABLE_PREFIX, RequirementResult, Status

CERTIFIED = "certified"
PARTIAL = "partial"
Verdict = Literal["certified", "partial"]

# Statuses that always keep a run from being certified.
BLOCKING_STATUSES = frozenset({Status.FAIL, Status.ERROR, Status.SKIP, Status.NOT_COVERED})

_REQUIRED_KEYS = ("product", "version", "vendor")
_OPTIONAL_KEYS = ("contact",)
_MAX_FIELD = 200


@dataclass(frozen=True)
class VendorDeclaration:
    """What the vendor declares it certifies: product and version in the vendor's own words."""

    product: str
    version: str
    vendor: str
    contact: str | None = None

    def to_json(self) -> dict[str, str | None]:
        return {
            "product": self.product,
            "version": self.version,
            "vendor": self.vendor,
            "contact": self.contact,
        }

    def to_yaml(self) -> str:
        data = {key: value for key, value in self.to_json().items() if value is not None}
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False)


def _declaration_error(path: Path, problem: str) -> SuiteUsageError:
    return SuiteUsageError(f"vendor declaration {path}: {problem}", ExitCode.BAD_CONFIG)


def _field(data: dict, key: str, path: Path) -> str:
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, str):
        if isinstance(value, int | float) and not isinstance(value, bool):
            # YAML reads `version: 1.10` as the number 1.1: never let that pass silently.
            raise _declaration_error(path, f"'{key}' must be text; quote it ({key}: \"{value}\")")
        raise _declaration_error(path, f"'{key}' must be text")
    text = value.strip()
    if not text:
        raise _declaration_error(path, f"'{key}' is empty")
    if "\n" in text or "\r" in text:
        raise _declaration_error(path, f"'{key}' must be one line")
    if len(text) > _MAX_FIELD:
        raise _declaration_error(path, f"'{key}' is longer than {_MAX_FIELD} characters")
    return text


def load_declaration(path: Path) -> VendorDeclaration:
    """Read the vendor declaration (YAML: product, version, vendor; contact optional).

    Raises SuiteUsageError (one line, ExitCode.BAD_CONFIG) for a missing, unreadable or malformed
    file, a missing or empty key, an unknown key, or a value that is not one line of text.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise _declaration_error(path, "no such file") from None
    except IsADirectoryError:
        raise _declaration_error(path, "is a directory, not a YAML file") from None
    except UnicodeDecodeError:
        raise _declaration_error(path, "not UTF-8 text") from None
    except OSError as exc:
        raise _declaration_error(path, f"cannot be read ({exc.strerror or exc})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise _declaration_error(path, f"not valid YAML{where}") from None
    if not isinstance(data, dict):
        raise _declaration_error(
            path, "expected a mapping with keys product, version, vendor (contact optional)"
        )
    unknown = sorted(str(key) for key in data if key not in (*_REQUIRED_KEYS, *_OPTIONAL_KEYS))
    if unknown:
        raise _declaration_error(
            path, f"unknown key '{unknown[0]}'; expected product, version, vendor, contact"
        )
    for key in _REQUIRED_KEYS:
        if key not in data or data[key] is None:
            raise _declaration_error(path, f"missing '{key}'")
    contact = _field(data, "contact", path) if data.get("contact") is not None else None
    return VendorDeclaration(
        product=_field(data, "product", path),
        version=_field(data, "version", path),
        vendor=_field(data, "vendor", path),
        contact=contact,
    )


def not_applicable_explanation(reason: str) -> str:
    """The explanation a not-applicable result gives, or "" when it gives none."""
    text = reason or ""
    if NOT_APPLICABLE_PREFIX in text:
        text = text.split(NOT_APPLICABLE_PREFIX, 1)[1]
    # Punctuation alone ("not-applicable: -") explains nothing.
    return text.strip() if re.search(r"\w", text) else ""


def _blocks(status: Status, reason: str) -> bool:
    if status is Status.NOT_APPLICABLE:
        return not not_applicable_explanation(reason)
    return status in BLOCKING_STATUSES


def _check_status(test: dict) -> Status:
    try:
        return Status(test.get("status"))
    except ValueError:
        return Status.ERROR  # an unreadable status never certifies


@dataclass(frozen=True)
class Certification:
    """The verdict on a certification run.

    `blocking` has one entry per requirement that keeps the run from being certified, with the
    checks that block it; `skipped_checks` names every skipped check (node id), including
    not-applicable checks that gave no reason; `not_applicable` lists the explained
    not-applicable checks, which do not block but are shown to the reviewer.
    """

    verdict: Verdict
    blocking: list[dict] = field(default_factory=list)
    skipped_checks: list[str] = field(default_factory=list)
    not_applicable: list[dict] = field(default_factory=list)

    @property
    def certified(self) -> bool:
        return self.verdict == CERTIFIED

    def to_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "blocking": [dict(entry, checks=[dict(c) for c in entry["checks"]]) for entry in self.blocking],
            "skipped_checks": list(self.skipped_checks),
            "not_applicable": [dict(entry) for entry in self.not_applicable],
        }

    def summary_lines(self) -> list[str]:
        """Human-readable lines for the terminal: the verdict, then what blocks it."""
        if self.certified:
            lines = ["certification: certified (every requirement judged and passed)"]
        else:
            lines = [f"certification: partial ({len(self.blocking)} requirement(s) block it)"]
        for entry in self.blocking:
            lines.append(f"  {entry['requirement']} [{entry['status']}] {entry['blocks_because']}")
            lines.extend(f"    {c['status']}: {c['nodeid']}: {c['reason']}" for c in entry["checks"])
        lines.extend(
            f"  not-applicable (accepted): {entry['nodeid']}: {entry['explanation']}"
            for entry in self.not_applicable
        )
        return lines


_VERBS = {
    Status.FAIL: "failed",
    Status.ERROR: "errored",
    Status.SKIP: "skipped",
    Status.NOT_APPLICABLE: "not-applicable without a reason",
}


def _describe(checks: list[dict]) -> str:
    tally: dict[str, int] = {}
    for check in checks:
        label = _VERBS.get(check["status"], check["status"])
        tally[label] = tally.get(label, 0) + 1
    return ", ".join(f"{count} check(s) {label}" for label, count in tally.items())


def certify(requirements: list[RequirementResult]) -> Certification:
    """Judge a run for certification from its per-requirement results.

    Blocks: any check whose status is fail, error or skip; any not-applicable check whose reason
    does not say why; any requirement that is not-covered, or whose own status is fail, error or
    skip (a run-level error marks every requirement error even when its checks passed).
    """
    blocking: list[dict] = []
    skipped: list[str] = []
    not_applicable: list[dict] = []
    for requirement in requirements:
        status = Status(requirement.status)
        blocking_checks = []
        for test in requirement.tests:
            check_status = _check_status(test)
            reason = str(test.get("reason", ""))
            nodeid = str(test.get("nodeid", "?"))
            if _blocks(check_status, reason):
                blocking_checks.append({"nodeid": nodeid, "status": str(check_status), "reason": reason})
                if check_status in (Status.SKIP, Status.NOT_APPLICABLE):
                    skipped.append(nodeid)
            elif check_status is Status.NOT_APPLICABLE:
                not_applicable.append(
                    {
                        "requirement": requirement.id,
                        "nodeid": nodeid,
                        "explanation": not_applicable_explanation(reason),
                    }
                )
        if status is Status.NOT_COVERED or not requirement.tests:
            because = f"not judged: {requirement.reason}" if requirement.reason else "not judged"
        else:
            parts = [_describe(blocking_checks)] if blocking_checks else []
            # A run-level error overrides the requirement's status without touching its checks.
            if _blocks(status, requirement.reason) and requirement.reason not in {
                check["reason"] for check in blocking_checks
            }:
                parts.append(f"{status}: {requirement.reason}")
            if not parts:
                continue
            because = "; ".join(parts)
        blocking.append(
            {
                "requirement": requirement.id,
                "level": requirement.level,
                "status": str(status),
                "reason": requirement.reason,
                "blocks_because": because,
                "checks": blocking_checks,
            }
        )
    if not requirements:
        blocking.append(
            {
                "requirement": "(none)",
                "level": "",
                "status": str(Status.NOT_COVERED),
                "reason": "the run judged no requirement",
                "blocks_because": "not judged: the run judged no requirement",
                "checks": [],
            }
        )
    return Certification(
        verdict=PARTIAL if blocking else CERTIFIED,
        blocking=blocking,
        skipped_checks=skipped,
        not_applicable=not_applicable,
    )


def explain_skips(requirements: list[RequirementResult]) -> list[str]:
    """One line per skipped or not-applicable check, with its reason (for the terminal summary
    of any run, certification or not)."""
    lines = []
    for requirement in requirements:
        for test in requirement.tests:
            status = _check_status(test)
            reason = str(test.get("reason") or "")
            if status is Status.NOT_APPLICABLE:
                reason = not_applicable_explanation(reason)
            elif status is not Status.SKIP:
                continue
            lines.append(f"{status}: {test.get('nodeid')}: {reason.strip() or '(no reason given)'}")
    return lines


def certification_exit_code(certification: Certification, exitstatus: int) -> int:
    """The run's exit code in certification mode.

    A partial verdict turns a clean exit (0) or "nothing collected" (5) into
    CERTIFICATION_INCOMPLETE (16); every other code (a failed check, an interruption, a usage or
    configuration error) already says more and is kept.
    """
    if certification.certified:
        return int(exitstatus)
    if int(exitstatus) in (ExitCode.OK, ExitCode.NO_TESTS_COLLECTED):
        return int(ExitCode.CERTIFICATION_INCOMPLETE)
    return int(exitstatus)
