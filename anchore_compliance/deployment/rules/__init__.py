"""The deployment audit's rules, each tied to one catalog requirement.

| rule              | requirement | flags                                                            |
|-------------------|-------------|------------------------------------------------------------------|
| url-form          | ENV-5       | proxy URL not {PROTOCOL}://{HOST}:{PORT}: no scheme, no port, ... |
| proxy-tls         | ENV-2       | https:// proxy scheme: TLS to the proxy (warning)                |
| quotes            | ENV-6       | literal quotes in a value                                        |
| credentials       | AUTH-2      | unencoded unsafe characters; passwords that do not decode right  |
| no-proxy-hosts    | ENV-4       | service hosts, localhost, registries (database: warning) missing |
| no-proxy-entries  | ENV-4       | '*.domain', '.domain', host:port, '*' in a list, URLs, IPv6 CIDR  |
| case-consistency  | ENV-1       | UPPER and lower case differ; services using different proxies    |
| proxy-missing     | NET-1       | an outbound service lacks a proxy variable set elsewhere         |
| compose-env       | DEPLOY-1    | env_file missing, docker-unreadable lines, values from the shell |
| kubernetes-env    | DEPLOY-2    | ConfigMap/Secret/key missing, $(VAR) unresolved, plain passwords |
"""

from __future__ import annotations

from collections.abc import Callable

from anchore_compliance.deployment.model import Deployment, Finding, Rule
from anchore_compliance.deployment.rules.common import merged
from anchore_compliance.deployment.rules.consistency import check_case_consistency, check_proxy_missing
from anchore_compliance.deployment.rules.no_proxy import check_no_proxy_entries, check_no_proxy_hosts
from anchore_compliance.deployment.rules.setup import check_compose_env, check_kubernetes_env
from anchore_compliance.deployment.rules.values import (
    check_credentials,
    check_proxy_tls,
    check_quotes,
    check_url_form,
)


def _rule(
    rule_id: str,
    requirement: str,
    title: str,
    check: Callable[[Deployment], list[Finding]],
    kinds: tuple[str, ...] | None = None,
) -> Rule:
    def run(deployment: Deployment) -> list[Finding]:
        return merged(check(deployment))

    extra = {"kinds": frozenset(kinds)} if kinds else {}
    return Rule(id=rule_id, requirement=requirement, title=title, check=run, **extra)


RULES: tuple[Rule, ...] = (
    _rule("url-form", "ENV-5", "proxy URLs in the form {PROTOCOL}://{HOST}:{PORT}", check_url_form),
    _rule("proxy-tls", "ENV-2", "an https:// proxy URL means TLS to the proxy", check_proxy_tls),
    _rule("quotes", "ENV-6", "no quotes around proxy variable values", check_quotes),
    _rule("credentials", "AUTH-2", "proxy user name and password percent-encoded", check_credentials),
    _rule("no-proxy-hosts", "ENV-4", "no_proxy covers the hosts reached directly", check_no_proxy_hosts),
    _rule("no-proxy-entries", "ENV-4", "no_proxy entries both stacks read alike", check_no_proxy_entries),
    _rule("case-consistency", "ENV-1", "upper- and lower-case variables agree", check_case_consistency),
    _rule(
        "proxy-missing",
        "NET-1",
        "services that call out have the proxy",
        check_proxy_missing,
        ("compose", "kubernetes"),
    ),
    _rule(
        "compose-env",
        "DEPLOY-1",
        "variables set the way Compose and docker read them",
        check_compose_env,
        ("compose", "envfile"),
    ),
    _rule(
        "kubernetes-env",
        "DEPLOY-2",
        "variables set the way Kubernetes resolves them",
        check_kubernetes_env,
        ("kubernetes",),
    ),
)
