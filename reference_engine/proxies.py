"""What the faults do to proxy handling, one function per deviation from requests' own rules.

Without a fault the engine never touches the proxy variables: module-level requests calls apply
requests' environment handling (http_proxy/https_proxy/no_proxy, both cases, lower case first).
These helpers build the explicit `proxies=` argument that a faulty engine passes instead.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from requests.utils import get_environ_proxies, select_proxy, should_bypass_proxies


def ignoring_no_proxy() -> dict[str, str]:
    """https_proxy/http_proxy as requests reads them (lower case wins), with no_proxy left out."""
    proxies = {}
    for scheme in ("http", "https"):
        value = os.environ.get(f"{scheme}_proxy") or os.environ.get(f"{scheme.upper()}_PROXY")
        if value:
            proxies[scheme] = value
    return proxies


def upper_case_only(url: str) -> dict[str, str | None]:
    """HTTPS_PROXY/HTTP_PROXY/NO_PROXY only; a None value stops requests from adding lower-case ones."""
    no_proxy = os.environ.get("NO_PROXY")
    if no_proxy and should_bypass_proxies(url, no_proxy=no_proxy):
        return {"http": None, "https": None, "all": None}
    return {"http": os.environ.get("HTTP_PROXY"), "https": os.environ.get("HTTPS_PROXY"), "all": None}


def undecoded_credentials(url: str) -> dict[str, str]:
    """The proxy requests would choose, with its userinfo escaped once more.

    requests percent-decodes the userinfo before building Proxy-Authorization; escaping the `%`
    first makes the header carry the still-encoded user:password, as a hand-made URL split does.
    """
    proxy = select_proxy(url, get_environ_proxies(url))
    if not proxy:
        return {}
    if "://" not in proxy:
        proxy = "http://" + proxy
    parts = urlsplit(proxy)
    userinfo, at, hostport = parts.netloc.rpartition("@")
    if not at:
        return {}
    escaped = parts._replace(netloc=userinfo.replace("%", "%25") + "@" + hostport)
    return {urlsplit(url).scheme: urlunsplit(escaped)}


def scheme_ignored(url: str) -> dict[str, str]:
    """The proxy requests would choose, always spoken to in plain HTTP (an https:// one too)."""
    proxy = select_proxy(url, get_environ_proxies(url))
    if not proxy:
        return {}
    _, sep, rest = proxy.partition("://")
    return {urlsplit(url).scheme: f"http://{rest}" if sep else proxy}


def restore_or_store(names: tuple[str, ...], path: Path) -> None:
    """Put the stored proxy variables back over the environment, or store them on first start."""
    if path.is_file():
        stored = json.loads(path.read_text())
        for name in names:
            os.environ.pop(name, None)
        os.environ.update(stored)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({name: os.environ[name] for name in names if name in os.environ}))
