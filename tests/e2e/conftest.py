"""End-to-end selftests: the compliance suite run, as a user would, against reference engines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class SuiteRun:
    returncode: int
    output: str
    results: dict | None
    report_dir: Path

    def statuses(self) -> dict[str, str]:
        assert self.results is not None, self.output[-3000:]
        return {r["id"]: r["status"] for r in self.results["requirements"]}

    def with_status(self, status: str) -> set[str]:
        return {rid for rid, s in self.statuses().items() if s == status}


def run_suite(report_dir: Path, *args: str, timeout: float = 900) -> SuiteRun:
    """Run the compliance suite in a subprocess with local images, as `tox -e compliance` does."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.setdefault("ANCHORE_COMPLIANCE_IMAGE_SET", "local")
    command = [
        sys.executable, "-m", "pytest", "suites", "-p", "no:cacheprovider", "-q",
        "--report-dir", str(report_dir), "-n", "2", *args,
    ]  # fmt: skip
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    results_path = report_dir / "results.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else None
    return SuiteRun(done.returncode, done.stdout + done.stderr, results, report_dir)


@pytest.fixture(scope="session")
def suite_runner():
    return run_suite
