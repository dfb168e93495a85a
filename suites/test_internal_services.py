"""Internal services (SVC-1): each engine service reaches the others over the network.

Judged only from API calls whose answer needs one service to call another (apiext -> catalog,
apiext -> policy_engine) and from the analysis pipeline (catalog -> simplequeue -> analyzer ->
catalog). `GET /v1/system`'s "up" comes from database heartbeats, so it proves nothing alone.
Internal calls are made with Python requests, which honours the proxy variables: with a proxy set,
any service host missing from no_proxy sends its calls to the proxy. An attached engine's proxy
log is not the suite's: then only the API answers are judged.
"""

from __future__ import annotations

import pytest

from anchore_compliance.fixtures.attached import (
    note_unobserved,
    predict_from_declared_proxy,
    service_urls,
)
from anchore_compliance.fixtures.observations import internal_calls_via_proxy, service_pairs

STACK = "python"
# The seed counts six services; Anchore Engine 1.x has five (kubernetes_webhook left in 0.x).
SEED_SERVICE_COUNT = 6


@pytest.mark.requirement("SVC-1")
@pytest.mark.scenarios("direct", "proxy", "attached")
def test_every_cross_service_call_succeeds(scenario, engine_run, service_calls, evidence):
    readiness = engine_run.endpoint.readiness
    expected = engine_run.expected_services
    evidence.add(
        "api",
        f"/v1/system listed {len(readiness.services_seen)} of {len(expected)} expected services "
        f"after {readiness.seconds} s: {', '.join(readiness.services_seen) or 'none'} "
        f"(the seed names {SEED_SERVICE_COUNT}; Anchore Engine 1.x has 5)",
        STACK,
    )
    evidence.add("api", f"last GET /v1/system: {readiness.last_answer}", STACK)
    failed = []
    for call, answer in service_calls.answers.items():
        evidence.add("api", f"{call}: {answer.status}", STACK)
        if not answer.ok:
            failed.append(f"{call} answered {answer.status}: {str(answer.body)[:200]}")
    missing = sorted(set(expected) - set(readiness.services_seen))
    if missing:
        failed.append(f"GET /v1/system (apiext -> catalog) does not list {', '.join(missing)}")
    # Any call meant for a service that reached the proxy instead: from the API calls, and from
    # the analysis pipeline (analyzer -> simplequeue, analyzer -> catalog, ...).
    leaked = internal_calls_via_proxy(engine_run, service_calls.wire)
    # The analyzer takes work from simplequeue and reports to catalog: any final state (even a
    # registry failure) proves that pipeline; "timeout" means the job never got through.
    if engine_run.test_image is None:
        evidence.add("suite", "analysis pipeline not exercised: no --attach-image to analyse", STACK)
    else:
        image_analysis = engine_run.image_analysis()
        evidence.add("api", f"image analysis pipeline ended in {image_analysis.status}", STACK)
        if image_analysis.status == "timeout":
            failed.append(
                "the analysis job never left not_analyzed: analyzer, simplequeue and catalog did not connect"
            )
        leaked += internal_calls_via_proxy(engine_run, image_analysis.wire)
    if not service_calls.wire.sees("proxy"):
        note_unobserved(evidence, "proxy", STACK, "internal calls are judged by their answers alone")
        predict_from_declared_proxy(engine_run, evidence, STACK, service_urls(engine_run))
    evidence.add_all("squid", [r.raw for r in leaked], STACK)
    if leaked:
        failed.append(
            "internal calls were sent to the proxy (a proxy in a restricted network cannot reach the "
            f"engine's services): {', '.join(service_pairs(engine_run, leaked))}"
        )

    assert not failed, "; ".join(failed)
