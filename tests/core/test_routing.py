"""Decision-level predictions: docs/proxy-semantics.md's tables, row by row, for both stacks.

Each row: the engine's environment, a target URL, and what requests (python) and skopeo (go) do
with it. Where the installed requests and CPython can confirm a python row without any traffic,
they do; the venv has requests 2.34 while the engine pins 2.26, and the rows where the two differ
are asserted as differences. Go rows rely on the measured table (skopeo is not run here).
"""

from __future__ import annotations

import base64
import importlib.util
import os
import socket
import urllib.request

import pytest
import requests
from requests.adapters import HTTPAdapter
from requests.utils import get_environ_proxies, prepend_scheme_if_needed, select_proxy, should_bypass_proxies
from urllib3.util import parse_url

from anchore_compliance.deployment.semantics import redact_proxy_value
from anchore_compliance.redaction import MASK
from anchore_compliance.routing import Route, predict, predict_all

P = "http://proxy.compliance.test:3128"
P2 = "http://other.compliance.test:3129"
FEED = "https://ancho.re/v1/service/feeds"
SERVICE = "http://catalog:8228/v1/system"
REGISTRY = "https://registry.compliance.test:5000/v2/"
LOCAL_HTTP = "http://localhost:8228/"
INSTALLED = tuple(int(part) for part in requests.__version__.split(".")[:2])


def row(env, target, python, go, id):
    return pytest.param(env, target, python, go, id=id)


def via_proxy(no_proxy: str | None = None, **more: str) -> dict[str, str]:
    env = {"https_proxy": P, "http_proxy": P, **more}
    if no_proxy is not None:
        env["no_proxy"] = no_proxy
    return env


# Variable names and precedence (first table), plus the REQUEST_METHOD guard.
PRECEDENCE = [
    row({"https_proxy": P}, FEED, "proxy", "proxy", "https_proxy-lower-only"),
    row({"HTTPS_PROXY": P}, FEED, "proxy", "proxy", "HTTPS_PROXY-upper-only"),
    row({"http_proxy": P}, SERVICE, "proxy", "proxy", "http_proxy-lower-only"),
    row({"HTTP_PROXY": P}, SERVICE, "proxy", "proxy", "HTTP_PROXY-upper-read-by-requests-too"),
    row({"https_proxy": P, "HTTPS_PROXY": P2}, FEED, "proxy", "proxy", "https-both-cases-differ"),
    row({"http_proxy": P, "HTTP_PROXY": P2}, SERVICE, "proxy", "proxy", "http-both-cases-differ"),
    row({"https_proxy": P}, SERVICE, "direct", "direct", "https_proxy-does-not-cover-http-targets"),
    row({}, FEED, "direct", "direct", "no-proxy-variable"),
    row(
        {"https_proxy": "", "HTTPS_PROXY": P}, FEED, "direct", "proxy", "empty-lower-hides-upper-from-python"
    ),
    row({"HTTP_PROXY": P, "REQUEST_METHOD": "GET"}, SERVICE, "direct", "error", "request-method-HTTP_PROXY"),
    row({"http_proxy": P, "REQUEST_METHOD": "GET"}, SERVICE, "proxy", "error", "request-method-http_proxy"),
    row({"HTTPS_PROXY": P, "REQUEST_METHOD": "GET"}, FEED, "proxy", "proxy", "request-method-https-target"),
    row({"HTTP_PROXY": P, "REQUEST_METHOD": ""}, SERVICE, "direct", "proxy", "request-method-set-but-empty"),
    row({"ALL_PROXY": P}, FEED, "proxy", "direct", "all_proxy-read-by-python-only"),
]

# The proxy URL itself: scheme, credentials, quotes (first table and the two sections after it).
ENCODED = "http://compliance:F%40oBar%21@proxy.compliance.test:3128"
RAW_SEED = "http://compliance:F@oBar!@proxy.compliance.test:3128"
RAW_UNSAFE = "http://compliance:F@o:B/r#1%!@proxy.compliance.test:3128"
QUOTED = '"http://proxy.compliance.test:3128"'
CREDS = "http://compliance:{}@proxy.compliance.test:3128"


def value_row(value, python, go, id):
    return row({"https_proxy": value}, FEED, python, go, id)


VALUES = [
    value_row("proxy.compliance.test:3128", "proxy", "proxy", "scheme-less-host-port"),
    value_row("10.213.7.12:3128", "proxy", "proxy", "scheme-less-ip-port"),
    value_row("https://proxy.compliance.test:3128", "proxy", "proxy", "https-proxy-url"),
    value_row(ENCODED, "proxy", "proxy", "percent-encoded-password"),
    value_row(RAW_SEED, "proxy", "proxy", "raw-password-at-and-bang"),
    value_row(RAW_UNSAFE, "error", "direct", "raw-password-colon-slash-hash-percent"),
    value_row(QUOTED, "error", "error", "double-quoted"),
    value_row(QUOTED.replace('"', "'"), "error", "error", "single-quoted"),
    # Not measured; from the clients' sources (see routing's docstring).
    value_row(CREDS.format("a:b"), "proxy", "proxy", "raw-colon"),
    value_row(CREDS.format("ab/cd"), "error", "error", "raw-slash"),
    value_row(CREDS.format("a%zz"), "proxy", "direct", "raw-percent"),
    value_row("compliance:pw@proxy.compliance.test:3128", "error", "proxy", "scheme-less-userinfo"),
    value_row("socks5://proxy.compliance.test:1080", "error", "proxy", "socks5-proxy-url"),
]

# no_proxy matching (second table).
NO_PROXY = [
    row(via_proxy("feed.test"), "https://feed.test/", "direct", "direct", "plain-name-apex"),
    row(via_proxy("feed.test"), "https://a.feed.test/", "direct", "direct", "plain-name-subdomain"),
    row(via_proxy("catalog,policy_engine"), SERVICE, "direct", "direct", "service-name"),
    row(via_proxy(".feed.test"), "https://feed.test/", "direct", "proxy", "dot-domain-apex"),
    row(via_proxy(".feed.test"), "https://a.feed.test/", "direct", "direct", "dot-domain-subdomain"),
    row(via_proxy("*.feed.test"), "https://a.feed.test/", "proxy", "direct", "star-dot-domain-subdomain"),
    row(via_proxy("eed.test"), "https://feed.test/", "direct", "proxy", "greedy-suffix-requests-2.26"),
    row(via_proxy("*"), "https://feed.test/", "direct", "direct", "lone-star"),
    row(via_proxy("feed.test:18443"), "https://feed.test:18443/", "direct", "direct", "entry-with-port"),
    row(via_proxy("feed.test:18443"), "https://feed.test/", "proxy", "proxy", "entry-with-other-port"),
    row(via_proxy("127.0.0.0/8"), "https://127.0.0.5/", "direct", "direct", "ipv4-cidr-loopback-ip"),
    row(via_proxy("10.213.0.0/16"), "https://10.213.7.10:5000/", "direct", "direct", "ipv4-cidr-literal-ip"),
    row(via_proxy("10.213.0.0/16"), REGISTRY, "proxy", "proxy", "ipv4-cidr-host-name"),
    row(via_proxy("fd00::/8"), "https://[fd00::1]/", "proxy", "direct", "ipv6-cidr"),
    row(via_proxy("a, feed.test"), "https://feed.test/", "direct", "direct", "spaces-after-commas"),
    row(via_proxy(NO_PROXY="feed.test"), "https://feed.test/", "direct", "direct", "only-NO_PROXY-set"),
    row(via_proxy(), "https://localhost:8228/", "proxy", "direct", "localhost-without-no_proxy"),
    row(via_proxy(), "https://127.0.0.1:8228/", "proxy", "direct", "loopback-ip-without-no_proxy"),
    row(via_proxy(REQUEST_METHOD="GET"), LOCAL_HTTP, "proxy", "error", "request-method-before-loopback"),
]

ALL_ROWS = PRECEDENCE + VALUES + NO_PROXY
# Rows where requests 2.26 (modelled) and the installed requests differ; asserted as such below.
DIFFERS_FROM_INSTALLED = {"greedy-suffix-requests-2.26"}


def _ids(rows) -> set[str]:
    return {r.id for r in rows}


def _python_rows(rows, *decisions):
    return [r for r in rows if r.values[2] in decisions and r.id not in DIFFERS_FROM_INSTALLED]


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """A prediction, and the library calls that confirm it, must not touch the network."""

    def refuse(*args, **kwargs):
        raise AssertionError("a routing test tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


@pytest.fixture
def engine_env(monkeypatch: pytest.MonkeyPatch):
    """Make this process's environment exactly the engine's proxy environment."""

    def apply(env: dict[str, str]) -> None:
        for name in list(os.environ):
            if name.lower().endswith("_proxy") or name == "REQUEST_METHOD":
                monkeypatch.delenv(name)
        for name, value in env.items():
            monkeypatch.setenv(name, value)

    return apply


# --- the tables ----------------------------------------------------------------------------


@pytest.mark.parametrize(("env", "target", "python", "go"), ALL_ROWS)
def test_each_stack_decides_as_measured(env, target, python, go):
    assert predict(env, target, "python").decision == python
    assert predict(env, target, "go").decision == go


@pytest.mark.parametrize(
    ("env", "target", "python_proxy", "go_proxy"),
    [
        row({"https_proxy": P, "HTTPS_PROXY": P2}, FEED, P, P2, "https-lower-wins-in-python-upper-in-go"),
        row({"http_proxy": P, "HTTP_PROXY": P2}, SERVICE, P, P2, "http-lower-wins-in-python-upper-in-go"),
        row({"https_proxy": P, "HTTPS_PROXY": P}, FEED, P, P, "both-cases-same-value"),
        row({"https_proxy": "proxy.compliance.test:3128"}, FEED, P, P, "scheme-less-becomes-http"),
    ],
)
def test_the_proxy_each_stack_picks(env, target, python_proxy, go_proxy):
    assert predict(env, target, "python").proxy == python_proxy
    assert predict(env, target, "go").proxy == go_proxy


BOTH_CASES = {"HTTPS_PROXY": P2, "https_proxy": P}
CGI = {"HTTP_PROXY": P, "REQUEST_METHOD": "GET"}
A_FEED, THE_FEED = "https://a.feed.test/", "https://feed.test/"


def why(id, env, target, stack, words):
    return pytest.param(env, target, stack, words, id=id)


@pytest.mark.parametrize(
    ("env", "target", "stack", "words"),
    [
        why(
            "entry", via_proxy("catalog"), SERVICE, "python", "no_proxy entry 'catalog' matches host catalog"
        ),
        why("NO_PROXY-entry", via_proxy(NO_PROXY="feed.test"), THE_FEED, "go", "NO_PROXY entry 'feed.test'"),
        why("go-case", BOTH_CASES, FEED, "go", "HTTPS_PROXY (upper case) wins in Go when both cases are set"),
        why("py-case", BOTH_CASES, FEED, "python", "https_proxy (lower case) wins in requests"),
        why("py-empty-lower", {"https_proxy": "", "HTTPS_PROXY": P}, FEED, "python", "hides HTTPS_PROXY"),
        why("go-loopback", via_proxy(), "https://localhost/", "go", "Go never proxies loopback"),
        why("py-quotes", {"https_proxy": QUOTED}, FEED, "python", "requests fails to resolve '\"http'"),
        why("go-quotes", {"https_proxy": QUOTED}, FEED, "go", 'literal quotes: Go fails to look up "http'),
        why("go-unparsable", {"https_proxy": RAW_UNSAFE}, FEED, "go", "Go cannot parse the proxy URL"),
        why("py-unparsable", {"https_proxy": RAW_UNSAFE}, FEED, "python", "requests cannot parse the proxy"),
        why("https-proxy", {"https_proxy": "https://p:1"}, FEED, "go", "TLS to the proxy"),
        why("py-httpoxy", CGI, SERVICE, "python", "requests ignores HTTP_PROXY (httpoxy guard)"),
        why("go-httpoxy", CGI, SERVICE, "go", "Go refuses HTTP_PROXY for http targets (httpoxy guard)"),
        why("py-greedy", via_proxy("eed.test"), THE_FEED, "python", "greedy suffix match of requests 2.26"),
        why("go-apex", via_proxy(".feed.test"), THE_FEED, "go", "'.feed.test' leaves out the apex feed.test"),
        why(
            "cidr-name", via_proxy("10.0.0.0/8"), SERVICE, "python", "'10.0.0.0/8' never matches a host name"
        ),
        why("py-star-dot", via_proxy("*.feed.test"), A_FEED, "python", "does not expand '*.'"),
    ],
)
def test_reasons_say_why(env, target, stack, words):
    assert words in predict(env, target, stack).reason


# --- cross-checks against the installed clients ---------------------------------------------


@pytest.mark.parametrize(("env", "target", "python", "go"), _python_rows(ALL_ROWS, "proxy", "direct"))
def test_python_rows_agree_with_requests_environment_handling(engine_env, env, target, python, go):
    """requests.get_environ_proxies + select_proxy: which variable, and whether no_proxy bypasses."""
    engine_env(env)
    chosen = select_proxy(target, get_environ_proxies(target))
    route = predict(env, target, "python")
    assert (chosen is not None) == (python == "proxy")
    if chosen is not None:
        assert route.proxy == redact_proxy_value(prepend_scheme_if_needed(chosen, "http"), MASK)


@pytest.mark.parametrize(("env", "target", "python", "go"), PRECEDENCE)
def test_python_variable_choice_agrees_with_urllib(engine_env, env, target, python, go):
    engine_env(env)
    scheme = target.split(":", 1)[0]
    proxies = urllib.request.getproxies_environment()
    chosen = proxies.get(scheme, proxies.get("all"))
    assert (chosen is not None) == (predict(env, target, "python").decision == "proxy")


@pytest.mark.parametrize(
    ("no_proxy", "target", "python"),
    [
        pytest.param(r.values[0]["no_proxy"], r.values[1], r.values[2], id=r.id)
        for r in _python_rows(NO_PROXY, "proxy", "direct")
        if "no_proxy" in r.values[0]
    ],
)
def test_python_no_proxy_rows_agree_with_should_bypass_proxies(engine_env, no_proxy, target, python):
    engine_env({})
    assert should_bypass_proxies(target, no_proxy=no_proxy) is (python == "direct")


def test_greedy_suffix_row_is_requests_2_26_not_the_installed_requests(engine_env):
    """requests <= 2.33 (2.26 included) matches 'eed.test' as a bare suffix of 'feed.test'."""
    env, target = via_proxy("eed.test"), "https://feed.test/"
    engine_env(env)
    assert predict(env, target, "python").decision == "direct"
    installed_bypasses = should_bypass_proxies(target, no_proxy="eed.test")
    assert installed_bypasses is (INSTALLED < (2, 34)), f"requests {requests.__version__}"
    assert (select_proxy(target, get_environ_proxies(target)) is None) is installed_bypasses


def _installed_proxy_outcome(value: str) -> str:
    """What the installed requests makes of a proxy value: "error", or the host it would dial.

    Builds the connection pool for the proxy without connecting to anything."""
    request = requests.Request("GET", FEED).prepare()
    try:
        HTTPAdapter().get_connection_with_tls_context(request, True, proxies={"https": value})
    except ValueError:  # urllib3's LocationParseError; requests' InvalidURL, InvalidSchema
        return "error"
    return parse_url(prepend_scheme_if_needed(value, "http")).host or ""


# What the installed requests does with each VALUES row: the proxy host it dials, or "error".
# Quoted values parse, and fail at name resolution of '"http' (no resolver is asked here).
INSTALLED_OUTCOME = {
    "scheme-less-host-port": "proxy.compliance.test",
    "scheme-less-ip-port": "10.213.7.12",
    "https-proxy-url": "proxy.compliance.test",
    "percent-encoded-password": "proxy.compliance.test",
    "raw-password-at-and-bang": "proxy.compliance.test",
    "raw-password-colon-slash-hash-percent": "error",
    "double-quoted": '"http',
    "single-quoted": "'http",
    "raw-colon": "proxy.compliance.test",
    "raw-slash": "error",
    "raw-percent": "proxy.compliance.test",
    "scheme-less-userinfo": "error",
    # requests needs PySocks for socks5:// proxies; Anchore Engine does not install it.
    "socks5-proxy-url": "proxy.compliance.test" if importlib.util.find_spec("socks") else "error",
}


@pytest.mark.parametrize(
    ("value", "python", "installed"),
    [pytest.param(r.values[0]["https_proxy"], r.values[2], INSTALLED_OUTCOME[r.id], id=r.id) for r in VALUES],
)
def test_python_proxy_values_agree_with_requests_parsing(value, python, installed):
    assert _installed_proxy_outcome(value) == installed
    if installed.startswith(("'", '"')):
        assert python == "error"  # a host name no resolver knows
    elif "socks" not in value or installed == "error":
        assert python == ("error" if installed == "error" else "proxy")


@pytest.mark.parametrize(
    ("value", "user", "password"),
    [
        pytest.param(ENCODED, "compliance", "F@oBar!", id="percent-encoded"),
        pytest.param(RAW_SEED, "compliance", "F@oBar!", id="raw-at-and-bang"),
        pytest.param(CREDS.format("a:b"), "compliance", "a:b", id="raw-colon"),
    ],
)
def test_python_credentials_reach_proxy_authorization_decoded(value, user, password):
    headers = HTTPAdapter().proxy_headers(value)
    assert (
        headers["Proxy-Authorization"] == "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    )
    assert predict({"https_proxy": value}, FEED, "python").decision == "proxy"


def test_scheme_less_single_label_is_requests_2_26_not_the_installed_requests():
    """requests 2.26 on the official image's Python 3.8 prepends http:// to 'squid:3128'; from
    2.27 on (urllib3's parser) 'squid:' is read as a scheme and the value is rejected."""
    route = predict({"https_proxy": "squid:3128"}, FEED, "python")
    assert (route.decision, route.proxy) == ("proxy", "http://squid:3128")
    assert predict({"https_proxy": "squid:3128"}, FEED, "go").proxy == "http://squid:3128"
    assert _installed_proxy_outcome("squid:3128") == ("error" if INSTALLED >= (2, 27) else "squid")


# --- Route ---------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["python", "go"])
@pytest.mark.parametrize(
    ("value", "secrets"),
    [
        pytest.param(ENCODED, ["F%40oBar%21", "F@oBar!"], id="percent-encoded"),
        pytest.param(RAW_SEED, ["F@oBar!", "oBar"], id="raw"),
        pytest.param(RAW_UNSAFE, ["F@o:B/r#1%!", "B/r#1"], id="raw-unsafe"),
        pytest.param(f'"{RAW_SEED}"', ["F@oBar!", "oBar"], id="quoted"),
    ],
)
def test_no_password_in_a_route(stack, value, secrets):
    for env in ({"https_proxy": value}, {"HTTPS_PROXY": value, "REQUEST_METHOD": "x"}):
        route = predict(env, "https://compliance:S3cr3t@ancho.re/", stack)
        for text in (str(route), repr(route)):
            for secret in [*secrets, "S3cr3t"]:
                assert secret not in text
        assert route.proxy is None or f"compliance:{MASK}@" in route.proxy
        assert route.target == f"https://compliance:{MASK}@ancho.re/"


def test_a_route_renders_on_one_line_for_evidence():
    route = predict({"HTTPS_PROXY": P2, "https_proxy": P}, FEED, "go")
    assert route == Route(
        "go", FEED, "proxy", P2, "HTTPS_PROXY (upper case) wins in Go when both cases are set"
    )
    assert (
        str(route)
        == f"go {FEED}: proxy via {P2} (HTTPS_PROXY (upper case) wins in Go when both cases are set)"
    )
    assert "\n" not in str(predict({"https_proxy": RAW_UNSAFE}, FEED, "python"))


def test_predict_all_gives_both_stacks_for_every_target():
    routes = predict_all(via_proxy("catalog"), [FEED, SERVICE])
    assert [(r.stack, r.target, r.decision) for r in routes] == [
        ("python", FEED, "proxy"),
        ("go", FEED, "proxy"),
        ("python", SERVICE, "direct"),
        ("go", SERVICE, "direct"),
    ]


@pytest.mark.parametrize(
    ("target", "stack"),
    [
        pytest.param(FEED, "curl", id="unknown-stack"),
        pytest.param("registry.compliance.test:5000", "go", id="not-a-url"),
        pytest.param("ftp://ancho.re/", "python", id="not-http"),
    ],
)
def test_bad_arguments_are_refused(target, stack):
    with pytest.raises(ValueError, match=r"stack|URL"):
        predict({}, target, stack)


def test_every_row_has_a_unique_id_and_every_value_row_is_cross_checked():
    ids = [r.id for r in ALL_ROWS]
    assert len(ids) == len(set(ids))
    assert _ids(ALL_ROWS) >= DIFFERS_FROM_INSTALLED
    assert set(INSTALLED_OUTCOME) == _ids(VALUES)
