"""Fixtures for the deployment audit's own tests.

The end-to-end tests drive `suites/test_deployment_audit.py` through pytest's `pytester`; it is
enabled here (idempotently) so the tests run however this folder is reached: `pytest
tests/deployment`, `pytest -o testpaths=tests`, or `pytest -p pytester ...`.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote, unquote

import pytest

from anchore_compliance.deployment import RULES, Deployment, Finding, load_deployments

CORPUS = Path(__file__).parent / "corpus"
# The made-up secrets the corpus holds, as written in the files.
PROXY_USER = "svc-anchore"
SECRETS = (
    "Qz@7!x#y/9%k",
    "Qz%407%21x%23y%2F9%25k",
    "Tr0ub4dor&3",
    "pa%zzword",
    "%FF%FEpw1",
    "Qz%25407%2521x",
    "t0k3n!",
)
SECRET_URL = f"http://{PROXY_USER}:Qz%407%21x%23y%2F9%25k@proxy.corp.example:3128"


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.import_plugin("pytester")


@pytest.fixture
def corpus() -> Path:
    """The folder of deployment files the tests audit."""
    return CORPUS


@pytest.fixture
def load_one(corpus: Path) -> Callable[[str | Path], Deployment]:
    """Load one file (a corpus name or a path) that holds exactly one deployment."""

    def load(path: str | Path) -> Deployment:
        (deployment,) = load_deployments([corpus / path])
        return deployment

    return load


@pytest.fixture
def audit(load_one) -> Callable[[str | Path], dict[str, list[Finding]]]:
    """Every applicable rule's findings for one file, by rule id."""

    def run(path: str | Path) -> dict[str, list[Finding]]:
        deployment = load_one(path)
        return {rule.id: rule.check(deployment) for rule in RULES if rule.applies_to(deployment)}

    return run


@pytest.fixture(scope="session")
def secret_spellings() -> frozenset[str]:
    """Every way the corpus' secrets could leak: raw, percent-encoded, decoded, base64 (alone, as
    Basic credentials, as a Kubernetes Secret's proxy URL)."""
    forms = {base64.b64encode(SECRET_URL.encode()).decode()}
    for secret in SECRETS:
        for form in {secret, quote(secret, safe=""), unquote(secret)}:
            forms |= {form, base64.b64encode(form.encode()).decode()}
            forms.add(base64.b64encode(f"{PROXY_USER}:{form}".encode()).decode())
    return frozenset(form for form in forms if len(form) >= 5)
