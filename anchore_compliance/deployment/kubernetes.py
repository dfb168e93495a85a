"""Kubernetes manifests (multi-document YAML, Helm-rendered included).

Workloads (Deployment, StatefulSet, DaemonSet, ReplicaSet, Pod, Job, CronJob) are audited; their
`env` and `envFrom` are resolved against the ConfigMaps and Secrets found anywhere in the input,
with Kubernetes' precedence (envFrom in order, then env in order) and its `$(VAR)` expansion.
Services tell which registries run alongside the engine. Every other standard kind is ignored.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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

_POD_SPEC_PATHS = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
WORKLOAD_KINDS = frozenset(_POD_SPEC_PATHS)
KNOWN_KINDS = WORKLOAD_KINDS | {
    "APIService", "ClusterRole", "ClusterRoleBinding", "ConfigMap", "ControllerRevision",
    "CustomResourceDefinition", "EndpointSlice", "Endpoints", "HorizontalPodAutoscaler", "Ingress",
    "IngressClass", "Lease", "LimitRange", "List", "MutatingWebhookConfiguration", "Namespace",
    "NetworkPolicy", "PersistentVolume", "PersistentVolumeClaim", "PodDisruptionBudget",
    "PodSecurityPolicy", "PriorityClass", "ReplicationController", "ResourceQuota", "Role",
    "RoleBinding", "Secret", "Service", "ServiceAccount", "StorageClass",
    "ValidatingWebhookConfiguration",
}  # fmt: skip
_VAR_REF = re.compile(r"\$\(([-._a-zA-Z][-._a-zA-Z0-9]*)\)")


def is_object(doc: Any) -> bool:
    return (
        isinstance(doc, dict) and isinstance(doc.get("apiVersion"), str) and isinstance(doc.get("kind"), str)
    )


def objects(doc: Any) -> list[Any]:
    """The objects of one document; a `kind: List` holds its objects under `items`."""
    if is_object(doc) and doc["kind"] == "List":
        return [item for item in doc.get("items") or [] if is_object(item)]
    return [doc]


@dataclass(frozen=True)
class _Entry:
    value: str | None
    line: int
    unknown: str = ""


@dataclass
class _Source:
    """A ConfigMap or Secret of the input."""

    kind: str
    name: str
    file: str
    entries: dict[str, _Entry] = field(default_factory=dict)

    @property
    def syntax(self) -> str:
        return "k8s-secret" if self.kind == "Secret" else "k8s-configmap"


@dataclass
class _Object:
    doc: YMap
    file: str

    @property
    def kind(self) -> str:
        return str(self.doc["kind"])

    @property
    def metadata(self) -> dict:
        meta = self.doc.get("metadata")
        return meta if isinstance(meta, dict) else {}

    @property
    def name(self) -> str:
        return str(self.metadata.get("name", "?"))

    @property
    def namespace(self) -> str:
        return str(self.metadata.get("namespace") or "default")


def _dig(doc: Any, path: Iterable[str]) -> Any:
    for key in path:
        doc = doc.get(key) if isinstance(doc, dict) else None
    return doc


def _source(obj: _Object) -> _Source:
    source = _Source(obj.kind, obj.name, obj.file)
    data = obj.doc.get("data")
    if isinstance(data, YMap):
        for key, value in data.items():
            line = data.line_of(key)
            if value is None:
                source.entries[str(key)] = _Entry("", line)
            elif obj.kind == "Secret":
                try:
                    decoded = base64.b64decode("".join(str(value).split()), validate=True).decode("utf-8")
                except (binascii.Error, UnicodeDecodeError):
                    source.entries[str(key)] = _Entry(None, line, "is not valid base64 of UTF-8 text")
                else:
                    source.entries[str(key)] = _Entry(decoded, line)
            else:
                source.entries[str(key)] = _Entry(str(value), line)
    string_data = obj.doc.get("stringData") if obj.kind == "Secret" else None
    if isinstance(string_data, YMap):
        for key, value in string_data.items():
            source.entries[str(key)] = _Entry("" if value is None else str(value), string_data.line_of(key))
    return source


class _Cluster:
    """Every object of the input, indexed the way the kubelet looks them up."""

    def __init__(self, objs: list[_Object]) -> None:
        self.objects = objs
        self.sources = {
            (o.kind, o.namespace, o.name): _source(o) for o in objs if o.kind in ("ConfigMap", "Secret")
        }

    def source(self, kind: str, namespace: str, name: str) -> _Source | None:
        return self.sources.get((kind, namespace, name))

    def services(self) -> list[_Object]:
        return [o for o in self.objects if o.kind == "Service"]


class _ContainerEnv:
    """Builds one container's environment as the kubelet does."""

    def __init__(
        self, cluster: _Cluster, namespace: str, file: str, service: str, notes: list[Finding]
    ) -> None:
        self.cluster, self.namespace, self.file, self.service, self.notes = (
            cluster,
            namespace,
            file,
            service,
            notes,
        )
        self.env: dict[str, EnvVar] = {}

    def note(self, file: str, line: int, variable: str, problem: str, fix: str, severity: str) -> None:
        finding = Finding(file, line, self.service, variable, problem, BOTH, fix, severity)  # type: ignore[arg-type]
        if finding not in self.notes:
            self.notes.append(finding)

    def _from_entry(self, name: str, source: _Source, key: str, entry: _Entry) -> EnvVar:
        if entry.unknown and name in PROXY_VARIABLES:
            self.note(
                source.file,
                entry.line,
                name,
                f"{source.kind} {source.name} key {key} {entry.unknown}: kubectl rejects the Secret",
                "store the value base64-encoded (or in stringData as plain text)",
                "error",
            )
        return EnvVar(
            name=name,
            value=entry.value,
            file=source.file,
            line=entry.line,
            syntax=source.syntax,
            origin=f"{source.kind} {source.name}, key {key}",
            unknown=entry.unknown,
        )

    def env_from(self, items: Any) -> None:
        lines = items.item_lines if isinstance(items, YSeq) else []
        for index, item in enumerate(items if isinstance(items, list) else []):
            if not isinstance(item, dict):
                continue
            prefix = str(item.get("prefix") or "")
            for ref_key, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
                ref = item.get(ref_key)
                if not isinstance(ref, dict):
                    continue
                name = str(ref.get("name", ""))
                source = self.cluster.source(kind, self.namespace, name)
                if source is None:
                    self.note(
                        self.file,
                        lines[index] if index < len(lines) else 0,
                        "envFrom",
                        f"{kind} {name} is not in the input: proxy variables it may hold were not audited",
                        f"pass the manifest holding {kind} {name} to --deployment as well",
                        "warning",
                    )
                    continue
                for key, entry in source.entries.items():
                    self.env[prefix + key] = self._from_entry(prefix + key, source, key, entry)

    def _expand(self, raw: str) -> tuple[str | None, list[str], list[EnvVar]]:
        """Kubernetes' `$(VAR)` expansion against the variables defined so far; `$$` is `$`.
        Returns (value or None when a referenced value is unknown, names left undefined,
        variables used)."""
        out: list[str] = []
        undefined: list[str] = []
        used: list[EnvVar] = []
        unknown = False
        i = 0
        while i < len(raw):
            if raw.startswith("$$", i):
                out.append("$")
                i += 2
                continue
            match = _VAR_REF.match(raw, i)
            if match:
                var = self.env.get(match.group(1))
                if var is not None:
                    used.append(var)
                if var is None:
                    undefined.append(match.group(1))
                    out.append(match.group(0))
                elif var.value is None:
                    unknown = True
                else:
                    out.append(var.value)
                i = match.end()
                continue
            out.append(raw[i])
            i += 1
        return (None if unknown else "".join(out)), undefined, used

    def env_list(self, items: Any) -> None:
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, YMap) or "name" not in item:
                continue
            name = str(item["name"])
            value_from = item.get("valueFrom")
            if isinstance(value_from, dict):
                var = self._value_from(name, value_from, item)
                if var is not None:
                    self.env[name] = var
                continue
            raw = item.get("value")
            raw = "" if raw is None else ("true" if raw is True else "false" if raw is False else str(raw))
            value, undefined, used = self._expand(raw)
            line = item.line_of("value", item.line)
            unknown = "" if value is not None else "refers to a variable whose value the audit does not know"
            if undefined:
                unknown = f"holds {', '.join(f'$({u})' for u in undefined)}, which Kubernetes cannot expand"
            if undefined and name in PROXY_VARIABLES:
                refs = ", ".join(f"$({u})" for u in undefined)
                self.note(
                    self.file,
                    line,
                    name,
                    f"{refs} is not defined before {name}: Kubernetes leaves the text {refs} in the value",
                    f"define {', '.join(undefined)} earlier in env or envFrom, or write the value itself",
                    "error",
                )
            self.env[name] = EnvVar(
                name=name,
                value=None if unknown else value,
                file=self.file,
                line=line,
                syntax="k8s-value",
                origin=_origin(used),
                unknown=unknown,
            )

    def _value_from(self, name: str, value_from: dict, item: YMap) -> EnvVar | None:
        line = item.line_of("valueFrom", item.line)
        for ref_key, kind in (("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")):
            ref = value_from.get(ref_key)
            if not isinstance(ref, dict):
                continue
            source_name, key = str(ref.get("name", "")), str(ref.get("key", ""))
            optional = ref.get("optional") is True
            source = self.cluster.source(kind, self.namespace, source_name)
            if source is None:
                unknown = f"comes from {kind} {source_name}, which is not in the input"
                if name in PROXY_VARIABLES:
                    self.note(
                        self.file,
                        line,
                        name,
                        f"value {unknown}; the audit cannot check it",
                        f"pass the manifest holding {kind} {source_name} to --deployment as well",
                        "warning",
                    )
                return EnvVar(name, None, self.file, line, f"k8s-{kind.lower()}", "valueFrom", unknown)
            entry = source.entries.get(key)
            if entry is None:
                if not optional and name in PROXY_VARIABLES:
                    self.note(
                        self.file,
                        line,
                        name,
                        f"{kind} {source_name} has no key {key}: the pod does not start "
                        "(CreateContainerConfigError)",
                        f"add key {key} to {kind} {source_name} ({source.file}) or fix the key name",
                        "error",
                    )
                return None
            return self._from_entry(name, source, key, entry)
        unknown = "comes from the pod's own fields (fieldRef/resourceFieldRef)"
        if name in PROXY_VARIABLES:
            self.note(
                self.file,
                line,
                name,
                f"value {unknown}; the audit cannot check it",
                "set the value itself",
                "warning",
            )
        return EnvVar(name, None, self.file, line, "k8s-value", "valueFrom", unknown)


def _origin(used: list[EnvVar]) -> str:
    if any(u.syntax == "k8s-secret" or "Secret" in u.origin for u in used):
        return "env, expanded from a Secret"
    return "env, expanded" if used else "env"


def _labels(obj: _Object) -> dict:
    path = (
        (*_POD_SPEC_PATHS[obj.kind][:-1], "metadata", "labels")
        if obj.kind != "Pod"
        else ("metadata", "labels")
    )
    labels = _dig(obj.doc, path)
    return labels if isinstance(labels, dict) else {}


def _service_port(service: _Object) -> int | None:
    ports = _dig(service.doc, ("spec", "ports"))
    if isinstance(ports, list) and ports and isinstance(ports[0], dict):
        port = ports[0].get("port")
        return int(port) if isinstance(port, int) else None
    return None


def load_kubernetes(files: list[tuple[Path, str, list[Any]]]) -> list[Deployment]:
    """Every manifest of the input at once (ConfigMaps may sit in another file than the
    Deployment using them); one Deployment per file that holds at least one workload."""
    objs = [
        _Object(o, label)
        for _path, label, docs in files
        for doc in docs
        for o in objects(doc)
        if is_object(o)
    ]
    cluster = _Cluster(objs)
    per_file: dict[str, tuple[list[Container], list[Finding]]] = {label: ([], []) for _p, label, _d in files}
    registries: list[Host] = []
    for obj in objs:
        if obj.kind not in WORKLOAD_KINDS:
            continue
        spec = _dig(obj.doc, _POD_SPEC_PATHS[obj.kind])
        items = spec.get("containers") if isinstance(spec, dict) else None
        if not isinstance(items, YSeq):
            continue
        containers, notes = per_file[obj.file]
        registry = False
        for item in items:
            if not isinstance(item, YMap):
                continue
            name = f"{obj.kind}/{obj.name}" + (f"/{item.get('name')}" if len(items) > 1 else "")
            builder = _ContainerEnv(cluster, obj.namespace, obj.file, name, notes)
            builder.env_from(item.get("envFrom"))
            builder.env_list(item.get("env"))
            image = str(item.get("image") or "")
            tokens = command_tokens(item.get("command"), item.get("args"))
            engine = is_engine(image, tokens, builder.env)
            registry = registry or is_registry_image(image)
            containers.append(
                Container(
                    name=name,
                    file=obj.file,
                    line=item.line,
                    env_line=item.key_lines.get("env", item.key_lines.get("envFrom", item.line)),
                    image=image,
                    role=(role_from_command(tokens) or role_from_name(obj.name)) if engine else None,
                    engine=engine,
                    env=builder.env,
                )
            )
        if registry:
            labels = _labels(obj)
            for service in cluster.services():
                selector = _dig(service.doc, ("spec", "selector"))
                if (
                    service.namespace == obj.namespace
                    and isinstance(selector, dict)
                    and selector
                    and all(labels.get(k) == v for k, v in selector.items())
                ):
                    registries.append(Host(service.name, _service_port(service), "registry"))
    all_containers = [c for containers, _ in per_file.values() for c in containers]
    service_hosts = tuple(
        Host(host, c.service_port, "engine service")
        for c in all_containers
        if c.engine and (host := c.value("ANCHORE_ENDPOINT_HOSTNAME"))
    )
    deployments = []
    for path, label, _docs in files:
        containers, notes = per_file[label]
        if containers:
            deployments.append(
                Deployment(
                    path=path,
                    kind="kubernetes",
                    display_name=label,
                    containers=containers,
                    service_hosts=service_hosts,
                    registry_hosts=tuple(registries),
                    notes=notes,
                )
            )
    return deployments
