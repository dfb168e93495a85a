"""Feed sync (FEED-1, FEED-2): the engine syncs feed data, from ancho.re:443 only.

Feed traffic is made by Python requests in the policy engine. The public feed service is retired;
a stand-in speaking the legacy feed protocol answers as ancho.re:443 with a private CA that the
engine is given through /home/anchore/certs. An attached engine syncs from its own feed endpoint,
whose log the suite cannot read: FEED-1 then judges the groups the engine itself lists.
"""

from __future__ import annotations

import pytest

from anchore_compliance.fixtures.attached import note_unobserved, predict_from_declared_proxy
from anchore_compliance.fixtures.observations import engine_proxy_records
from anchore_compliance.fixtures.scenarios import FEED_HOST, FEED_PORT

STACK = "python"
# An attached engine's own feed URL is not known: its route is predicted for the documented one.
DOCUMENTED_FEED_URL = f"https://{FEED_HOST}/v1/service/feeds"


@pytest.mark.requirement("FEED-1")
@pytest.mark.scenarios("direct", "proxy", "proxy-auth", "proxy-restricted", "attached")
def test_engine_syncs_every_served_feed_group(scenario, engine_run, feed_sync, evidence):
    evidence.add("api", feed_sync.sync.summary(), STACK)
    evidence.add("suite", f"groups judged: those {feed_sync.groups_source}", STACK)
    last_sync = feed_sync.group_last_sync()
    for (feed, group), stamp in sorted(last_sync.items()):
        evidence.add("api", f"feed {feed} group {group}: last_sync={stamp}", STACK)
    fetched = [r for r in feed_sync.wire.feed if r.client in engine_run.upstream_clients]
    if feed_sync.wire.sees("feed"):
        evidence.add_all(
            "feed-log", [r.raw for r in fetched], STACK, empty="the feed endpoint saw no request"
        )
    else:
        note_unobserved(evidence, "feed", STACK, "the sync is judged by each group's last_sync alone")
        predict_from_declared_proxy(engine_run, evidence, STACK, [DOCUMENTED_FEED_URL])
    failures = [e["event"] for e in _events(feed_sync.events) if e["event"]["type"].endswith("failed")]
    evidence.add_all("api", [f"event {e['type']}: {e.get('details')}" for e in failures], STACK)

    unsynced = sorted(f"{feed}/{group}" for (feed, group), stamp in last_sync.items() if not stamp)
    assert last_sync, f"no feed group to judge: none {feed_sync.groups_source}"
    assert not unsynced, f"groups without last_sync after a sync: {', '.join(unsynced)}"
    if feed_sync.wire.sees("feed"):
        assert fetched, "the feed endpoint saw no request from the engine"


@pytest.mark.requirement("FEED-2")
@pytest.mark.scenarios("proxy", "proxy-auth", "proxy-restricted")
def test_feed_sync_contacts_only_ancho_re_on_port_443(scenario, engine_run, feed_sync, evidence):
    # Judged behind the proxy: the engine has no other way out, so squid sees every destination
    # the sync tried, including ones that failed. Calls to the engine's own services that reach
    # the proxy are SVC-1's concern, not feed endpoints.
    records = [
        r for r in engine_proxy_records(engine_run, feed_sync.wire) if r.host not in engine_run.engine_hosts
    ]
    evidence.add_all("squid", [r.raw for r in records], STACK, empty="the engine sent nothing to the proxy")
    destinations = sorted({f"{r.host}:{r.target_port}" for r in records})
    others = [d for d in destinations if d != f"{FEED_HOST}:{FEED_PORT}"]

    assert records, "the engine sent no feed traffic through the proxy"
    assert not others, f"feed sync contacted more than {FEED_HOST}:{FEED_PORT}: {', '.join(others)}"


def _events(response) -> list[dict]:
    if response.ok and isinstance(response.body, dict):
        return [e for e in response.body.get("results", []) if isinstance(e, dict) and "event" in e]
    return []
