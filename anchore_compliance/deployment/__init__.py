"""Audit deployment descriptions (Docker Compose, Kubernetes, env files) for the proxy settings the
network requirements document asks for, without starting anything.

    deployments = load_deployments([Path("docker-compose.yaml")])
    for deployment in deployments:
        for rule in RULES:
            if rule.applies_to(deployment):
                for finding in rule.check(deployment):
                    print(finding)

`pytest --deployment PATH` runs the same through `suites/test_deployment_audit.py`.
"""

from __future__ import annotations

import pytest

from anchore_compliance.deployment.loader import load_deployments
from anchore_compliance.deployment.model import Container, Deployment, EnvVar, Finding, Rule
from anchore_compliance.deployment.rules import RULES

DEPLOYMENTS_KEY = pytest.StashKey[list[Deployment]]()

__all__ = [
    "DEPLOYMENTS_KEY",
    "RULES",
    "Container",
    "Deployment",
    "EnvVar",
    "Finding",
    "Rule",
    "load_deployments",
]
