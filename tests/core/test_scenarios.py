"""Scenarios are data: the proxy values each one writes, and how they reach the engine's containers."""

from __future__ import annotations

from pathlib import Path

import pytest

from anchore_compliance.config import load_profile
from anchore_compliance.fixtures.delivery import PROXY_SECRET, deliver
from anchore_compliance.fixtures.infra.engine import plan_environments
from anchore_compliance.fixtures.scenarios import SCENARIOS, ProxyAccess
from anchore_compliance.redaction import Redactor

PROXY = ProxyAccess(address="10.213.5.12", user="compliance", password="p@ss:w/rd#1%", wrong_password="nope")
HOSTS = ("api", "catalog")
IMAGES = {"reference_engine": "localhost/engine:test", "python": "localhost/python:test"}


def _env(scenario_id: str, *, relaunched: bool = False, hosts: tuple[str, ...] = HOSTS) -> dict[str, str]:
    return SCENARIOS[scenario_id].proxy_environment(
        PROXY, hosts, engine_subnet="10.213.5.0/24", registry_address="10.213.5.10", relaunched=relaunched
    )


# scenario id, the https_proxy value it writes
FORMS = [
    ("proxy", "http://proxy.compliance.test:3128"),
    ("proxy-by-address", "http://10.213.5.12:3128"),
    ("proxy-tls", "https://proxy.compliance.test:3130"),
    ("proxy-scheme-less", "proxy.compliance.test:3128"),
    ("proxy-tls-to-plain", "https://proxy.compliance.test:3128"),
    ("proxy-auth-encoded", "http://compliance:p%40ss%3Aw%2Frd%231%25@proxy.compliance.test:3128"),
    ("proxy-auth-raw-unsafe", "http://compliance:p@ss:w/rd#1%@proxy.compliance.test:3128"),
    ("proxy-auth-wrong", "http://compliance:nope@proxy.compliance.test:3128"),
    ("proxy-auth-missing", "http://proxy.compliance.test:3128"),
    ("proxy-quoted", '"http://proxy.compliance.test:3128"'),
]


@pytest.mark.parametrize(("scenario_id", "https_proxy"), FORMS, ids=[f[0] for f in FORMS])
def test_each_scenario_writes_its_proxy_value(scenario_id: str, https_proxy: str):
    env = _env(scenario_id)
    assert env["https_proxy"] == https_proxy
    assert env["HTTPS_PROXY"] == https_proxy


def test_the_seed_example_keeps_http_proxy_plain():
    assert _env("proxy-tls")["http_proxy"] == "http://proxy.compliance.test:3129"


def test_a_relaunch_moves_every_variable_to_the_second_port():
    env = _env("proxy-relaunch", relaunched=True)
    assert {env[k] for k in ("https_proxy", "http_proxy", "HTTPS_PROXY", "HTTP_PROXY")} == {
        "http://proxy.compliance.test:3129"
    }


def test_quotes_leave_the_service_hosts_inside_no_proxy():
    entries = _env("proxy-quoted")["no_proxy"].strip('"').split(",")
    assert entries[0] == "localhost" and entries[-1] == "127.0.0.1"  # noqa: PT018
    assert set(HOSTS) <= set(entries[1:-1])


def test_unproxied_scenarios_set_no_variable():
    assert _env("direct") == {}
    assert _env("isolated") == {}


def test_engine_env_overrides_win_over_the_scenario():
    profile = load_profile("reference", IMAGES, {})
    planned = plan_environments(profile, {"no_proxy": "a,b"}, {"no_proxy": "mine"})
    assert {env["no_proxy"] for env in planned.values()} == {"mine"}


@pytest.mark.parametrize("kind", ["compose", "kubernetes"])
def test_delivered_files_resolve_to_the_planned_environments(kind: str, tmp_path: Path):
    profile = load_profile("reference", IMAGES, {})
    planned = plan_environments(profile, _env("proxy-auth-encoded", hosts=profile.engine_hosts))
    delivery = deliver(kind, profile, planned, tmp_path)
    # Kubernetes adds the variables its $(VAR) expansion reads: PROXY_USER, PROXY_PASSWORD.
    resolved = {name: {k: env[k] for k in planned[name]} for name, env in delivery.environments.items()}
    assert resolved == planned
    assert not [f for f in delivery.findings if f.severity == "error"], delivery.findings


def test_kubernetes_delivery_keeps_the_password_in_a_secret(tmp_path: Path):
    profile = load_profile("reference", IMAGES, {})
    delivery = deliver(
        "kubernetes", profile, plan_environments(profile, _env("proxy-auth-encoded")), tmp_path
    )
    text = delivery.texts()["kubernetes.yaml"]
    assert f"name: {PROXY_SECRET}" in text
    assert "$(PROXY_PASSWORD)" in text
    assert "p%40ss" not in text  # only base64 in the Secret


def test_fragments_of_a_random_password_are_masked_when_asked():
    redactor = Redactor()
    redactor.add_secret("Pw@a1b2c3d4!#:%/", user="compliance", fragments=True)
    redactor.add_secret("compliance-admin")
    text = redactor.redact("Failed to parse: a1b2c3d4!#:%/@proxy for user compliance")
    assert "a1b2c3d4" not in text
    assert "compliance" in text  # a password without fragments= masks only itself
