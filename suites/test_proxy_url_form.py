"""The form of the proxy variables' values (ENV-5): {PROTOCOL}://{IP or HOSTNAME}:{PORT}.

Every documented form must carry both stacks' traffic: a host name, an IP address, and the
seed's own example, an `https://` URL, which means TLS to the proxy itself (squid's https_port,
with a certificate of the run's private CA, which the engine trusts like any custom CA). Two
common values outside the form are judged by what they do: no scheme (every stack assumes
http://), and `https://` aimed at a proxy port that speaks plain HTTP (every stack fails the TLS
handshake). Either may work or fail; a failure must show through the engine's API.
"""

from __future__ import annotations

import pytest

from anchore_compliance.fixtures.observations import https_connects, unfinished_operations
from anchore_compliance.fixtures.stack_outcomes import stack_outcomes, works_or_fails_visibly
from anchore_compliance.redaction import REDACTOR


def _form_of(engine_run) -> str:
    value = engine_run.proxy_env.get("https_proxy") or engine_run.proxy_env.get("HTTPS_PROXY", "")
    return REDACTOR.redact(value)


@pytest.mark.requirement("ENV-5")
@pytest.mark.scenarios("proxy", "proxy-by-address", "proxy-tls")
def test_proxy_url_in_the_documented_form_carries_both_stacks(
    scenario, engine_run, image_analysis, feed_sync, evidence
):
    port = scenario.https_proxy_port
    evidence.add("suite", f"https_proxy={_form_of(engine_run)}")
    problems = []
    for stack, target, records in https_connects(engine_run, image_analysis, feed_sync, evidence):
        evidence.add_all("squid", [r.raw for r in records], stack, empty=f"no CONNECT {target}")
        if not any(r.status == 200 and r.port == port for r in records):
            problems.append(f"{stack}: no tunnel to {target} through the proxy's port {port}")
    problems += unfinished_operations(image_analysis, feed_sync)

    assert not problems, "; ".join(problems)


@pytest.mark.requirement("ENV-5")
@pytest.mark.scenarios("proxy-scheme-less", "proxy-tls-to-plain")
def test_a_value_outside_the_documented_form_works_or_fails_visibly(
    scenario, engine_run, image_analysis, feed_sync, evidence
):
    evidence.add("suite", f"https_proxy={_form_of(engine_run)}: not in the documented form")
    problems = works_or_fails_visibly(stack_outcomes(engine_run, image_analysis, feed_sync), evidence)

    assert not problems, "; ".join(problems)
