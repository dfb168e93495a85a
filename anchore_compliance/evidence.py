"""Evidence: the log records and API answers a verdict was based on, attached to the check."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from anchore_compliance.redaction import REDACTOR

EVIDENCE_KEY = pytest.StashKey["Evidence"]()


@dataclass
class Evidence:
    """Lines of evidence for one check; every line is redacted as it is added."""

    lines: list[str] = field(default_factory=list)
    stacks: set[str] = field(default_factory=set)

    def add(self, source: str, text: str, stack: str | None = None) -> None:
        """Record one piece of evidence: `source` names the log or API it came from.

        `stack` is the HTTP stack whose traffic the line is about: "python", "go", or "both".
        """
        if stack:
            self.stacks.update(("python", "go") if stack == "both" else (stack,))
        label = f"{source}/{stack}" if stack else source
        self.lines.append(REDACTOR.redact(f"[{label}] {text}"))

    def add_all(self, source: str, texts: list[str], stack: str | None = None, *, empty: str = "") -> None:
        """Record several lines; when there are none, record `empty` (if given) instead."""
        if not texts and empty:
            self.add(source, empty, stack)
        for text in texts:
            self.add(source, text, stack)
