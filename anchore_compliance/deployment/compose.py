"""Docker Compose files (v2 and v3 syntax): services, `environment:` as map or list, `env_file:`.

Values are read as Compose v2 passes them to the container: `$$` is a literal `$`; `${VAR}` and
`$VAR` are substituted from the shell or `.env` when Compose starts, so the audit marks such
values as unknown and says so. Override files are not merged: each compose file is audited alone.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from anchore_compliance.deployment import envfile
from anchore_compliance.deployment.detect import (
    command_tokens,
    is_engine,
    is_registry_image,
    role_from_command,
    role_from_name,
)
from anchore_compliance.deployment.model import (
    BOTH,
    PROXY_VARIABLES,
    Container,
    Deployment,
    EnvVar,
    Finding,
    Host,
)
from anchore_compliance.deployment.yamlpos import YMap, YSeq

SHELL_VALUE = "taken from the environment of the shell that runs docker compose"


def is_compose(doc: Any) -> bool:
    return isinstance(doc, dict) and isinstance(doc.get("services"), dict)


def _container_ports(service: dict) -> tuple[int, ...]:
    ports: list[int] = []
    for key in ("expose", "ports"):
        for item in service.get(key) or []:
            if isinstance(item, dict):
                target = item.get("target")
            else:
                target = str(item).split("/", 1)[0].rsplit(":", 1)[-1]
            if str(target).isdigit():
                ports.append(int(target))
    return tuple(ports)


def _env_file_refs(value: Any) -> list[tuple[str, bool, int]]:
    """(path, required, line) for each entry of `env_file:` (string, list, or list of mappings)."""
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    lines = value.item_lines if isinstance(value, YSeq) else [getattr(value, "line", 0)]
    refs = []
    for item, line in zip(items, lines, strict=False):
        if isinstance(item, dict):
            refs.append((str(item.get("path", "")), item.get("required", True) is not False, line))
        else:
            refs.append((str(item), True, line))
    return refs


class _ServiceEnv:
    """Builds one service's environment, with Compose's precedence (environment over env_file)."""

    def __init__(self, service_name: str, notes: list[Finding]) -> None:
        self.service = service_name
        self.notes = notes
        self.env: dict[str, EnvVar] = {}

    def note(self, file: str, line: int, variable: str, problem: str, fix: str, severity: str) -> None:
        self.notes.append(Finding(file, line, self.service, variable, problem, BOTH, fix, severity))  # type: ignore[arg-type]

    def set(self, var: EnvVar) -> None:
        if var.name in PROXY_VARIABLES and var.unknown:
            self.note(
                var.file,
                var.line,
                var.name,
                f"value {var.unknown}; the audit cannot check it",
                "write the value into the file (for a password holding '$', write '$$' in a compose file), "
                "or audit the file the value comes from",
                "warning",
            )
        self.env[var.name] = var

    def read_env_file(
        self, base: Path, label_base: str, ref: str, required: bool, line: int, file: str
    ) -> Path | None:
        target = base / ref
        label = os.path.normpath(os.path.join(label_base, ref))
        if not target.is_file():
            if required:
                self.note(
                    file,
                    line,
                    "env_file",
                    f"env file {ref} does not exist: docker compose refuses to start the service "
                    "and the audit could not check its variables",
                    f"create {label} or fix the path",
                    "error",
                )
            return None
        lines, _ = envfile.parse_compose(target.read_text(encoding="utf-8", errors="replace"))
        for item in lines:
            unknown = SHELL_VALUE if item.value is None else ""
            if item.interpolated:
                unknown = "is substituted by Compose from the shell or .env when it starts"
            self.set(
                EnvVar(
                    name=item.name,
                    value=None if unknown else item.value,
                    file=label,
                    line=item.line,
                    syntax="compose-envfile",
                    origin=f"env_file {ref}",
                    unknown=unknown,
                    stripped_quote=item.stripped_quote,
                )
            )
        return target

    def read_environment(self, environment: Any, file: str) -> None:
        if isinstance(environment, dict):
            pairs = []
            for key, value in environment.items():
                line = environment.line_of(key) if isinstance(environment, YMap) else 0
                if isinstance(value, bool):
                    value = "true" if value else "false"
                pairs.append((str(key), None if value is None else str(value), line, "compose-map"))
        elif isinstance(environment, list):
            lines = environment.item_lines if isinstance(environment, YSeq) else [0] * len(environment)
            pairs = []
            for item, line in zip(environment, lines, strict=False):
                name, sep, value = str(item).partition("=")
                pairs.append((name, value if sep else None, line, "compose-list"))
        else:
            return
        for name, value, line, syntax in pairs:
            unknown = ""
            if value is None:
                unknown = SHELL_VALUE
            elif envfile.compose_interpolates(value):
                unknown = "is substituted by Compose from the shell or .env when it starts"
            self.set(
                EnvVar(
                    name=name,
                    value=None if unknown else envfile.compose_unescape(value or ""),
                    file=file,
                    line=line,
                    syntax=syntax,
                    origin="environment",
                    unknown=unknown,
                )
            )


def load_compose(path: Path, label: str, doc: YMap) -> tuple[Deployment, set[Path]]:
    """One compose file -> a Deployment, and the env files it reads (resolved paths)."""
    services: YMap = doc["services"]
    notes: list[Finding] = []
    containers: list[Container] = []
    registries: list[Host] = []
    env_files: set[Path] = set()
    for name, service in services.items():
        if not isinstance(service, dict):
            continue
        name = str(name)
        line = services.key_lines.get(name, services.line)
        builder = _ServiceEnv(name, notes)
        key_lines = service.key_lines if isinstance(service, YMap) else {}
        for ref, required, ref_line in _env_file_refs(service.get("env_file")):
            read = builder.read_env_file(path.parent, os.path.dirname(label), ref, required, ref_line, label)
            if read is not None:
                env_files.add(read.resolve())
        builder.read_environment(service.get("environment"), label)
        image = str(service.get("image") or "")
        tokens = command_tokens(service.get("entrypoint"), service.get("command"))
        engine = is_engine(image, tokens, builder.env)
        container = Container(
            name=name,
            file=label,
            line=line,
            env_line=key_lines.get("environment", key_lines.get("env_file", line)),
            image=image,
            role=(role_from_command(tokens) or role_from_name(name)) if engine else None,
            engine=engine,
            env=builder.env,
            ports=_container_ports(service),
        )
        containers.append(container)
        if not engine and is_registry_image(image):
            registries.append(Host(name, container.ports[0] if container.ports else None, "registry"))
    service_hosts = tuple(
        Host(host, c.service_port, "engine service")
        for c in containers
        if c.engine and (host := c.value("ANCHORE_ENDPOINT_HOSTNAME"))
    )
    deployment = Deployment(
        path=path,
        kind="compose",
        display_name=label,
        containers=containers,
        service_hosts=service_hosts,
        registry_hosts=tuple(registries),
        notes=notes,
    )
    return deployment, env_files
