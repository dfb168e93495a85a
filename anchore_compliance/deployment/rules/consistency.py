"""Rules across variables and containers: the two cases agree (ENV-1), and every service that
calls out has the proxy (NET-1)."""

from __future__ import annotations

from collections import Counter

from anchore_compliance.deployment.model import (
    BOTH,
    FAMILIES,
    GO,
    NO_PROXY,
    PYTHON,
    URL_FAMILIES,
    Container,
    Deployment,
    EnvVar,
    Finding,
    stack_of,
)
from anchore_compliance.deployment.rules.common import at_var, finding, shown
from anchore_compliance.deployment.semantics import (
    QUOTES,
    effective,
    entries,
    parse_proxy_url,
    redact_proxy_value,
    unquote_outer,
)
from anchore_compliance.redaction import MASK

_READS = {
    GO: "read by Go: skopeo's registry access",
    PYTHON: "read by Python requests: feed sync and calls between services",
}


def _normal(family: str, value: str) -> object:
    """What a value means, ignoring quotes (the quotes rule reports them) and entry order."""
    if family == NO_PROXY:
        return frozenset(e.strip(QUOTES).lower() for e in entries(value))
    return unquote_outer(value)


def _endpoint(value: str) -> tuple[str, str, str]:
    """Where a proxy URL sends traffic: (scheme, host, port), with the defaults both stacks use."""
    url = parse_proxy_url(unquote_outer(value))
    scheme = (url.scheme or "http").lower()
    port = url.port or ("443" if scheme == "https" else "80")
    return scheme, url.host.lower(), port


def _case_mismatch(deployment: Deployment, container: Container, family: str) -> Finding | None:
    lower, upper = container.env.get(family), container.env.get(family.upper())
    if family != NO_PROXY and lower is not None and lower.value == "" and upper is not None and upper.value:
        return at_var(
            deployment,
            container,
            lower,
            f"set to the empty string while {upper.name} is set ({upper.where}): Python requests then uses "
            f"no proxy at all (urllib drops it), Go uses {upper.name}",
            BOTH,
            f"give {family} the same value as {upper.name}, or remove the empty {family}",
        )
    py, go = effective(container, family, PYTHON), effective(container, family, GO)
    if py is None or go is None or py is go or not (py.known and go.known):
        return None
    if _normal(family, py.value or "") == _normal(family, go.value or ""):
        return None
    return at_var(
        deployment,
        container,
        go,
        f"{go.name} ({_READS[GO]}) is {shown(go)} but {py.name} ({_READS[PYTHON]}) is {shown(py)} "
        f"({py.where}): registry traffic and feed traffic route differently",
        BOTH,
        f"give {go.name} and {py.name} the same value",
    )


def _across_containers(deployment: Deployment, family: str, skip: set[str]) -> list[Finding]:
    """Engine services sending the same kind of traffic to different proxies (a warning).
    Containers whose two cases disagree (`skip`) are already reported."""
    values: list[tuple[Container, EnvVar, object]] = []
    for container in deployment.engine_containers:
        var = effective(container, family, PYTHON) or effective(container, family, GO)
        if var is not None and var.known and container.name not in skip:
            values.append((container, var, _endpoint(var.value or "")))
    counts = Counter(v for _, _, v in values)
    if len(counts) < 2:
        return []
    common = counts.most_common(1)[0][0]
    reference = next((c, var) for c, var, v in values if v == common)
    usual = redact_proxy_value(reference[1].value or "", MASK)
    found = []
    for container, var, value in values:
        if value == common:
            continue
        mine = redact_proxy_value(var.value or "", MASK)
        found.append(
            at_var(
                deployment,
                container,
                var,
                f"{var.name} is {mine!r} here but {usual!r} on {reference[0].name}: this service's "
                "traffic goes to another proxy",
                BOTH,
                f"use one value for {family} on every engine service, unless this is intended",
                "warning",
            )
        )
    return found


def check_case_consistency(deployment: Deployment) -> list[Finding]:
    """Upper- and lower-case variables agree in each container (Go prefers UPPER, Python lower),
    and the engine services use the same proxy."""
    found = []
    for family in FAMILIES:
        mismatched = set()
        for container in deployment.engine_containers:
            mismatch = _case_mismatch(deployment, container, family)
            if mismatch is not None:
                found.append(mismatch)
                mismatched.add(container.name)
        if family != NO_PROXY:
            found += _across_containers(deployment, family, mismatched)
    return found


def _example(setters: list[tuple[Container, EnvVar]], family: str) -> tuple[Container, EnvVar]:
    """The value most services use, taken from one whose two cases agree."""
    agreeing = [(c, var) for c, var in setters if var.known and _case_mismatch_free(c, family)] or setters
    usual = Counter(_endpoint(var.value or "") for _, var in agreeing if var.known).most_common(1)
    for container, var in agreeing:
        if usual and var.known and _endpoint(var.value or "") == usual[0][0]:
            return container, var
    return agreeing[0]


def _case_mismatch_free(container: Container, family: str) -> bool:
    py, go = effective(container, family, PYTHON), effective(container, family, GO)
    if py is None or go is None or py is go:
        return py is not None or go is not None
    return _normal(family, py.value or "") == _normal(family, go.value or "")


_STACK_NAMES = {PYTHON: "Python requests", GO: "Go (skopeo)"}
# Who calls out, with which stack, for what.
OUTBOUND = {
    "catalog": ({PYTHON, GO}, "registry lookups with skopeo/Go, registry validation with requests"),
    "analyzer": ({GO}, "image pulls with skopeo/Go"),
    "policy_engine": ({PYTHON}, "feed sync with requests"),
    "all": ({PYTHON, GO}, "feed sync, registry lookups and image pulls"),
}


def check_proxy_missing(deployment: Deployment) -> list[Finding]:
    """A service that makes outbound calls (catalog and analyzer: registries; policy engine:
    feeds) lacks a proxy variable the deployment sets on other services."""
    found = []
    engines = deployment.engine_containers
    for family in URL_FAMILIES:
        setters = [
            (c, var)
            for c in engines
            if (var := effective(c, family, PYTHON) or effective(c, family, GO)) is not None
        ]
        if not setters:
            continue
        for container in engines:
            if container.role not in OUTBOUND:
                continue
            stacks, calls = OUTBOUND[container.role]
            missing = {s for s in stacks if effective(container, family, s) is None}
            others = [(c, var) for c, var in setters if c is not container]
            if not missing or not others:
                continue
            example_container, example = _example(others, family)
            names = ", ".join(dict.fromkeys(c.name for c, _ in others))
            if missing == {PYTHON, GO}:
                who = f"neither Python requests nor Go (skopeo) gets a {family}/{family.upper()}"
            else:
                who = f"{_STACK_NAMES[next(iter(missing))]} gets no {family}/{family.upper()}"
            hidden = container.env.get(family)
            why = (
                f" (the empty {family} hides {family.upper()} from requests)"
                if hidden and hidden.value == ""
                else ""
            )
            found.append(
                finding(
                    deployment,
                    container.name,
                    container.file,
                    container.env_line,
                    family,
                    f"{container.name} makes outbound calls ({calls}), but {who}{why}, while {names} "
                    "set it: these calls go direct, which fails where only the proxy reaches out",
                    stack_of(missing),
                    f"set {family} and {family.upper()} on {container.name} as on {example_container.name} "
                    f"({shown(example)}), with the same no_proxy",
                )
            )
    return found
