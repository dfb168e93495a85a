"""Attach mode end to end: the suite judges a reference engine it did not launch.

The test starts the engine itself, with the project's infrastructure classes, in the direct
topology (the engine on the outside network with registry and feed stand-in), then runs the
suite against its API with --engine-url. The suite gets a container host where nothing answers:
had it tried to start or reap a container, it would end with exit 12 instead of judging.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from anchore_compliance.config import load_profile
from anchore_compliance.fixtures.infra.backend import (
    ContainerBackend,
    configure_testcontainers,
    discover_backend,
)
from anchore_compliance.fixtures.infra.backend import run_labels as labels_of
from anchore_compliance.fixtures.infra.engine import EngineDeployment, EngineEndpoint, plan_environments
from anchore_compliance.fixtures.infra.feed_endpoint import FeedEndpoint
from anchore_compliance.fixtures.infra.images import ensure_images, image_set
from anchore_compliance.fixtures.infra.network import ContainerNetwork, NetworkInfo
from anchore_compliance.fixtures.infra.pki import PrivateCA
from anchore_compliance.fixtures.infra.registry import DistributionRegistry, TestImage
from anchore_compliance.fixtures.scenarios import FEED_HOST, REGISTRY_HOST

ROOT = Path(__file__).resolve().parents[2]
ATTACHABLE = {"SVC-1", "FEED-1", "REG-1", "REG-2"}
NO_CONTAINER_ENGINE = "unix:///nonexistent/attach-mode-needs-no-container-engine.sock"
IMAGES = image_set("local")


def _requirements_with_a_check() -> set[str]:
    """Requirement IDs named by a check's marker in suites/ (the deployment audit names none)."""
    marker = re.compile(r"""@pytest\.mark\.requirement\(["']([A-Z]+-\d+)["']\)""")
    return {rid for path in (ROOT / "suites").glob("test_*.py") for rid in marker.findall(path.read_text())}


@dataclass(frozen=True)
class OutsideServices:
    backend: ContainerBackend
    run_id: str
    workdir: Path
    ca: PrivateCA
    network: NetworkInfo
    registry: DistributionRegistry
    feed: FeedEndpoint
    image: TestImage


@pytest.fixture(scope="module")
def outside_services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OutsideServices]:
    """Registry (with the test image) and feed stand-in, shared by this module's engines."""
    backend = discover_backend()
    configure_testcontainers(backend)
    ensure_images(backend, IMAGES)
    run_id = f"attach-e2e-{uuid.uuid4().hex[:8]}"
    labels = labels_of(run_id)
    workdir = tmp_path_factory.mktemp("attach")
    with contextlib.ExitStack() as stack:
        ca = PrivateCA(workdir / "pki")
        network = stack.enter_context(ContainerNetwork(backend, labels, "attach-outside"))
        registry = stack.enter_context(
            DistributionRegistry(workdir / "registry", network, ca, labels=labels, image=IMAGES.registry)
        )
        feed = stack.enter_context(
            FeedEndpoint(workdir / "feed", network, ca, labels=labels, image=IMAGES.python)
        )
        image = registry.push_test_image("compliance/attached", "1.0")
        yield OutsideServices(backend, run_id, workdir, ca, network, registry, feed, image)


@contextlib.contextmanager
def running_engine(
    services: OutsideServices, *, feeds_url: str, faults: str = ""
) -> Iterator[EngineEndpoint]:
    """The reference engine, launched as a deployment of its own would be: direct, no proxy."""
    env = {"REFERENCE_ENGINE_FAULTS": faults} if faults else {}
    profile = load_profile(
        "reference", {"reference_engine": IMAGES.reference_engine, "python": IMAGES.python}, env
    )
    deployment = EngineDeployment(
        services.backend,
        profile,
        services.network,
        labels=labels_of(services.run_id),
        name_prefix=f"acs-{services.run_id}-{uuid.uuid4().hex[:4]}",
        environments=plan_environments(profile, {"ANCHORE_FEEDS_URL": feeds_url}),
        ca_pem=services.ca.ca_pem,
        ready_timeout=profile.ready_timeout,
        workdir=services.workdir,
        host_entries={
            REGISTRY_HOST: services.registry.address(services.network),
            FEED_HOST: services.feed.address(services.network),
        },
    )
    with deployment as endpoint:
        yield endpoint


@pytest.fixture
def admin_password(monkeypatch: pytest.MonkeyPatch) -> str:
    """One password for the launched engine (its profile reads it) and the attaching suite."""
    password = f"Adm-{secrets.token_hex(8)}"
    monkeypatch.setenv("ANCHORE_COMPLIANCE_ADMIN_PASSWORD", password)
    return password


def _attach(suite_runner, report_dir: Path, endpoint: EngineEndpoint, image: TestImage):
    return suite_runner(
        report_dir,
        "--engine-url", endpoint.api_url,
        "--attach-image", image.pullstring,
        "--container-host", NO_CONTAINER_ENGINE,
    )  # fmt: skip


def test_attached_suite_judges_what_needs_no_relaunch_and_explains_the_rest(
    outside_services, suite_runner, admin_password, tmp_path
):
    with running_engine(outside_services, feeds_url=outside_services.feed.feeds_url()) as endpoint:
        run = _attach(suite_runner, tmp_path / "reports", endpoint, outside_services.image)

    assert run.returncode == 0, run.output[-3000:]
    assert run.with_status("pass") == ATTACHABLE, run.output[-3000:]
    needing_relaunch = _requirements_with_a_check() - ATTACHABLE
    assert run.with_status("not-applicable") == needing_relaunch
    results = run.results
    for requirement in results["requirements"]:
        for test in requirement["tests"]:
            assert test["nodeid"].endswith(f"[{requirement['id']}-attached]"), test["nodeid"]
            if test["status"] == "not-applicable":
                assert "needs the engine relaunched under scenario(s)" in test["reason"], test
    assert results["run"]["mode"] == "attach"
    assert results["run"]["engine"]["engine_url"] == endpoint.api_url
    assert results["run"]["engine"]["reported_version"] == "1.1.0"
    evidence = "\n".join(line for r in results["requirements"] for line in r["evidence"])
    assert "not observed: the registry's log belongs to the attached deployment" in evidence
    assert admin_password not in run.output + (run.report_dir / "results.json").read_text()


def test_each_attached_check_can_fail(outside_services, suite_runner, admin_password, tmp_path):
    # The catalog registers an address nothing listens on (every call that crosses into it
    # fails), and the feed URL names a path the stand-in does not serve (the sync gets nothing).
    broken_feeds = outside_services.feed.feeds_url() + "-missing"
    with running_engine(outside_services, feeds_url=broken_feeds, faults="catalog-unreachable") as endpoint:
        run = _attach(suite_runner, tmp_path / "reports", endpoint, outside_services.image)

    assert run.returncode == 1, run.output[-3000:]
    assert not run.with_status("error"), run.output[-3000:]
    assert run.with_status("fail") == ATTACHABLE, run.output[-3000:]
