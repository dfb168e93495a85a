"""What each of the engine's HTTP stacks will do with a URL, predicted from its environment alone.

A verdict reads better as "predicted proxy X, observed direct": this gives the prediction, to sit
beside the wire evidence (squid's log). Pure: no traffic, no I/O. The rules are the measured
tables of docs/proxy-semantics.md, per stack:

- python: requests 2.26, the version Anchore Engine 1.1 pins, as its official image runs it
  (Python 3.8). Two rows differ in newer requests, and the model keeps 2.26's answer:
  * greedy no_proxy suffix: entry 'eed.test' matches host 'feed.test' (requests <= 2.33);
  * scheme-less 'proxy:3128' gets 'http://' prepended; requests >= 2.27 (the reference image's
    2.28 too) reads a single-label 'proxy:' as a URL scheme and fails. Dotted names and IPs work.
- go: golang.org/x/net/http/httpproxy in skopeo 1.9 (Go 1.19).

Which variable each stack reads (`effective`) and how no_proxy entries match (`python_bypasses`,
`go_bypasses`) come from the deployment audit (deployment/semantics.py): one copy of the rules.
What a stack does with an unusable proxy value is modelled here. Where the document is silent
the clients' sources decide: a lone raw ':' or '@' in a password is harmless (user and password
split at the first ':', host at the last '@'); a raw '/', '?' or '#' ends the host part early
(requests: parse error; Go: it dials a host cut out of the URL); a '%' not followed by two hex
digits makes Go's URL parser give up, and Go then drops the proxy and connects directly. The
measured password 'F@o:B/r#1%!' has both, hence "requests error, Go direct".
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit, urlunsplit

from anchore_compliance.deployment.model import GO, PYTHON, Container, EnvVar
from anchore_compliance.deployment.semantics import (
    QUOTES,
    effective,
    entries,
    go_bypasses,
    is_cidr,
    is_ip,
    python_bypasses,
    redact_proxy_value,
    split_entry_port,
)
from anchore_compliance.redaction import MASK

STACKS = (PYTHON, GO)
PROXY, DIRECT, ERROR = "proxy", "direct", "error"
_DEFAULT_PORTS = {"http": 80, "https": 443}
_SCHEMES = {PYTHON: ("http", "https"), GO: ("http", "https", "socks5")}
_HAS_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
# Python 3.8's urlsplit takes 'name:' for a scheme unless all that follows is a port number.
_PY38_SCHEME = re.compile(r"([A-Za-z0-9+.-]+):(?![0-9]+$)", re.DOTALL)
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


@dataclass(frozen=True)
class Route:
    """One stack's predicted handling of one URL. Never holds a password (userinfo is masked)."""

    stack: str  # "python" | "go"
    target: str
    decision: str  # "proxy" | "direct" | "error"
    proxy: str | None  # the proxy URL it would use (or that fails), credentials masked
    reason: str

    def __str__(self) -> str:
        via = f" via {self.proxy}" if self.proxy else ""
        return f"{self.stack} {self.target}: {self.decision}{via} ({self.reason})"


def predict(env: Mapping[str, str], target_url: str, stack: str) -> Route:
    """What `stack` does when the engine, given `env`, opens `target_url` (http or https)."""
    if stack not in STACKS:
        raise ValueError(f"unknown stack {stack!r}: expected one of {', '.join(STACKS)}")
    url = urlsplit(target_url)
    target = _redact_target(url)
    if url.scheme.lower() not in _DEFAULT_PORTS or not url.hostname:
        raise ValueError(f"not an http(s) URL with a host: {target}")
    decide = _python if stack == PYTHON else _go
    decision, proxy, reason = decide(env, url)
    return Route(stack=stack, target=target, decision=decision, proxy=proxy, reason=reason)


def predict_all(env: Mapping[str, str], targets: Iterable[str]) -> list[Route]:
    """Both stacks' predictions for each target, python first."""
    return [predict(env, target, stack) for target in targets for stack in STACKS]


# --- the two stacks ---------------------------------------------------------------------------


def _python(env: Mapping[str, str], url: SplitResult) -> tuple[str, str | None, str]:
    """requests: urllib's getproxies_environment (lower case wins; an empty lower-case variable
    hides the upper one; REQUEST_METHOD, even empty, drops upper-case HTTP_PROXY), `all_proxy` as
    fallback, then should_bypass_proxies; the proxy URL is parsed when the connection is made."""
    container, scheme, host = _container(env), url.scheme.lower(), url.hostname or ""
    family = f"{scheme}_proxy"
    var, why_not = effective(container, family, PYTHON), _unset_reason(env, family, PYTHON)
    if var is not None and family == "http_proxy" and "REQUEST_METHOD" in env and var.name != family:
        var, why_not = None, "REQUEST_METHOD is set: requests ignores HTTP_PROXY (httpoxy guard)"
    var = var or effective(container, "all_proxy", PYTHON)
    if var is None:
        return DIRECT, None, why_not
    no_proxy = effective(container, "no_proxy", PYTHON)
    # Port 0: the URL names no port, and requests then compares the bare host name.
    if no_proxy is not None and python_bypasses(no_proxy.value or "", host, url.port or 0):
        return DIRECT, None, _bypass_reason(no_proxy, host, url.port or 0, PYTHON)
    value = var.value or ""
    shown = redact_proxy_value(value, MASK)
    if value[0] in QUOTES:
        return ERROR, shown, f"value has literal quotes: requests fails to resolve {_quoted_host(value)!r}"
    if not _HAS_SCHEME.match(value) and _PY38_SCHEME.match(value):
        prefix = value.split(":", 1)[0]
        return ERROR, shown, f"requests 2.26 reads '{prefix}:' as the proxy URL's scheme and fails"
    cut = _cut_chars(value)
    if cut:
        return ERROR, shown, f"unencoded {cut} in the proxy password: requests cannot parse the proxy URL"
    return _use(var, container, PYTHON, host, url.port or 0)


def _go(env: Mapping[str, str], url: SplitResult) -> tuple[str, str | None, str]:
    """httpproxy, in its order: the first non-empty of UPPER, lower; an unparsable URL is dropped
    (nil proxy: direct); a non-empty REQUEST_METHOD makes an http target with an http proxy an
    error; localhost and loopback addresses are never proxied; then NO_PROXY."""
    container, scheme, host = _container(env), url.scheme.lower(), url.hostname or ""
    family = f"{scheme}_proxy"
    var = effective(container, family, GO)
    if var is None:
        return DIRECT, None, _unset_reason(env, family, GO)
    value = var.value or ""
    shown = redact_proxy_value(value, MASK)
    if _go_unparsable(value):
        return DIRECT, None, f"Go cannot parse the proxy URL in {var.name} and connects directly"
    if scheme == "http" and env.get("REQUEST_METHOD"):
        return ERROR, shown, "REQUEST_METHOD is set: Go refuses HTTP_PROXY for http targets (httpoxy guard)"
    if host == "localhost" or (is_ip(host) and ipaddress.ip_address(host).is_loopback):
        return DIRECT, None, "Go never proxies loopback"
    port = url.port or _DEFAULT_PORTS[scheme]
    no_proxy = effective(container, "no_proxy", GO)
    if no_proxy is not None and go_bypasses(no_proxy.value or "", host, port):
        return DIRECT, None, _bypass_reason(no_proxy, host, port, GO)
    if value[0] in QUOTES:
        return ERROR, shown, f"value has literal quotes: Go fails to look up {_quoted_host(value)}"
    cut = _cut_chars(value)
    if cut:
        return ERROR, shown, f"unencoded {cut} in the proxy password: Go dials a host cut from the URL"
    return _use(var, container, GO, host, port)


def _use(var: EnvVar, container: Container, stack: str, host: str, port: int) -> tuple[str, str, str]:
    """The decision for a value the stack can use, with the notes a verdict may need."""
    value = var.value or ""
    scheme_match = _HAS_SCHEME.match(value)
    scheme = scheme_match.group(1).lower() if scheme_match else "http"
    shown = redact_proxy_value(value if scheme_match else "http://" + value, MASK)
    if scheme not in _SCHEMES[stack]:
        return ERROR, shown, f"{'requests' if stack == PYTHON else 'Go'} cannot use a {scheme}:// proxy"
    notes = [_case_note(var, container, stack)]
    if not scheme_match:
        notes.append("scheme-less value: http:// assumed")
    if scheme == "https":
        notes.append("https:// proxy URL: TLS to the proxy, which a plain-HTTP proxy port refuses")
    notes += _near_misses(container, host, port, stack)
    return PROXY, shown, "; ".join(notes)


# --- reasons ------------------------------------------------------------------------------------


def _case_note(var: EnvVar, container: Container, stack: str) -> str:
    if not var.name.lower().startswith(("http_", "https_")):
        return f"{var.name} is set: requests falls back to it (Go ignores it)"
    family = var.name.lower()
    other = container.env.get(family.upper() if var.name == family else family)
    if other is None or not other.value or other.value == var.value:
        return f"{var.name} is set"
    if stack == GO:
        return f"{var.name} (upper case) wins in Go when both cases are set"
    return f"{var.name} (lower case) wins in requests when both cases are set"


def _unset_reason(env: Mapping[str, str], family: str, stack: str) -> str:
    if stack == PYTHON and env.get(family) == "" and env.get(family.upper()):
        return f"{family} is set but empty: it hides {family.upper()} from requests"
    return f"neither {family} nor {family.upper()} is set"


def _bypass_reason(no_proxy: EnvVar, host: str, port: int, stack: str) -> str:
    value = no_proxy.value or ""
    bypasses = python_bypasses if stack == PYTHON else go_bypasses
    entry = next((e for e in entries(value) if bypasses(e, host, port)), value)
    reason = f"{no_proxy.name} entry '{entry}' matches host {host}"
    bare = split_entry_port(entry)[0].lstrip(".").lower()
    if stack == PYTHON and entry != "*" and not is_cidr(entry) and not _dot_match(host, bare):
        reason += " (greedy suffix match of requests 2.26)"
    return reason


def _near_misses(container: Container, host: str, port: int, stack: str) -> list[str]:
    """Why no_proxy entries that look as if they cover the host do not (the usual surprises)."""
    no_proxy = effective(container, "no_proxy", stack)
    notes = []
    for entry in entries(no_proxy.value or "") if no_proxy is not None else []:
        bare, entry_port = split_entry_port(entry.lower())
        if is_cidr(entry):
            if not is_ip(host):
                notes.append(f"CIDR entry '{entry}' never matches a host name")
            elif stack == PYTHON and ":" in host:
                notes.append(f"requests ignores the IPv6 CIDR entry '{entry}'")
        elif stack == PYTHON and bare.startswith("*.") and _dot_match(host, bare[2:]):
            notes.append(f"requests does not expand '*.' in entry '{entry}'")
        elif stack == GO and bare.lstrip("*").startswith(".") and host == bare.lstrip("*."):
            notes.append(f"Go's entry '{entry}' leaves out the apex {host}")
        elif entry_port is not None and _dot_match(host, bare.lstrip(".")):
            where = "the URL names port" if stack == PYTHON else "the port is"
            notes.append(f"entry '{entry}' applies only when {where} {entry_port}")
    return notes


def _dot_match(host: str, name: str) -> bool:
    return host == name or host.endswith("." + name)


# --- proxy values -------------------------------------------------------------------------------


def _container(env: Mapping[str, str]) -> Container:
    """The environment in the shape the deployment audit's `effective` reads."""
    variables = {name: EnvVar(name, value, "environment", 0, "env") for name, value in env.items()}
    return Container(name="engine", file="environment", line=0, env_line=0, env=variables)


def _userinfo(value: str) -> str:
    """What precedes the last '@' after the scheme: where an unencoded password sits."""
    scheme = _HAS_SCHEME.match(value)
    return value[scheme.end() if scheme else 0 :].rpartition("@")[0]


def _cut_chars(value: str) -> str:
    """Raw characters in the userinfo that end a URL's host part early, quoted for a reason."""
    found = [c for c in "/?#" if c in _userinfo(value)]
    return " ".join(f"'{c}'" for c in found)


def _go_unparsable(value: str) -> bool:
    """Go's url.Parse rejects a bad %-escape anywhere but the query, and so does its retry with
    'http://' prepended: the proxy setting is dropped."""
    before_fragment, _, fragment = value.partition("#")
    return bool(_BAD_ESCAPE.search(before_fragment.partition("?")[0]) or _BAD_ESCAPE.search(fragment))


def _quoted_host(value: str) -> str:
    """The name a quoted value makes both stacks resolve: the quote and the scheme, '"http'."""
    return re.split(r"[:/]", value, maxsplit=1)[0]


def _redact_target(url: SplitResult) -> str:
    if "@" not in url.netloc:
        return urlunsplit(url)
    userinfo, _, hostport = url.netloc.rpartition("@")
    masked = f"{userinfo.split(':', 1)[0]}:{MASK}" if ":" in userinfo else MASK
    return urlunsplit(url._replace(netloc=f"{masked}@{hostport}"))
