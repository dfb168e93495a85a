"""Proxy configuration through the environment (NET-1, ENV-2, AUTH-1, AUTH-2).

The engine sits on a network with no route out; squid, named in the proxy variables, is its only
way to the registry (Go, skopeo) and to the feeds (Python requests). Every verdict here comes from
squid's access log, per stack: registry traffic in the image-analysis window, feed traffic in the
feed-sync window.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest

from anchore_compliance.fixtures.observations import connects_to, engine_proxy_records
from anchore_compliance.fixtures.scenarios import FEED_HOST, FEED_PORT, REGISTRY_HOST, REGISTRY_PORT


def _stack_connects(engine_run, image_analysis, feed_sync):
    """(stack, target, CONNECT records from the engine) for each stack's traffic."""
    return [
        (
            "go",
            f"{REGISTRY_HOST}:{REGISTRY_PORT}",
            connects_to(engine_proxy_records(engine_run, image_analysis.wire), REGISTRY_HOST, REGISTRY_PORT),
        ),
        (
            "python",
            f"{FEED_HOST}:{FEED_PORT}",
            connects_to(engine_proxy_records(engine_run, feed_sync.wire), FEED_HOST, FEED_PORT),
        ),
    ]


@pytest.mark.requirement("NET-1")
@pytest.mark.scenarios("proxy")
def test_engine_without_a_route_out_works_through_the_proxy(
    scenario, engine_run, image_analysis, feed_sync, evidence
):
    evidence.add("api", f"image analysis: {image_analysis.status}", "go")
    unsynced = sorted(f"{f}/{g}" for (f, g), stamp in feed_sync.group_last_sync().items() if not stamp)
    evidence.add("api", f"feed groups without last_sync: {', '.join(unsynced) or 'none'}", "python")
    problems = []
    for stack, target, records in _stack_connects(engine_run, image_analysis, feed_sync):
        evidence.add_all("squid", [r.raw for r in records], stack, empty=f"no CONNECT {target}")
        if not any(r.status == 200 for r in records):
            problems.append(f"{stack}: no tunnel to {target} through the proxy")
    if image_analysis.status != "analyzed":
        problems.append(f"go: the image was not analysed ({image_analysis.status})")
    if unsynced:
        problems.append(f"python: groups not synced: {', '.join(unsynced)}")

    assert not problems, "; ".join(problems)


@pytest.mark.requirement("ENV-2")
@pytest.mark.scenarios("proxy")
def test_https_proxy_carries_https_traffic_of_both_stacks(
    scenario, engine_run, image_analysis, feed_sync, evidence
):
    problems = []
    for stack, target, records in _stack_connects(engine_run, image_analysis, feed_sync):
        evidence.add_all("squid", [r.raw for r in records], stack, empty=f"no CONNECT {target}")
        if not any(r.status == 200 for r in records):
            problems.append(f"{stack} stack did not use https_proxy for {target}")

    assert not problems, "; ".join(problems)


def _authenticated_as(records, user: str) -> bool:
    return any(r.status == 200 and r.user == user for r in records)


@pytest.mark.requirement("AUTH-1")
@pytest.mark.scenarios("proxy-auth")
def test_engine_authenticates_to_the_proxy_with_credentials_from_the_url(
    scenario, engine_run, image_analysis, feed_sync, evidence
):
    user = engine_run.proxy_user
    problems = []
    for stack, target, records in _stack_connects(engine_run, image_analysis, feed_sync):
        evidence.add_all("squid", [r.raw for r in records], stack, empty=f"no CONNECT {target}")
        if not _authenticated_as(records, user):
            statuses = sorted({r.status for r in records})
            problems.append(f"{stack}: no CONNECT {target} authenticated as {user!r} (statuses {statuses})")

    assert not problems, "; ".join(problems)


@pytest.mark.requirement("AUTH-2")
@pytest.mark.scenarios("proxy-auth-encoded")
def test_engine_decodes_url_encoded_unsafe_characters_in_the_password(
    scenario, engine_run, image_analysis, feed_sync, evidence
):
    user = engine_run.proxy_user
    unsafe = sorted(c for c in set(engine_run.proxy_password) if quote(c, safe="") != c)
    evidence.add("suite", f"password holds {' '.join(unsafe)}, given percent-encoded in the proxy URL")
    problems = []
    for stack, target, records in _stack_connects(engine_run, image_analysis, feed_sync):
        evidence.add_all("squid", [r.raw for r in records], stack, empty=f"no CONNECT {target}")
        if not _authenticated_as(records, user):
            statuses = sorted({r.status for r in records})
            problems.append(
                f"{stack}: squid never accepted the decoded password for {user!r} on {target} "
                f"(statuses {statuses}; 407 means the credentials it sent were wrong)"
            )

    assert not problems, "; ".join(problems)
