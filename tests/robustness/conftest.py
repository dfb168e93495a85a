"""Robustness selftests: the compliance suite started as a subprocess, ended in every way a user
(or a CI runner) can end it, and what it leaves behind."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from suite_process import SuiteRuns

from anchore_compliance.fixtures.infra.backend import ContainerBackend, discover_backend


@pytest.fixture(scope="session")
def container_backend() -> ContainerBackend:
    return discover_backend(os.environ.get("ANCHORE_COMPLIANCE_CONTAINER_HOST"))


@pytest.fixture
def suite_runs(tmp_path: Path, container_backend: ContainerBackend) -> Iterator[SuiteRuns]:
    """Start suite runs; whatever they leave (also when a case fails) is removed afterwards."""
    runs = SuiteRuns(tmp_path, container_backend)
    yield runs
    runs.close()
