"""no_proxy and the form of the proxy values (ENV-4, ENV-6).

no_proxy is a comma list of host names or addresses to reach directly. Calls between the
engine's services and registry access are judged from squid's log (who asked the proxy for what)
and from the registry's log (who reached it directly).
"""

from __future__ import annotations

import pytest

from anchore_compliance.fixtures.observations import (
    engine_proxy_records,
    events_of,
    requests_to,
)
from anchore_compliance.fixtures.scenarios import REGISTRY_HOST


@pytest.mark.requirement("ENV-4")
@pytest.mark.scenarios("proxy")
def test_hosts_in_no_proxy_are_reached_directly(scenario, engine_run, service_calls, evidence):
    # no_proxy lists every engine service host: calls between services never reach squid.
    leaked = [
        r for r in engine_proxy_records(engine_run, service_calls.wire) if r.host in engine_run.engine_hosts
    ]
    evidence.add("suite", f"no_proxy lists {', '.join(engine_run.engine_hosts)}", "python")
    evidence.add_all(
        "squid", [r.raw for r in leaked], "python", empty="no engine host was asked of the proxy"
    )
    failed = [f"{call}: {answer.status}" for call, answer in service_calls.answers.items() if not answer.ok]

    assert not leaked, (
        f"calls to hosts listed in no_proxy went to the proxy: {sorted({r.host for r in leaked})}"
    )
    assert not failed, f"direct calls between services failed: {failed}"


@pytest.mark.requirement("ENV-4")
@pytest.mark.scenarios("no-proxy-registry", "no-proxy-domain")
def test_registry_listed_in_no_proxy_is_reached_directly(scenario, engine_run, image_analysis, evidence):
    # The registry is on the engine's network too; no_proxy names it (among spaces and an
    # address). Registry traffic is Go's: skopeo must connect directly.
    via_proxy = requests_to(engine_proxy_records(engine_run, image_analysis.wire), REGISTRY_HOST)
    direct = [r for r in image_analysis.wire.registry if r.client in engine_run.engine_addresses]
    evidence.add_all("squid", [r.raw for r in via_proxy], "go", empty=f"no request for {REGISTRY_HOST}")
    evidence.add_all("registry-log", [r.raw for r in direct], "go", empty="no direct request from the engine")

    assert not via_proxy, f"registry traffic went to the proxy although no_proxy lists {REGISTRY_HOST}"
    assert direct, "the registry saw no direct request from the engine"
    assert image_analysis.status == "analyzed", f"the image was not analysed: {image_analysis.status}"


@pytest.mark.requirement("ENV-4")
@pytest.mark.scenarios("no-proxy-cidr")
def test_cidr_entries_do_not_match_host_names(scenario, engine_run, service_calls, evidence):
    # no_proxy lists only the engine network's CIDR. Every stack matches CIDRs against literal
    # addresses only, and services call each other by name, so those calls go to the proxy,
    # which cannot reach them: the documented list semantics, and anchore-engine issue #300.
    proxied = [
        r for r in engine_proxy_records(engine_run, service_calls.wire) if r.host in engine_run.engine_hosts
    ]
    evidence.add_all("squid", [r.raw for r in proxied], "python", empty="no internal call reached the proxy")
    evidence.add(
        "finding",
        "with a CIDR-only no_proxy every internal call is sent to the proxy; list service host names instead",
        "python",
    )

    assert proxied, "internal calls by host name bypassed the proxy although no_proxy lists no host name"


@pytest.mark.requirement("ENV-6")
@pytest.mark.scenarios("proxy-quoted")
def test_quoted_values_are_not_used_as_proxy_addresses(
    scenario, engine_run, image_analysis, feed_sync, evidence
):
    # No HTTP stack strips quotes (proxy-semantics.md): https_proxy="http://..." is a malformed
    # address. Following the documentation's rule, such a value must not work; what is judged
    # is that both stacks refuse it visibly instead of quietly routing somewhere.
    registry_tries = engine_proxy_records(engine_run, image_analysis.wire)
    feed_tries = engine_proxy_records(engine_run, feed_sync.wire)
    evidence.add_all(
        "squid", [r.raw for r in registry_tries + feed_tries], "both", empty="squid saw no engine traffic"
    )
    evidence.add("api", image_analysis.add.summary(), "go")
    causes = [
        str((e.get("details") or {}).get("cause", ""))
        for e in events_of(feed_sync.events)
        if e.get("type", "").endswith("failed")
    ]
    evidence.add_all("api", [f"feed sync failure: {c}" for c in causes], "python")
    no_proxy = engine_run.proxy_env.get("no_proxy", "")
    broken = [entry for entry in no_proxy.split(",") if '"' in entry]
    if broken:
        evidence.add(
            "finding",
            f"the quotes also break no_proxy's entries {' and '.join(broken)}: a host in the first "
            "or last place of the list would be sent to the proxy",
            "both",
        )
    problems = []
    if registry_tries or image_analysis.status == "analyzed":
        problems.append("go: the quoted value was used as a proxy address")
    if feed_tries or any(stamp for stamp in feed_sync.group_last_sync().values()):
        problems.append("python: the quoted value was used as a proxy address")
    if image_analysis.add.status != 400:
        problems.append(f"go: image add did not fail visibly ({image_analysis.add.status})")
    if not any(causes):
        problems.append("python: no failed feed-sync event says why")

    assert not problems, "; ".join(problems)
