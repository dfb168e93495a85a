"""The local images start and do their job, and `ensure_images` builds only what is missing or stale.

These tests build the LOCAL image set (a few seconds) and start containers on a network of their
own (a /24 inside 10.213.200.0/21), reached from the host by address; all removed at the end.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import ipaddress
import random
import shutil
import socket
import tarfile
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import docker.errors
import pytest
import requests
from docker.models.containers import Container
from docker.types import EndpointConfig, IPAMConfig, IPAMPool

from anchore_compliance.errors import ExitCode, SuiteUsageError
from anchore_compliance.fixtures.infra import images
from anchore_compliance.fixtures.infra.backend import (
    ContainerBackend,
    discover_backend,
    reap_orphans,
    run_labels,
)
from anchore_compliance.fixtures.infra.images import ImageSet, ensure_images, image_set

TEST_SUBNETS = ipaddress.IPv4Network("10.213.200.0/21")
SQUID_CONF = """\
http_port 3128
http_access allow all
access_log stdio:/var/log/squid-compliance/access.log
cache_log /var/log/squid-compliance/cache.log
cache_effective_user proxy
pid_filename none
cache deny all
shutdown_lifetime 1 seconds
"""


@dataclasses.dataclass(frozen=True)
class Net:
    name: str
    run_id: str
    labels: dict[str, str]


@dataclasses.dataclass(frozen=True)
class Registry:
    address: str
    alias: str  # unique per run: podman's DNS may keep stale answers for a vanished network


def _wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def backend() -> ContainerBackend:
    return discover_backend()


@pytest.fixture(scope="module")
def client(backend: ContainerBackend) -> Iterator[docker.DockerClient]:
    client = backend.client()
    yield client
    client.close()


@pytest.fixture(scope="module")
def local_images(backend: ContainerBackend) -> ImageSet:
    images = image_set("local")
    ensure_images(backend, images)
    return images


@pytest.fixture(scope="module")
def network(backend: ContainerBackend, client: docker.DockerClient) -> Iterator[Net]:
    """A bridge network with its own /24; the host reaches containers on it by address."""
    run_id = f"test-images-{uuid.uuid4().hex[:8]}"
    labels = run_labels(run_id)
    name = f"ac-{run_id}"
    subnets = list(TEST_SUBNETS.subnets(new_prefix=24))
    random.shuffle(subnets)
    errors = []
    for subnet in subnets:  # other runs may hold some of these: try the next on a clash
        pool = IPAMPool(subnet=str(subnet), gateway=str(subnet.network_address + 1))
        try:
            client.networks.create(name, driver="bridge", ipam=IPAMConfig(pool_configs=[pool]), labels=labels)
            break
        except docker.errors.APIError as exc:
            errors.append(exc.explanation)
    else:
        pytest.fail(f"no free /24 in {TEST_SUBNETS}: {errors[-1]}")
    yield Net(name, run_id, labels)
    reap_orphans(backend, run_id)


def _start(
    client: docker.DockerClient, net: Net, image: str, command: list[str], alias: str, **kwargs: object
) -> tuple[Container, str]:
    """Start a container on `net` under `alias`; return it and its address there."""
    endpoint = EndpointConfig(docker.constants.DEFAULT_DOCKER_API_VERSION, aliases=[alias])
    container = client.containers.run(
        image,
        command,
        detach=True,
        labels=net.labels,
        network=net.name,
        networking_config={net.name: endpoint},
        **kwargs,
    )
    container.reload()
    return container, container.attrs["NetworkSettings"]["Networks"][net.name]["IPAddress"]


def _run(client: docker.DockerClient, net: Net, image: str, command: list[str]) -> tuple[int, str]:
    """Run a command to completion on `net`; return its exit code and output."""
    container, _ = _start(client, net, image, command, alias=f"run-{uuid.uuid4().hex[:6]}")
    try:
        status = container.wait(timeout=60)
        return status["StatusCode"], container.logs().decode()
    finally:
        container.remove(force=True)


def _http_ok(url: str, **kwargs: object) -> bool:
    with requests.Session() as session:
        session.trust_env = False  # the CI machine's proxy and CA variables are not ours
        try:
            return session.get(url, timeout=2, **kwargs).status_code == 200
        except requests.RequestException:
            return False


@pytest.fixture(scope="module")
def registry(client: docker.DockerClient, network: Net, local_images: ImageSet) -> Registry:
    """A registry started the way the public registry:2 image is, on `network`."""
    alias = f"registry-{network.run_id}.images.test"
    command = ["serve", "/etc/docker/registry/config.yml"]
    _, address = _start(client, network, local_images.registry, command, alias=alias)
    _wait_for(lambda: _http_ok(f"http://{address}:5000/v2/"), 10, "the registry")
    return Registry(address, alias)


def test_registry_image_answers_the_v2_api(registry: Registry) -> None:
    with requests.Session() as session:
        session.trust_env = False
        response = session.get(f"http://{registry.address}:5000/v2/", timeout=5)
    assert response.status_code == 200
    assert response.headers["Docker-Distribution-Api-Version"] == "registry/2.0"


def test_squid_image_proxies_a_request_by_name(
    client: docker.DockerClient, network: Net, local_images: ImageSet, registry: Registry, tmp_path: Path
) -> None:
    conf_dir, log_dir = tmp_path / "conf", tmp_path / "log"
    conf_dir.mkdir()
    log_dir.mkdir()
    log_dir.chmod(0o777)  # squid writes as `proxy`
    (conf_dir / "squid.conf").write_text(SQUID_CONF)
    squid, address = _start(
        client,
        network,
        local_images.squid,
        ["-N", "-f", "/etc/squid-compliance/squid.conf"],
        alias="proxy.images.test",
        entrypoint=["/usr/sbin/squid"],
        volumes={
            str(conf_dir): {"bind": "/etc/squid-compliance", "mode": "ro"},
            str(log_dir): {"bind": "/var/log/squid-compliance", "mode": "rw"},
        },
    )

    def listening() -> bool:
        squid.reload()
        if squid.status == "exited":
            pytest.fail(f"squid exited: {squid.logs().decode()[-2000:]}")
        with socket.socket() as probe:
            probe.settimeout(0.5)
            return probe.connect_ex((address, 3128)) == 0

    _wait_for(listening, 10, "squid")
    url = f"http://{registry.alias}:5000/v2/"
    assert _http_ok(url, proxies={"http": f"http://{address}:3128"})
    access_log = log_dir / "access.log"
    _wait_for(lambda: access_log.exists() and url in access_log.read_text(), 5, "the access log line")
    assert "TCP_MISS/200" in access_log.read_text()


def test_python_image_has_ssl_and_resolves_network_aliases(
    client: docker.DockerClient, network: Net, local_images: ImageSet, registry: Registry
) -> None:
    code = (
        "import ssl, json, http.server, sqlite3, hashlib, socket; "
        "ssl.create_default_context(); "
        f"print(socket.gethostbyname({registry.alias!r}))"
    )
    status, output = _run(client, network, local_images.python, ["python3", "-c", code])
    assert (status, output.strip()) == (0, registry.address)


def test_reference_engine_image_has_skopeo_requests_and_the_engine(
    client: docker.DockerClient, network: Net, local_images: ImageSet
) -> None:
    script = (
        "skopeo --version && python3 -c 'import requests; print(\"requests\", requests.__version__)'"
        " && test -x /usr/local/bin/anchore-manager && test -d /home/anchore/certs"
        " && test -f /opt/reference-engine/reference_engine/__init__.py && echo ok"
    )
    status, output = _run(client, network, local_images.reference_engine, ["sh", "-c", script])
    assert status == 0, output
    assert "skopeo version" in output
    assert "requests 2." in output
    assert output.strip().endswith("ok")


def test_reference_engine_skopeo_reaches_the_registry_by_name(
    client: docker.DockerClient, network: Net, local_images: ImageSet, registry: Registry
) -> None:
    # An empty registry answers "manifest unknown": name resolution, policy.json and
    # registries.conf all worked for skopeo to get that far.
    ref = f"docker://{registry.alias}:5000/nothing/here:latest"
    command = ["skopeo", "inspect", "--tls-verify=false", "--retry-times=0", ref]
    status, output = _run(client, network, local_images.reference_engine, command)
    assert status != 0
    assert "manifest unknown" in output


@pytest.fixture
def private_engine_set(client: docker.DockerClient, local_images: ImageSet) -> Iterator[ImageSet]:
    """LOCAL, but with a reference-engine tag of this test's own, removed afterwards."""
    ref = f"{images.LOCAL_PREFIX}reference-engine:test-{uuid.uuid4().hex[:8]}"
    yield dataclasses.replace(local_images, reference_engine=ref)
    with contextlib.suppress(docker.errors.NotFound):  # Podman: "image not known", no ImageNotFound
        client.images.remove(ref)


@pytest.fixture
def engine_copy(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A copy of the reference engine's sources that the build reads instead of the real ones,
    so that edits to the real engine made meanwhile do not count as staleness here."""
    engine = tmp_path / "reference_engine"
    shutil.copytree(images.reference_engine_dir(), engine, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(images, "reference_engine_dir", lambda: engine)
    return engine


def test_second_ensure_builds_nothing(
    backend: ContainerBackend, private_engine_set: ImageSet, engine_copy: Path
) -> None:
    # squid, registry and python were built by the `local_images` fixture already.
    assert ensure_images(backend, private_engine_set) == [private_engine_set.reference_engine]
    assert ensure_images(backend, private_engine_set) == []


def test_stale_content_hash_triggers_a_rebuild(
    backend: ContainerBackend, client: docker.DockerClient, private_engine_set: ImageSet, engine_copy: Path
) -> None:
    # The python image under the engine's tag: present, but its hash is not the engine's.
    repository, tag = private_engine_set.reference_engine.rsplit(":", 1)
    client.images.get(private_engine_set.python).tag(repository, tag)
    assert ensure_images(backend, private_engine_set) == [private_engine_set.reference_engine]
    assert ensure_images(backend, private_engine_set) == []


def test_editing_the_engine_rebuilds_only_its_image(
    backend: ContainerBackend, private_engine_set: ImageSet, engine_copy: Path
) -> None:
    assert ensure_images(backend, private_engine_set) == [private_engine_set.reference_engine]
    (engine_copy / "edited.py").write_text("EDITED = True\n")
    assert ensure_images(backend, private_engine_set) == [private_engine_set.reference_engine]


def test_concurrent_callers_build_an_image_once(
    backend: ContainerBackend, private_engine_set: ImageSet, engine_copy: Path
) -> None:
    built: list[str] = []
    threads = [
        threading.Thread(target=lambda: built.extend(ensure_images(backend, private_engine_set)))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert built == [private_engine_set.reference_engine]


def test_unknown_image_set_is_a_config_error() -> None:
    with pytest.raises(SuiteUsageError, match="unknown image set 'nightly'") as raised:
        image_set("nightly")
    assert raised.value.exit_code == ExitCode.BAD_CONFIG


def test_missing_host_package_names_the_debian_packages(
    backend: ContainerBackend, private_engine_set: ImageSet, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(images, "DIST_PACKAGES", tmp_path)
    with pytest.raises(SuiteUsageError, match=r"apt-get install .*python3-requests") as raised:
        ensure_images(backend, private_engine_set)
    assert raised.value.exit_code == ExitCode.IMAGE_MISSING
    assert str(tmp_path / "requests") in str(raised.value)


def test_a_failing_build_is_one_line_with_the_api_message(
    client: docker.DockerClient, private_engine_set: ImageSet
) -> None:
    recipe = images._Recipe(private_engine_set.reference_engine, "FROM scratch\nRUN true\n", images.Rootfs())
    with pytest.raises(SuiteUsageError, match=r"building .* failed: ") as raised:
        images._ensure(client, recipe, force=True)
    assert raised.value.exit_code == ExitCode.IMAGE_MISSING
    assert "\n" not in str(raised.value)


def test_public_engine_context_holds_what_its_dockerfile_copies() -> None:
    # The public build needs a pull, which this machine cannot do: check its context instead.
    [recipe] = images._recipes(images.PUBLIC_IMAGES)
    with tempfile.TemporaryFile() as context:
        recipe.write_context(context)
        context.seek(0)
        with tarfile.open(fileobj=context) as tar:
            members = {member.name: member for member in tar.getmembers()}
    copied = [line.split()[1:-1] for line in recipe.dockerfile.splitlines() if line.startswith("COPY ")]
    for source in [name for sources in copied for name in sources]:
        assert source in members
    assert members["anchore-manager"].mode & 0o111
    assert "reference_engine/__init__.py" in members
    assert not any("__pycache__" in name for name in members)


def test_waiting_for_the_build_lock_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with open(tmp_path / images.BUILD_LOCK, "a") as held:  # another run's build, as flock sees it
        fcntl.flock(held, fcntl.LOCK_EX)
        with (
            pytest.raises(SuiteUsageError, match="held the image build lock") as raised,
            images._build_lock(timeout=0.3),
        ):
            pass
    assert raised.value.exit_code == ExitCode.IMAGE_MISSING
