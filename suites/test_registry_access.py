"""Registry access (REG-1, REG-2): the engine reaches the registry, by its DNS name.

Registry traffic is made by skopeo, so these checks judge Go's net/http stack. Each check reads
one observation per scenario: the engine adds the test image, then analyses it. An attached
engine analyses the user's image (--attach-image) from a registry whose log the suite cannot read.
"""

from __future__ import annotations

import pytest

from anchore_compliance.fixtures.attached import note_unobserved, predict_from_declared_proxy, registry_url
from anchore_compliance.fixtures.observations import connects_to, engine_proxy_records
from anchore_compliance.fixtures.scenarios import PROXY_HOST, REGISTRY_HOST, REGISTRY_PORT

STACK = "go"
# How long an engine may take to report a registry name that does not resolve.
UNRESOLVABLE_BOUND_SECONDS = 60


def _registry_lines(analysis, clients: set[str]) -> tuple[list, list]:
    repository_path = "/v2/" + analysis.pullstring.split("/", 1)[1].rsplit(":", 1)[0] + "/"
    ours = [r for r in analysis.wire.registry if r.client in clients and r.path.startswith(repository_path)]
    manifests = [r for r in ours if "/manifests/" in r.path and r.method == "GET" and r.status == 200]
    blobs = [r for r in ours if "/blobs/" in r.path and r.method == "GET" and r.status == 200]
    return manifests, blobs


@pytest.mark.requirement("REG-1")
@pytest.mark.scenarios("direct", "proxy", "attached")
def test_engine_pulls_and_analyses_an_image_from_the_registry(scenario, engine_run, image_analysis, evidence):
    analysis = image_analysis
    evidence.add("api", analysis.add.summary(), STACK)
    if analysis.final is not None:
        evidence.add("api", f"analysis_status={analysis.status} after {analysis.seconds} s", STACK)
    clients = engine_run.upstream_clients
    manifests, blobs = _registry_lines(analysis, clients)
    observed = analysis.wire.sees("registry")
    if observed:
        evidence.add_all(
            "registry-log", [r.raw for r in manifests + blobs], STACK, empty="no manifest or blob fetched"
        )
    else:
        note_unobserved(evidence, "registry", STACK, "the pull is judged by the analysis the engine reports")
        predict_from_declared_proxy(engine_run, evidence, STACK, [registry_url(analysis.pullstring)])
    if analysis.expected_digest is None:
        evidence.add("suite", "no expected digest for the user's image: judged that the engine reports one")

    assert analysis.status == "analyzed", (
        f"image {analysis.pullstring} was not analysed: {analysis.status}; "
        f"engine said: {analysis.add.summary()}"
    )
    digest = analysis.record.get("imageDigest")
    if analysis.expected_digest is None:
        assert str(digest or "").startswith("sha256:"), f"the engine reported no image digest: {digest!r}"
    else:
        assert digest == analysis.expected_digest, (
            f"the engine analysed {digest}, not {analysis.expected_digest}"
        )
    if observed:
        assert manifests, f"the registry served no manifest to the engine (clients {sorted(clients)})"
        assert blobs, f"the registry served no blob to the engine (clients {sorted(clients)})"


@pytest.mark.requirement("REG-2")
@pytest.mark.scenarios("direct", "proxy")
def test_engine_reaches_the_registry_by_a_name_only_dns_resolves(
    scenario, engine_run, image_analysis, evidence
):
    analysis = image_analysis
    host = analysis.pullstring.split("/", 1)[0].rsplit(":", 1)[0]
    evidence.add(
        "suite", f"pullstring {analysis.pullstring}: {host} resolves only on the test network", STACK
    )
    evidence.add("api", analysis.add.summary(), STACK)

    if scenario.proxied:
        # Through a proxy the engine needs no DNS of its own: it names the host in CONNECT and
        # the proxy resolves it.
        evidence.add(
            "suite",
            f"the engine has no DNS server, and of the outside names only {PROXY_HOST} in its hosts "
            f"file: it cannot resolve {host} itself",
            STACK,
        )
        named = connects_to(engine_proxy_records(engine_run, analysis.wire), REGISTRY_HOST, REGISTRY_PORT)
        evidence.add_all("squid", [r.raw for r in named], STACK, empty=f"no CONNECT {REGISTRY_HOST}")
        tunnelled = [r for r in named if r.status == 200]
        assert tunnelled, f"the engine never asked the proxy for {REGISTRY_HOST}:{REGISTRY_PORT} by name"
    else:
        manifests, _ = _registry_lines(analysis, engine_run.engine_addresses)
        evidence.add_all("registry-log", [r.raw for r in manifests], STACK, empty="no manifest fetched")
        assert manifests, f"the engine never reached {host}: it could not resolve or connect to it"
    assert analysis.status == "analyzed", f"image {analysis.pullstring} was not analysed: {analysis.status}"


@pytest.mark.requirement("REG-2")
@pytest.mark.scenarios("direct", "attached")
def test_unresolvable_registry_name_fails_clearly_and_quickly(scenario, engine_run, evidence):
    # DNS that cannot answer is the common failure (anchore-engine #122, #338: skopeo lookup
    # time-outs); the engine must say so through its API, within a bounded time.
    answer = engine_run.unresolvable_image_add()
    evidence.add("api", f"{answer.summary()} after {answer.elapsed:.1f} s", STACK)
    codes = answer.body.get("detail", {}).get("error_codes", []) if isinstance(answer.body, dict) else []

    assert answer.status == 400, f"adding an image from an unresolvable registry answered {answer.status}"
    assert codes, "the engine gave no error code for an unresolvable registry"
    assert answer.elapsed < UNRESOLVABLE_BOUND_SECONDS, f"the engine took {answer.elapsed:.0f} s to give up"
