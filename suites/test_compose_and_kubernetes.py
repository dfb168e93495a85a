"""Setting the variables through Docker Compose (DEPLOY-1) and Kubernetes (DEPLOY-2).

In these scenarios the suite writes the engine's deployment as a user would (fixtures/delivery.py):
a compose file whose services read the proxy variables from an env_file; or Deployments whose
proxy password sits in a Secret, expanded into the proxy URL with $(VAR), and whose no_proxy
comes from a ConfigMap. Each container's environment is resolved from those files with the
orchestrator's rules, and the engine is launched with it. The files are in the evidence (secrets
masked), so they double as working examples.

What is judged is the engine: that the variables set this way reach every service that calls
out and are used there, on both stacks: registry access authenticated through the proxy (Go),
feed sync authenticated through the proxy (Python), and calls between services kept direct.
"""

from __future__ import annotations

import pytest

from anchore_compliance.errors import InfrastructureError
from anchore_compliance.fixtures.observations import (
    authentication_problems,
    internal_calls_via_proxy,
    unfinished_operations,
)

SOURCE = "deployment"


def _delivery_problems(kind, engine_run, image_analysis, feed_sync, service_calls, evidence) -> list[str]:
    delivery = engine_run.delivery
    if delivery is None or delivery.kind != kind:
        raise InfrastructureError(f"scenario {engine_run.scenario.id} was not delivered through {kind}")
    for name, text in delivery.texts().items():
        evidence.add(SOURCE, f"{name}:\n{text}")
    errors = [f for f in delivery.findings if f.severity == "error"]
    for finding in delivery.findings:
        evidence.add(f"{SOURCE} {finding.severity}", str(finding), finding.stack)
    if errors:
        # The suite wrote these files: an audit error is the suite's mistake, not the engine's.
        raise InfrastructureError(
            f"the {kind} files the suite wrote fail the deployment audit: " + "; ".join(map(str, errors))
        )
    problems = authentication_problems(
        engine_run,
        image_analysis,
        feed_sync,
        evidence,
        "{stack}: no CONNECT {target} authenticated as {user!r} (statuses {statuses}) with the "
        f"{kind} variables",
    )
    problems += unfinished_operations(image_analysis, feed_sync)
    leaked = internal_calls_via_proxy(engine_run, service_calls.wire)
    evidence.add_all("squid", [r.raw for r in leaked], "python")
    failed = [call for call, answer in service_calls.answers.items() if not answer.ok]
    if leaked or failed:
        problems.append(
            "python: calls between services did not stay direct with the no_proxy set this way: "
            + ", ".join(failed + sorted({f"{r.host} via the proxy" for r in leaked}))
        )
    return problems


@pytest.mark.requirement("DEPLOY-1")
@pytest.mark.scenarios("proxy-auth")
def test_variables_set_through_docker_compose_are_used_by_every_service(
    scenario, engine_run, image_analysis, feed_sync, service_calls, evidence
):
    problems = _delivery_problems("compose", engine_run, image_analysis, feed_sync, service_calls, evidence)

    assert not problems, "; ".join(problems)


@pytest.mark.requirement("DEPLOY-2")
@pytest.mark.scenarios("proxy-auth-encoded")
def test_variables_set_through_kubernetes_are_used_by_every_service(
    scenario, engine_run, image_analysis, feed_sync, service_calls, evidence
):
    problems = _delivery_problems(
        "kubernetes", engine_run, image_analysis, feed_sync, service_calls, evidence
    )

    assert not problems, "; ".join(problems)
