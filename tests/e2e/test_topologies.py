"""Internal services (SVC-1) in both topologies: one container per service, and all in one.

With every service host in no_proxy, the conformant engine passes (the kill matrix runs the whole
suite in both topologies); with one host left out of no_proxy, the calls to it go to the proxy,
which cannot reach the engine's services, and SVC-1 fails naming the calling and the called
service. The no_proxy is the user's: `--engine-env` is applied after the scenario's variables.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class Topology:
    profile: str
    hosts: tuple[str, ...]  # the engine's service hosts (the profile's container names)
    left_out: str  # the host no_proxy leaves out
    pair: str  # a service pair SVC-1 must name


TOPOLOGIES = (
    Topology(
        "reference", ("api", "catalog", "queue", "policy-engine", "analyzer"), "catalog", "apiext -> catalog"
    ),
    # All services share the container's name; only their ports tell them apart.
    Topology("reference-all-in-one", ("engine",), "engine", "-> catalog (engine:8082)"),
)


@pytest.mark.parametrize("topology", TOPOLOGIES, ids=[t.profile for t in TOPOLOGIES])
def test_a_service_host_missing_from_no_proxy_fails_svc1_naming_the_pair(
    topology: Topology, suite_runner, tmp_path: Path
):
    no_proxy = ",".join(["localhost", "127.0.0.1", *(h for h in topology.hosts if h != topology.left_out)])
    run = suite_runner(
        tmp_path / "reports",
        "--engine-profile", topology.profile,
        "-k", "SVC-1-proxy",
        "--engine-env", f"no_proxy={no_proxy}",
        "--engine-env", f"NO_PROXY={no_proxy}",
    )  # fmt: skip
    assert run.statuses().get("SVC-1") == "fail", run.output[-3000:]
    [svc] = [r for r in run.results["requirements"] if r["id"] == "SVC-1"]
    assert topology.pair in svc["reason"], svc["reason"]
    assert run.returncode == 1, run.output[-3000:]
