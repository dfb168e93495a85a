"""The requirement catalog: loaded once, validated, looked up by ID."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources

import yaml

from anchore_compliance.errors import ExitCode, SuiteUsageError

LEVELS = ("MUST", "SHOULD", "MAY")
STACKS = ("python", "go")
AREAS = ("registry", "feeds", "services", "proxy", "deployment")


@dataclass(frozen=True)
class Requirement:
    id: str
    area: str
    level: str
    stacks: tuple[str, ...]
    text: str
    note: str = ""


@dataclass(frozen=True)
class Catalog:
    requirements: tuple[Requirement, ...]

    def __iter__(self):
        return iter(self.requirements)

    def __contains__(self, requirement_id: object) -> bool:
        return any(r.id == requirement_id for r in self.requirements)

    def get(self, requirement_id: str) -> Requirement:
        for requirement in self.requirements:
            if requirement.id == requirement_id:
                return requirement
        raise SuiteUsageError(
            f"unknown requirement ID {requirement_id!r}; known: {', '.join(self.ids())}",
            ExitCode.UNKNOWN_REQUIREMENT,
        )

    def ids(self) -> list[str]:
        return [r.id for r in self.requirements]


def parse_catalog(text: str) -> Catalog:
    """Parse and validate catalog YAML; a malformed entry is a usage error naming it."""
    data = yaml.safe_load(text)
    entries = data.get("requirements") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise SuiteUsageError("requirement catalog has no 'requirements' list")
    requirements = []
    seen: set[str] = set()
    for entry in entries:
        rid = entry.get("id", "?") if isinstance(entry, dict) else "?"
        try:
            requirement = Requirement(
                id=entry["id"],
                area=entry["area"],
                level=entry["level"],
                stacks=tuple(entry["stacks"]),
                text=" ".join(entry["text"].split()),
                note=" ".join(entry.get("note", "").split()),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise SuiteUsageError(f"catalog entry {rid}: missing or malformed field {exc}") from None
        problems = []
        if requirement.id in seen:
            problems.append("duplicate id")
        if requirement.level not in LEVELS:
            problems.append(f"level must be one of {LEVELS}")
        if requirement.area not in AREAS:
            problems.append(f"area must be one of {AREAS}")
        if not requirement.stacks or set(requirement.stacks) - set(STACKS):
            problems.append(f"stacks must be a non-empty subset of {STACKS}")
        if problems:
            raise SuiteUsageError(f"catalog entry {requirement.id}: {'; '.join(problems)}")
        seen.add(requirement.id)
        requirements.append(requirement)
    return Catalog(tuple(requirements))


@functools.cache
def load_catalog() -> Catalog:
    text = resources.files("anchore_compliance").joinpath("catalog.yaml").read_text(encoding="utf-8")
    return parse_catalog(text)
