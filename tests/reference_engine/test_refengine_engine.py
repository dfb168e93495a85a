"""The reference engine as a process: readiness, feed sync, quiet failures, faults, start-up errors.

Each test runs the all-in-one engine (`service start --all`) on loopback with free ports, a temp
state directory and a controlled environment, under Debian's python3 where it has requests (the
engine image's interpreter and requests 2.28).
"""

from __future__ import annotations

import base64
import subprocess
import time
from collections.abc import Callable

import pytest
from refengine_standins import (
    ADMIN_PASSWORD,
    SERVICES,
    EngineProcess,
    LegacyFeedStandIn,
    RecordingProxy,
    engine_python,
    free_ports,
    wait_until,
)

EngineFactory = Callable[..., EngineProcess]


def _events(engine: EngineProcess, event_type: str) -> list[dict]:
    response = engine.api("GET", "/v1/events", params={"event_type": event_type})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["item_count"] == len(body["results"])
    assert body["next_page"] is False
    return [r["event"] for r in body["results"]]


def test_ready_lists_five_available_services(engine_factory: EngineFactory) -> None:
    engine = engine_factory()
    seconds = engine.wait_ready()
    print(f"startup to ready: {seconds:.2f} s")
    states = engine.api("GET", "/v1/system").json()["service_states"]
    assert sorted(s["servicename"] for s in states) == sorted(SERVICES)
    for state in states:
        assert set(state) == {
            "servicename",
            "hostid",
            "base_url",
            "version",
            "status",
            "status_message",
            "service_detail",
        }
        assert state["base_url"].startswith("http://127.0.0.1:")
        assert (state["status"], state["status_message"]) == (True, "available")
    services = engine.api("GET", "/v1/system/services")
    assert services.status_code == 200
    assert sorted(s["servicename"] for s in services.json()) == sorted(SERVICES)


def test_local_endpoints_need_no_login_and_the_rest_answers_401_in_plain_text(
    engine_factory: EngineFactory,
) -> None:
    engine = engine_factory()
    engine.wait_ready()
    health = engine.api("GET", "/health", auth=None)
    assert (health.status_code, health.text) == (200, "ok")
    version = engine.api("GET", "/version", auth=None).json()
    assert version == {
        "service": {"version": "1.1.0"},
        "api": {"version": "0.1.16"},
        "db": {"schema_version": "0.0.15"},
    }
    assert engine.api("GET", "/v1/status", auth=None).json()["available"] is True
    for auth in (None, ("admin", "wrong")):
        denied = engine.api("GET", "/v1/system", auth=auth)
        assert (denied.status_code, denied.text) == (401, "Unauthorized")
        assert denied.headers["Content-Type"].startswith("text/plain")
    api_url = engine.api_url
    for name in SERVICES:
        engine.api_url = f"http://127.0.0.1:{engine.env[f'ANCHORE_{name.upper()}_PORT']}"
        response = engine.api("GET", "/health", auth=None)
        assert (response.status_code, response.text) == (200, "ok"), name
    engine.api_url = api_url


def test_feed_sync_sets_last_sync_and_emits_events(
    feed_standin: LegacyFeedStandIn, engine_factory: EngineFactory
) -> None:
    engine = engine_factory(feed_standin.url())
    engine.wait_ready()
    assert engine.api("GET", "/v1/system/feeds").json() == []
    started = time.monotonic()
    sync = engine.api("POST", "/v1/system/feeds")
    print(f"feed sync: {time.monotonic() - started:.2f} s")
    assert sync.status_code == 200, sync.text
    assert [r["feed"] for r in sync.json()] == ["vulnerabilities", "nvdv2", "github"]
    for result in sync.json():
        assert result["status"] == "success"
        assert {"group", "status", "total_records"} <= set(result["groups"][0])
    feeds = {f["name"]: f for f in engine.api("GET", "/v1/system/feeds").json()}
    assert feeds["packages"]["enabled"] is False
    groups = {g["name"]: g for name in ("vulnerabilities", "nvdv2", "github") for g in feeds[name]["groups"]}
    assert set(groups) == {"debian:12", "nvdv2:cves", "github:python"}
    assert all(g["last_sync"] for g in groups.values())
    assert groups["debian:12"]["record_count"] == 1
    types = [e["type"] for e in _events(engine, "system.feeds.*")]
    assert types[0] == "system.feeds.sync.completed"  # newest first
    assert types.count("system.feeds.sync.group_completed") == 3
    assert types.count("system.feeds.sync.feed_completed") == 3
    assert types[-1] == "system.feeds.sync.started"
    assert all(e["source"]["servicename"] == "policy_engine" for e in _events(engine, "system.feeds"))

    engine.api("POST", "/v1/system/feeds")
    later = [r for r in feed_standin.requests if r.path.endswith("/debian:12")][-1]
    assert "since" in later.query


def test_a_failing_feed_url_still_answers_200_and_reports_the_cause(engine_factory: EngineFactory) -> None:
    (closed,) = free_ports(1)
    engine = engine_factory(f"http://127.0.0.1:{closed}/v1/service/feeds")
    engine.wait_ready()
    sync = engine.api("POST", "/v1/system/feeds")
    assert sync.status_code == 200, sync.text
    assert sync.json() == []
    failed = _events(engine, "system.feeds.sync.failed")
    assert failed
    assert "refused" in failed[0]["details"]["cause"].lower()
    assert failed[0]["level"] == "ERROR"
    assert all(
        g["last_sync"] is None for f in engine.api("GET", "/v1/system/feeds").json() for g in f["groups"]
    )


def test_catalog_unreachable_gives_the_engines_quiet_and_loud_failures(engine_factory: EngineFactory) -> None:
    engine = engine_factory(faults="catalog-unreachable")
    engine.wait_healthy()
    system = engine.api("GET", "/v1/system")
    assert (system.status_code, system.json()) == (200, {"service_states": []})
    services = engine.api("GET", "/v1/system/services")
    assert services.status_code == 500
    body = services.json()
    assert body["httpcode"] == 500
    assert body["message"] == "failed get url=http://127.0.0.1:1/v1/system/services"
    assert body["detail"] == {"error_codes": []}
    images = engine.api("GET", "/v1/images")
    assert images.status_code == 500
    assert images.json()["message"].startswith("failed get url=http://127.0.0.1:1/v1/")
    assert engine.api("GET", "/health", auth=None).status_code == 200
    assert engine.api("GET", "/version", auth=None).status_code == 200


def test_adding_an_image_from_an_unreachable_registry_answers_400_at_once(
    engine_factory: EngineFactory,
) -> None:
    engine = engine_factory()
    engine.wait_ready()
    (closed,) = free_ports(1)
    pullstring = f"127.0.0.1:{closed}/compliance/tiny:1"
    started = time.monotonic()
    response = engine.api("POST", "/v1/images", json={"source": {"tag": {"pullstring": pullstring}}})
    assert time.monotonic() - started < 30
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["message"] == "cannot fetch image digest/manifest from registry"
    assert body["detail"]["error_codes"] == ["REGISTRY_NOT_ACCESSIBLE"]
    assert "connection refused" in body["detail"]["raw_exception_message"]
    legacy = engine.api("POST", "/v1/images", json={"tag": pullstring})
    assert legacy.status_code == 400
    lookups = _events(engine, "system.image_analysis.registry_lookup_failed")
    assert len(lookups) == 2
    assert lookups[0]["resource"]["id"] == pullstring
    assert engine.api("GET", "/v1/images").json() == []


def test_internal_calls_follow_requests_proxy_rules(
    feed_standin: LegacyFeedStandIn, recording_proxy: RecordingProxy, engine_factory: EngineFactory
) -> None:
    """no_proxy=127.0.0.1 keeps service calls direct while the feed (named localhost) is proxied;
    the internal-ignores-no-proxy fault sends the service calls to the proxy as well."""
    proxy_env = {"http_proxy": recording_proxy.url(), "no_proxy": "127.0.0.1"}
    engine = engine_factory(feed_standin.url("localhost"), extra_env=proxy_env)
    engine.wait_ready()
    assert engine.api("POST", "/v1/system/feeds").status_code == 200
    proxied = [r.url for r in recording_proxy.requests]
    assert proxied, "the feed sync did not use http_proxy"
    assert all(url.startswith(f"http://localhost:{feed_standin.port}/") for url in proxied)
    engine.stop()

    recording_proxy.requests.clear()
    faulty = engine_factory(
        feed_standin.url("localhost"), faults="internal-ignores-no-proxy", extra_env=proxy_env
    )
    faulty.wait_ready()
    assert faulty.api("POST", "/v1/system/feeds").status_code == 200
    internal = [r.url for r in recording_proxy.requests if r.url.startswith("http://127.0.0.1:")]
    assert any("/v1/feeds" in url for url in internal), recording_proxy.requests
    assert any("/v1/system/services" in url for url in internal)


@pytest.mark.parametrize(
    ("env_change", "args", "message"),
    [
        ({"REFERENCE_ENGINE_FAULTS": "catalog-unreachable,no-such-fault"}, (), "unknown fault(s)"),
        ({"ANCHORE_ADMIN_PASSWORD": ""}, (), "ANCHORE_ADMIN_PASSWORD is required"),
        ({"ANCHORE_VULNERABILITIES_PROVIDER": ""}, (), "ANCHORE_VULNERABILITIES_PROVIDER='null'"),
        ({"ANCHORE_VULNERABILITIES_PROVIDER": "grype"}, (), "ANCHORE_VULNERABILITIES_PROVIDER='grype'"),
        ({}, ("service", "start", "kubernetes_webhook"), "unknown service(s) kubernetes_webhook"),
    ],
)
def test_bad_configuration_ends_the_process_with_one_line(
    tmp_path, env_change: dict[str, str], args: tuple[str, ...], message: str
) -> None:
    engine = EngineProcess(tmp_path, "http://127.0.0.1:1/v1/service/feeds", extra_env=env_change)
    engine.env = {k: v for k, v in engine.env.items() if v != ""}
    done = subprocess.run(
        [engine_python(), "-m", "reference_engine", *(args or ("service", "start", "--all"))],
        env=engine.env,
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2
    lines = done.stderr.decode().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("anchore-manager: error: ")
    assert message in lines[0]


def test_one_service_alone_listens_on_the_service_port(engine_factory: EngineFactory, tmp_path) -> None:
    """`service start catalog` listens on ANCHORE_SERVICE_PORT and registers its own row only."""
    (port,) = free_ports(1)
    engine = engine_factory(extra_env={"ANCHORE_SERVICE_PORT": str(port)})
    engine.stop()
    alone = EngineProcess(
        tmp_path / "alone", "http://127.0.0.1:1/", extra_env={"ANCHORE_SERVICE_PORT": str(port)}
    )
    alone.start(("service", "start", "catalog"))
    try:
        alone.api_url = f"http://127.0.0.1:{port}"
        alone.wait_healthy()
        rows = wait_until(
            lambda: list((alone.workdir / "state" / "services").glob("*.json")), 10, "the catalog's row"
        )
        assert [r.name for r in rows] == ["catalog__anchore-quickstart.json"]
        listed = alone.api("GET", "/v1/system/services", auth=("_system", "wrong"))
        assert listed.status_code == 401
        assert alone.api("GET", "/v1/system/services", auth=("admin", ADMIN_PASSWORD)).status_code == 200
    finally:
        alone.stop()


def test_registry_validation_pings_https_and_answers_406(engine_factory: EngineFactory) -> None:
    engine = engine_factory()
    engine.wait_ready()
    (closed,) = free_ports(1)
    record = {"registry": f"127.0.0.1:{closed}", "registry_user": "u", "registry_pass": "p"}
    refused = engine.api("POST", "/v1/registries", params={"validate": "true"}, json=record)
    assert refused.status_code == 406, refused.text
    assert refused.json()["message"].startswith("cannot ping supplied registry with supplied credentials")
    assert f"https://127.0.0.1:{closed}/v2/" in refused.json()["message"]
    stored = engine.api("POST", "/v1/registries", params={"validate": "false"}, json=record)
    assert stored.status_code == 200
    assert stored.json()[0]["registry_pass"] == "*****"
    assert [r["registry"] for r in engine.api("GET", "/v1/registries").json()] == [record["registry"]]


def test_periodic_sync_runs_without_an_api_call(
    feed_standin: LegacyFeedStandIn, engine_factory: EngineFactory
) -> None:
    engine = engine_factory(feed_standin.url(), extra_env={"ANCHORE_FEED_SYNC_INTERVAL_SEC": "1"})
    engine.wait_ready()

    def synced() -> bool:
        groups = [g for f in engine.api("GET", "/v1/system/feeds").json() for g in f["groups"]]
        return bool(groups) and all(g["last_sync"] for g in groups)

    wait_until(synced, 20, "a periodic sync")


def test_one_container_per_service_finds_the_others_through_the_state_dir(
    tmp_path, feed_standin: LegacyFeedStandIn
) -> None:
    """Five processes, one service each, sharing only the state directory (the compose layout)."""
    ports = dict(zip(SERVICES, free_ports(len(SERVICES)), strict=True))
    processes = []
    try:
        for name in SERVICES:
            process = EngineProcess(
                tmp_path / name,
                feed_standin.url(),
                extra_env={
                    "ANCHORE_SERVICE_PORT": str(ports[name]),
                    "ANCHORE_REFERENCE_STATE_DIR": str(tmp_path / "shared-state"),
                },
            )
            processes.append(process.start(("service", "start", name)))
        api = processes[0]
        api.api_url = f"http://127.0.0.1:{ports['apiext']}"
        api.wait_ready()
        sync = api.api("POST", "/v1/system/feeds")
        assert sync.status_code == 200
        assert {r["status"] for r in sync.json()} == {"success"}
        assert _events(api, "system.feeds.sync.completed")
    finally:
        for process in processes:
            process.stop()


def test_proxy_credentials_never_reach_the_log(
    feed_standin: LegacyFeedStandIn, recording_proxy: RecordingProxy, engine_factory: EngineFactory
) -> None:
    proxy = recording_proxy.url("user:S3cret%21")
    engine = engine_factory(
        feed_standin.url("localhost"), extra_env={"http_proxy": proxy, "no_proxy": "127.0.0.1"}
    )
    engine.wait_ready()
    assert engine.api("POST", "/v1/system/feeds").status_code == 200
    assert recording_proxy.requests
    engine.stop()
    assert "user:S3cret" not in engine.log()
    assert "http://***@127.0.0.1" in engine.log()


@pytest.mark.parametrize(
    ("fault", "proxied", "credentials"),
    [
        ("", True, "user:F@oBar!"),
        ("feeds-ignore-proxy", False, None),
        ("proxy-credentials-not-decoded", True, "user:F%40oBar%21"),
        ("upper-case-only", False, None),  # only the lower-case http_proxy is set
        ("feeds-second-host", True, "user:F@oBar!"),
    ],
)
def test_feed_faults_under_the_engines_own_requests(
    feed_standin: LegacyFeedStandIn,
    recording_proxy: RecordingProxy,
    engine_factory: EngineFactory,
    fault: str,
    proxied: bool,
    credentials: str | None,
) -> None:
    """The feed-side faults, run by the engine process (Debian's requests 2.28 where present)."""
    (closed,) = free_ports(1)
    env = {
        "http_proxy": recording_proxy.url("user:F%40oBar%21"),
        "no_proxy": "127.0.0.1",
        "ANCHORE_GRYPE_DB_URL": f"http://localhost:{closed}/grype/databases/listing.json",
    }
    engine = engine_factory(feed_standin.url("localhost"), faults=fault, extra_env=env)
    engine.wait_ready()
    sync = engine.api("POST", "/v1/system/feeds")
    assert sync.status_code == 200
    assert {r["status"] for r in sync.json()} == {"success"}
    feed_requests = [r for r in recording_proxy.requests if "/v1/service/feeds" in r.url]
    assert bool(feed_requests) is proxied
    if credentials:
        sent = {base64.b64decode(r.proxy_authorization.split()[1]).decode() for r in feed_requests}
        assert sent == {credentials}
    second_host = [r for r in recording_proxy.requests if "listing.json" in r.url]
    assert bool(second_host) is (fault == "feeds-second-host")
