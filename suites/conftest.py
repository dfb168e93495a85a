"""Collection rules of the suites folder."""

from __future__ import annotations

from pathlib import Path

import pytest


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    # The deployment audit has one check per --deployment file and rule; without such files
    # there is nothing to audit, so the module is not collected at all.
    if collection_path.name == "test_deployment_audit.py" and not config.getoption("deployment"):
        return True
    return None
