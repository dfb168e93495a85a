"""How the engine's two HTTP stacks read the proxy variables (see docs/proxy-semantics.md).

- Python requests 2.26 (the version Anchore Engine 1.1 pins) with CPython's urllib: feed sync,
  calls between services, registry validation.
- Go net/http (`golang.org/x/net/http/httpproxy`) in skopeo: every registry access.

Both stacks read both cases of every variable; they differ in which case wins, in how `no_proxy`
entries match, and in what they do with a URL they cannot parse.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from anchore_compliance.deployment.model import GO, PYTHON, Container, EnvVar

# --- which variable each stack reads --------------------------------------------------------


def effective(container: Container, family: str, stack: str) -> EnvVar | None:
    """The variable of `family` (e.g. "https_proxy") that `stack` reads in this container.

    Python (urllib.getproxies_environment, requests): lower case wins; a lower-case variable set
    to the empty string removes the proxy even when the upper-case one is set. For no_proxy,
    requests falls back to the upper case when the lower is empty.
    Go (httpproxy.FromEnvironment): the first non-empty of UPPER, lower.
    A variable whose value the audit does not know counts as set.
    """
    lower = container.env.get(family)
    upper = container.env.get(family.upper())
    if stack == GO:
        order = (upper, lower)
    elif family != "no_proxy" and lower is not None and lower.value == "":
        return None
    else:
        order = (lower, upper)
    for var in order:
        if var is not None and var.value != "":
            return var
    return None


def readers(container: Container, var: EnvVar) -> set[str]:
    """The stacks that read this variable in this container."""
    family = var.name.lower()
    return {stack for stack in (PYTHON, GO) if effective(container, family, stack) is var}


def has_proxy(container: Container, stack: str) -> bool:
    return any(effective(container, family, stack) is not None for family in ("https_proxy", "http_proxy"))


# --- proxy URLs ----------------------------------------------------------------------------

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://(.*)$", re.DOTALL)
# Host names as resolvers accept them (underscores included: compose service names use them).
_HOSTNAME = re.compile(
    r"^[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?$"
)
QUOTES = "\"'"


@dataclass(frozen=True)
class ProxyURL:
    """A proxy URL split the tolerant way (at the last '@'), so that an unencoded password does
    not hide the host and port. `userinfo` is None when there is none."""

    scheme: str | None
    userinfo: str | None
    host: str
    port: str | None
    rest: str  # anything after host[:port]

    @property
    def user(self) -> str | None:
        if self.userinfo is None:
            return None
        return self.userinfo.split(":", 1)[0]

    @property
    def password(self) -> str | None:
        if self.userinfo is None or ":" not in self.userinfo:
            return None
        return self.userinfo.split(":", 1)[1]

    def redacted(self, mask: str) -> str:
        """The URL with the password (or a lone token in the user part) masked."""
        userinfo = ""
        if self.userinfo is not None:
            userinfo = f"{self.user}:{mask}@" if self.password is not None else f"{mask}@"
        scheme = f"{self.scheme}://" if self.scheme else ""
        port = f":{self.port}" if self.port is not None else ""
        return f"{scheme}{userinfo}{self.host}{port}{self.rest}"


def unquote_outer(value: str) -> str:
    """The value without quote characters wrapped around it (one or several levels)."""
    stripped = value.strip()
    while len(stripped) >= 1 and (stripped[0] in QUOTES or stripped[-1] in QUOTES):
        stripped = stripped.strip(QUOTES).strip()
    return stripped


def parse_proxy_url(value: str) -> ProxyURL:
    match = _SCHEME.match(value)
    scheme, rest = (match.group(1), match.group(2)) if match else (None, value)
    userinfo = None
    at = rest.rfind("@")
    if at >= 0:
        userinfo, rest = rest[:at], rest[at + 1 :]
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    hostport, tail = rest[:end], rest[end:]
    host, port = hostport, None
    if hostport.startswith("["):
        close = hostport.find("]")
        if close >= 0:
            host, after = hostport[: close + 1], hostport[close + 1 :]
            port = after[1:] if after.startswith(":") else None
    elif ":" in hostport:
        host, port = hostport.rsplit(":", 1)
    return ProxyURL(scheme=scheme, userinfo=userinfo, host=host, port=port, rest=tail)


def redact_proxy_value(value: str, mask: str) -> str:
    """A proxy variable's value fit to print: the password masked, quotes kept as written."""
    inner = unquote_outer(value)
    if "@" not in inner:
        return value
    start = value.find(inner)
    return value[:start] + parse_proxy_url(inner).redacted(mask) + value[start + len(inner) :]


def valid_host(host: str) -> bool:
    if host.startswith("[") and host.endswith("]"):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            return False
        return True
    return bool(_HOSTNAME.match(host))


# --- no_proxy ------------------------------------------------------------------------------


def entries(no_proxy: str) -> list[str]:
    return [e.strip() for e in no_proxy.split(",") if e.strip()]


def split_entry_port(entry: str) -> tuple[str, str | None]:
    """`host:port` -> (host, port); IPv6 literals and CIDRs keep their colons."""
    if entry.startswith("[") and "]:" in entry:
        host, port = entry.rsplit(":", 1)
        return host[1:-1], port
    if entry.count(":") == 1:
        host, port = entry.split(":")
        return host, port
    return entry, None


def is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def is_ipv4_cidr(text: str) -> bool:
    """requests' `is_valid_cidr`: IPv4 address, '/', mask 1-32."""
    if text.count("/") != 1:
        return False
    address, mask = text.split("/")
    try:
        ipaddress.IPv4Address(address)
    except ValueError:
        return False
    return mask.isdigit() and 1 <= int(mask) <= 32


def is_cidr(text: str) -> bool:
    if "/" not in text:
        return False
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return True


def python_bypasses(no_proxy: str, host: str, port: int | None = None) -> bool:
    """Does requests 2.26 (+ urllib) go direct to host[:port]? `port=None`: any port.

    requests: entries split after removing spaces; an IPv4 target matches an equal entry or an
    IPv4 CIDR; a host-name target matches any entry it *ends with* (greedy: 'alog' matches
    'catalog'), also as host:port. Then urllib: leading dots ignored, exact or '.'-suffix match,
    case-insensitive, '*' only as the whole value.
    """
    host = host.lower()
    listed = [e for e in no_proxy.replace(" ", "").split(",") if e]
    if is_ip(host) and ":" not in host:
        for entry in listed:
            if is_ipv4_cidr(entry):
                if ipaddress.IPv4Address(host) in ipaddress.IPv4Network(entry, strict=False):
                    return True
            elif host == entry:
                return True
    else:
        for entry in listed:
            entry_host, entry_port = split_entry_port(entry)
            if port is None and entry_port is not None:
                if host.endswith(entry_host):
                    return True
                continue
            host_with_port = f"{host}:{port}" if port else host
            if host.endswith(entry) or host_with_port.endswith(entry):
                return True
    if no_proxy.strip() == "*":
        return True
    for name in no_proxy.split(","):
        name = name.strip().lstrip(".").lower()
        if name and (host == name or host.endswith("." + name)):
            return True
    return False


def go_bypasses(no_proxy: str, host: str, port: int | None = None) -> bool:
    """Does Go's httpproxy go direct to host[:port]? `port=None`: any port.

    localhost and loopback addresses are always direct. '*' anywhere bypasses everything. CIDRs
    and IPs match address targets only; 'domain' matches the domain and its subdomains,
    '.domain' and '*.domain' only subdomains; an entry with a port matches that port only.
    """
    host = host.lower().strip("[]")
    if host == "localhost":
        return True
    address = None
    if is_ip(host):
        address = ipaddress.ip_address(host)
        if address.is_loopback:
            return True
    for raw in no_proxy.split(","):
        entry = raw.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True
        if is_cidr(entry):
            if address is not None and address in ipaddress.ip_network(entry, strict=False):
                return True
            continue
        entry_host, entry_port = split_entry_port(entry)
        if not entry_host:
            continue
        port_ok = entry_port is None or port is None or entry_port == str(port)
        if is_ip(entry_host):
            if address is not None and address == ipaddress.ip_address(entry_host) and port_ok:
                return True
            continue
        if address is not None:
            continue
        if entry_host.startswith("*."):
            entry_host = entry_host[1:]
        match_apex = not entry_host.startswith(".")
        suffix = entry_host if entry_host.startswith(".") else "." + entry_host
        if (host.endswith(suffix) or (match_apex and host == entry_host)) and port_ok:
            return True
    return False


def bypasses(stack: str, no_proxy: str | None, host: str, port: int | None = None) -> bool:
    if stack == GO:
        return go_bypasses(no_proxy or "", host, port)
    return python_bypasses(no_proxy or "", host, port) if no_proxy else False
