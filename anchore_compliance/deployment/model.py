"""What the audit works on (deployments, containers, environment variables) and what it reports.

Nothing here prints a variable's value: `repr()` of every object stays safe to show in a pytest
traceback (`--showlocals` included), because proxy URLs carry passwords.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Stack = Literal["python", "go", "both"]
Severity = Literal["error", "warning"]
Kind = Literal["compose", "kubernetes", "envfile"]
KINDS: frozenset[str] = frozenset({"compose", "kubernetes", "envfile"})

PYTHON, GO, BOTH = "python", "go", "both"
# The proxy variable families, by their lower-case name; each is read in both cases.
URL_FAMILIES = ("https_proxy", "http_proxy")
NO_PROXY = "no_proxy"
FAMILIES = (*URL_FAMILIES, NO_PROXY)
PROXY_VARIABLES = frozenset(name for family in FAMILIES for name in (family, family.upper()))

# Engine service roles (the names `anchore-manager service start` takes), "all" for all-in-one.
ROLES = ("apiext", "catalog", "simplequeue", "policy_engine", "analyzer")
DEFAULT_SERVICE_PORT = 8228


def stack_of(stacks: Iterable[str]) -> Stack:
    """Collapse a set of stacks to the value a finding carries."""
    found = set(stacks)
    if found >= {PYTHON, GO} or BOTH in found:
        return BOTH
    return PYTHON if PYTHON in found else GO


@dataclass(frozen=True, repr=False)
class EnvVar:
    """One environment variable as the container will see it, and where it was written.

    `value` is None when the audit cannot know it (`unknown` says why: taken from the shell,
    a ConfigMap missing from the input, ...). `syntax` is how the value is written, so a fix can
    be phrased in that file's own terms.
    """

    name: str
    value: str | None
    file: str
    line: int
    syntax: str  # envfile, compose-envfile, compose-list, compose-map, k8s-value, k8s-configmap, k8s-secret
    origin: str = ""  # e.g. "ConfigMap anchore-proxy, key https_proxy"
    unknown: str = ""
    stripped_quote: str = ""  # compose env_file: the quote character Compose removed

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    @property
    def known(self) -> bool:
        return self.value is not None

    def __repr__(self) -> str:
        return f"EnvVar({self.name} at {self.where})"


@dataclass(repr=False)
class Container:
    """One container of the deployment (a compose service, a Kubernetes container, an env file)."""

    name: str
    file: str
    line: int
    env_line: int  # where its environment is declared: the place to add a missing variable
    image: str = ""
    role: str | None = None  # one of ROLES, "all", or None when unknown
    engine: bool = False
    env: dict[str, EnvVar] = field(default_factory=dict)
    ports: tuple[int, ...] = ()

    def value(self, name: str) -> str | None:
        var = self.env.get(name)
        return var.value if var is not None else None

    @property
    def service_port(self) -> int:
        raw = self.value("ANCHORE_SERVICE_PORT")
        return int(raw) if raw and raw.strip().isdigit() else DEFAULT_SERVICE_PORT

    def __repr__(self) -> str:
        return f"Container({self.name} at {self.file}:{self.line})"


@dataclass(frozen=True)
class Host:
    """A host the engine's containers call and that must not go through the proxy."""

    name: str
    port: int | None
    why: str  # "engine service", "database", "registry", "local"


@dataclass(frozen=True, repr=False)
class Finding:
    """One problem in a deployment file, in words an operator can act on. Texts hold no secret."""

    file: str
    line: int
    service: str
    variable: str
    problem: str
    stack: Stack
    fix: str
    severity: Severity = "error"

    def __str__(self) -> str:
        return (
            f"{self.file}:{self.line} [{self.service}] {self.variable}: {self.problem} "
            f"(stack: {self.stack}). Fix: {self.fix}"
        )

    def __repr__(self) -> str:
        return f"Finding({self.severity}: {self})"


@dataclass(repr=False)
class Deployment:
    """One deployment description: a compose file, a Kubernetes manifest or an env file.

    `service_hosts` are the engine's endpoint host names (for Kubernetes: across every manifest of
    the input, since one service's manifest may sit in another file). `notes` are findings the
    loader made about how the variables are set (a missing env_file, a ConfigMap not in the input):
    the DEPLOY-1/DEPLOY-2 rules report them.
    """

    path: Path
    kind: Kind
    display_name: str
    containers: list[Container]
    service_hosts: tuple[Host, ...] = ()
    registry_hosts: tuple[Host, ...] = ()
    notes: list[Finding] = field(default_factory=list)
    scrub: Callable[[str], str] = str

    @property
    def engine_containers(self) -> list[Container]:
        return [c for c in self.containers if c.engine]

    @property
    def db_hosts(self) -> tuple[Host, ...]:
        names = {c.value("ANCHORE_DB_HOST") for c in self.engine_containers}
        return tuple(Host(n, None, "database") for n in sorted(n for n in names if n))

    def __repr__(self) -> str:
        return f"Deployment({self.kind} {self.display_name}, {len(self.containers)} containers)"


@dataclass(frozen=True, repr=False)
class Rule:
    """A check over a deployment, tied to one catalog requirement."""

    id: str
    requirement: str
    title: str
    check: Callable[[Deployment], list[Finding]]
    kinds: frozenset[str] = KINDS

    def applies_to(self, deployment: Deployment) -> bool:
        return deployment.kind in self.kinds

    def __repr__(self) -> str:
        return f"Rule({self.requirement} {self.id})"
