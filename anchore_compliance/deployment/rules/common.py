"""What every rule needs: the variables to look at, safe display of values, building findings."""

from __future__ import annotations

from collections.abc import Iterator

from anchore_compliance.deployment.model import (
    BOTH,
    GO,
    PROXY_VARIABLES,
    PYTHON,
    URL_FAMILIES,
    Container,
    Deployment,
    EnvVar,
    Finding,
    stack_of,
)
from anchore_compliance.deployment.semantics import readers, redact_proxy_value
from anchore_compliance.redaction import MASK

URL_VARIABLES = frozenset(name for family in URL_FAMILIES for name in (family, family.upper()))
_YAML_SPECIAL_START = tuple("*&!|>'\"%@`{[,?-#")


def proxy_vars(
    deployment: Deployment, names: frozenset[str] = PROXY_VARIABLES
) -> Iterator[tuple[Container, EnvVar]]:
    """(container, variable) for every proxy variable with a known, non-empty value on an engine
    container. Proxy settings on other containers (the database, a registry) do not concern the
    engine and are not audited."""
    for container in deployment.engine_containers:
        for name, var in container.env.items():
            if name in names and var.known and var.value != "":
                yield container, var


def var_stack(container: Container, var: EnvVar) -> str:
    """The stacks that read this variable; a shadowed variable counts for the stack of its case."""
    found = readers(container, var)
    if not found:
        found = {PYTHON} if var.name.islower() else {GO}
    return stack_of(found)


def shown(var: EnvVar | None) -> str:
    """A variable's value fit to print: passwords masked."""
    if var is None or var.value is None:
        return "(unknown)"
    return repr(redact_proxy_value(var.value, MASK))


def _yaml_scalar(value: str) -> str:
    if (
        value == ""
        or value.startswith(_YAML_SPECIAL_START)
        or ": " in value
        or " #" in value
        or value != value.strip()
    ):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return value


def written(var: EnvVar, value: str) -> str:
    """How `var` set to `value` is written in the file it comes from."""
    if var.syntax == "compose-list":
        return f"- {var.name}={value}"
    if var.syntax == "compose-map":
        return f"{var.name}: {_yaml_scalar(value)}"
    if var.syntax == "k8s-value":
        return f"- name: {var.name} / value: {_yaml_scalar(value)}"
    if var.syntax == "k8s-configmap":
        key = var.origin.rsplit("key ", 1)[-1]
        return f"{key}: {_yaml_scalar(value)} (in {var.origin.split(',')[0]})"
    if var.syntax == "k8s-secret":
        key = var.origin.rsplit("key ", 1)[-1]
        return (
            f"stringData: {key}: {_yaml_scalar(value)} (in {var.origin.split(',')[0]}, or base64 under data)"
        )
    return f"{var.name}={value}"


def finding(
    deployment: Deployment,
    service: str,
    file: str,
    line: int,
    variable: str,
    problem: str,
    stack: str,
    fix: str,
    severity: str = "error",
) -> Finding:
    """A Finding whose texts went through the input's secret scrubber."""
    scrub = deployment.scrub
    return Finding(file, line, service, variable, scrub(problem), stack, scrub(fix), severity)  # type: ignore[arg-type]


def at_var(
    deployment: Deployment,
    container: Container,
    var: EnvVar,
    problem: str,
    stack: str,
    fix: str,
    severity: str = "error",
) -> Finding:
    return finding(deployment, container.name, var.file, var.line, var.name, problem, stack, fix, severity)


def merged(findings: list[Finding]) -> list[Finding]:
    """One finding per place and problem: a value shared by several services (a YAML anchor, one
    ConfigMap) is reported once, naming every service."""
    order: dict[tuple, list[Finding]] = {}
    for f in findings:
        order.setdefault((f.file, f.line, f.variable, f.problem, f.fix, f.severity, f.stack), []).append(f)
    result = []
    for group in order.values():
        first = group[0]
        services = list(dict.fromkeys(f.service for f in group))
        result.append(
            Finding(
                first.file,
                first.line,
                ", ".join(services),
                first.variable,
                first.problem,
                first.stack,
                first.fix,
                first.severity,
            )
        )
    return result


__all__ = [
    "BOTH",
    "GO",
    "PYTHON",
    "URL_VARIABLES",
    "at_var",
    "finding",
    "merged",
    "proxy_vars",
    "shown",
    "var_stack",
    "written",
]
