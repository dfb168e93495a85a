"""Every rule against the corpus: each file produces exactly its expected findings.

A finding is compared as (rule, variable, file:line, severity, stack). The correct files
(compose-ok.yaml, kubernetes-ok.yaml, engine-ok.env) produce none; every broken variant trips
the rules its comments name and no other.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from anchore_compliance.deployment import RULES

CORPUS = Path(__file__).parent / "corpus"
Key = tuple[str, str, str, str, str]

EXPECTED: dict[str, list[Key]] = {
    "compose-ok.yaml": [],
    "kubernetes-ok.yaml": [],
    "engine-ok.env": [],
    "compose-quoted.yaml": [
        ("quotes", "HTTP_PROXY", "quoted-compose.env:2", "warning", "go"),  # Compose strips, docker keeps
        ("quotes", "HTTPS_PROXY", "compose-quoted.yaml:12", "error", "go"),  # YAML quoted twice
        ("quotes", "HTTPS_PROXY", "compose-quoted.yaml:24", "error", "go"),  # list form keeps quotes
        ("quotes", "NO_PROXY", "compose-quoted.yaml:29", "error", "go"),  # single quotes
    ],
    "quoted.env": [
        ("quotes", "HTTPS_PROXY", "quoted.env:3", "error", "go"),
        ("quotes", "https_proxy", "quoted.env:4", "error", "python"),
        ("quotes", "NO_PROXY", "quoted.env:5", "error", "go"),
    ],
    "compose-url-form.yaml": [
        ("url-form", "HTTPS_PROXY", "compose-url-form.yaml:13", "error", "go"),  # no scheme
        ("url-form", "https_proxy", "compose-url-form.yaml:14", "error", "python"),
        ("url-form", "HTTP_PROXY", "compose-url-form.yaml:15", "error", "go"),  # no port
        ("url-form", "http_proxy", "compose-url-form.yaml:16", "error", "python"),
        ("url-form", "HTTP_PROXY", "compose-url-form.yaml:25", "error", "go"),  # port 99999
        ("url-form", "http_proxy", "compose-url-form.yaml:26", "error", "python"),
        ("url-form", "HTTPS_PROXY", "compose-url-form.yaml:33", "error", "go"),  # socks5://
        ("url-form", "https_proxy", "compose-url-form.yaml:34", "error", "python"),
        ("url-form", "HTTP_PROXY", "compose-url-form.yaml:35", "error", "go"),  # a path
        ("url-form", "http_proxy", "compose-url-form.yaml:36", "error", "python"),
        ("proxy-tls", "HTTPS_PROXY", "compose-url-form.yaml:23", "warning", "go"),  # https://
        ("proxy-tls", "https_proxy", "compose-url-form.yaml:24", "warning", "python"),
        # The services end up on different proxies than catalog's.
        ("case-consistency", "https_proxy", "compose-url-form.yaml:24", "warning", "both"),
        ("case-consistency", "https_proxy", "compose-url-form.yaml:34", "warning", "both"),
        ("case-consistency", "http_proxy", "compose-url-form.yaml:26", "warning", "both"),
        ("case-consistency", "http_proxy", "compose-url-form.yaml:36", "warning", "both"),
    ],
    "compose-credentials.yaml": [
        ("credentials", "HTTPS_PROXY", "compose-credentials.yaml:15", "error", "go"),  # token with '!'
        ("credentials", "https_proxy", "compose-credentials.yaml:16", "error", "python"),
        ("credentials", "HTTPS_PROXY", "compose-credentials.yaml:26", "error", "go"),  # raw password
        ("credentials", "https_proxy", "compose-credentials.yaml:27", "error", "python"),
        ("credentials", "HTTP_PROXY", "compose-credentials.yaml:29", "error", "go"),  # '&'
        ("credentials", "http_proxy", "compose-credentials.yaml:30", "error", "python"),
        ("credentials", "HTTPS_PROXY", "compose-credentials.yaml:38", "error", "go"),  # not UTF-8
        ("credentials", "https_proxy", "compose-credentials.yaml:39", "error", "python"),
        ("credentials", "HTTPS_PROXY", "compose-credentials.yaml:49", "error", "go"),  # '%zz'
        ("credentials", "https_proxy", "compose-credentials.yaml:50", "error", "python"),
        ("credentials", "HTTP_PROXY", "compose-credentials.yaml:52", "warning", "go"),  # encoded twice
        ("credentials", "http_proxy", "compose-credentials.yaml:53", "warning", "python"),
    ],
    "compose-no-proxy-hosts.yaml": [
        # api: only an https proxy, so missing http:// targets are warnings.
        ("no-proxy-hosts", "no_proxy", "compose-no-proxy-hosts.yaml:21", "warning", "python"),
        # catalog: misses the registry, for both stacks (each reads its own case).
        ("no-proxy-hosts", "NO_PROXY", "compose-no-proxy-hosts.yaml:30", "error", "go"),
        ("no-proxy-hosts", "no_proxy", "compose-no-proxy-hosts.yaml:31", "error", "python"),
        # queue: no no_proxy at all (reported where its environment starts); database a warning.
        ("no-proxy-hosts", "no_proxy", "compose-no-proxy-hosts.yaml:36", "error", "python"),
        ("no-proxy-hosts", "no_proxy", "compose-no-proxy-hosts.yaml:36", "warning", "python"),
        # policy-engine: lists the feed host.
        ("no-proxy-hosts", "no_proxy", "compose-no-proxy-hosts.yaml:50", "warning", "python"),
        # analyzer: CIDRs only.
        ("no-proxy-hosts", "no_proxy", "compose-no-proxy-hosts.yaml:60", "error", "python"),
        ("no-proxy-hosts", "no_proxy", "compose-no-proxy-hosts.yaml:60", "warning", "python"),
        ("no-proxy-hosts", "NO_PROXY", "compose-no-proxy-hosts.yaml:59", "error", "go"),
    ],
    "compose-no-proxy-entries.yaml": [
        ("no-proxy-entries", "NO_PROXY", "compose-no-proxy-entries.yaml:15", "error", "python"),  # *.domain
        ("no-proxy-entries", "NO_PROXY", "compose-no-proxy-entries.yaml:15", "warning", "go"),  # .domain
        ("no-proxy-entries", "NO_PROXY", "compose-no-proxy-entries.yaml:15", "warning", "go"),  # host:port
        ("no-proxy-entries", "NO_PROXY", "compose-no-proxy-entries.yaml:15", "warning", "python"),  # IPv6
        ("no-proxy-entries", "no_proxy", "compose-no-proxy-entries.yaml:16", "error", "python"),
        ("no-proxy-entries", "no_proxy", "compose-no-proxy-entries.yaml:16", "warning", "go"),
        ("no-proxy-entries", "no_proxy", "compose-no-proxy-entries.yaml:16", "warning", "python"),
        ("no-proxy-entries", "no_proxy", "compose-no-proxy-entries.yaml:16", "warning", "python"),
        ("no-proxy-entries", "no_proxy", "compose-no-proxy-entries.yaml:23", "error", "both"),  # URL
        ("no-proxy-entries", "no_proxy", "compose-no-proxy-entries.yaml:23", "error", "both"),  # reg*
        ("no-proxy-entries", "no_proxy", "compose-no-proxy-entries.yaml:23", "error", "both"),  # * in a list
        ("no-proxy-entries", "no_proxy", "compose-no-proxy-entries.yaml:32", "warning", "both"),  # lone *
        ("no-proxy-hosts", "no_proxy", "compose-no-proxy-entries.yaml:32", "warning", "python"),  # feeds too
    ],
    "compose-cases.yaml": [
        ("case-consistency", "HTTPS_PROXY", "compose-cases.yaml:9", "error", "both"),
        ("case-consistency", "https_proxy", "compose-cases.yaml:26", "warning", "both"),  # queue: proxy-b
        ("case-consistency", "http_proxy", "compose-cases.yaml:39", "error", "both"),  # empty lower case
        ("case-consistency", "http_proxy", "compose-cases.yaml:28", "warning", "both"),
        ("case-consistency", "NO_PROXY", "compose-cases.yaml:49", "error", "both"),
        ("proxy-missing", "https_proxy", "compose-cases.yaml:18", "error", "both"),  # catalog
        ("proxy-missing", "http_proxy", "compose-cases.yaml:18", "error", "both"),
        ("proxy-missing", "http_proxy", "compose-cases.yaml:34", "error", "python"),  # policy-engine
        ("proxy-missing", "http_proxy", "compose-cases.yaml:46", "error", "go"),  # analyzer
    ],
    "compose-setup.yaml": [
        ("compose-env", "env_file", "compose-setup.yaml:7", "error", "both"),
        ("compose-env", "HTTPS_PROXY", "compose-setup.yaml:11", "warning", "both"),  # from the shell
        ("compose-env", "https_proxy", "compose-setup.yaml:12", "warning", "both"),  # ${CORP_PROXY}
    ],
    "bad-docker.env": [
        ("url-form", "http_proxy", "bad-docker.env:6", "error", "python"),  # trailing spaces
        ("compose-env", "HTTPS_PROXY", "bad-docker.env:3", "error", "both"),  # export
        ("compose-env", "HTTP_PROXY", "bad-docker.env:5", "error", "both"),  # spaces around '='
        ("compose-env", "NO_PROXY", "bad-docker.env:7", "warning", "both"),  # from the shell
    ],
    "kubernetes-broken.yaml": [
        ("no-proxy-hosts", "no_proxy", "kubernetes-broken.yaml:12", "error", "python"),
        ("no-proxy-hosts", "no_proxy", "kubernetes-broken.yaml:12", "warning", "python"),
        ("no-proxy-entries", "NO_PROXY", "kubernetes-broken.yaml:11", "error", "python"),
        ("no-proxy-entries", "no_proxy", "kubernetes-broken.yaml:12", "error", "python"),
        ("kubernetes-env", "envFrom", "kubernetes-broken.yaml:46", "warning", "both"),
        ("kubernetes-env", "HTTP_PROXY", "kubernetes-broken.yaml:61", "warning", "both"),
        ("kubernetes-env", "http_proxy", "kubernetes-broken.yaml:66", "warning", "both"),
        ("kubernetes-env", "HTTPS_PROXY", "kubernetes-broken.yaml:99", "error", "both"),  # no such key
        ("kubernetes-env", "HTTP_PROXY", "kubernetes-broken.yaml:109", "error", "both"),  # $(PROXY_URL)
        ("kubernetes-env", "HTTP_PROXY", "kubernetes-broken.yaml:22", "error", "both"),  # not base64
        ("kubernetes-env", "HTTPS_PROXY", "kubernetes-broken.yaml:55", "warning", "go"),  # plain password
    ],
}


def keys(findings_by_rule) -> Counter:
    return Counter(
        (rule_id, f.variable, f"{Path(f.file).name}:{f.line}", f.severity, f.stack)
        for rule_id, findings in findings_by_rule.items()
        for f in findings
    )


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_file_produces_exactly_its_expected_findings(name: str, audit) -> None:
    assert keys(audit(name)) == Counter(EXPECTED[name])


def test_the_corpus_lists_every_file_it_holds(corpus: Path) -> None:
    read_by_compose = {"quoted-compose.env", "proxy-compose.env"}
    assert {p.name for p in corpus.iterdir()} == set(EXPECTED) | read_by_compose


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_every_rule_has_a_file_that_trips_it_and_one_that_does_not(rule, audit) -> None:
    tripped = [name for name, expected in EXPECTED.items() if any(k[0] == rule.id for k in expected)]
    clean = [name for name in EXPECTED if rule.id in audit(name) and not audit(name)[rule.id]]
    assert tripped, f"no corpus file trips {rule.id}"
    assert any(name.endswith("-ok.yaml") or name.endswith("-ok.env") for name in clean)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_no_finding_shows_a_secret(name: str, audit, load_one, secret_spellings) -> None:
    deployment = load_one(name)
    texts = [repr(deployment), *map(repr, deployment.containers)]
    texts += [repr(v) for c in deployment.containers for v in c.env.values()]
    for findings in audit(name).values():
        texts += [str(f) for f in findings] + [repr(f) for f in findings]
    leaked = [(form, text) for text in texts for form in secret_spellings if form in text]
    assert not leaked


def test_finding_reads_file_line_service_variable_problem_stack_and_fix(audit) -> None:
    (finding,) = [f for f in audit("compose-url-form.yaml")["url-form"] if f.line == 13]
    assert str(finding) == (
        f"{CORPUS / 'compose-url-form.yaml'}:13 [catalog] HTTPS_PROXY: 'proxy.corp.example:3128' is not in "
        "the form {PROTOCOL}://{HOST}:{PORT}: no scheme: the form is {PROTOCOL}://{HOST}:{PORT} (both "
        "stacks silently assume http://) (stack: go). Fix: write HTTPS_PROXY: http://proxy.corp.example:3128"
    )


def test_unencoded_password_fix_names_the_encodings_but_not_the_password(audit) -> None:
    (finding,) = [f for f in audit("compose-credentials.yaml")["credentials"] if f.line == 26]
    text = str(finding)
    for char, encoded in {"@": "%40", "!": "%21", "#": "%23", "/": "%2F", "%": "%25"}.items():
        assert f"{char!r} as {encoded}" in text
    assert "(in the password: '@' as %40, '!' as %21" in text
    assert "Go ignores a proxy URL it cannot parse and connects directly" in finding.problem
    assert "http://svc-anchore:<password, percent-encoded>@proxy.corp.example:3128" in finding.fix


def test_sub_delimiter_only_password_is_accepted_by_both_stacks_but_still_an_error(audit) -> None:
    (finding,) = [f for f in audit("compose-credentials.yaml")["credentials"] if f.line == 29]
    assert finding.severity == "error"
    assert "'&' as %26" in finding.problem
    assert "requests and Go still authenticate" in finding.problem


def test_quotes_fix_is_written_in_the_files_own_syntax(audit) -> None:
    fixes = {f.line: f.fix for f in audit("compose-quoted.yaml")["quotes"]}
    assert fixes[12].startswith("write HTTPS_PROXY: http://svc-anchore:***@proxy.corp.example:3128")
    assert fixes[24].startswith("write - HTTPS_PROXY=http://proxy.corp.example:3128")
    assert fixes[29].startswith("write - NO_PROXY=localhost,127.0.0.1,catalog,analyzer,db")


def test_cidr_only_no_proxy_explains_that_host_names_never_match(audit) -> None:
    findings = audit("compose-no-proxy-hosts.yaml")["no-proxy-hosts"]
    (cidr,) = [f for f in findings if f.line == 60 and f.severity == "error"]
    assert "only addresses and CIDR ranges" in cidr.problem
    assert "api, catalog, queue, policy-engine, analyzer" in cidr.problem
    assert cidr.fix.startswith("write no_proxy=10.0.0.0/8,172.16.0.0/12,api,catalog,")


def test_missing_database_host_is_only_a_warning(audit) -> None:
    findings = audit("compose-no-proxy-hosts.yaml")["no-proxy-hosts"]
    (db,) = [f for f in findings if f.line == 36 and f.severity == "warning"]
    assert "database host db" in db.problem
    assert "PostgreSQL connections ignore the proxy" in db.problem


def test_a_shared_value_is_reported_once_for_every_service_using_it(audit) -> None:
    (entry,) = [f for f in audit("kubernetes-broken.yaml")["no-proxy-entries"] if f.variable == "no_proxy"]
    assert (
        entry.service == "Deployment/anchore-catalog, Deployment/anchore-analyzer, Deployment/anchore-policy"
    )


def test_case_mismatch_names_which_stack_reads_which_value(audit) -> None:
    (finding,) = [f for f in audit("compose-cases.yaml")["case-consistency"] if f.line == 9]
    assert "HTTPS_PROXY (read by Go" in finding.problem
    assert "https_proxy (read by Python requests" in finding.problem
    assert "'http://svc-anchore:***@proxy-b.corp.example:3128'" in finding.problem


def test_proxy_missing_names_the_stack_that_goes_direct(audit) -> None:
    findings = {f.line: f for f in audit("compose-cases.yaml")["proxy-missing"] if f.variable == "http_proxy"}
    assert "Python requests gets no http_proxy/HTTP_PROXY (the empty http_proxy hides" in findings[34].problem
    assert "Go (skopeo) gets no http_proxy/HTTP_PROXY" in findings[46].problem
    assert "neither Python requests nor Go (skopeo) gets a http_proxy" in findings[18].problem


def test_every_rule_names_a_catalog_requirement() -> None:
    from anchore_compliance.catalog import load_catalog

    catalog = load_catalog()
    assert all(rule.requirement in catalog for rule in RULES)
    assert len({rule.id for rule in RULES}) == len(RULES)


def test_the_scrubber_masks_every_spelling_of_a_password_in_the_input(load_one) -> None:
    deployment = load_one("compose-credentials.yaml")
    text = "raw Qz@7!x#y/9%k, encoded Qz%407%21x%23y%2F9%25k, basic c3ZjLWFuY2hvcmU6UXpANyF4I3kvOSVr"
    assert deployment.scrub(text) == "raw ***, encoded ***, basic ***"
