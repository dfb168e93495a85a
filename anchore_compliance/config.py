"""Suite settings and engine profiles.

Precedence, highest first: command-line option, environment variable (`ANCHORE_COMPLIANCE_*`),
the engine profile file, built-in defaults. Everything is loaded once per run and validated
here, so bad input fails before any container starts, with one line.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from anchore_compliance.errors import ExitCode, SuiteUsageError
from anchore_compliance.redaction import REDACTOR

BUILTIN_PROFILES = ("reference", "reference-all-in-one", "anchore-engine-1.1.0")
TOPOLOGIES = ("per-service", "all-in-one")
_PLACEHOLDER = re.compile(r"\{(images\.[a-z_]+|api\.password)\}")


@dataclass(frozen=True)
class EngineContainer:
    """One container of the engine deployment (a service, or the database)."""

    name: str  # container name on the network, also its DNS alias
    image: str
    command: tuple[str, ...] | None
    environment: dict[str, str]
    engine: bool  # False for helpers such as the database: no proxy variables, no CA
    health_ports: tuple[int, ...] = ()  # ports whose GET /health says a service in it is up
    service_ports: dict[str, int] = field(default_factory=dict)  # engine service -> port it serves


@dataclass(frozen=True)
class EngineProfile:
    """How to launch (or reach) the engine under test for a scenario."""

    name: str
    description: str
    product: str
    version: str
    topology: str
    api_container: str
    api_port: int
    api_username: str
    api_password: str
    services: tuple[str, ...]
    ready_timeout: float
    # Seconds from "every service answers /health" to "GET /v1/system lists every service";
    # longer means the listing itself (apiext -> catalog) is broken, for the checks to judge.
    registration_grace: float
    certs_dir: str
    shared_dir: str | None
    containers: tuple[EngineContainer, ...]
    source: str

    @property
    def engine_hosts(self) -> tuple[str, ...]:
        """Host names the engine's services use for each other: what no_proxy must list."""
        return tuple(c.name for c in self.containers)

    def service_at(self, host: str | None, port: int | None) -> str | None:
        """The engine service that `host:port` reaches, as the services call each other."""
        for container in self.containers:
            if container.name == host:
                for service, service_port in container.service_ports.items():
                    if port in (service_port, None):
                        return service
        return None

    def services_in(self, container_name: str) -> tuple[str, ...]:
        for container in self.containers:
            if container.name == container_name:
                return tuple(container.service_ports)
        return ()

    @property
    def images(self) -> tuple[str, ...]:
        return tuple(sorted({c.image for c in self.containers}))

    def redacted(self) -> dict[str, Any]:
        return REDACTOR.redact_data(
            {
                "name": self.name,
                "source": self.source,
                "product": self.product,
                "version": self.version,
                "topology": self.topology,
                "api": {"container": self.api_container, "port": self.api_port, "password": "set"},
                "services": list(self.services),
                "containers": [
                    {"name": c.name, "image": c.image, "command": c.command, "environment": c.environment}
                    for c in self.containers
                ],
            }
        )


def _require(mapping: dict, key: str, kind: type, where: str) -> Any:
    if key not in mapping:
        raise SuiteUsageError(f"engine profile {where}: missing '{key}'")
    value = mapping[key]
    if not isinstance(value, kind):
        raise SuiteUsageError(f"engine profile {where}: '{key}' must be a {kind.__name__}")
    return value


def _string_map(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SuiteUsageError(f"engine profile {where}: 'environment' must be a mapping")
    return {str(k): "" if v is None else str(v) for k, v in value.items()}


def _service_ports(entry: dict, command: list | None, env: dict[str, str], where: str) -> dict[str, int]:
    """Which engine services a container runs and on which port: `service_ports` in the profile,
    or, for one service per container, `service start <service>` on ANCHORE_SERVICE_PORT."""
    given = entry.get("service_ports")
    try:
        if given is not None:
            if not isinstance(given, dict):
                raise SuiteUsageError(f"engine profile {where}: 'service_ports' must map services to ports")
            return {str(service): int(port) for service, port in given.items()}
        words = list(command or [])
        if "start" in words:
            named = [w for w in words[words.index("start") + 1 :] if not w.startswith("-")]
            if len(named) == 1:
                return {named[0]: int(env.get("ANCHORE_SERVICE_PORT") or 8228)}
    except (TypeError, ValueError):
        raise SuiteUsageError(f"engine profile {where}: service ports must be port numbers") from None
    return {}


def parse_profile(
    text: str, source: str, images: dict[str, str], env_overrides: dict[str, str]
) -> EngineProfile:
    """Parse an engine profile; `images` fills `{images.NAME}`, `env_overrides` is added last."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise SuiteUsageError(f"engine profile {source}: not valid YAML{where}") from None
    if not isinstance(data, dict):
        raise SuiteUsageError(f"engine profile {source}: expected a mapping at the top level")
    api = _require(data, "api", dict, source)
    password = os.environ.get("ANCHORE_COMPLIANCE_ADMIN_PASSWORD") or str(
        _require(api, "password", str, source)
    )
    REDACTOR.add_secret(password, user=str(api.get("username", "admin")))

    def fill(value: str) -> str:
        def sub(match: re.Match[str]) -> str:
            key = match.group(1)
            if key == "api.password":
                return password
            name = key.split(".", 1)[1]
            if name not in images:
                raise SuiteUsageError(f"engine profile {source}: unknown image placeholder {{{key}}}")
            return images[name]

        return _PLACEHOLDER.sub(sub, value)

    common_env = _string_map(data.get("environment"), source)
    default_image = fill(str(_require(data, "image", str, source)))
    containers = []
    for entry in _require(data, "containers", list, source):
        if not isinstance(entry, dict):
            raise SuiteUsageError(f"engine profile {source}: each container must be a mapping")
        name = str(_require(entry, "name", str, source))
        is_engine = bool(entry.get("engine", True))
        env = {
            **(common_env if is_engine else {}),
            **_string_map(entry.get("environment"), f"{source}:{name}"),
        }
        if is_engine:
            env.update(env_overrides)
        command = entry.get("command")
        if command is not None and not (
            isinstance(command, list) and all(isinstance(c, str) for c in command)
        ):
            raise SuiteUsageError(f"engine profile {source}:{name}: 'command' must be a list of strings")
        try:
            health_ports = tuple(int(p) for p in entry.get("health_ports", [8228] if is_engine else []))
        except (TypeError, ValueError):
            raise SuiteUsageError(
                f"engine profile {source}:{name}: health_ports must be port numbers"
            ) from None
        containers.append(
            EngineContainer(
                name=name,
                image=fill(str(entry.get("image", default_image))),
                command=tuple(command) if command else None,
                environment={k: fill(v) for k, v in env.items()},
                engine=is_engine,
                health_ports=health_ports,
                service_ports=_service_ports(entry, command, env, f"{source}:{name}") if is_engine else {},
            )
        )
    names = [c.name for c in containers]
    if len(set(names)) != len(names) or not containers:
        raise SuiteUsageError(f"engine profile {source}: container names must be unique and non-empty")
    topology = str(data.get("topology", "per-service"))
    if topology not in TOPOLOGIES:
        raise SuiteUsageError(f"engine profile {source}: topology must be one of {', '.join(TOPOLOGIES)}")
    api_container = str(_require(api, "container", str, source))
    if api_container not in names:
        raise SuiteUsageError(f"engine profile {source}: api.container {api_container!r} is not a container")
    try:
        ready_timeout = float(data.get("ready_timeout", 90))
        registration_grace = float(data.get("registration_grace", 15))
        api_port = int(api.get("port", 8228))
    except (TypeError, ValueError):
        raise SuiteUsageError(
            f"engine profile {source}: ready_timeout, registration_grace and api.port must be numbers"
        ) from None
    return EngineProfile(
        name=str(_require(data, "name", str, source)),
        description=" ".join(str(data.get("description", "")).split()),
        product=str(data.get("product", "Anchore Engine")),
        version=str(data.get("version", "")),
        topology=topology,
        api_container=api_container,
        api_port=api_port,
        api_username=str(api.get("username", "admin")),
        api_password=password,
        services=tuple(_require(data, "services", list, source)),
        ready_timeout=ready_timeout,
        registration_grace=registration_grace,
        certs_dir=str(data.get("certs_dir", "/home/anchore/certs")),
        shared_dir=data.get("shared_dir"),
        containers=tuple(containers),
        source=source,
    )


def load_profile(name_or_path: str, images: dict[str, str], env_overrides: dict[str, str]) -> EngineProfile:
    """Load a built-in profile by name, or a profile file by path."""
    if name_or_path in BUILTIN_PROFILES:
        ref = resources.files("anchore_compliance").joinpath("profiles", f"{name_or_path}.yaml")
        return parse_profile(ref.read_text(encoding="utf-8"), name_or_path, images, env_overrides)
    path = Path(name_or_path)
    if not path.is_file():
        raise SuiteUsageError(
            f"unknown engine profile {name_or_path!r}: not a built-in ({', '.join(BUILTIN_PROFILES)}) "
            "and no such file"
        )
    return parse_profile(path.read_text(encoding="utf-8"), str(path), images, env_overrides)


def parse_env_assignments(values: list[str], option: str) -> dict[str, str]:
    result = {}
    for value in values:
        key, sep, val = value.partition("=")
        if not sep or not key:
            raise SuiteUsageError(f"{option} expects KEY=VALUE, got {value!r}")
        result[key] = val
    return result


@dataclass(frozen=True)
class SuiteSettings:
    """Everything the run was told, resolved once."""

    profile: EngineProfile
    image_set: str
    container_host: str | None
    report_dir: Path
    ready_timeout: float
    run_id: str
    engine_env: dict[str, str] = field(default_factory=dict)

    def redacted(self) -> dict[str, Any]:
        return REDACTOR.redact_data(
            {
                "engine_profile": self.profile.redacted(),
                "image_set": self.image_set,
                "container_host": self.container_host,
                "report_dir": str(self.report_dir),
                "ready_timeout": self.ready_timeout,
                "engine_env": self.engine_env,
            }
        )


def env_default(name: str, default: str | None = None) -> str | None:
    """Value of ANCHORE_COMPLIANCE_<NAME>, the layer between options and profile."""
    return os.environ.get(f"ANCHORE_COMPLIANCE_{name}", default)


def positive_float(value: str, option: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if number <= 0:
        raise SuiteUsageError(
            f"{option} must be a positive number of seconds, got {value!r}", ExitCode.BAD_CONFIG
        )
    return number
