"""In-process tests of the reference engine's parts: faults, proxy handling, skopeo's environment,
pull strings and the legacy feed client."""

from __future__ import annotations

import base64
import os
from typing import Any

import pytest
import requests
from refengine_standins import LegacyFeedStandIn, RecordingProxy
from requests.utils import get_auth_from_url

from reference_engine import config, faults, feeds, imageref, log, proxies, skopeo

pytestmark = pytest.mark.usefixtures("no_faults")


class Events:
    """Collects what the sync emits."""

    def __init__(self) -> None:
        self.emitted: list[dict[str, Any]] = []

    def __call__(self, event_type: str, message: str, **kwargs: Any) -> None:
        self.emitted.append({"type": event_type, "message": message, **kwargs})

    def types(self) -> list[str]:
        return [e["type"] for e in self.emitted]


def _sync(standin: LegacyFeedStandIn, store: feeds.FeedStore | None = None) -> tuple[list, Events]:
    events = Events()
    client = feeds.LegacyFeedClient(standin.url(), retry_pause=0)
    results = feeds.sync(store or feeds.FeedStore(), client, events, "http://127.0.0.1:1/listing.json")
    return results, events


# -- faults and configuration ---------------------------------------------------------------------
def test_unknown_fault_names_are_rejected_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown fault.*no-such-fault.*catalog-unreachable"):
        faults.parse("catalog-unreachable, no-such-fault")
    assert faults.parse(" feeds-ignore-proxy ,,upper-case-only") == {"feeds-ignore-proxy", "upper-case-only"}


def test_every_fault_has_its_documentation() -> None:
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(faults))
    documented = set()
    for node, following in zip(tree.body, tree.body[1:], strict=False):
        if isinstance(node, ast.Assign) and isinstance(following, ast.Expr):
            documented.add(node.value.value if isinstance(node.value, ast.Constant) else None)
    assert set(faults.KNOWN) <= documented


def test_a_misspelt_fault_check_is_a_bug() -> None:
    with pytest.raises(KeyError):
        faults.enabled("catalog-unreachble")


def test_config_requires_the_admin_password_and_a_legacy_provider_on_the_policy_engine() -> None:
    with pytest.raises(config.ConfigError, match="ANCHORE_ADMIN_PASSWORD"):
        config.load({})
    settings = config.load({"ANCHORE_ADMIN_PASSWORD": "x"})
    config.check_services(settings, ["apiext", "catalog"])
    with pytest.raises(config.ConfigError, match=r"'null'.*legacy"):
        config.check_services(settings, ["policy_engine"])
    legacy = config.load({"ANCHORE_ADMIN_PASSWORD": "x", "ANCHORE_VULNERABILITIES_PROVIDER": "legacy"})
    config.check_services(legacy, ["policy_engine"])
    assert legacy.port_for("catalog", alone=True) == 8228
    assert legacy.port_for("catalog", alone=False) == 8082
    assert legacy.feeds_url == "https://ancho.re/v1/service/feeds"


def test_log_lines_never_carry_url_credentials() -> None:
    text = "proxy http://user:F%40oBar%21@proxy.test:3128 and https://u@h/x and ftp://plain/x"
    assert log.redact(text) == "proxy http://***@proxy.test:3128 and https://***@h/x and ftp://plain/x"


# -- pull strings ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "registry", "repo", "tag"),
    [
        ("registry.compliance.test:5000/repo:tag", "registry.compliance.test:5000", "repo", "tag"),
        ("registry.compliance.test:5000/a/b", "registry.compliance.test:5000", "a/b", "latest"),
        ("alpine", "docker.io", "library/alpine", "latest"),
        ("localhost/x:1", "localhost", "x", "1"),
    ],
)
def test_pull_strings_split_like_the_engine(text: str, registry: str, repo: str, tag: str) -> None:
    ref = imageref.parse(text)
    assert (ref.registry, ref.repo, ref.tag) == (registry, repo, tag)


def test_bad_pull_strings_are_refused() -> None:
    for text in ("", "http://x/y", "a b"):
        with pytest.raises(ValueError, match="input string"):
            imageref.parse(text)


# -- skopeo ---------------------------------------------------------------------------------------
PROXY_ENV = {
    "http_proxy": "http://lower:3128",
    "HTTP_PROXY": "http://upper:3128",
    "https_proxy": "http://lower:3128",
    "HTTPS_PROXY": "http://upper:3128",
    "no_proxy": "registry.test",
    "NO_PROXY": "registry.test",
}


@pytest.mark.parametrize(
    ("fault", "kept"),
    [
        (None, set(PROXY_ENV)),
        ("registry-ignores-proxy", set()),
        ("registry-ignores-no-proxy", {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"}),
        ("upper-case-only", {"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY"}),
    ],
)
def test_skopeo_gets_the_whole_environment_unless_a_fault_withholds_part(
    monkeypatch: pytest.MonkeyPatch, fault: str | None, kept: set[str]
) -> None:
    for name, value in PROXY_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SOMETHING_ELSE", "1")
    faults.configure({fault} if fault else set())
    env = skopeo.child_environment()
    assert {name for name in PROXY_ENV if name in env} == kept
    assert env["SOMETHING_ELSE"] == "1"


@pytest.mark.parametrize(
    ("stderr", "code"),
    [
        ("reading manifest nope in r/x: manifest unknown: manifest unknown", "REGISTRY_IMAGE_NOT_FOUND"),
        ("dial tcp 127.0.0.1:1: connect: connection refused", "REGISTRY_NOT_ACCESSIBLE"),
        ("unauthorized: authentication required", "REGISTRY_PERMISSION_DENIED"),
        ("lookup registry.test: no such host", "SKOPEO_UNKNOWN_ERROR"),
    ],
)
def test_skopeo_errors_are_classified_like_the_engine(stderr: str, code: str) -> None:
    assert skopeo.classify(stderr) == code


def test_skopeo_error_text_hides_registry_credentials() -> None:
    err = skopeo.SkopeoError(["skopeo", "inspect", "--creds", "u:secret", "docker://r/x"], 1, "", "boom")
    assert "secret" not in str(err)
    assert "cmd=skopeo inspect --creds *** docker://r/x" in str(err)


# -- proxy handling under the faults --------------------------------------------------------------
def test_undecoded_credentials_fault_keeps_the_password_encoded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("https_proxy", "http://user:F%40oBar%21@proxy.test:3128")
    chosen = proxies.undecoded_credentials("https://ancho.re/v1/service/feeds")
    assert get_auth_from_url(chosen["https"]) == ("user", "F%40oBar%21")
    monkeypatch.setenv("no_proxy", "ancho.re")
    assert proxies.undecoded_credentials("https://ancho.re/v1/service/feeds") == {}


def test_upper_case_only_fault_ignores_lower_case_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("https_proxy", "http://lower:3128")
    assert proxies.upper_case_only("https://ancho.re/") == {"http": None, "https": None, "all": None}
    monkeypatch.setenv("HTTPS_PROXY", "http://upper:3128")
    assert proxies.upper_case_only("https://ancho.re/")["https"] == "http://upper:3128"
    monkeypatch.setenv("NO_PROXY", "ancho.re")
    assert proxies.upper_case_only("https://ancho.re/")["https"] is None


def _feed_paths_through(proxy: RecordingProxy) -> list[str]:
    return [r.url for r in proxy.requests if "/v1/service/feeds" in r.url]


def test_feed_client_uses_requests_proxy_rules(
    monkeypatch: pytest.MonkeyPatch, feed_standin: LegacyFeedStandIn, recording_proxy: RecordingProxy
) -> None:
    monkeypatch.setenv("http_proxy", recording_proxy.url())
    results, _ = _sync(feed_standin)
    assert {r["status"] for r in results} == {"success"}
    assert _feed_paths_through(recording_proxy), "the feed traffic did not use http_proxy"
    recording_proxy.requests.clear()
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")  # upper case alone is honoured by requests
    _sync(feed_standin)
    assert _feed_paths_through(recording_proxy) == []


def test_feeds_ignore_proxy_fault_goes_direct(
    monkeypatch: pytest.MonkeyPatch, feed_standin: LegacyFeedStandIn, recording_proxy: RecordingProxy
) -> None:
    monkeypatch.setenv("http_proxy", recording_proxy.url())
    faults.configure({faults.FEEDS_IGNORE_PROXY})
    results, _ = _sync(feed_standin)
    assert {r["status"] for r in results} == {"success"}
    assert recording_proxy.requests == []


def test_proxy_credentials_fault_sends_encoded_credentials(
    monkeypatch: pytest.MonkeyPatch, feed_standin: LegacyFeedStandIn, recording_proxy: RecordingProxy
) -> None:
    monkeypatch.setenv("http_proxy", recording_proxy.url("user:F%40oBar%21"))
    _sync(feed_standin)
    decoded = {base64.b64decode(r.proxy_authorization.split()[1]).decode() for r in recording_proxy.requests}
    assert decoded == {"user:F@oBar!"}
    recording_proxy.requests.clear()
    faults.configure({faults.PROXY_CREDENTIALS_NOT_DECODED})
    _sync(feed_standin)
    decoded = {base64.b64decode(r.proxy_authorization.split()[1]).decode() for r in recording_proxy.requests}
    assert decoded == {"user:F%40oBar%21"}


def test_second_host_fault_contacts_the_grype_listing(
    monkeypatch: pytest.MonkeyPatch, feed_standin: LegacyFeedStandIn, recording_proxy: RecordingProxy
) -> None:
    monkeypatch.setenv("http_proxy", recording_proxy.url())
    faults.configure({faults.FEEDS_SECOND_HOST})
    results, _ = _sync(feed_standin)
    assert {r["status"] for r in results} == {"success"}, "the second host's failure must not fail a sync"
    assert any("listing.json" in r.url for r in recording_proxy.requests)


# -- the legacy feed protocol ---------------------------------------------------------------------
def test_sync_follows_the_protocol(feed_standin: LegacyFeedStandIn) -> None:
    feed_standin.page_size = 2
    store = feeds.FeedStore()
    results, events = _sync(feed_standin, store)
    base = feed_standin.BASE
    assert f"{base}/packages" not in feed_standin.paths(), "a listed but disabled feed was fetched"
    assert f"{base}/vulnerabilities/debian:12" in feed_standin.paths()
    listing_tokens = [r.query.get("next_token") for r in feed_standin.requests if r.path == base]
    assert listing_tokens == [None, ["2"]]
    assert [r["feed"] for r in results] == ["vulnerabilities", "nvdv2", "github"]
    debian = results[0]["groups"][0]
    assert (debian["group"], debian["status"], debian["total_records"]) == ("debian:12", "success", 1)
    assert events.types()[0] == "system.feeds.sync.started"
    assert events.types()[-1] == "system.feeds.sync.completed"
    assert events.types().count("system.feeds.sync.group_completed") == 3
    groups = {g["name"]: g for f in store.to_api() for g in f["groups"]}
    assert all(g["last_sync"] for g in groups.values())
    assert groups["debian:12"]["record_count"] == 1

    feed_standin.requests.clear()
    _sync(feed_standin, store)
    group_queries = [r.query for r in feed_standin.requests if r.path.endswith("/debian:12")]
    assert group_queries
    assert all("since" in q for q in group_queries)
    groups = {g["name"]: g for f in store.to_api() for g in f["groups"]}
    assert groups["debian:12"]["record_count"] == 1


@pytest.mark.parametrize(("status", "tries"), [(401, 1), (403, 1), (404, 1), (500, 3), (407, 3)])
def test_feed_errors_fail_at_once_or_after_three_tries(
    feed_standin: LegacyFeedStandIn, status: int, tries: int
) -> None:
    feed_standin.overrides[feed_standin.BASE] = (status, "application/json")
    results, events = _sync(feed_standin)
    assert results == []
    assert feed_standin.paths().count(feed_standin.BASE) == tries
    failed = [e for e in events.emitted if e["type"] == "system.feeds.sync.failed"]
    assert str(status) in failed[0]["details"]["cause"]


def test_a_group_must_be_served_as_exactly_application_json(feed_standin: LegacyFeedStandIn) -> None:
    feed_standin.overrides[f"{feed_standin.BASE}/vulnerabilities/debian:12"] = (
        200,
        "application/json; charset=utf-8",
    )
    results, events = _sync(feed_standin)
    assert results[0]["status"] == "failure"
    assert {r["status"] for r in results[1:]} == {"success"}
    group_failed = [e for e in events.emitted if e["type"] == "system.feeds.sync.group_failed"]
    assert "charset" in group_failed[0]["details"]["cause"]
    assert "system.feeds.sync.feed_failed" in events.types()
    assert events.types()[-1] == "system.feeds.sync.failed"


def test_connection_errors_become_the_cause() -> None:
    events = Events()
    client = feeds.LegacyFeedClient("http://127.0.0.1:1/v1/service/feeds", retry_pause=0)
    assert feeds.sync(feeds.FeedStore(), client, events, "http://127.0.0.1:1/x") == []
    cause = events.emitted[-1]["details"]["cause"]
    assert events.emitted[-1]["type"] == "system.feeds.sync.failed"
    assert "refused" in cause.lower()
    with pytest.raises(requests.ConnectionError):
        feeds.http_get("http://127.0.0.1:1/")


def test_custom_cas_are_bundled_and_exported(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    from reference_engine import certs

    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    certs_dir = tmp_path / "certs"
    assert certs.install(certs_dir) is None, "a missing directory adds nothing"
    certs_dir.mkdir()
    (certs_dir / "README").write_text("not a certificate")
    assert certs.install(certs_dir) is None
    pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    (certs_dir / "compliance-ca.pem").write_text(pem)
    system = tmp_path / "system.crt"
    system.write_text("SYSTEM CAS\n")
    bundle = certs.install(certs_dir, system_bundle=system)
    assert bundle is not None
    assert bundle.read_text() == "SYSTEM CAS\n" + pem
    assert os.environ["REQUESTS_CA_BUNDLE"] == str(bundle)
    assert os.environ["SSL_CERT_DIR"] == str(bundle.parent)
