"""Rules on one variable's value: URL form (ENV-5), TLS to the proxy (ENV-2), quotes (ENV-6),
credentials (AUTH-2)."""

from __future__ import annotations

import re
import string
from urllib.parse import quote, unquote, unquote_to_bytes

from anchore_compliance.deployment.model import GO, PROXY_VARIABLES, PYTHON, Deployment, Finding
from anchore_compliance.deployment.rules.common import (
    URL_VARIABLES,
    at_var,
    proxy_vars,
    shown,
    var_stack,
    written,
)
from anchore_compliance.deployment.semantics import (
    QUOTES,
    entries,
    parse_proxy_url,
    unquote_outer,
    valid_host,
)
from anchore_compliance.redaction import MASK

_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
# Characters Go's url.Parse accepts unencoded in userinfo (net/url validUserinfo).
_GO_USERINFO = _UNRESERVED | frozenset("!$&'()*+,;=:@%")
# Characters that end the authority part (or are invalid in it) for requests/urllib.
_PYTHON_BREAKS = frozenset("/?#[]")
_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_ENCODE_COMMAND = (
    "python3 -c 'import getpass, urllib.parse; print(urllib.parse.quote(getpass.getpass(), safe=\"\"))'"
)


def _suggested_url(scheme: str | None, url, host: str | None = None, port: str | None = None) -> str:
    userinfo = ""
    if url.userinfo is not None:
        userinfo = f"{url.user}:{MASK}@" if url.password is not None else f"{MASK}@"
    host = host or url.host or "<proxy host>"
    return f"{scheme or 'http'}://{userinfo}{host}:{port or url.port or '<proxy port>'}"


def check_url_form(deployment: Deployment) -> list[Finding]:
    """{PROTOCOL}://{IP or HOSTNAME}:{PORT}: scheme, host and port present and well formed."""
    found = []
    for container, var in proxy_vars(deployment, URL_VARIABLES):
        value = var.value or ""
        inner = unquote_outer(value)
        url = parse_proxy_url(inner)
        problems = []
        if inner != inner.strip() or value.strip(QUOTES) != value.strip(QUOTES).strip():
            problems.append(
                "leading or trailing whitespace (a CR of a CRLF file too) is kept as part of the value"
            )
        if url.scheme is None:
            problems.append(
                "no scheme: the form is {PROTOCOL}://{HOST}:{PORT} (both stacks silently assume http://)"
            )
        elif url.scheme.lower() not in ("http", "https"):
            problems.append(f"scheme {url.scheme}:// is neither http:// nor https://")
        if not url.host.strip():
            problems.append("no host name or address")
        elif not valid_host(url.host.strip()):
            problems.append(f"{url.host.strip()!r} is not a host name or IP address")
        port = url.port.strip() if url.port is not None else None
        if port is None or port == "":
            default = "443 for https://" if (url.scheme or "").lower() == "https" else "80"
            problems.append(
                f"no port: requests and Go then connect to port {default}, not to the proxy's port"
            )
        elif not port.isdigit() or not 1 <= int(port) <= 65535:
            problems.append(f"port {port!r} is not a number from 1 to 65535")
        if url.rest not in ("", "/"):
            problems.append(f"{url.rest!r} after the port is not part of the form and is ignored")
        if problems:
            scheme = url.scheme if (url.scheme or "").lower() in ("http", "https") else "http"
            good_port = port if port and port.isdigit() and 1 <= int(port) <= 65535 else None
            fix = written(
                var, _suggested_url(scheme, url, url.host.strip() or None, good_port or "<proxy port>")
            )
            found.append(
                at_var(
                    deployment,
                    container,
                    var,
                    f"{shown(var)} is not in the form {{PROTOCOL}}://{{HOST}}:{{PORT}}: "
                    + "; ".join(problems),
                    var_stack(container, var),
                    f"write {fix}",
                )
            )
    return found


def check_proxy_tls(deployment: Deployment) -> list[Finding]:
    """An https:// proxy URL means TLS to the proxy itself: right only if the proxy speaks TLS."""
    found = []
    for container, var in proxy_vars(deployment, URL_VARIABLES):
        url = parse_proxy_url(unquote_outer(var.value or ""))
        if (url.scheme or "").lower() != "https":
            continue
        port = url.port or "443"
        found.append(
            at_var(
                deployment,
                container,
                var,
                f"{shown(var)} makes requests and Go open TLS to the proxy itself (the scheme names how to "
                f"reach the proxy, not the target); right only if the proxy speaks TLS on port {port}. "
                "Against a plain-HTTP proxy port requests fails with 'check_hostname requires "
                "server_hostname' and Go with a TLS handshake error",
                var_stack(container, var),
                f"keep https:// only if the proxy listens with TLS on port {port}; otherwise write "
                f"{written(var, _suggested_url('http', url))}",
                "warning",
            )
        )
    return found


_QUOTE_ORIGIN = {
    "envfile": "docker --env-file keeps quotes as part of the value",
    "compose-list": "in the list form Compose keeps everything after '=' as the value, quotes included",
    "compose-map": "the YAML string itself holds the quotes (the value is quoted twice)",
    "k8s-value": "the YAML string itself holds the quotes (the value is quoted twice)",
    "k8s-configmap": "the ConfigMap's YAML string itself holds the quotes",
    "k8s-secret": "the Secret's value itself holds the quotes",
    "compose-envfile": "the quotes are inside the value Compose reads",
}


def _has_literal_quotes(name: str, value: str) -> bool:
    stripped = value.strip()
    if not stripped:
        return False
    if stripped[0] in QUOTES or stripped[-1] in QUOTES or '"' in stripped:
        return True
    return name.lower() == "no_proxy" and any(e[0] in QUOTES or e[-1] in QUOTES for e in entries(stripped))


def check_quotes(deployment: Deployment) -> list[Finding]:
    """Do not use double quotes around the proxy variable values (single quotes are as bad)."""
    found = []
    for container, var in proxy_vars(deployment, PROXY_VARIABLES):
        value = var.value or ""
        stack = var_stack(container, var)
        if _has_literal_quotes(var.name, value):
            is_url = var.name in URL_VARIABLES
            effect = (
                'no client strips them: requests fails with "Failed to resolve \'\\"http\'", Go with '
                "'lookup \"http: no such host'"
                if is_url
                else "no client strips them: the quoted entries never match a host"
            )
            origin = _QUOTE_ORIGIN.get(var.syntax, "")
            unquoted = (
                unquote_outer(value)
                if is_url
                else ",".join(e.strip(QUOTES) for e in entries(value.replace('"', "")))
            )
            shown_value = _redacted(unquoted) if is_url else unquoted
            found.append(
                at_var(
                    deployment,
                    container,
                    var,
                    f"the value {shown(var)} holds literal quote characters ({origin}); {effect}",
                    stack,
                    f"write {written(var, shown_value)} (no quotes in the value)",
                )
            )
        elif var.stripped_quote:
            found.append(
                at_var(
                    deployment,
                    container,
                    var,
                    f"the value is wrapped in {var.stripped_quote} quotes: Docker Compose v2 removes them "
                    "when it reads env_file, but `docker run --env-file` and older Compose keep them",
                    stack,
                    f"write {var.name}=<value> without quotes, so the file means the same to every tool",
                    "warning",
                )
            )
    return found


def _redacted(url_text: str) -> str:
    url = parse_proxy_url(url_text)
    return url.redacted(MASK) if url.userinfo is not None else url_text


def _part_problems(part: str) -> tuple[list[str], bool, bool]:
    """(characters to encode, Go rejects the URL, requests cannot parse it) for a userinfo part."""
    bad = [c for c in dict.fromkeys(part) if c not in _UNRESERVED and c != "%"]
    if _PERCENT.search(part):
        bad.append("%")
    go_rejects = (
        any(c not in _GO_USERINFO for c in part)
        or bool(_PERCENT.search(part))
        or any(c in _PYTHON_BREAKS for c in part)
    )
    python_fails = any(c in _PYTHON_BREAKS for c in part)
    return bad, go_rejects, python_fails


def _encodings(chars: list[str]) -> str:
    return ", ".join(f"{c!r} as {quote(c, safe='')}" for c in chars)


def check_credentials(deployment: Deployment) -> list[Finding]:
    """User name and password in the proxy URL: unsafe characters percent-encoded, and a value
    that decodes to the same password in both stacks."""
    found = []
    for container, var in proxy_vars(deployment, URL_VARIABLES):
        url = parse_proxy_url(unquote_outer(var.value or ""))
        if url.userinfo is None:
            continue
        if url.password is None:
            parts = [("credentials", url.userinfo)]
        else:
            parts = [("user name", url.user or ""), ("password", url.password)]
        stack = var_stack(container, var)
        to_encode, go_rejects, python_fails = [], False, False
        for label, part in parts:
            bad, go_bad, py_bad = _part_problems(part)
            if bad:
                to_encode.append((label, bad))
            go_rejects, python_fails = go_rejects or go_bad, python_fails or py_bad
        if to_encode:
            if python_fails:
                effect = (
                    "requests cannot parse the URL and fails; Go ignores a proxy URL it cannot parse "
                    "and connects directly"
                )
            elif go_rejects:
                effect = "requests accepts it, but Go rejects the URL and silently connects directly"
                stack = GO if stack in (GO, "both") else stack
            else:
                effect = (
                    "requests and Go still authenticate (they split at the last '@'), but the documentation "
                    "requires percent-encoding and curl refuses such a URL"
                )
            listed = "; ".join(f"in the {label}: {_encodings(chars)}" for label, chars in to_encode)
            user = quote(unquote(url.user or ""), safe="") if url.password is not None else f"<{MASK}>"
            secret = "password"
            where = f"{url.host}:{url.port or '<port>'}"
            example = f"{url.scheme or 'http'}://{user}:<{secret}, percent-encoded>@{where}"
            if url.password is None:
                example = f"{url.scheme or 'http'}://<credentials, percent-encoded>@{where}"
            found.append(
                at_var(
                    deployment,
                    container,
                    var,
                    f"unsafe characters in the proxy URL's credentials are not percent-encoded ({listed}); "
                    + effect,
                    stack,
                    f"percent-encode them and write {written(var, example)} ({_ENCODE_COMMAND} prints it)",
                )
            )
            continue
        for label, part in parts:
            decoded = unquote_to_bytes(part)
            try:
                text = decoded.decode("utf-8")
            except UnicodeDecodeError:
                found.append(
                    at_var(
                        deployment,
                        container,
                        var,
                        f"the {label} decodes to bytes that are not UTF-8: requests replaces them (a wrong "
                        "password, 407), Go sends them as they are",
                        PYTHON if stack != GO else stack,
                        f"encode the {label} from its UTF-8 text ({_ENCODE_COMMAND})",
                    )
                )
                continue
            if "%25" in part and re.search(r"%[0-9A-Fa-f]{2}", text):
                found.append(
                    at_var(
                        deployment,
                        container,
                        var,
                        f"the {label} still holds percent-escapes after decoding: if it was encoded twice, "
                        "the proxy receives the encoded text instead of the password",
                        stack,
                        f"encode the {label} exactly once ({_ENCODE_COMMAND})",
                        "warning",
                    )
                )
    return found
