"""The pytest plugin: options, configuration, collection rules and report wiring.

Registered through the `pytest11` entry point, so it loads wherever `pytest` runs. It is the
composition root: it reads the user's settings once, hands them to the fixtures through the
config stash, and registers the result writers on the controller (never on xdist workers).
"""

from __future__ import annotations

import secrets
import time
import uuid
from pathlib import Path

import pytest

from anchore_compliance import attach
from anchore_compliance.catalog import load_catalog
from anchore_compliance.config import (
    BUILTIN_PROFILES,
    SuiteSettings,
    env_default,
    load_profile,
    parse_env_assignments,
    positive_float,
)
from anchore_compliance.errors import ExitCode, SuiteUsageError
from anchore_compliance.redaction import REDACTOR
from anchore_compliance.reporting import engine_readiness, run_results
from anchore_compliance.reporting.certification import (
    load_declaration,
)
from anchore_compliance.reporting.collector import ResultCollector
from anchore_compliance.reporting.run_results import now, write_results
from anchore_compliance.state import (
    ATTACH_KEY,
    COLLECTOR_KEY,
    DECLARATION_KEY,
    RUN_KEY,
    SETTINGS_KEY,
    is_worker,
)

pytest_plugins = [
    "anchore_compliance.reporting.item_properties",
    "anchore_compliance.fixtures.evidence",
    "anchore_compliance.fixtures.engine_fixtures",
]

PROXY_USER = "compliance"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("anchore-compliance", "Anchore Engine network compliance")
    group.addoption(
        "--engine-profile",
        default=None,
        help=f"engine profile: a built-in name ({', '.join(BUILTIN_PROFILES)}) or a YAML file "
        "[env ANCHORE_COMPLIANCE_ENGINE_PROFILE; default reference]",
    )
    group.addoption(
        "--engine-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra environment for every engine container, applied last (repeatable)",
    )
    group.addoption(
        "--image-set",
        default=None,
        choices=("public", "local"),
        help="public images (pulled by your container engine) or local equivalents built from "
        "Debian packages [env ANCHORE_COMPLIANCE_IMAGE_SET; default public]",
    )
    group.addoption(
        "--container-host",
        default=None,
        help="Docker API of the container engine, e.g. unix:///run/podman/podman.sock "
        "[env ANCHORE_COMPLIANCE_CONTAINER_HOST; default: DOCKER_HOST, then the usual sockets]",
    )
    group.addoption(
        "--ready-timeout",
        default=None,
        help="seconds to wait for the engine to become ready [default: the profile's]",
    )
    group.addoption(
        "--requirement",
        action="append",
        default=[],
        metavar="ID",
        help="run only the checks of this requirement ID (repeatable)",
    )
    group.addoption(
        "--report-dir",
        default=None,
        help="where results.json, junit.xml and report.html go [env ANCHORE_COMPLIANCE_REPORT_DIR; "
        "default reports]",
    )
    group.addoption(
        "--certification",
        action="store_true",
        default=False,
        help="certification run: any skip, not-covered or error makes it fail (exit 16); writes a "
        "submission bundle under the report directory (docs/certification.md)",
    )
    group.addoption(
        "--vendor-declaration",
        type=Path,
        default=None,
        metavar="FILE",
        help="YAML with product, version and vendor, as the vendor declares them (needed by --certification)",
    )
    group.addoption(
        "--deployment",
        action="append",
        default=[],
        type=Path,
        metavar="PATH",
        help="audit a deployment file or folder (compose, Kubernetes, env file); repeatable. "
        "With only this, no container starts.",
    )
    attach.add_options(group)


def _exit(error: SuiteUsageError) -> None:
    pytest.exit(str(error), returncode=int(error.exit_code))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """xdist: one scenario's checks share one worker, or its engine would start on several."""
    if config.option.dist in ("load", "loadgroup", "loadscope"):
        from anchore_compliance.scheduling import ScenarioScheduling

        return ScenarioScheduling(config, log)
    return None


def _resolve_settings(config: pytest.Config, run_id: str) -> SuiteSettings:
    from anchore_compliance.fixtures.infra.images import image_set

    image_set_name = config.getoption("image_set") or env_default("IMAGE_SET", "public")
    images = image_set(image_set_name)
    engine_env = parse_env_assignments(config.getoption("engine_env"), "--engine-env")
    profile_name = config.getoption("engine_profile") or env_default("ENGINE_PROFILE", "reference")
    profile = load_profile(
        profile_name,
        {"reference_engine": images.reference_engine, "python": images.python},
        engine_env,
    )
    timeout_option = config.getoption("ready_timeout")
    ready_timeout = (
        positive_float(timeout_option, "--ready-timeout") if timeout_option else profile.ready_timeout
    )
    report_dir = Path(config.getoption("report_dir") or env_default("REPORT_DIR", "reports"))
    return SuiteSettings(
        profile=profile,
        image_set=image_set_name,
        container_host=config.getoption("container_host") or env_default("CONTAINER_HOST"),
        report_dir=report_dir if report_dir.is_absolute() else Path(config.invocation_params.dir, report_dir),
        ready_timeout=ready_timeout,
        run_id=run_id,
        engine_env=engine_env,
    )


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    # Registered here, not only in pyproject.toml, so checks run from any directory.
    config.addinivalue_line("markers", "requirement(id): the catalog requirement this check judges")
    config.addinivalue_line("markers", "scenarios(*names): the proxy scenarios a check runs in")
    if is_worker(config):
        run = dict(config.workerinput["anchore_compliance_run"])
    else:
        run = {
            "run_id": uuid.uuid4().hex[:10],
            # Per-run secrets for the authenticating proxy, one per kind of password a scenario
            # uses (fixtures/scenarios.py PASSWORDS): letters and digits; the seed's example
            # shape ('@' and '!' only); every character that must be percent-encoded (AUTH-2).
            # ANCHORE_COMPLIANCE_PROXY_PASSWORD fixes the last, so a test can look for it in
            # every output. And one the proxy never accepts.
            "proxy_user": PROXY_USER,
            "proxy_passwords": {
                "plain": f"pw{secrets.token_hex(8)}",
                "seed-like": f"F@o{secrets.token_hex(4)}!",
                "unsafe": env_default("PROXY_PASSWORD") or f"Pw@{secrets.token_hex(4)}!#:%/",
            },
            "proxy_password_wrong": f"wrong{secrets.token_hex(6)}",
            "started": now(),
            "monotonic_start": time.monotonic(),
        }
    for password in (*run["proxy_passwords"].values(), run["proxy_password_wrong"]):
        # Fragments too: a raw password in a URL that does not parse leaks in pieces.
        REDACTOR.add_secret(password, user=run["proxy_user"], fragments=True)
    config.stash[RUN_KEY] = run
    try:
        catalog = load_catalog()
        unknown = [rid for rid in config.getoption("requirement") if rid not in catalog]
        if unknown:
            catalog.get(unknown[0])  # raises the one-line error
        settings = _resolve_settings(config, run["run_id"])
        attached = attach.resolve(config, settings.profile)
        if config.getoption("certification"):
            if attached is not None:
                # Most checks relaunch the engine under a scenario; attached, they cannot run, and
                # a verdict resting on the few that can would overstate what was judged.
                raise SuiteUsageError(
                    "--certification cannot attach (--engine-url): certification judges every "
                    "requirement, and most need the suite to launch the engine under its scenarios"
                )
            path = config.getoption("vendor_declaration")
            if path is None:
                raise SuiteUsageError(
                    "--certification needs --vendor-declaration FILE (docs/certification.md)"
                )
            config.stash[DECLARATION_KEY] = load_declaration(Path(config.invocation_params.dir, path))
        if config.getoption("deployment"):
            from anchore_compliance.deployment import DEPLOYMENTS_KEY, load_deployments

            config.stash[DEPLOYMENTS_KEY] = load_deployments(config.getoption("deployment"))
    except SuiteUsageError as error:
        _exit(error)
        return
    config.stash[SETTINGS_KEY] = settings
    if attached is not None:
        config.stash[ATTACH_KEY] = attached
    # Registered here rather than through pytest_plugins: this module imports them already.
    config.pluginmanager.register(run_results, "anchore-compliance-run-results")
    config.pluginmanager.register(engine_readiness, "anchore-compliance-engine-readiness")

    if is_worker(config):
        return
    # Reports go to the report directory unless the user chose other paths.
    settings.report_dir.mkdir(parents=True, exist_ok=True)
    if not getattr(config.option, "xmlpath", None):
        config.option.xmlpath = str(settings.report_dir / "junit.xml")
    if hasattr(config.option, "htmlpath") and not config.option.htmlpath:
        config.option.htmlpath = str(settings.report_dir / "report.html")
        config.option.self_contained_html = True
    collector = ResultCollector()
    config.stash[COLLECTOR_KEY] = collector
    config.pluginmanager.register(collector, "anchore-compliance-results")
    config.pluginmanager.register(
        engine_readiness.EngineReadiness(), "anchore-compliance-engine-readiness-outcome"
    )
    if config.pluginmanager.hasplugin("html"):
        from anchore_compliance.reporting import html

        config.pluginmanager.register(html, "anchore-compliance-html")


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    """xdist: every worker shares the controller's run id and proxy secret."""
    node.workerinput["anchore_compliance_run"] = node.config.stash[RUN_KEY]


def deployment_only(config: pytest.Config) -> bool:
    return bool(config.getoption("deployment"))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "scenario" not in metafunc.fixturenames:
        return
    from anchore_compliance.fixtures.attached import scenario_params

    marker = metafunc.definition.get_closest_marker("scenarios")
    if marker is None or not marker.args:
        raise pytest.UsageError(
            f"{metafunc.definition.nodeid}: a check using 'scenario' needs @scenarios(...)"
        )
    requirement = metafunc.definition.get_closest_marker("requirement")
    prefix = f"{requirement.args[0]}-" if requirement and requirement.args else ""
    try:
        params = scenario_params(marker.args, prefix, attach_mode=ATTACH_KEY in metafunc.config.stash)
    except SuiteUsageError as error:
        raise pytest.UsageError(f"{metafunc.definition.nodeid}: {error}") from None
    metafunc.parametrize("scenario", params, indirect=True, scope="session")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    catalog = load_catalog()
    selected_ids = set(config.getoption("requirement"))
    keep, drop = [], []
    for item in items:
        marker = item.get_closest_marker("requirement")
        if marker is None:
            keep.append(item)
            continue
        if not marker.args or marker.args[0] not in catalog:
            named = marker.args[0] if marker.args else "(none)"
            pytest.exit(
                f"{item.nodeid}: unknown requirement ID {named!r} in @requirement; "
                f"the catalog has {', '.join(catalog.ids())}",
                returncode=int(ExitCode.UNKNOWN_REQUIREMENT),
            )
        scenario = getattr(getattr(item, "callspec", None), "params", {}).get("scenario")
        if (selected_ids and marker.args[0] not in selected_ids) or (scenario and deployment_only(config)):
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def _prepare_containers(config: pytest.Config) -> None:
    """Controller, once: find the container engine, reap orphans, make sure images exist.

    Runs only when the collected checks need containers, so a deployment audit or a run of other
    tests never touches a container engine. Failing here ends the run with one line.
    """
    run = config.stash[RUN_KEY]
    if run.get("containers_prepared"):
        return
    run["containers_prepared"] = True
    from anchore_compliance.fixtures.infra.backend import discover_backend, reap_orphans
    from anchore_compliance.fixtures.infra.images import ensure_images, image_set

    settings = config.stash[SETTINGS_KEY]
    try:
        backend = discover_backend(settings.container_host)
        run["backend"] = backend.describe()
        # A killed earlier run may have left containers, networks and temp dirs behind.
        reap_orphans(backend)
        ensure_images(backend, image_set(settings.image_set), profile=settings.profile)
    except SuiteUsageError as error:
        run["error"] = str(error)
        write_results(config)
        _exit(error)


def _reach_attached_engine(config: pytest.Config) -> None:
    """Controller, once, in attach mode: the engine answers and takes the credentials.

    Instead of preparing containers: nothing is launched. Failing here ends the run with one line.
    """
    run = config.stash[RUN_KEY]
    if run.get("engine_probed"):
        return
    run["engine_probed"] = True
    try:
        attach.probe(config.stash[ATTACH_KEY])
    except SuiteUsageError as error:
        run["error"] = str(error)
        write_results(config)
        _exit(error)


def _prepare_for_checks(config: pytest.Config) -> None:
    if ATTACH_KEY in config.stash:
        _reach_attached_engine(config)
    else:
        _prepare_containers(config)


def _uses_scenarios(item: pytest.Item) -> bool:
    return "scenario" in getattr(item, "fixturenames", ())


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    config = session.config
    if is_worker(config) or config.option.collectonly:
        return
    if any(_uses_scenarios(item) for item in session.items):
        _prepare_for_checks(config)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node, ids: list[str]) -> None:
    """xdist: the controller collects nothing itself; it learns the checks from each worker."""
    from anchore_compliance.scheduling import scenario_of_nodeid

    if not node.config.option.collectonly and any(scenario_of_nodeid(nodeid) for nodeid in ids):
        _prepare_for_checks(node.config)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Whatever ended the run, remove what this process created (see remove_own_leftovers)."""
    from anchore_compliance.fixtures.infra.backend import active_backend, remove_own_leftovers

    run = config.stash.get(RUN_KEY, None)
    backend = active_backend()
    if run is not None and backend is not None:
        remove_own_leftovers(backend, run["run_id"])
