"""Deployment audit: the proxy settings of compose files, Kubernetes manifests and env files.

`pytest --deployment PATH` (a file or a folder, repeatable) checks the deployment descriptions
before anything runs: no engine, no container. One check per file and rule, named
`<requirement>-<rule>-<file>` so that `-k ENV-6` selects by requirement. A finding that is an
error fails the check with `file:line [service] VAR: problem (stack: ...). Fix: ...`; warnings
(an https:// proxy, a `.domain` entry, ...) never fail it but are kept as evidence. Without
`--deployment` this module is not collected (suites/conftest.py).
"""

from __future__ import annotations

import pytest

from anchore_compliance.deployment import DEPLOYMENTS_KEY, RULES, Deployment, Rule

SOURCE = "deployment"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if not {"deployment", "rule"} <= set(metafunc.fixturenames):
        return
    deployments: list[Deployment] = metafunc.config.stash.get(DEPLOYMENTS_KEY, [])
    params = [
        pytest.param(
            deployment,
            rule,
            id=f"{rule.requirement}-{rule.id}-{deployment.display_name}",
            marks=pytest.mark.requirement(rule.requirement),
        )
        for deployment in deployments
        for rule in RULES
        if rule.applies_to(deployment)
    ]
    metafunc.parametrize(("deployment", "rule"), params)


def test_deployment_file_follows_the_rule(deployment: Deployment, rule: Rule, evidence) -> None:
    findings = rule.check(deployment)
    for finding in findings:
        evidence.add(f"{SOURCE} {finding.severity}", str(finding), finding.stack)
    errors = [f for f in findings if f.severity == "error"]
    engines = len(deployment.engine_containers)
    evidence.add(
        SOURCE,
        f"{rule.id} ({rule.title}) on {deployment.display_name}: {len(errors)} error(s), "
        f"{len(findings) - len(errors)} warning(s) over {engines} engine container(s)",
        "both",
    )
    assert not errors, "\n".join(str(f) for f in errors)
