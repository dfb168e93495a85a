"""How the variables are set: Docker Compose and env files (DEPLOY-1), Kubernetes (DEPLOY-2).

Most of these findings are made while loading (an env_file that does not exist, a ConfigMap that
is not in the input, a `$(VAR)` Kubernetes cannot expand): the rules report them.
"""

from __future__ import annotations

from anchore_compliance.deployment.model import Deployment, Finding
from anchore_compliance.deployment.rules.common import URL_VARIABLES, at_var, proxy_vars, var_stack
from anchore_compliance.deployment.semantics import parse_proxy_url, unquote_outer


def _notes(deployment: Deployment) -> list[Finding]:
    scrub = deployment.scrub
    return [
        Finding(n.file, n.line, n.service, n.variable, scrub(n.problem), n.stack, scrub(n.fix), n.severity)
        for n in deployment.notes
    ]


def check_compose_env(deployment: Deployment) -> list[Finding]:
    """env_file references exist; env files are readable by docker; every proxy value is in the
    files audited rather than taken from the shell when Compose or docker starts."""
    return _notes(deployment)


def check_kubernetes_env(deployment: Deployment) -> list[Finding]:
    """ConfigMaps and Secrets that env/envFrom name are in the input and hold the keys named;
    `$(VAR)` references resolve; proxy passwords sit in Secrets, not in plain manifests."""
    found = _notes(deployment)
    for container, var in proxy_vars(deployment, URL_VARIABLES):
        if var.syntax not in ("k8s-value", "k8s-configmap") or "expanded" in var.origin:
            continue
        url = parse_proxy_url(unquote_outer(var.value or ""))
        if url.password is None:
            continue
        where = var.origin if var.syntax == "k8s-configmap" else "the manifest"
        found.append(
            at_var(
                deployment,
                container,
                var,
                f"the proxy password is written in plain text in {where}",
                var_stack(container, var),
                "keep the proxy URL in a Secret and reference it with secretKeyRef or envFrom.secretRef",
                "warning",
            )
        )
    return found
