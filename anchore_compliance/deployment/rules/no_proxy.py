"""Rules on no_proxy (ENV-4): which hosts it must cover, and entries the two stacks read differently."""

from __future__ import annotations

from urllib.parse import urlsplit

from anchore_compliance.deployment.model import (
    BOTH,
    GO,
    NO_PROXY,
    PYTHON,
    URL_FAMILIES,
    Container,
    Deployment,
    EnvVar,
    Finding,
    Host,
    stack_of,
)
from anchore_compliance.deployment.rules.common import finding, proxy_vars, var_stack
from anchore_compliance.deployment.semantics import (
    QUOTES,
    bypasses,
    effective,
    entries,
    is_cidr,
    is_ip,
    is_ipv4_cidr,
    python_bypasses,
    split_entry_port,
)

LOCAL_HOSTS = (Host("localhost", None, "local"), Host("127.0.0.1", None, "local"))
# Which stacks reach registries, per engine service role (None: an env file, any role).
REGISTRY_STACKS = {"catalog": {PYTHON, GO}, "analyzer": {GO}, "all": {PYTHON, GO}}
FEED_DEFAULTS = {
    "ANCHORE_FEEDS_URL": "https://ancho.re/v1/service/feeds",
    "ANCHORE_GRYPE_DB_URL": "https://toolbox-data.anchore.io/grype/databases/listing.json",
}
_WHY = {
    "engine service": "the engine's service hosts {hosts} (calls between services, made with requests)",
    "local": "{hosts} (requests sends even local calls to the proxy)",
    "registry": "the registry {hosts}, meant to be reached directly (skopeo/Go pulls, requests validation)",
    "database": (
        "the database host {hosts} (PostgreSQL connections ignore the proxy; the seed's example "
        "lists it for any HTTP call)"
    ),
}


def _proxied_families(container: Container) -> dict[str, set[str]]:
    return {s: {f for f in URL_FAMILIES if effective(container, f, s) is not None} for s in (PYTHON, GO)}


def _targets(deployment: Deployment, container: Container) -> list[tuple[Host, set[str], set[str], str]]:
    """(host, stacks that call it, proxy families its calls use, severity when missed)."""
    http_only, both_families = {"http_proxy"}, {"http_proxy", "https_proxy"}
    targets = [(h, {PYTHON}, http_only, "error") for h in deployment.service_hosts]
    targets += [(h, {PYTHON}, http_only, "error") for h in LOCAL_HOSTS]
    registry_stacks = REGISTRY_STACKS.get(container.role or "", set())
    if container.role is None and deployment.kind == "envfile":
        registry_stacks = {PYTHON, GO}
    targets += [(h, registry_stacks, both_families, "error") for h in deployment.registry_hosts]
    targets += [(h, {PYTHON}, both_families, "warning") for h in deployment.db_hosts]
    return targets


def _fix(var: EnvVar | None, missing: list[str]) -> str:
    if var is None:
        value = ",".join(dict.fromkeys(missing))
        return f"set no_proxy and NO_PROXY to {value} (plain host names work alike in both stacks)"
    value = ",".join(dict.fromkeys([*entries(var.value or ""), *missing]))
    return f"write {var.name}={value} (plain host names work alike in both stacks)"


def _coverage(deployment: Deployment, container: Container) -> list[Finding]:
    proxied = _proxied_families(container)
    if not any(proxied.values()):
        return []
    missing: dict[tuple[EnvVar | None, str], list[tuple[Host, str]]] = {}
    for host, stacks, families, severity in _targets(deployment, container):
        for stack in sorted(stacks):
            if not proxied[stack]:
                continue
            var = effective(container, NO_PROXY, stack)
            if var is not None and not var.known:
                continue
            if bypasses(stack, var.value if var else None, host.name, host.port):
                continue
            # A call whose scheme has no proxy in this stack goes direct anyway: only a warning.
            level = severity if proxied[stack] & families else "warning"
            missing.setdefault((var, level), []).append((host, stack))
    found = []
    for (var, level), misses in missing.items():
        groups: dict[str, list[str]] = {}
        for host, _stack in misses:
            names = groups.setdefault(host.why, [])
            if host.name not in names:
                names.append(host.name)
        described = "; ".join(_WHY[why].format(hosts=", ".join(names)) for why, names in groups.items())
        name = var.name if var is not None else NO_PROXY
        if var is None:
            problem = f"no no_proxy/NO_PROXY while a proxy is set, so the proxy gets calls to {described}"
        else:
            problem = f"does not cover {described}"
            listed = entries(var.value or "")
            if listed and all(is_cidr(e) or is_ip(e) for e in listed):
                problem += (
                    "; the list holds only addresses and CIDR ranges, and no stack matches a host name "
                    "against them, even one that resolves into the range"
                )
        if level == "warning" and any(h.why != "database" for h, _ in misses):
            problem += (
                "; harmless while no http_proxy is set for that stack (these calls use http://), "
                "wrong as soon as one is"
            )
        missing_names = list(dict.fromkeys(h.name for h, _ in misses))
        found.append(
            finding(
                deployment,
                container.name,
                var.file if var else container.file,
                var.line if var else container.env_line,
                name,
                problem,
                stack_of(s for _, s in misses),
                _fix(var, missing_names),
                level,
            )
        )
    return found


def _feed_bypass(deployment: Deployment, container: Container) -> list[Finding]:
    """A no_proxy that matches the public feed host sends feed sync past the proxy."""
    any_role = container.role is None and deployment.kind == "envfile"
    if container.role not in ("policy_engine", "all") and not any_role:
        return []
    var = effective(container, NO_PROXY, PYTHON)
    if var is None or not var.known or effective(container, "https_proxy", PYTHON) is None:
        return []
    provider = (container.value("ANCHORE_VULNERABILITIES_PROVIDER") or "").lower()
    by_provider = {"legacy": ["ANCHORE_FEEDS_URL"], "grype": ["ANCHORE_GRYPE_DB_URL"]}
    names = by_provider.get(provider, list(FEED_DEFAULTS))
    found = []
    for name in names:
        default_host = urlsplit(FEED_DEFAULTS[name]).hostname or ""
        host = urlsplit(container.value(name) or FEED_DEFAULTS[name]).hostname or ""
        if host != default_host or not python_bypasses(var.value or "", host, 443):
            continue
        culprits = [e for e in entries(var.value or "") if python_bypasses(e, host, 443)]
        found.append(
            finding(
                deployment,
                container.name,
                var.file,
                var.line,
                var.name,
                f"matches the public feed host {host} (entry {', '.join(culprits) or '?'}; requests 2.26 "
                "matches any suffix): feed sync would bypass the proxy and fail where only the proxy "
                "reaches out",
                PYTHON,
                f"remove {', '.join(culprits) or 'the matching entry'} unless {host} is reachable directly",
                "warning",
            )
        )
    return found


def check_no_proxy_hosts(deployment: Deployment) -> list[Finding]:
    """no_proxy covers every engine service host, localhost and 127.0.0.1, registries reached
    directly, and (warning) the database host; it does not send feed sync past the proxy."""
    found = []
    for container in deployment.engine_containers:
        found += _coverage(deployment, container)
        found += _feed_bypass(deployment, container)
    return found


def _entry_problem(entry: str, count: int) -> tuple[str, str, str, str] | None:
    """(problem, stack, fix, severity) for one no_proxy entry, or None when it is portable."""
    if any(q in entry for q in QUOTES):
        return None  # the quotes rule reports it
    if entry == "*":
        if count == 1:
            return (
                "'*' sends every host direct: feed sync and registry access never use the proxy",
                BOTH,
                "list only the hosts to reach directly",
                "warning",
            )
        return (
            "'*' inside a list: Go then bypasses every host, requests only honours a lone '*', so the "
            "two stacks route differently",
            BOTH,
            "remove '*' (or make it the whole value)",
            "error",
        )
    if "://" in entry or ("/" in entry and not is_cidr(entry)):
        return (
            f"entry {entry!r} is not a host name, domain or address range: no stack matches it",
            BOTH,
            f"write the host name only ({urlsplit(entry).hostname or entry.split('/')[0]})",
            "error",
        )
    if is_cidr(entry):
        if ":" in entry:
            return (
                f"IPv6 range {entry!r}: Go honours it, requests ignores it",
                PYTHON,
                "list the IPv6 addresses (or the host names) as well",
                "warning",
            )
        if not is_ipv4_cidr(entry):
            return (
                f"{entry!r} is not a valid IPv4 range for requests",
                PYTHON,
                "use a mask from 1 to 32",
                "error",
            )
        return None
    if entry.startswith("*."):
        domain = entry[2:]
        return (
            f"{entry!r}: Go bypasses the subdomains of {domain}, requests sends them to the proxy",
            PYTHON,
            f"write {domain} (both stacks then bypass {domain} and its subdomains)",
            "error",
        )
    if "*" in entry:
        return (
            f"{entry!r}: no stack supports a wildcard there (only a leading '*.', and only in Go)",
            BOTH,
            "list the hosts, or their common domain",
            "error",
        )
    if entry.startswith("."):
        domain = entry.lstrip(".")
        return (
            f"{entry!r}: Go does not match {domain} itself, only its subdomains; requests matches both",
            GO,
            f"write {domain} to cover {domain} and its subdomains in both stacks",
            "warning",
        )
    host, port = split_entry_port(entry)
    if port is not None:
        return (
            f"{entry!r} applies only to port {port} in requests and Go, and curl ignores such entries",
            BOTH,
            f"write {host} unless only port {port} should be reached directly",
            "warning",
        )
    return None


def check_no_proxy_entries(deployment: Deployment) -> list[Finding]:
    """Entries the two stacks read differently: '*.domain', '.domain', host:port, IPv6 ranges,
    '*' in a list, URLs and other forms no stack matches."""
    found = []
    for container, var in proxy_vars(deployment, frozenset({NO_PROXY, NO_PROXY.upper()})):
        listed = entries(var.value or "")
        for entry in listed:
            result = _entry_problem(entry, len(listed))
            if result is None:
                continue
            problem, stack, fix, severity = result
            if stack == BOTH:
                stack = var_stack(container, var)
            found.append(
                finding(
                    deployment, container.name, var.file, var.line, var.name, problem, stack, fix, severity
                )
            )
    return found
