"""reports/results.json: the run, then one entry per catalog requirement."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from anchore_compliance.redaction import REDACTOR
from anchore_compliance.results import RequirementResult, counts


def write_results_json(path: Path, run: dict[str, Any], requirements: list[RequirementResult]) -> None:
    document = {
        "run": {**run, "summary": counts(requirements)},
        "requirements": [r.to_json() for r in requirements],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(REDACTOR.redact_data(document), indent=2, sort_keys=False)
    path.write_text(text + "\n", encoding="utf-8")
