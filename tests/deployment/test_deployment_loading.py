"""Loading deployment descriptions: input errors, folders, formats, line numbers, precedence."""

from __future__ import annotations

import base64
import textwrap
from pathlib import Path

import pytest

from anchore_compliance.deployment import load_deployments
from anchore_compliance.deployment.envfile import looks_like_env_file, parse_compose, parse_docker
from anchore_compliance.errors import ExitCode, SuiteUsageError


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def input_error(paths: list[Path]) -> str:
    with pytest.raises(SuiteUsageError) as caught:
        load_deployments(paths)
    assert caught.value.exit_code == ExitCode.DEPLOYMENT_INPUT
    message = str(caught.value)
    assert "\n" not in message
    return message


# --- bad input: one line, ExitCode.DEPLOYMENT_INPUT -------------------------------------------


def test_a_missing_path_is_an_input_error(tmp_path: Path) -> None:
    assert "no-such.yaml: no such file or folder" in input_error([tmp_path / "no-such.yaml"])


def test_no_path_at_all_is_an_input_error() -> None:
    assert "needs a file or folder" in input_error([])


def test_a_file_that_is_not_yaml_is_an_input_error(tmp_path: Path) -> None:
    path = write(tmp_path / "broken.yaml", "services:\n  api: [unclosed\n")
    message = input_error([path])
    assert "broken.yaml: not valid YAML (line " in message


def test_yaml_that_is_neither_compose_nor_kubernetes_is_an_input_error(tmp_path: Path) -> None:
    path = write(tmp_path / "values.yaml", "replicaCount: 1\nimage: anchore\n")
    assert "neither a Docker Compose file" in input_error([path])


def test_an_unknown_kubernetes_kind_is_an_input_error(tmp_path: Path) -> None:
    path = write(tmp_path / "widget.yaml", "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n")
    assert "unknown Kubernetes kind Widget" in input_error([path])


def test_an_empty_file_is_an_input_error(tmp_path: Path) -> None:
    path = write(tmp_path / "empty.yaml", "# nothing here\n")
    assert "empty.yaml: empty" in input_error([path])


def test_a_binary_file_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "blob.yaml"
    path.write_bytes(b"\xff\xfe\x00binary")
    assert "not a text file" in input_error([path])


def test_a_folder_without_deployment_files_is_an_input_error(tmp_path: Path) -> None:
    write(tmp_path / "notes.txt", "hello\n")
    assert "no *.yaml, *.yml or *.env file" in input_error([tmp_path])


def test_input_without_any_container_is_an_input_error(tmp_path: Path) -> None:
    path = write(tmp_path / "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: p}\ndata: {a: b}\n")
    assert "no container to audit" in input_error([path])


# --- folders ------------------------------------------------------------------------------------


def test_a_folder_is_searched_and_env_files_compose_reads_are_not_audited_alone(corpus: Path) -> None:
    names = sorted(d.display_name for d in load_deployments([corpus]))
    assert "quoted-compose.env" not in names
    assert "proxy-compose.env" not in names
    assert {"compose-ok.yaml", "kubernetes-ok.yaml", "engine-ok.env", "quoted.env"} <= set(names)


def test_a_folder_skips_other_yaml_and_hidden_files(tmp_path: Path) -> None:
    write(tmp_path / "Chart.yaml", "name: anchore-engine\nversion: 1.0.0\n")
    write(tmp_path / ".hidden" / "x.env", "HTTPS_PROXY=http://p:1\n")
    write(tmp_path / "deploy" / "engine.env", "HTTPS_PROXY=http://proxy.corp.example:3128\n")
    (deployment,) = load_deployments([tmp_path])
    assert deployment.display_name == "engine.env"
    assert deployment.kind == "envfile"


def test_same_file_names_get_telling_display_names(tmp_path: Path) -> None:
    first = write(tmp_path / "prod" / "engine.env", "HTTPS_PROXY=http://proxy.corp.example:3128\n")
    second = write(tmp_path / "test" / "engine.env", "HTTPS_PROXY=http://proxy.corp.example:3128\n")
    names = [d.display_name for d in load_deployments([first, second, first])]
    assert names == ["prod/engine.env", "test/engine.env"]


# --- env files -----------------------------------------------------------------------------------


def test_env_files_are_told_apart_from_yaml_by_content() -> None:
    assert looks_like_env_file("# proxy\nHTTPS_PROXY=http://p:3128\nNO_PROXY\n")
    assert looks_like_env_file("export HTTPS_PROXY=http://p:3128\n")
    assert not looks_like_env_file("services:\n  api:\n    image: x\n")
    assert not looks_like_env_file("NO_PROXY\n")


def test_docker_env_file_keeps_quotes_spaces_and_carriage_returns() -> None:
    lines, problems = parse_docker('A="x"\nB=y  \r\nC\n  # comment\nD=#not a comment\n')
    assert [(e.name, e.value, e.line) for e in lines] == [
        ("A", '"x"', 1),
        ("B", "y  \r", 2),
        ("C", None, 3),
        ("D", "#not a comment", 5),
    ]
    assert problems == []


def test_compose_env_file_strips_quotes_comments_and_export() -> None:
    lines, _ = parse_compose("export A=\"x\"\nB = y # port\nC='$D'\nE=${F}\n")
    assert [(e.name, e.value, e.stripped_quote, e.interpolated) for e in lines] == [
        ("A", "x", '"', False),
        ("B", "y", "", False),
        ("C", "$D", "'", False),
        ("E", "${F}", "", True),
    ]


# --- compose -------------------------------------------------------------------------------------


def test_compose_environment_overrides_env_file_and_keeps_lines(tmp_path: Path) -> None:
    write(tmp_path / "proxy.env", "HTTPS_PROXY=http://from-file:3128\nNO_PROXY=localhost\n")
    path = write(
        tmp_path / "docker-compose.yml",
        """
        x-proxy: &proxy
          http_proxy: http://anchor:3128
        services:
          catalog:
            image: anchore/anchore-engine:v1.1.0
            env_file: proxy.env
            environment:
              <<: *proxy
              HTTPS_PROXY: http://from-environment:3128
              ADMIN: pa$$word
        """,
    )
    (deployment,) = load_deployments([path])
    (catalog,) = deployment.containers
    assert catalog.role == "catalog"
    env = catalog.env
    assert (env["HTTPS_PROXY"].value, env["HTTPS_PROXY"].line) == ("http://from-environment:3128", 9)
    assert (Path(env["NO_PROXY"].file).name, env["NO_PROXY"].line) == ("proxy.env", 2)
    assert (env["http_proxy"].value, env["http_proxy"].line) == ("http://anchor:3128", 2)
    assert env["ADMIN"].value == "pa$word"


def test_compose_roles_come_from_the_command_or_the_service_name(tmp_path: Path) -> None:
    path = write(
        tmp_path / "compose.yaml",
        """
        services:
          engine:
            image: anchore/anchore-engine:v1.1.0
            command: anchore-manager service start --all
          pe:
            image: anchore/anchore-engine:v1.1.0
            entrypoint: ["anchore-manager"]
            command: ["service", "start", "policy_engine"]
          policy:
            image: anchore/anchore-engine:v1.1.0
          db:
            image: postgres:9
        """,
    )
    (deployment,) = load_deployments([path])
    assert {c.name: (c.engine, c.role) for c in deployment.containers} == {
        "engine": (True, "all"),
        "pe": (True, "policy_engine"),
        "policy": (True, "policy_engine"),
        "db": (False, None),
    }


# --- Kubernetes ----------------------------------------------------------------------------------


def _workload(kind: str, spec_path: str) -> str:
    container = """
      containers:
      - name: engine
        image: anchore/anchore-engine:v1.1.0
        args: ["anchore-manager", "service", "start", "analyzer"]
        env:
        - name: HTTPS_PROXY
          value: http://proxy.corp.example:3128
    """
    body = textwrap.indent(textwrap.dedent(container).strip(), "  " * (spec_path.count(".") + 1))
    parents = spec_path.split(".")
    head = "".join("  " * i + f"{key}:\n" for i, key in enumerate(parents))
    return f"---\napiVersion: v1\nkind: {kind}\nmetadata:\n  name: {kind.lower()}\n{head}{body}\n"


@pytest.mark.parametrize(
    ("kind", "spec_path"),
    [
        ("Pod", "spec"),
        ("Deployment", "spec.template.spec"),
        ("StatefulSet", "spec.template.spec"),
        ("DaemonSet", "spec.template.spec"),
        ("Job", "spec.template.spec"),
        ("CronJob", "spec.jobTemplate.spec.template.spec"),
    ],
)
def test_every_workload_kind_is_audited(tmp_path: Path, kind: str, spec_path: str) -> None:
    path = write(tmp_path / "manifest.yaml", _workload(kind, spec_path))
    (deployment,) = load_deployments([path])
    (container,) = deployment.containers
    assert (container.name, container.role, container.engine) == (f"{kind}/{kind.lower()}", "analyzer", True)
    assert container.env["HTTPS_PROXY"].value == "http://proxy.corp.example:3128"


def test_a_helm_rendered_file_with_other_kinds_and_empty_documents_loads(tmp_path: Path) -> None:
    text = "---\n# Source: chart/templates/sa.yaml\n"
    text += "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: a}\n"
    text += "---\n# Source: chart/templates/empty.yaml\n"
    text += "---\napiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: m}\n"
    text += _workload("Deployment", "spec.template.spec")
    (deployment,) = load_deployments([write(tmp_path / "rendered.yaml", text)])
    assert [c.name for c in deployment.containers] == ["Deployment/deployment"]


def test_kubernetes_env_resolution_follows_the_kubelet(tmp_path: Path) -> None:
    secret = base64.b64encode(b"http://proxy.corp.example:3128").decode()
    path = write(
        tmp_path / "all.yaml",
        f"""
        apiVersion: v1
        kind: List
        items:
        - apiVersion: v1
          kind: ConfigMap
          metadata: {{name: proxy, namespace: anchore}}
          data:
            no_proxy: localhost
            HTTP_PROXY: http://from-configmap:3128
        - apiVersion: v1
          kind: Secret
          metadata: {{name: auth, namespace: anchore}}
          data:
            HTTPS_PROXY: {secret}
        - apiVersion: v1
          kind: Pod
          metadata: {{name: catalog, namespace: anchore}}
          spec:
            containers:
            - name: catalog
              image: anchore/anchore-engine:v1.1.0
              envFrom:
              - configMapRef: {{name: proxy}}
              - secretRef: {{name: auth}}
                prefix: X_
              env:
              - name: HTTP_PROXY
                value: http://from-env:3128
              - name: https_proxy
                value: $(X_HTTPS_PROXY)
              - name: LITERAL
                value: $$(X_HTTPS_PROXY)
        """,
    )
    (deployment,) = load_deployments([path])
    env = deployment.containers[0].env
    assert env["HTTP_PROXY"].value == "http://from-env:3128"  # env beats envFrom
    assert (env["no_proxy"].value, env["no_proxy"].line, env["no_proxy"].syntax) == (
        "localhost",
        8,
        "k8s-configmap",
    )
    assert env["X_HTTPS_PROXY"].value == "http://proxy.corp.example:3128"
    assert env["https_proxy"].value == "http://proxy.corp.example:3128"
    assert env["https_proxy"].origin == "env, expanded from a Secret"
    assert env["LITERAL"].value == "$(X_HTTPS_PROXY)"


def test_configmaps_in_another_file_of_the_input_are_used(corpus: Path, tmp_path: Path) -> None:
    manifest = (corpus / "kubernetes-ok.yaml").read_text()
    configs, workloads = manifest.split("# Source: anchore-engine/templates/api-deployment.yaml")
    first = write(tmp_path / "config.yaml", configs.rsplit("---", 1)[0])
    second = write(tmp_path / "workloads.yaml", "---\n# Source: x\n" + workloads)
    (deployment,) = load_deployments([first, second])
    assert deployment.display_name == "workloads.yaml"
    catalog = next(c for c in deployment.containers if c.role == "catalog")
    assert catalog.env["NO_PROXY"].file == str(first)
