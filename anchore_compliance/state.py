"""Run-wide state the plugin's parts share through pytest's config stash."""

from __future__ import annotations

import pytest

from anchore_compliance.attach import AttachSettings
from anchore_compliance.config import SuiteSettings
from anchore_compliance.reporting.certification import Certification, VendorDeclaration
from anchore_compliance.reporting.collector import ResultCollector
from anchore_compliance.results import RequirementResult

SETTINGS_KEY = pytest.StashKey[SuiteSettings]()
DECLARATION_KEY = pytest.StashKey[VendorDeclaration]()
CERTIFICATION_KEY = pytest.StashKey[Certification]()
REQUIREMENTS_KEY = pytest.StashKey[list[RequirementResult]]()
RUN_KEY = pytest.StashKey[dict]()
COLLECTOR_KEY = pytest.StashKey[ResultCollector]()
# Present only in attach mode (--engine-url).
ATTACH_KEY = pytest.StashKey[AttachSettings]()


def is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")
