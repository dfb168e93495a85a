"""The real squid, registry and feed endpoint on an outside + internal network pair.

A client container on the internal network stands in for the engine: it reaches the registry
and `ancho.re` only through squid, and the evidence each service logs shows it. Everything
carries this module's run labels and is removed at the end.
"""

from __future__ import annotations

import contextlib
import json
import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker.errors
import pytest

from anchore_compliance.errors import InfrastructureError
from anchore_compliance.fixtures.infra import network as network_module
from anchore_compliance.fixtures.infra import squid as squid_module
from anchore_compliance.fixtures.infra.backend import (
    LABEL_RUN,
    ContainerBackend,
    configure_testcontainers,
    discover_backend,
    retry_network_race,
    run_labels,
)
from anchore_compliance.fixtures.infra.feed_endpoint import FEED_ALIAS, FeedEndpoint
from anchore_compliance.fixtures.infra.images import ensure_images, image_set
from anchore_compliance.fixtures.infra.network import ContainerNetwork, NetworkedContainer, NetworkInfo
from anchore_compliance.fixtures.infra.pki import PrivateCA
from anchore_compliance.fixtures.infra.registry import REGISTRY_ALIAS, DistributionRegistry, TestImage
from anchore_compliance.fixtures.infra.squid import (
    SQUID_ALIAS,
    SQUID_HOST_NUMBER,
    ProxyMode,
    ProxyUser,
    SquidProxy,
)

IMAGES = image_set("local")
CLIENT_ALIAS = "client.compliance.test"
CLIENT_HOST_NUMBER = 20
USER = ProxyUser("compliance", "F@o:B/r#1%!")
# Runs inside the client container: fetch each URL, optionally through a proxy, trusting the CA.
CLIENT_SCRIPT = r"""
import json, ssl, sys, urllib.error, urllib.request
results = []
for job in json.loads(sys.argv[1]):
    proxies = {"http": job["proxy"], "https": job["proxy"]} if job.get("proxy") else {}
    context = ssl.create_default_context(cafile="/certs/ca.crt")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler(proxies),
                                         urllib.request.HTTPSHandler(context=context))
    request = urllib.request.Request(job["url"], headers={"User-Agent": "infra-test-client"})
    try:
        with opener.open(request, timeout=30) as response:
            response.read()  # to the end, so squid logs a complete transaction
            results.append({"status": response.status, "content_type": response.headers["Content-Type"]})
    except urllib.error.HTTPError as err:
        results.append({"status": err.code})
    except Exception as err:
        results.append({"error": f"{type(err).__name__}: {err}"})
print(json.dumps(results))
"""

# Runs inside the client container: A records straight from the network's DNS server.
DNS_SCRIPT = r"""
import json, random, socket, struct, sys, time
def ask(name):
    query = struct.pack(">HHHHHH", random.randrange(65536), 0x0100, 1, 0, 0, 0)
    query += b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0\0\1\0\1"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.5)
        sock.sendto(query, (sys.argv[1], 53))
        reply = sock.recv(512)
    if reply[3] & 0xF or not struct.unpack(">H", reply[6:8])[0]:
        return None
    return socket.inet_ntoa(reply[-4:])
answers = {}
for name in ("proxy.compliance.test", "client.compliance.test", "registry.compliance.test"):
    deadline = time.monotonic() + 30
    while True:
        try:
            answers[name] = ask(name)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
print(json.dumps(answers))
"""


@dataclass(frozen=True)
class Topology:
    backend: ContainerBackend
    run_id: str
    outside: NetworkInfo
    internal: NetworkInfo
    registry: DistributionRegistry
    feed: FeedEndpoint
    client: NetworkedContainer
    image: TestImage
    workdir: Path

    @property
    def client_address(self) -> str:
        return self.internal.host(CLIENT_HOST_NUMBER)

    def fetch(self, url: str, proxy: str | None = None) -> dict[str, Any]:
        """One request from the client container."""
        (result,) = self.fetch_all([(url, proxy)])
        return result

    def fetch_all(self, jobs: list[tuple[str, str | None]]) -> list[dict[str, Any]]:
        payload = json.dumps([{"url": url, "proxy": proxy} for url, proxy in jobs])
        result = self.client.exec(["python3", "-c", CLIENT_SCRIPT, payload])
        assert result.exit_code == 0, result.output.decode()
        return json.loads(result.output.decode().strip().splitlines()[-1])


def _container_backend() -> ContainerBackend:
    backend = discover_backend()
    configure_testcontainers(backend)
    client = backend.client()
    try:
        for ref in (IMAGES.squid, IMAGES.registry, IMAGES.python):
            try:
                client.images.get(ref)
            except docker.errors.ImageNotFound:
                ensure_images(backend, IMAGES)
                break
    finally:
        client.close()
    return backend


@contextlib.contextmanager
def _stack(backend: ContainerBackend, workdir: Path, run_id: str) -> Iterator[Topology]:
    labels = run_labels(run_id)
    with contextlib.ExitStack() as stack:
        outside = stack.enter_context(ContainerNetwork(backend, labels, "infra-outside"))
        internal = stack.enter_context(ContainerNetwork(backend, labels, "infra-internal", internal=True))
        ca = PrivateCA(workdir / "pki")
        registry = DistributionRegistry(
            workdir / "registry", outside, ca, labels=labels, image=IMAGES.registry
        )
        stack.enter_context(registry)
        feed = stack.enter_context(
            FeedEndpoint(workdir / "feed", outside, ca, labels=labels, image=IMAGES.python)
        )
        client = (
            NetworkedContainer(IMAGES.python, labels=labels)
            .with_endpoint(internal, internal.host(CLIENT_HOST_NUMBER), [CLIENT_ALIAS])
            # As an engine container should: the proxy by a fixed address, not via the network DNS.
            .with_host_entry(SQUID_ALIAS, internal.host(SQUID_HOST_NUMBER))
            .with_volume_mapping(ca.ca_pem.parent, "/certs", "ro")
            .with_kwargs(entrypoint=["python3"])
            .with_command(["-m", "http.server", "8000"])  # also a target only the internal DNS knows
        )
        stack.enter_context(client)
        image = registry.push_test_image("compliance/infra", "v1")
        yield Topology(backend, run_id, outside, internal, registry, feed, client, image, workdir)


@pytest.fixture(scope="module")
def topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    backend = _container_backend()
    with _stack(backend, tmp_path_factory.mktemp("topology"), f"infra-test-{uuid.uuid4().hex[:8]}") as topo:
        yield topo


# One squid at a time: every one takes host number 12 and the alias proxy.compliance.test.
@contextlib.contextmanager
def _squid(topology: Topology, mode: ProxyMode, **kwargs: Any) -> Iterator[SquidProxy]:
    workdir = topology.workdir / f"squid-{uuid.uuid4().hex[:6]}"
    with SquidProxy(
        workdir,
        [topology.outside, topology.internal],
        labels=run_labels(topology.run_id),
        mode=mode,
        user=USER if mode & ProxyMode.AUTH else None,
        image=IMAGES.squid,
        hosts={
            REGISTRY_ALIAS: topology.registry.address(topology.outside),
            FEED_ALIAS: topology.feed.address(topology.outside),
        },
        **kwargs,
    ) as proxy:
        yield proxy


@pytest.fixture
def open_squid(topology: Topology) -> Iterator[SquidProxy]:
    with _squid(topology, ProxyMode.OPEN) as proxy:
        yield proxy


@pytest.fixture
def auth_squid(topology: Topology) -> Iterator[SquidProxy]:
    with _squid(topology, ProxyMode.AUTH) as proxy:
        yield proxy


@pytest.fixture
def restricted_squid(topology: Topology) -> Iterator[SquidProxy]:
    with _squid(topology, ProxyMode.RESTRICTED) as proxy:
        yield proxy


def _registry_v2(topology: Topology) -> str:
    return "https://registry.compliance.test:5000/v2/"


# networks


def test_services_get_their_static_addresses_and_aliases(topology: Topology, open_squid: SquidProxy) -> None:
    client = topology.backend.client()
    try:
        networks = client.containers.get(open_squid.get_container_id()).attrs["NetworkSettings"]["Networks"]
    finally:
        client.close()
    for network in (topology.outside, topology.internal):
        assert networks[network.name]["IPAddress"] == network.host(12)
        assert "proxy.compliance.test" in networks[network.name]["Aliases"]
    assert topology.registry.address(topology.outside) == topology.outside.host(10)
    assert topology.feed.address(topology.outside) == topology.outside.host(11)
    assert topology.outside.subnet != topology.internal.subnet
    assert topology.outside.subnet.subnet_of(network_module.SUBNET_POOL)


def test_internal_client_cannot_reach_the_outside_directly(topology: Topology) -> None:
    by_name, by_address = topology.fetch_all(
        [(_registry_v2(topology), None), (f"{topology.registry.base_url()}/v2/", None)]
    )
    assert "error" in by_name  # no name resolution for outside names
    assert "error" in by_address  # and no route
    assert topology.registry.requests_log() == []


def test_aliases_resolve_through_the_network_dns(topology: Topology, open_squid: SquidProxy) -> None:
    # Asks the internal network's DNS itself (no /etc/hosts), retrying for a while:
    # aardvark-dns 1.4 drops queries while it reloads after containers come and go.
    answers = json.loads(
        topology.client.exec(["python3", "-c", DNS_SCRIPT, topology.internal.gateway]).output
    )
    assert answers[SQUID_ALIAS] == topology.internal.host(SQUID_HOST_NUMBER)
    assert answers[CLIENT_ALIAS] == topology.client_address
    assert answers[REGISTRY_ALIAS] is None  # outside names do not exist on the internal network


def test_a_network_creation_clash_is_retried(
    topology: Topology, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    taken = iter([topology.outside.subnet])
    real_choice = random.choice
    # Pretend another worker took the first pick between listing and creating.
    monkeypatch.setattr(ContainerNetwork, "_used_subnets", lambda self, client: set())
    monkeypatch.setattr(network_module.random, "choice", lambda seq: next(taken, None) or real_choice(seq))
    with ContainerNetwork(topology.backend, run_labels(topology.run_id), "infra-clash") as info:
        assert info.subnet != topology.outside.subnet


# squid


def test_client_reaches_the_registry_only_through_squid(topology: Topology, open_squid: SquidProxy) -> None:
    squid_mark, registry_mark = open_squid.log_position(), topology.registry.log_position()
    result = topology.fetch(_registry_v2(topology), open_squid.proxy_url(topology.internal))
    assert result["status"] == 200
    open_squid.barrier()
    topology.registry.barrier()
    (record,) = open_squid.records(squid_mark)
    assert (record.method, record.host, record.target_port) == ("CONNECT", "registry.compliance.test", 5000)
    assert (record.client, record.squid_result, record.status) == (topology.client_address, "TCP_TUNNEL", 200)
    assert record.server == topology.registry.address(topology.outside)
    (request,) = topology.registry.requests_log(registry_mark)
    assert (request.client, request.method, request.path) == (
        open_squid.address(topology.outside),
        "GET",
        "/v2/",
    )
    assert request.user_agent == "infra-test-client"


def test_squid_refuses_names_it_does_not_serve(topology: Topology, open_squid: SquidProxy) -> None:
    # A proxy in a restricted network cannot reach the engine's own hosts: refused at once,
    # before any DNS, and logged on the port the client used.
    mark = open_squid.log_position()
    via_second_port = open_squid.proxy_url(topology.internal, port=3129)
    assert topology.fetch(f"http://{CLIENT_ALIAS}:8000/", via_second_port)["status"] == 403
    open_squid.barrier()
    (record,) = open_squid.records(mark)
    assert (record.port, record.host, record.squid_result) == (3129, CLIENT_ALIAS, "TCP_DENIED")


def test_barrier_records_stay_out_of_the_records(open_squid: SquidProxy) -> None:
    mark = open_squid.log_position()
    open_squid.barrier()
    open_squid.barrier()
    assert open_squid.log_position() > mark
    assert open_squid.records(mark) == []


def test_auth_mode_logs_the_user_and_answers_407_without_credentials(
    topology: Topology, auth_squid: SquidProxy
) -> None:
    mark = auth_squid.log_position()
    with_user, without = topology.fetch_all(
        [
            (_registry_v2(topology), auth_squid.proxy_url(topology.internal, USER)),
            (_registry_v2(topology), auth_squid.proxy_url(topology.internal)),
        ]
    )
    assert with_user["status"] == 200
    assert "407" in without["error"]
    auth_squid.barrier()
    tunnel, refused = sorted(auth_squid.records(mark), key=lambda r: r.status)
    assert (tunnel.user, tunnel.squid_result) == (USER.name, "TCP_TUNNEL")
    assert (refused.user, refused.status, refused.squid_result) == (None, 407, "TCP_DENIED")


def test_proxy_url_percent_encodes_the_password_and_points_at_the_alias(auth_squid: SquidProxy) -> None:
    url = auth_squid.proxy_url(auth_squid._probe_network, USER)
    assert url == "http://compliance:F%40o%3AB%2Fr%231%25%21@proxy.compliance.test:3128"
    raw = auth_squid.proxy_url(auth_squid._probe_network, USER, encode=False)
    assert raw == f"http://compliance:{USER.password}@proxy.compliance.test:3128"


def test_restricted_mode_allows_only_connect_to_the_feed(
    topology: Topology, restricted_squid: SquidProxy
) -> None:
    mark = restricted_squid.log_position()
    proxy = restricted_squid.proxy_url(topology.internal)
    feed, registry, plain = topology.fetch_all(
        [
            (topology.feed.feeds_url(), proxy),
            (_registry_v2(topology), proxy),
            (topology.feed.feeds_url("http"), proxy),
        ]
    )
    assert (feed["status"], feed["content_type"]) == (200, "application/json")
    assert "403" in registry["error"]
    assert plain["status"] == 403
    restricted_squid.barrier()
    records = {(r.method, r.host, r.target_port): r for r in restricted_squid.records(mark)}
    assert records["CONNECT", "ancho.re", 443].squid_result == "TCP_TUNNEL"
    assert records["CONNECT", "registry.compliance.test", 5000].squid_result == "TCP_DENIED"
    assert records["GET", "ancho.re", 80].squid_result == "TCP_DENIED"


def test_auth_and_restricted_combine(topology: Topology) -> None:
    with _squid(topology, ProxyMode.AUTH | ProxyMode.RESTRICTED) as proxy:
        mark = proxy.log_position()
        url = proxy.proxy_url(topology.internal, USER)
        feed, registry = topology.fetch_all([(topology.feed.feeds_url(), url), (_registry_v2(topology), url)])
        assert feed["status"] == 200
        assert "403" in registry["error"]
        proxy.barrier()
        assert {(r.user, r.status) for r in proxy.records(mark)} == {(USER.name, 200), (USER.name, 403)}


def test_squid_that_cannot_start_reports_its_cache_log_and_is_removed(
    topology: Topology, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(squid_module, "render_config", lambda *a, **k: "http_access allow no_such_acl\n")
    with pytest.raises(InfrastructureError, match="no_such_acl") as caught, _squid(topology, ProxyMode.OPEN):
        pass
    assert USER.password not in str(caught.value)
    client = topology.backend.client()
    try:
        selector = {"label": f"{LABEL_RUN}={topology.run_id}"}
        squids = retry_network_race(lambda: client.containers.list(all=True, filters=selector))
        assert all(c.image.tags != [IMAGES.squid] for c in squids)
    finally:
        client.close()


# feed endpoint and registry


def test_feed_answers_through_squid_with_the_ca_trusted(topology: Topology, open_squid: SquidProxy) -> None:
    mark = topology.feed.log_position()
    proxy = open_squid.proxy_url(topology.internal)
    over_tls, plain = topology.fetch_all(
        [(topology.feed.feeds_url() + "/vulnerabilities", proxy), (topology.feed.feeds_url("http"), proxy)]
    )
    assert (over_tls["status"], over_tls["content_type"]) == (200, "application/json")
    assert plain["status"] == 200
    topology.feed.barrier()
    tls_request, plain_request = topology.feed.requests_log(mark)
    squid_address = open_squid.address(topology.outside)
    assert (tls_request.client, tls_request.port, tls_request.path) == (
        squid_address,
        443,
        "/v1/service/feeds/vulnerabilities",
    )
    assert (plain_request.client, plain_request.port, plain_request.host) == (squid_address, 80, "ancho.re")


def test_suite_requests_are_left_out_unless_asked_for(topology: Topology) -> None:
    mark = topology.registry.log_position()
    topology.registry.push_test_image("compliance/infra", "suite-only")
    topology.registry.barrier()
    assert topology.registry.requests_log(mark) == []
    own = topology.registry.requests_log(mark, include_suite=True)
    assert {r.client for r in own} == {topology.outside.gateway}
    assert own[-1].method == "PUT"


def test_test_images_differ_by_name_and_are_pullable_by_digest(
    topology: Topology, open_squid: SquidProxy
) -> None:
    other = topology.registry.push_test_image("compliance/infra", "v2")
    assert other.digest != topology.image.digest
    assert topology.image.pullstring == "registry.compliance.test:5000/compliance/infra:v1"
    by_digest = f"https://registry.compliance.test:5000/v2/compliance/infra/manifests/{topology.image.digest}"
    assert topology.fetch(by_digest, open_squid.proxy_url(topology.internal))["status"] == 200


# teardown


def test_teardown_leaves_no_container_or_network(tmp_path: Path) -> None:
    backend = _container_backend()
    run_id = f"infra-teardown-{uuid.uuid4().hex[:8]}"
    started = time.monotonic()
    with _stack(backend, tmp_path, run_id) as topo, _squid(topo, ProxyMode.AUTH):
        pass
    assert time.monotonic() - started < 60
    client = backend.client()
    try:
        selector = {"label": f"{LABEL_RUN}={run_id}"}
        assert retry_network_race(lambda: client.containers.list(all=True, filters=selector)) == []
        assert retry_network_race(lambda: client.networks.list(filters=selector)) == []
    finally:
        client.close()
