"""squid's `compliance` access-log format parses into ProxyRecords; the config says what it must."""

from __future__ import annotations

import pytest

from anchore_compliance.fixtures.infra.squid import (
    ProxyMode,
    ProxyUser,
    parse_access_log,
    render_config,
)

CONNECT_TUNNEL = (
    "1795984242.578 port=3128 client=10.213.101.20 user=alice method=CONNECT "
    "url=registry.compliance.test:5000 status=200 squid=TCP_TUNNEL hier=HIER_DIRECT/10.213.194.10"
)
GET_MISS = (
    "1795984242.702 port=3129 client=10.213.101.20 user=- method=GET "
    "url=http://ancho.re/v1/service/feeds?since=x status=200 squid=TCP_MISS hier=HIER_DIRECT/10.213.194.11"
)
DENIED = (
    "1795984248.988 port=3128 client=10.213.147.20 user=alice method=CONNECT "
    "url=registry.compliance.test:5000 status=403 squid=TCP_DENIED hier=HIER_NONE/-"
)
AUTH_REQUIRED = (
    "1795984248.786 port=3128 client=10.213.147.20 user=- method=CONNECT "
    "url=ancho.re:443 status=407 squid=TCP_DENIED hier=HIER_NONE/-"
)
PROBE_LEFTOVER = (
    "1795984248.100 port=3128 client=10.213.147.1 user=- method=- "
    "url=error:transaction-end-before-headers status=0 squid=NONE_NONE hier=HIER_NONE/-"
)


def test_connect_line_gives_target_host_port_and_user() -> None:
    (record,) = parse_access_log(CONNECT_TUNNEL + "\n")
    assert record.timestamp == pytest.approx(1795984242.578)
    assert (record.port, record.client, record.user) == (3128, "10.213.101.20", "alice")
    assert (record.method, record.host, record.target_port) == ("CONNECT", "registry.compliance.test", 5000)
    assert (record.status, record.squid_result) == (200, "TCP_TUNNEL")
    assert (record.hierarchy, record.server) == ("HIER_DIRECT", "10.213.194.10")
    assert record.raw == CONNECT_TUNNEL


def test_plain_get_line_keeps_the_full_url_and_default_port() -> None:
    (record,) = parse_access_log(GET_MISS)
    assert record.user is None
    assert record.port == 3129
    assert record.url == "http://ancho.re/v1/service/feeds?since=x"
    assert (record.host, record.target_port, record.squid_result) == ("ancho.re", 80, "TCP_MISS")


def test_denied_and_auth_required_lines_have_no_server() -> None:
    denied, auth_required = parse_access_log(f"{DENIED}\n{AUTH_REQUIRED}\n")
    assert (denied.status, denied.squid_result, denied.user, denied.server) == (
        403,
        "TCP_DENIED",
        "alice",
        None,
    )
    assert (auth_required.status, auth_required.user) == (407, None)
    assert (auth_required.host, auth_required.target_port) == ("ancho.re", 443)


@pytest.mark.parametrize(
    ("url", "method", "expected"),
    [
        pytest.param("[fd00::5]:443", "CONNECT", ("fd00::5", 443), id="connect-ipv6"),
        pytest.param(
            "https://registry.compliance.test/v2/", "GET", ("registry.compliance.test", 443), id="https"
        ),
        pytest.param("http://h.test:bad/", "GET", ("h.test", None), id="unparsable-port"),
    ],
)
def test_targets_are_split_from_the_url(url: str, method: str, expected: tuple[str, int | None]) -> None:
    line = f"1.0 port=3128 client=c user=- method={method} url={url} status=200 squid=TCP_MISS hier=X/-"
    (record,) = parse_access_log(line)
    assert (record.host, record.target_port) == expected


def test_other_lines_and_probe_leftovers_are_handled() -> None:
    text = "\n".join(["garbage", "", PROBE_LEFTOVER, CONNECT_TUNNEL[:40]])
    (record,) = parse_access_log(text)
    assert (record.method, record.host, record.status) == ("-", None, 0)


def test_percent_encoded_user_names_are_decoded() -> None:
    (record,) = parse_access_log(CONNECT_TUNNEL.replace("user=alice", "user=al%20ice"))
    assert record.user == "al ice"


def test_proxy_user_repr_never_shows_the_password() -> None:
    user = ProxyUser("alice", "F@o:B/r#1%!")
    assert "F@o" not in repr(user)
    assert "F@o" not in str(user)


def test_open_config_allows_connect_to_443_and_5000_only() -> None:
    config = render_config(ProxyMode.OPEN, (3128, 3129), (), auth=False)
    assert "http_port 3128\nhttp_port 3129\n" in config
    assert "acl open_connect_ports port 443 5000" in config
    assert "http_access deny CONNECT !open_connect_ports" in config
    assert "auth_param" not in config


def test_restricted_auth_config_orders_barrier_auth_then_allowlist() -> None:
    config = render_config(ProxyMode.AUTH | ProxyMode.RESTRICTED, (3128,), [("ancho.re", 443)], auth=True)
    lines = config.splitlines()
    order = [
        lines.index("http_access deny barrier"),
        lines.index("http_access deny !authenticated"),
        lines.index("http_access allow CONNECT allowed0_host allowed0_port"),
        lines.index("http_access deny all"),
    ]
    assert order == sorted(order)
    assert "acl allowed0_host dstdomain -n ancho.re" in lines
    for required in ("cache deny all", "shutdown_lifetime 1 seconds", "pid_filename none"):
        assert required in lines


def test_tls_ports_speak_tls_with_the_mounted_certificate() -> None:
    config = render_config(ProxyMode.OPEN, (3128,), (), auth=False, tls_ports=(3130,))
    assert "http_port 3128\n" in config
    tls = "/etc/squid-compliance/tls"
    assert f"https_port 3130 tls-cert={tls}/cert.pem tls-key={tls}/key.pem" in config
    assert "https_port" not in render_config(ProxyMode.OPEN, (3128,), (), auth=False)
