"""Proxy configuration through the environment (NET-1, ENV-1, ENV-2, ENV-3).

The engine sits on a network with no route out; squid, named in the proxy variables, is its only
way to the registry (Go, skopeo) and to the feeds (Python requests). Verdicts come from squid's
access log, per stack: registry traffic in the image-analysis window, feed traffic in the
feed-sync window. squid's listening port tells which variable a client followed (see
fixtures/scenarios.py): https_proxy names port 3128, http_proxy port 3129.
"""

from __future__ import annotations

import pytest

from anchore_compliance.fixtures.observations import (
    compare_with_prediction,
    engine_proxy_records,
    events_of,
    https_connects,
    unfinished_operations,
)
from anchore_compliance.fixtures.scenarios import (
    FEED_HOST,
    HTTP_PROXY_PORT,
    HTTPS_PROXY_PORT,
    PLAIN_REGISTRY_HOST,
    REGISTRY_PORT,
)


def _tunnelled(records, port: int | None = None) -> list:
    return [r for r in records if r.status == 200 and (port is None or r.port == port)]


@pytest.mark.requirement("NET-1")
@pytest.mark.scenarios("proxy")
def test_engine_without_a_route_out_works_through_the_proxy(
    scenario, engine_run, image_analysis, feed_sync, evidence
):
    evidence.add("api", f"image analysis: {image_analysis.status}", "go")
    evidence.add(
        "api", f"feed groups without last_sync: {', '.join(feed_sync.unsynced()) or 'none'}", "python"
    )
    problems = []
    for stack, target, records in https_connects(engine_run, image_analysis, feed_sync, evidence):
        evidence.add_all("squid", [r.raw for r in records], stack, empty=f"no CONNECT {target}")
        if not _tunnelled(records):
            problems.append(f"{stack}: no tunnel to {target} through the proxy")
    problems += unfinished_operations(image_analysis, feed_sync)

    assert not problems, "; ".join(problems)


@pytest.mark.requirement("NET-1")
@pytest.mark.scenarios("isolated")
def test_engine_without_a_proxy_reports_unreachable_registry_and_feeds(
    scenario, engine_run, image_analysis, feed_sync, evidence
):
    # Nothing can succeed here; what is judged is that the engine says so through its API
    # (anchore-engine #771: feed failures reported as "Msg: None" leave users guessing).
    add = image_analysis.add
    codes = add.body.get("detail", {}).get("error_codes", []) if isinstance(add.body, dict) else []
    evidence.add("api", add.summary(), "go")
    failures = [e for e in events_of(feed_sync.events) if e.get("type", "").endswith("failed")]
    causes = [str((e.get("details") or {}).get("cause", "")) for e in failures]
    evidence.add_all(
        "api", [f"event {e['type']}: cause={c}" for e, c in zip(failures, causes, strict=True)], "python"
    )
    problems = []
    if image_analysis.status == "analyzed":
        problems.append("go: the image was analysed although the registry is unreachable")
    elif add.status != 400 or not codes:
        problems.append(f"go: image add did not answer 400 with error codes ({add.status})")
    if not any(causes):
        problems.append("python: no failed feed-sync event carries a cause")

    assert not problems, "; ".join(problems)


@pytest.mark.requirement("ENV-2")
@pytest.mark.scenarios("proxy", "proxy-lower-only", "proxy-upper-only")
def test_https_proxy_carries_https_traffic_of_both_stacks(
    scenario, engine_run, image_analysis, feed_sync, evidence
):
    problems = []
    for stack, target, records in https_connects(engine_run, image_analysis, feed_sync, evidence):
        evidence.add_all("squid", [r.raw for r in records], stack, empty=f"no CONNECT {target}")
        if not _tunnelled(records, HTTPS_PROXY_PORT):
            problems.append(f"{stack} stack did not use https_proxy (port {HTTPS_PROXY_PORT}) for {target}")

    assert not problems, "; ".join(problems)


@pytest.mark.requirement("ENV-2")
@pytest.mark.scenarios("proxy-split-case")
def test_each_stack_follows_its_own_case_when_the_cases_disagree(
    scenario, engine_run, image_analysis, feed_sync, evidence
):
    # Lower case names port 3128, upper case 3129. Python requests prefers lower case and Go
    # prefers upper case (proxy-semantics.md): the same deployment routes feeds and registry
    # through different proxies. That is how the real engine behaves, so it is reported as a
    # finding; the check fails only if a stack uses neither value.
    followed = {}
    for stack, target, records in https_connects(engine_run, image_analysis, feed_sync, evidence):
        evidence.add_all("squid", [r.raw for r in records], stack, empty=f"no CONNECT {target}")
        ports = {r.port for r in _tunnelled(records)}
        followed[stack] = ports
    names = {HTTPS_PROXY_PORT: "https_proxy (lower case)", HTTP_PROXY_PORT: "HTTPS_PROXY (upper case)"}
    summary = ", ".join(
        f"{s} -> {' and '.join(names.get(p, str(p)) for p in sorted(ps)) or 'nothing'}"
        for s, ps in followed.items()
    )
    if followed.get("python") != followed.get("go"):
        evidence.add("finding", f"the stacks route differently when the cases disagree: {summary}", "both")

    assert all(followed.values()), f"a stack used neither proxy variable: {summary}"


@pytest.mark.requirement("ENV-3")
@pytest.mark.scenarios("proxy-http")
def test_http_proxy_carries_plain_http_traffic_of_both_stacks(
    scenario, engine_run, image_analysis, feed_sync, evidence
):
    # The feed URL is http:// and the image sits in a plain-HTTP registry. skopeo tries HTTPS
    # first (through https_proxy) and falls back to plain HTTP for a registry without TLS: that
    # attempt is reported, what is judged is that the plain-HTTP requests went to http_proxy.
    problems = []
    for stack, wire, host, url in (
        ("go", image_analysis.wire, PLAIN_REGISTRY_HOST, f"http://{PLAIN_REGISTRY_HOST}:{REGISTRY_PORT}/v2/"),
        ("python", feed_sync.wire, FEED_HOST, f"http://{FEED_HOST}/v1/service/feeds"),
    ):
        records = [r for r in engine_proxy_records(engine_run, wire) if r.host == host]
        evidence.add_all("squid", [r.raw for r in records], stack, empty=f"no request for {host}")
        compare_with_prediction(engine_run, evidence, stack, url, records)
        plain = [r for r in records if r.method != "CONNECT"]
        attempts = [r for r in records if r.method == "CONNECT"]
        if attempts:
            evidence.add("finding", f"{stack} tried HTTPS to {host} first, through https_proxy", stack)
        if not [r for r in plain if r.port == HTTP_PROXY_PORT and r.status == 200]:
            problems.append(
                f"{stack}: no plain-HTTP request for {host} through http_proxy (port {HTTP_PROXY_PORT})"
            )
        elsewhere = sorted({r.port for r in plain if r.port != HTTP_PROXY_PORT})
        if elsewhere:
            problems.append(f"{stack}: plain-HTTP requests for {host} went to squid port(s) {elsewhere}")
    problems += unfinished_operations(image_analysis, feed_sync)

    assert not problems, "; ".join(problems)


@pytest.mark.requirement("ENV-1")
@pytest.mark.scenarios("proxy-relaunch")
def test_variables_are_read_at_run_time_a_relaunch_changes_the_route(scenario, engine_run, evidence):
    # The same images, relaunched with the engine's state kept, with every variable moved from
    # squid's port 3128 to 3129: each stack's tunnels must follow the variables of the launch
    # they were made in, not those the engine first started with.
    relaunch = engine_run.relaunch()
    problems = []
    for name, launch, port in (
        ("first launch", relaunch.first, HTTPS_PROXY_PORT),
        ("relaunch", relaunch.second, HTTP_PROXY_PORT),
    ):
        evidence.add("suite", f"{name}: every proxy variable names squid port {port}")
        for stack, target, records in https_connects(
            engine_run, launch.image_analysis, launch.feed_sync, evidence, launch.proxy_env
        ):
            evidence.add_all("squid", [r.raw for r in records], stack, empty=f"{name}: no CONNECT {target}")
            ports = sorted({r.port for r in _tunnelled(records)})
            if ports != [port]:
                problems.append(
                    f"{stack}: after the {name} the tunnels to {target} used port(s) "
                    f"{', '.join(map(str, ports)) or 'none'}, not {port}"
                )

    assert not problems, "; ".join(problems)
