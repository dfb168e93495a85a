"""How each stack reads the proxy variables: the rows of docs/proxy-semantics.md the rules rely on."""

from __future__ import annotations

import pytest

from anchore_compliance.deployment.model import Container, EnvVar
from anchore_compliance.deployment.semantics import (
    effective,
    go_bypasses,
    parse_proxy_url,
    python_bypasses,
    redact_proxy_value,
)


@pytest.mark.parametrize(
    ("no_proxy", "host", "port", "python", "go"),
    [
        pytest.param("feed.test", "feed.test", None, True, True, id="domain-apex"),
        pytest.param("feed.test", "a.feed.test", None, True, True, id="domain-subdomain"),
        pytest.param(".feed.test", "feed.test", None, True, False, id="dot-domain-apex"),
        pytest.param(".feed.test", "a.feed.test", None, True, True, id="dot-domain-subdomain"),
        pytest.param("*.feed.test", "a.feed.test", None, False, True, id="star-dot-domain"),
        pytest.param("eed.test", "feed.test", None, True, False, id="greedy-suffix-requests-2.26"),
        pytest.param("*", "feed.test", None, True, True, id="lone-star"),
        pytest.param("a,*", "feed.test", None, False, True, id="star-in-a-list"),
        pytest.param("feed.test:18443", "feed.test", 18443, True, True, id="port-entry-same-port"),
        pytest.param("feed.test:18443", "feed.test", 443, False, False, id="port-entry-other-port"),
        pytest.param("127.0.0.0/8", "127.0.0.5", None, True, True, id="cidr-literal-ip"),
        pytest.param("10.0.0.0/8", "catalog", None, False, False, id="cidr-host-name"),
        pytest.param("fd00::/8", "fd00::1", None, False, True, id="ipv6-cidr"),
        pytest.param("a, feed.test", "feed.test", None, True, True, id="spaces-after-commas"),
        pytest.param("", "localhost", None, False, True, id="localhost-without-no-proxy"),
        pytest.param("", "127.0.0.1", None, False, True, id="loopback-without-no-proxy"),
        pytest.param("Catalog", "catalog", None, True, True, id="case-insensitive"),
    ],
)
def test_no_proxy_matching_per_stack(
    no_proxy: str, host: str, port: int | None, python: bool, go: bool
) -> None:
    assert python_bypasses(no_proxy, host, port) is python
    assert go_bypasses(no_proxy, host, port) is go


def _container(**env: str) -> Container:
    return Container(
        name="c",
        file="f",
        line=1,
        env_line=1,
        env={name: EnvVar(name, value, "f", i, "envfile") for i, (name, value) in enumerate(env.items())},
    )


def test_python_prefers_lower_case_and_go_upper_case() -> None:
    container = _container(HTTPS_PROXY="http://upper:1", https_proxy="http://lower:1")
    assert effective(container, "https_proxy", "python").value == "http://lower:1"
    assert effective(container, "https_proxy", "go").value == "http://upper:1"


def test_an_empty_lower_case_proxy_hides_the_upper_case_from_python_only() -> None:
    container = _container(HTTPS_PROXY="http://upper:1", https_proxy="")
    assert effective(container, "https_proxy", "python") is None
    assert effective(container, "https_proxy", "go").value == "http://upper:1"


def test_an_empty_lower_case_no_proxy_falls_back_to_upper_case_in_requests() -> None:
    container = _container(NO_PROXY="catalog", no_proxy="")
    assert effective(container, "no_proxy", "python").value == "catalog"


def test_proxy_urls_split_at_the_last_at_sign() -> None:
    url = parse_proxy_url("http://user:p@ss/w#rd@proxy.corp.example:3128")
    assert (url.scheme, url.user, url.password, url.host, url.port) == (
        "http",
        "user",
        "p@ss/w#rd",
        "proxy.corp.example",
        "3128",
    )
    assert parse_proxy_url("[fd00::1]:3128").host == "[fd00::1]"


def test_printed_values_mask_the_password_but_keep_quotes() -> None:
    assert redact_proxy_value('"http://user:p@ss@proxy:3128"', "***") == '"http://user:***@proxy:3128"'
    assert redact_proxy_value("http://token@proxy:3128", "***") == "http://***@proxy:3128"
    assert redact_proxy_value("http://proxy:3128", "***") == "http://proxy:3128"
