"""`--deployment PATH`: find the files, tell their format by content, load them.

Folders are searched recursively (hidden files and folders skipped) for `*.yaml`, `*.yml` and
`*.env`; inside a folder, YAML that is neither a compose file nor a Kubernetes manifest is skipped,
and an env file that a compose file of the input reads through `env_file:` is audited as part of
that compose file only. A file named explicitly is always audited, whatever its name. Bad input
ends the run with one line and ExitCode.DEPLOYMENT_INPUT.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from anchore_compliance.deployment import envfile
from anchore_compliance.deployment.compose import is_compose, load_compose
from anchore_compliance.deployment.kubernetes import KNOWN_KINDS, is_object, load_kubernetes, objects
from anchore_compliance.deployment.model import (
    BOTH,
    PROXY_VARIABLES,
    Container,
    Deployment,
    EnvVar,
    Finding,
    Host,
)
from anchore_compliance.deployment.redact import SecretScrubber
from anchore_compliance.deployment.yamlpos import describe_yaml_error, load_documents
from anchore_compliance.errors import ExitCode, SuiteUsageError

FOLDER_SUFFIXES = (".yaml", ".yml", ".env")


def _fail(message: str) -> SuiteUsageError:
    return SuiteUsageError(f"--deployment {message}", ExitCode.DEPLOYMENT_INPUT)


@dataclass
class _File:
    path: Path
    label: str  # as the user wrote it (joined with the path inside a folder)
    explicit: bool
    kind: str = ""
    text: str = ""
    docs: list[Any] | None = None


def _expand(paths: list[Path]) -> list[_File]:
    found: list[_File] = []
    seen: set[Path] = set()

    def add(path: Path, label: str, explicit: bool) -> None:
        resolved = path.resolve()
        if resolved not in seen:
            seen.add(resolved)
            found.append(_File(path, label, explicit))

    for given in paths:
        path = Path(given)
        if not path.exists():
            raise _fail(f"{given}: no such file or folder")
        if path.is_file():
            add(path, str(given), True)
            continue
        members = sorted(
            p
            for p in path.rglob("*")
            if p.is_file()
            and p.suffix in FOLDER_SUFFIXES
            and not any(part.startswith(".") for part in p.relative_to(path).parts)
        )
        if not members:
            raise _fail(f"{given}: no *.yaml, *.yml or *.env file in this folder")
        for member in members:
            add(member, os.path.join(str(given), str(member.relative_to(path))), False)
    return found


def _classify(file: _File) -> None:
    """Sets file.kind to compose, kubernetes, envfile, or "" (a folder member to skip)."""
    try:
        file.text = file.path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise _fail(f"{file.label}: not a text file (not UTF-8)") from None
    except OSError as error:
        raise _fail(f"{file.label}: cannot be read ({error.strerror})") from None
    if envfile.looks_like_env_file(file.text):
        file.kind = "envfile"
        return
    try:
        docs = [doc for doc in load_documents(file.text) if doc is not None]
    except yaml.YAMLError as error:
        raise _fail(f"{file.label}: not valid YAML ({describe_yaml_error(error)})") from None
    file.docs = docs
    if not docs:
        if file.explicit:
            raise _fail(f"{file.label}: empty (no YAML document, no KEY=VALUE line)")
        return
    if len(docs) == 1 and is_compose(docs[0]):
        file.kind = "compose"
        return
    if all(is_object(doc) for doc in docs):
        kinds = {str(o["kind"]) for doc in docs for o in objects(doc) if is_object(o)}
        if kinds & KNOWN_KINDS:
            file.kind = "kubernetes"
            return
        if file.explicit:
            raise _fail(f"{file.label}: unknown Kubernetes kind {', '.join(sorted(kinds))}")
        return
    if file.explicit:
        raise _fail(
            f"{file.label}: neither a Docker Compose file (no 'services:' mapping), a Kubernetes "
            "manifest (a document without apiVersion/kind) nor an env file (KEY=VALUE lines)"
        )


def _load_env_file(file: _File) -> Deployment:
    """An env file on its own, read as `docker run --env-file` reads it."""
    lines, problems = envfile.parse_docker(file.text)
    service = file.path.name
    notes = [Finding(file.label, p.line, service, p.name, p.problem, BOTH, p.fix, "error") for p in problems]
    env: dict[str, EnvVar] = {}
    for item in lines:
        unknown = "" if item.value is not None else "taken from the environment of the shell that runs docker"
        if unknown and item.name in PROXY_VARIABLES:
            notes.append(
                Finding(
                    file.label,
                    item.line,
                    service,
                    item.name,
                    f"value {unknown}; the audit cannot check it",
                    BOTH,
                    f"write {item.name}=value in the file",
                    "warning",
                )
            )
        env[item.name] = EnvVar(item.name, item.value, file.label, item.line, "envfile", "env file", unknown)
    container = Container(name=service, file=file.label, line=1, env_line=1, engine=True, env=env)
    hosts = tuple(
        Host(host, container.service_port, "engine service")
        for host in [container.value("ANCHORE_ENDPOINT_HOSTNAME")]
        if host
    )
    return Deployment(file.path, "envfile", file.label, [container], service_hosts=hosts, notes=notes)


def _display_names(deployments: list[Deployment]) -> None:
    """The shortest path suffix that tells each deployment apart (used in test ids)."""
    parts = {id(d): Path(d.display_name).parts for d in deployments}
    depth = 1
    while True:
        names = {id(d): "/".join(parts[id(d)][-depth:]) for d in deployments}
        if len(set(names.values())) == len(deployments) or depth > max(len(p) for p in parts.values()):
            break
        depth += 1
    for d in deployments:
        d.display_name = names[id(d)]


def load_deployments(paths: list[Path]) -> list[Deployment]:
    """Load every deployment description named by `paths` (files or folders).

    Raises SuiteUsageError(..., ExitCode.DEPLOYMENT_INPUT) with one line when a path is missing,
    a file is not YAML (nor an env file), a YAML file is neither compose nor a known Kubernetes
    kind, or the input holds no container to audit.
    """
    if not paths:
        raise _fail("needs a file or folder")
    files = _expand(paths)
    for file in files:
        _classify(file)
    deployments: list[Deployment] = []
    read_by_compose: set[Path] = set()
    for file in files:
        if file.kind == "compose":
            assert file.docs is not None
            deployment, env_files = load_compose(file.path, file.label, file.docs[0])
            deployments.append(deployment)
            read_by_compose |= env_files
    k8s = [(f.path, f.label, f.docs or []) for f in files if f.kind == "kubernetes"]
    deployments += load_kubernetes(k8s) if k8s else []
    for file in files:
        if file.kind == "envfile" and (file.explicit or file.path.resolve() not in read_by_compose):
            deployments.append(_load_env_file(file))
    deployments = [d for d in deployments if d.containers]
    if not deployments:
        raise _fail(
            f"{', '.join(str(p) for p in paths)}: no container to audit (no service, workload or env file)"
        )
    scrubber = SecretScrubber()
    for deployment in deployments:
        for container in deployment.containers:
            scrubber.add_all(container.env.values())
    for deployment in deployments:
        deployment.scrub = scrubber
    _display_names(deployments)
    return deployments
